"""The untrimmed variant of the embedded benchmark, for temporal localisation (STAM Table 4).

Every *test* video of the trimmed benchmark (same class, group and clip slot) is re-rendered untrimmed: its actor
performs the action in one segment of ``synthetic.frames`` frames, and before and after it the scene shows only
the background and the distractors (which move the whole time, as in the trimmed videos). The lead-in and the
tail are each ``round(u · frames)`` frames, u uniform in [:data:`PAD_MIN`, :data:`PAD_MAX`], drawn per video from
the generation seed. Background, distractors and camera come from the scene of the whole (longer) video; the
actor, its trajectory and appearance from the trimmed video's (so the action is the same as in the trimmed test
video, shifted in time).

Written to ``out_dir``: ``videos/<video id>.avi``, ``annotations/<Class>_test.txt`` (THUMOS'14's per-class
format: video name, start and end seconds; :mod:`attdistill.data.thumos14`), ``index.json`` (a test-only
:class:`~attdistill.data.index.VideoIndex`, the classes of the trimmed benchmark) and ``untrimmed.json`` (each
video's segment in frames, and the parameters), written last. Same seed -> byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..config import SyntheticConfig
from . import synthetic as S
from .index import VideoIndex, VideoRecord
from .thumos14 import Segment, write_annotations

PAD_MIN, PAD_MAX = 0.5, 1.0      # lead-in and tail length, as a fraction of the action's frames
SUBSET = "test"


def padding(seed: int, name: str, frames: int) -> tuple[int, int]:
    """(lead-in, tail) frames of one untrimmed video (a pure function of the seed and the video name)."""
    rng = np.random.default_rng([seed, S._crc(name), 7])
    lead, tail = (int(round(u * frames)) for u in rng.uniform(PAD_MIN, PAD_MAX, 2))
    return lead, tail


def render(cfg: SyntheticConfig, seed: int, cls: S.SyntheticClass, group: int, clip: int) -> tuple[np.ndarray, int]:
    """(frames (L, H, W, 3) uint8, lead-in) of one untrimmed video; the action fills [lead, lead + frames)."""
    trimmed = S.sample_video(cfg, seed, cls, group, clip)
    lead, tail = padding(seed, trimmed.name, cfg.frames)
    long_cfg = dataclasses.replace(cfg, frames=lead + cfg.frames + tail)
    scene = S.sample_video(long_cfg, seed, cls, group, clip)
    actor = trimmed.objects[trimmed.actor]
    others = [o for i, o in enumerate(scene.objects) if i != scene.actor]
    rg = S.ranges(long_cfg)
    mean_bg = scene.background.reshape(-1, 3).mean(0) + np.float32(scene.brightness)
    out = np.empty((long_cfg.frames, cfg.height, cfg.width, 3), np.uint8)
    for t in range(long_cfg.frames):
        frame = S.background_frame(scene, t)
        dx, dy = scene.camera[t]
        for obj in others:
            S._draw(frame, obj, t, dx, dy, rg.contrast, mean_bg)
        if lead <= t < lead + cfg.frames:
            S._draw(frame, actor, t - lead, dx, dy, rg.contrast, mean_bg)
        np.clip(frame, 0, 255, out=frame)
        out[t] = (frame + 0.5).astype(np.uint8)
    return out, lead


def generate_untrimmed(cfg: SyntheticConfig, seed: int, out_dir: str | os.PathLike) -> VideoIndex:
    """Write the untrimmed test videos, their THUMOS'14-format annotations and their index (module docstring)."""
    cfg.validate("synthetic")
    out = Path(out_dir)
    done = out / "untrimmed.json"
    if (out / "videos").exists():
        if not (done.exists() or (out / "untrimmed.json.partial").exists()):
            raise FileExistsError(f"{out / 'videos'} exists and is not a previous untrimmed benchmark; remove it")
        shutil.rmtree(out / "videos")
    done.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "untrimmed.json.partial").write_text("{}")
    table = S.class_table(cfg)
    records, segments, meta = [], [], {}
    for label, c in enumerate(table):
        for group, clip in S.video_slots(cfg):
            if group > cfg.test_groups:
                continue
            name = S.video_name(c.name, group, clip)
            frames, lead = render(cfg, seed, c, group, clip)
            S.write_video(out / "videos" / f"{name}.avi", frames, cfg.fps, cfg.codec)
            records.append(VideoRecord(name, f"{name}.avi", label, "test", f"g{group:02d}"))
            segments.append(Segment(name.split("/")[-1], c.name, lead / cfg.fps, (lead + cfg.frames) / cfg.fps))
            meta[name] = {"frames": len(frames), "action": [lead, lead + cfg.frames]}
    write_annotations(segments, out / "annotations", SUBSET, [c.name for c in table])
    index = VideoIndex("synthetic", os.path.join(os.fspath(out), "videos"), [c.name for c in table], records,
                       metric="mean_class", meta={"untrimmed": True, "fps": cfg.fps})
    index.save(out / "index.json")
    info = {"seed": seed, "pad": [PAD_MIN, PAD_MAX], "fps": cfg.fps, "videos": meta}
    (out / "untrimmed.json.partial").write_text(json.dumps(info, indent=1))
    os.replace(out / "untrimmed.json.partial", done)
    return index
