"""How well does the focused box find the actor? (Focused crops, beyond the paper's Table 2: the ``focus_boxes``
stage.)

For every clip of the test split at the test-time view (the whole stored frame), the box each Table-2 variant
cuts (the Base saliency of L_E, of L_CE with the true label, the centre box, the random box of the dataset's
draws) is compared, frame by frame, with the ground-truth actor box of the benchmark (boxes.json, in source-video
pixels, scaled to the stored frames). Per variant: ``iou``, the mean IoU over the frames where the actor is in
view, and ``hit``, the fraction of those frames where the focused box holds the centre of the actor's box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import Params
from ..data import boxes as B
from ..data.dataset import ClipDataset
from ..data.index import VideoIndex
from ..focus import box as FB
from ..methods import focus as M
from ..models.files import load_frozen
from .localize import resolve_boxes

# variant name -> the Table-2 variant whose box it is (the box does not depend on the fusion)
BOX_VARIANTS: dict[str, M.Variant] = {
    "attention-entropy": M.Variant("", "L_E", "attention", "entropy", "entropy"),
    "attention-ce": M.Variant("", "L_CE", "attention", "ce", "ce"),
    "center": M.Variant("", "Center crop", "center"),
    "random": M.Variant("", "Random crop", "random"),
}


def iou_xyxy(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two ``(x1, y1, x2, y2)`` boxes (0 when they do not overlap)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _clip_scores(corner: tuple[int, int], side: int, start: int, frames: int, truth: B.VideoBoxes, fps: float,
                 frame_hw: tuple[int, int]) -> list[tuple[float, bool]]:
    """(IoU, centre inside) of one clip's box against the actor box of every frame where the actor is in view."""
    top, left = corner
    box = (float(left), float(top), float(left + side), float(top + side))
    sx, sy = frame_hw[1] / truth.width, frame_hw[0] / truth.height
    out = []
    for t in range(start, start + frames):
        for gt in truth.boxes_at_time(t / fps):
            x1, y1, x2, y2 = B.scale_box(gt, sx, sy)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            out.append((iou_xyxy(box, (x1, y1, x2, y2)), box[0] <= cx < box[2] and box[1] <= cy < box[3]))
    return out


def focus_box_report(base_file: Path, index_path: Path, frames_dir: Path, originals_dir: Path,
                     params: Params) -> dict:
    """{variant: {"iou", "hit", "frames"}} over the test split (see the module docstring); the original frames
    are read for the items' random draws, so the random boxes are those the evaluate stage cuts."""
    if params.evaluate.crops != 1:
        raise ValueError("the focused-box IoU is measured on the whole stored frame: params evaluate.crops must be 1")
    index = VideoIndex.load(index_path)
    boxes_file = resolve_boxes(index, Path(index_path))
    if boxes_file is None:
        raise ValueError(f"{index_path}: the index names no boxes file; the focused-box IoU needs actor boxes")
    truth = B.load(boxes_file)
    base, _ = load_frozen(base_file, torch.device("cpu"))
    ds = ClipDataset(index, "test", "rgb", params.clip, params.augment, frames_dir=frames_dir, flow_dir=None,
                     train=False, seed=params.seed, raw_dir=originals_dir)
    scores: dict[str, list[tuple[float, bool]]] = {k: [] for k in BOX_VARIANTS}
    for i in range(len(ds)):
        item = ds[i]
        x = item["rgb"]                                                  # (K, C, T, H, W), K = clips
        side = FB.box_side(params.focus.box, x.shape[3], x.shape[4])
        batch = {"rgb": x, "label": torch.full((len(x),), item["label"]), "focus_u": item["focus_u"]}
        for name, v in BOX_VARIANTS.items():
            for k, corner in enumerate(M.corners(v, batch, base, side, training=False).tolist()):
                scores[name] += _clip_scores(tuple(corner), side, item["starts"][k], params.clip.frames,
                                             truth[item["video_id"]], params.frames.fps, tuple(x.shape[3:]))
    return {name: {"iou": float(np.mean([s for s, _ in v])) if v else float("nan"),
                   "hit": float(np.mean([h for _, h in v])) if v else float("nan"), "frames": len(v)}
            for name, v in scores.items()}
