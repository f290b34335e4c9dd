"""The ``frames`` stage: every video of the index -> one frame pack ``<out_dir>/<video_id>.pack``.

Each video is decoded (:func:`attdistill.data.decode.read_video`), resampled to ``frames.fps`` (paper: 24 Hz)
and resized to ``frames.width x frames.height`` (paper: 320 x 256), then stored as an RGB pack with per-frame
``frames.encoding`` (jpg at ``frames.quality`` or png). Pack meta::

    {"source": {"fps", "frames", "width", "height", "backend"},   # the file as decoded
     "fps": 24.0, "size": [width, height], "encoding": "jpg", "quality": 95}

Parallelism, sharding, resume and the skip report are those of :mod:`attdistill.data.jobs`: a corrupt, empty or
undecodable video is listed in the report and has no pack; every later stage reads the index and must treat a
missing pack as a skipped video.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from attdistill.config import FramesConfig
from attdistill.data.decode import read_video
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.jobs import JobSummary, pack_complete, run_jobs
from attdistill.data.packs import pack_path, write_pack


def frames_meta(cfg: FramesConfig) -> dict:
    """The part of a pack's meta fixed by the config (a resumed run reuses only packs that match it)."""
    return {"fps": float(cfg.fps), "size": [cfg.width, cfg.height], "encoding": cfg.encoding,
            "quality": cfg.quality}


def extract_video(video: str | os.PathLike, out: str | os.PathLike, cfg: FramesConfig) -> int:
    """Decode one video file into the pack ``out`` (atomic write). Returns the number of frames.

    Raises VideoError (bad video) or PackError (nothing to write).
    """
    frames, info = read_video(video, cfg.fps, (cfg.width, cfg.height))   # (N, H, W, 3) uint8 RGB
    meta = {"source": info.to_dict(), **frames_meta(cfg)}
    return write_pack(out, frames, cfg.encoding, cfg.quality, meta)


def _frames_job(record: VideoRecord, *, video_root: Path, out_dir: Path, cfg: FramesConfig) -> None:
    extract_video(video_root / record.path, pack_path(out_dir, record.video_id), cfg)


def _is_complete(record: VideoRecord, *, out_dir: Path, meta: dict) -> bool:
    return pack_complete(pack_path(out_dir, record.video_id), meta)


def extract_frames(index: VideoIndex, out_dir: str | os.PathLike, cfg: FramesConfig, *,
                   base: str | os.PathLike = ".", shard: tuple[int, int] = (0, 1),
                   report: str | os.PathLike | None = None, progress: bool | None = None) -> JobSummary:
    """Write ``out_dir/<video_id>.pack`` for every video of this shard (``cfg.workers`` processes).

    Video files are read from ``Path(base) / index.root / record.path``. Videos whose pack is already complete
    (and made with the same fps/size/encoding/quality) are not redone. Returns the run's :class:`JobSummary`;
    the skip report is written to ``report`` (or its shard file) when given.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video_root = Path(base) / index.root
    job = functools.partial(_frames_job, video_root=video_root, out_dir=out_dir, cfg=cfg)
    done = functools.partial(_is_complete, out_dir=out_dir, meta=frames_meta(cfg))
    return run_jobs(index.videos, job, is_complete=done,
                    outputs=lambda r: [pack_path(out_dir, r.video_id)], workers=cfg.workers, shard=shard,
                    report=report, progress=progress, desc="frames")
