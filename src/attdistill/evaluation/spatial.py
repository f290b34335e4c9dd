"""STAM Table 3 on the test split: frame-level box mAP of attention masks (the ``detect`` stage).

For every test clip and every frame ``j`` of it (stored frame ``k``, as :mod:`.localize` maps clip frames to stored
frames and boxes, at ``k / fps``): the map slice covering ``j`` (:func:`attdistill.visualize.slice_for_frame`;
STAM has one mask per frame) is upsampled to the box file's frame size, thresholded at 0.5 and boxed
(:func:`.detection.mask_detections`: the tightest box, scored by the mean mask value inside it), and labelled with
the video's **predicted** class; the ground truth is each annotated actor box of that frame with the video's true
label. Detections and ground truth are keyed by (clip, frame), so overlapping clips each count their frames, as in
:mod:`.localize`. mAP at σ ∈ :data:`.detection.SPATIAL_IOUS` (:func:`.detection.spatial_map`, the ActivityNet
matching), averaged over the classes with ground truth. Steps: :func:`clip_detections` (build),
:func:`spatial_localization` (score), :func:`detect` (write ``metrics.json``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data import boxes as B
from ..data.dataset import clip_indices
from ..data.index import VideoIndex
from ..visualize import slice_for_frame
from .detection import SPATIAL_IOUS, GroundTruth, mask_detections, spatial_map
from .localize import FrameBoxes, MapsFile, resolve_boxes
from .paths import write_json

THRESHOLD = 0.5      # STAM §4.2.1: "we threshold the produced saliency mask at 0.5"


def clip_detections(mf: MapsFile, branch: str, predicted: dict[str, int], truth: dict[str, int],
                    frames: FrameBoxes) -> tuple[list, list[GroundTruth]]:
    """(detections, ground truth) of every (clip, frame) of a maps file's ``branch`` (see the module docstring)."""
    maps, T = mf.maps[branch], mf.clip_frames                    # (M, T', h, w)
    dets, truths = [], []
    for i, (v, start) in enumerate(zip(mf.clip_video, mf.clip_start)):
        vid = str(mf.video_ids[int(v)])
        if vid not in frames.boxes:
            continue
        vb = frames.boxes[vid]
        n, fps = frames.video(vid)
        stored = clip_indices(int(start), T, n)[0]
        masks = np.stack([maps[i][slice_for_frame(j, T, maps.shape[1])] for j in range(T)])
        dets += mask_detections(str(i), range(T), masks, predicted[vid], vb.width, vb.height, THRESHOLD)
        for j in range(T):
            for box in vb.boxes_at_time(int(stored[j]) / fps):
                truths.append(GroundTruth((str(i), j), truth[vid], tuple(float(c) for c in box)))
    return dets, truths


def spatial_localization(mf: MapsFile, branch: str, scores: dict[str, np.ndarray], frames: FrameBoxes) -> dict:
    """``{"map@<σ>": mAP, ..., "frames_with_boxes": count}`` of one map (fractions)."""
    ids = [str(v) for v in scores["video_ids"]]
    predicted = dict(zip(ids, (int(k) for k in np.argmax(scores["probs"], axis=1))))
    truth = dict(zip(ids, (int(k) for k in scores["labels"])))
    dets, truths = clip_detections(mf, branch, predicted, truth, frames)
    result = spatial_map(dets, truths, SPATIAL_IOUS)["map"]
    return {**{f"map@{s:g}": float(result[s]) for s in SPATIAL_IOUS}, "frames_with_boxes": len(truths)}


def detect(sources: dict[str, tuple[str, str]], eval_dirs: dict[str, str | os.PathLike],
           index_path: str | os.PathLike, frames_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
           fps: float | None, localize_cfg) -> dict:
    """Score each map id of ``sources`` (map id -> (model id, branch)) from its model's evaluation folder in
    ``eval_dirs`` (``maps.npz``, ``scores.npz``); write ``<out_dir>/metrics.json`` and return it."""
    index_path = Path(index_path)
    boxes_path = resolve_boxes(VideoIndex.load(index_path), index_path)
    if boxes_path is None or not boxes_path.exists():
        result: dict = {"note": f"{index_path}: the dataset has no boxes file: no spatial localisation"}
    else:
        frames = FrameBoxes(B.load(boxes_path), frames_dir, fps, localize_cfg)
        result = {}
        for map_id, (model, branch) in sources.items():
            d = Path(eval_dirs[model])
            mf = MapsFile.load(d / "maps.npz")
            mf.check_full_frame(d / "maps.npz")
            with np.load(d / "scores.npz") as z:
                scores = {k: z[k] for k in ("video_ids", "labels", "probs")}
            result[map_id] = spatial_localization(mf, branch, scores, frames)
    write_json(result, Path(out_dir) / "metrics.json")
    return result
