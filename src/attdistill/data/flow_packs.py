"""The ``flow`` stage: every frame pack -> a flow pack of N - 1 quantised fields (and, for test videos, reversed).

A frame pack of N frames -> ``<out_dir>/<video_id>.pack`` with N - 1 two-channel fields (x, y), field k =
flow(frame k -> frame k + 1), computed by :func:`attdistill.flow.compute_flow` (``flow.method``) and stored with
:func:`attdistill.flow.quantize`. For time-reversed evaluation (Table 5) with ``flow.reverse: backward`` it also
writes, for *test* videos only, the flow of the reversed video ``R_j = F_{N-1-j}``: field j =
flow(F_{N-1-j} -> F_{N-2-j}), i.e. the backward pairs frame[k+1] -> frame[k] stored in reversed-video order. With
``negate`` nothing is computed and readers use :func:`attdistill.flow.reverse_by_negation`.

Parallelism, sharding, resume and the skip report are those of :mod:`attdistill.data.jobs` (as for the
``frames`` stage, :mod:`attdistill.data.frames`): a missing or corrupt frame pack is skipped and reported. See
docs/flow.md.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from attdistill.config import FlowConfig
from attdistill.data.decode import VideoError
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.jobs import JobSummary, pack_complete, run_jobs
from attdistill.data.packs import Pack, pack_path, write_pack
from attdistill.flow import compute_flow, quantize, to_gray


def pair_flows(pack: Pack, order: list[int], cfg: FlowConfig) -> Iterator[np.ndarray]:
    """Quantised flow between consecutive frames of ``pack`` taken in ``order``: yields ``(H, W, 2)`` uint8.

    Frames are decoded one at a time, so memory does not grow with the video's length.
    """
    prev = to_gray(pack[order[0]])
    for i in order[1:]:
        nxt = to_gray(pack[i])
        yield quantize(compute_flow(prev, nxt, cfg), cfg.bound)
        prev = nxt


def flow_meta(cfg: FlowConfig, direction: str, frames: int) -> dict:
    """Pack meta: how the flow was made (a resumed run reuses only packs whose meta matches).

    ``direction`` is "forward" or "reversed"; ``frames`` is the frame count N of the source frame pack.
    """
    params = {"tvl1": cfg.tvl1, "tvl1-torch": cfg.tvl1, "dis": cfg.dis, "farneback": cfg.farneback}[cfg.method]
    return {"method": cfg.method, "bound": float(cfg.bound), "params": dict(vars(params)),
            "direction": direction, "frames": frames, "encoding": cfg.encoding,
            "quality": cfg.quality if cfg.encoding == "jpg" else None}


def wants_reversed(record: VideoRecord, cfg: FlowConfig) -> bool:
    """Reversed-video flow is computed for test videos only, and only with ``flow.reverse: backward``."""
    return cfg.reverse == "backward" and record.split == "test"


def _frame_count(frames_dir: Path, record: VideoRecord) -> int | None:
    try:
        with Pack(pack_path(frames_dir, record.video_id)) as p:
            return len(p)
    except (OSError, ValueError):      # PackError is an OSError
        return None


def _outputs(record: VideoRecord, *, out_dir: Path, reversed_dir: Path, cfg: FlowConfig) -> list[tuple[Path, str]]:
    outs = [(pack_path(out_dir, record.video_id), "forward")]
    if wants_reversed(record, cfg):
        outs.append((pack_path(reversed_dir, record.video_id), "reversed"))
    return outs


def _flow_job(record: VideoRecord, *, frames_dir: Path, out_dir: Path, reversed_dir: Path, cfg: FlowConfig) -> None:
    """Write the forward (and, for test videos, reversed) flow pack of one video; only the missing ones."""
    with Pack(pack_path(frames_dir, record.video_id)) as pack:   # PackError if missing/corrupt -> skipped
        n = len(pack)
        if n < 2:
            raise VideoError(f"{record.video_id}: {n} frame(s), flow needs at least 2")
        for path, direction in _outputs(record, out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg):
            meta = flow_meta(cfg, direction, n)
            if pack_complete(path, meta, n - 1):
                continue
            order = list(range(n)) if direction == "forward" else list(range(n - 1, -1, -1))
            write_pack(path, pair_flows(pack, order, cfg), cfg.encoding, cfg.quality, meta)


def _is_complete(record: VideoRecord, *, frames_dir: Path, out_dir: Path, reversed_dir: Path,
                 cfg: FlowConfig) -> bool:
    n = _frame_count(frames_dir, record)
    if n is None or n < 2:
        return False
    return all(pack_complete(path, flow_meta(cfg, direction, n), n - 1)
               for path, direction in _outputs(record, out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg))


def _output_paths(record: VideoRecord, *, out_dir: Path, reversed_dir: Path, cfg: FlowConfig) -> list[Path]:
    return [p for p, _ in _outputs(record, out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg)]


def write_reversed_note(reversed_dir: Path, reverse: str) -> None:
    """``reversed_dir/README.txt``: what the folder holds (it also keeps it non-empty: DVC warns on empty outputs).

    Rewritten only when its text changes, so a re-run leaves the file untouched.
    """
    note = (f"flow.reverse: {reverse}. " + ("Test videos' time-reversed flow packs, <video_id>.pack.\n"
            if reverse == "backward" else "Nothing computed: readers negate the forward flow "
            "(attdistill.flow.reverse_by_negation).\n"))
    path = reversed_dir / "README.txt"
    if not path.is_file() or path.read_text() != note:
        path.write_text(note)


def compute_flow_packs(index: VideoIndex, frames_dir: str | os.PathLike, out_dir: str | os.PathLike,
                       cfg: FlowConfig, *, reversed_dir: str | os.PathLike, shard: tuple[int, int] = (0, 1),
                       report: str | os.PathLike | None = None, progress: bool | None = None) -> JobSummary:
    """Flow packs for every video of this shard: ``out_dir/<video_id>.pack`` (N - 1 fields, channels x, y).

    With ``cfg.reverse == "backward"`` test videos also get ``reversed_dir/<video_id>.pack`` (field j = flow
    between frames j and j + 1 of the reversed video). ``reversed_dir`` is always created, with a README.txt
    saying what it holds (only that with ``negate``). A missing or corrupt frame pack is skipped and reported.
    ``cfg.encoding`` / ``cfg.quality``: per-component image encoding in the packs. PNG is lossless, so a stored
    field dequantises to within bound / 255 px of the computed one; JPEG (the denseflow habit) is ~2.4x smaller at
    quality 95 but adds ringing at motion boundaries (docs/flow.md).
    """
    frames_dir, out_dir, reversed_dir = Path(frames_dir), Path(out_dir), Path(reversed_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reversed_dir.mkdir(parents=True, exist_ok=True)
    write_reversed_note(reversed_dir, cfg.reverse)
    dirs = dict(out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg)
    return run_jobs(index.videos, functools.partial(_flow_job, frames_dir=frames_dir, **dirs),
                    is_complete=functools.partial(_is_complete, frames_dir=frames_dir, **dirs),
                    outputs=functools.partial(_output_paths, **dirs), workers=cfg.workers, shard=shard,
                    report=report, progress=progress, desc=f"flow ({cfg.method})")
