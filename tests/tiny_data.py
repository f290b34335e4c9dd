"""A tiny dataset written straight to packs (no video decoding, no TV-L1) for fast training/evaluation tests.

Four classes: a bright square moving left / right / up / down over a smooth background. RGB frames show the square;
"flow" packs hold the true displacement inside the square (quantised like the flow stage), so a flow model can
learn the classes quickly and an RGB model has to learn motion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attdistill.data import boxes as B
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.packs import write_pack
from params import params_with

CLASSES = ["Left", "Right", "Up", "Down"]
MOVES = {"Left": (-2, 0), "Right": (2, 0), "Up": (0, -2), "Down": (0, 2)}


def make_tiny_dataset(root: Path, videos_per_class: int = 6, frames: int = 12, size=(40, 48), seed: int = 0,
                      bound: float = 20.0) -> Path:
    """Write index.json, boxes.json, frames/ and flow/ (and flow_reversed/) under ``root``; return the index path."""
    rng = np.random.default_rng(seed)
    h, w = size
    records, vboxes = [], {}
    yy, xx = np.mgrid[0:h, 0:w]
    for label, cls in enumerate(CLASSES):
        dx, dy = MOVES[cls]
        for i in range(videos_per_class):
            group = f"g{i % 3 + 1:02d}"
            vid = f"{cls}/v_{cls}_{group}_c{i + 1:02d}"
            split = {"g01": "test", "g02": "val"}.get(group, "train")
            records.append(VideoRecord(vid, f"{vid}.avi", label, split, group))
            bg = (64 + 40 * np.sin(xx / 7.0 + rng.uniform(0, 6)) + 30 * np.cos(yy / 5.0)).astype(np.float32)
            x0 = w / 2 - dx * frames / 2 + rng.uniform(-3, 3)
            y0 = h / 2 - dy * frames / 2 + rng.uniform(-3, 3)
            rgb, flo, flo_rev, bx = [], [], [], []
            for t in range(frames):
                cx, cy = x0 + dx * t, y0 + dy * t
                img = np.stack([bg, bg * 0.8, bg * 0.6], -1)
                m = (np.abs(xx - cx) < 5) & (np.abs(yy - cy) < 5)
                img[m] = (230, 200, 40)
                rgb.append(np.clip(img, 0, 255).astype(np.uint8))
                bx.append((cx - 5, cy - 5, cx + 5, cy + 5))
                f = np.zeros((h, w, 2), np.float32)
                f[m] = (dx, dy)
                q = np.round((np.clip(f, -bound, bound) + bound) * 255 / (2 * bound)).astype(np.uint8)
                flo.append(q)
                flo_rev.append(255 - q)
            write_pack(root / "frames" / f"{vid}.pack", rgb, "png")
            write_pack(root / "flow" / f"{vid}.pack", flo[:-1], "png")
            if split == "test":
                write_pack(root / "flow_reversed" / f"{vid}.pack", flo_rev[:-1], "png")
            vboxes[vid] = B.VideoBoxes(w, h, 24.0, frames, [B.Tube(label, list(range(frames)), bx)])
    B.save(vboxes, root / "boxes.json")
    (root / "flow_reversed").mkdir(exist_ok=True)
    index = VideoIndex("tiny", str(root / "videos"), CLASSES, records, flip_map=[1, 0, 2, 3],
                       reverse_map=[1, 0, 3, 2], boxes=str(root / "boxes.json"))
    index.save(root / "index.json")
    return root / "index.json"


# Merged over the repository's params.yaml (tests/params.py): only what the tiny dataset needs differs.
TINY_PARAMS = {
    "seed": 0,
    "clip": {"frames": 8, "crop": 32},
    "augment": {"flip": True, "color_jitter": 0.1, "scale_jitter": [0.8, 1.0]},
    "model": {"width": 0.0625, "final_stride": 1, "attention_channels": 128, "dropout": 0.0},
    "train": {"epochs": 2, "batch_size": 4, "optimizer": "sgd", "lr": 0.05, "plateau_patience": 1, "workers": 0},
    "frames": {"width": 48, "height": 40},
}


def tiny_params(**overrides):
    """Params for the tiny dataset; ``overrides`` are dotted keys, e.g. ``{"train.epochs": 3}``."""
    items = [f"{k}={v}" for k, v in overrides.items()]
    return params_with(TINY_PARAMS, items)
