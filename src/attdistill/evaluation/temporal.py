"""STAM's temporal localisation metric (its Table 4): attention weights -> scored segments -> mAP at tIoU.

"Where and When to Look? Spatio-temporal Attention for Action Recognition in Videos", §4.2.2: "we threshold the
normalized temporal attention importance weight at 0.5. Then these predicted temporal localization frames are
compared with the ground truth annotation at different IoU thresholds" (0.1 ... 0.5), metric mAP. What the paper
leaves open, and what we do:

* **which weights**: w_ti (T steps × n frames) is averaged over the T steps, one importance per frame;
* **normalised**: min-max per video, (a − min) / (max − min), so the most important frame is 1; a constant row
  (no preference, e.g. uniform weights) normalises to all ones (the whole video is one segment);
* **thresholded**: frames with normalised importance **> 0.5**; each maximal run of consecutive such frames is
  one segment [start of its first frame, end of its last frame) in seconds, from the frames' time edges;
* **scored** by the mean normalised importance over the run; class = the label the caller gives (we use the
  video's predicted class);
* **AP**: the ActivityNet detection evaluation (``compute_average_precision_detection``): per class, detections
  in descending score order each take the unmatched ground-truth segment of the same video with the highest
  tIoU >= the threshold, else count as false positives; AP is the interpolated one of
  :func:`attdistill.evaluation.detection.average_precision` (ActivityNet's ``interpolated_prec_rec``); mAP is the
  mean over the classes with ground truth. THUMOS'14's own MATLAB kit (``TH14evalDet``) differs in details it
  does not share with ActivityNet (it matches per ground truth with overlap > threshold, and drops false
  positives that overlap an "Ambiguous" segment); those Ambiguous segments are not used here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .detection import Detection, GroundTruth, mean_ap

#: tIoU thresholds of STAM Table 4.
TEMPORAL_IOUS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)


def segment_iou(segment: Sequence[float], segments: np.ndarray) -> np.ndarray:
    """tIoU of one (start, end) segment with each row of ``segments`` (M, 2), as ActivityNet's ``segment_iou``:
    intersection / (len(a) + len(b) − intersection)."""
    s = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    a0, a1 = map(float, segment)
    inter = np.clip(np.minimum(a1, s[:, 1]) - np.maximum(a0, s[:, 0]), 0, None)
    union = (a1 - a0) + (s[:, 1] - s[:, 0]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def normalise_weights(weights: np.ndarray) -> np.ndarray:
    """(T, n) attention weights (or an (n,) importance) -> (n,) min-max normalised importance in [0, 1].

    Rows are averaged over the T steps first; a constant importance (spread within 1e-9 of its maximum, so that
    rounding noise of uniform weights is not stretched to [0, 1]) becomes all ones.
    """
    w = np.asarray(weights, dtype=np.float64)
    a = w.mean(axis=0) if w.ndim == 2 else w
    lo, hi = a.min(), a.max()
    return np.ones_like(a) if hi - lo <= 1e-9 * abs(hi) else (a - lo) / (hi - lo)


def uniform_edges(duration: float, num_frames: int) -> np.ndarray:
    """Time edges (num_frames + 1,) of ``num_frames`` frames sampled uniformly over ``duration`` seconds: frame i
    stands for [i·d/n, (i+1)·d/n)."""
    return np.linspace(0.0, float(duration), int(num_frames) + 1)


def weight_segments(importance: np.ndarray, edges: np.ndarray, threshold: float) -> list[tuple[float, float, float]]:
    """Runs of consecutive frames with importance > ``threshold`` -> [(start s, end s, mean importance)].

    ``importance`` (n,), ``edges`` (n + 1,): frame i covers [edges[i], edges[i + 1]).
    """
    a, e = np.asarray(importance, dtype=np.float64), np.asarray(edges, dtype=np.float64)
    if e.shape != (a.size + 1,):
        raise ValueError(f"edges must have len(importance) + 1 = {a.size + 1} entries, got {e.shape}")
    on = np.concatenate([[False], a > threshold, [False]])
    starts = np.flatnonzero(on[1:] & ~on[:-1])             # first frame of each run
    ends = np.flatnonzero(~on[1:] & on[:-1])               # one past its last frame
    return [(float(e[s]), float(e[t]), float(a[s:t].mean())) for s, t in zip(starts, ends)]


def attention_detections(video_id: str, weights: np.ndarray, edges: np.ndarray, label: int,
                         threshold: float) -> list[Detection]:
    """The scored segments of one video from its (T, n) temporal weights (normalise, threshold, join runs)."""
    return [Detection(video_id, int(label), score, (start, end))
            for start, end, score in weight_segments(normalise_weights(weights), edges, threshold)]


def temporal_map(detections: Sequence[Detection], truths: Sequence[GroundTruth], thresholds: Sequence[float]) -> dict:
    """Segment mAP (STAM Table 4, tIoU = :data:`TEMPORAL_IOUS`); detection / ground-truth keys are video ids and
    extents (start, end) seconds. Returns ``{"map": {thr: mAP}, "ap": {thr: {label: AP}}}``."""
    return mean_ap(detections, truths, thresholds, segment_iou)


# --------------------------------------------------------------------------------------------- untrimmed videos
def video_weights(model, frames: np.ndarray, device="cpu") -> tuple[np.ndarray, np.ndarray] | None:
    """Run a STAM-like model (its output has ``temporal_weights["main"]``) once on *all* N stored frames of a
    video (N, H, W, 3) uint8, as one clip of N frames (T = n = N steps): ((T, N) weights, (K,) class scores).
    None when the model has no temporal attention."""
    import torch

    from ..data.transforms import to_tensor

    x = to_tensor(frames)[None].to(device)                         # (1, 3, N, H, W)
    with torch.no_grad():
        out = model(x)
    w = getattr(out, "temporal_weights", {}).get("main")
    if w is None:
        return None
    return w[0].float().cpu().numpy(), out.probs[0].float().cpu().numpy()


def temporal_localization(models: dict, videos: Sequence[tuple[str, str, int]], read_frames,
                          truths: Sequence[GroundTruth], fps: float, threshold: float = 0.5, device="cpu") -> dict:
    """STAM Table 4 on untrimmed videos, for each of ``models`` (id -> module): ``videos`` are (video id, annotation
    name, true label); ``read_frames(video id)`` -> (N, H, W, 3) uint8 stored frames at ``fps``, read once per video
    for all models; ``truths`` keyed by annotation name. Segments of each video from its weights
    (:func:`attention_detections`, the predicted class), frame i covering [i / fps, (i + 1) / fps).
    ``{id: {"map@<tIoU>": ..., "video_top1": ..., "videos": n}}``, or ``{id: {"note": ...}}`` for a model without
    temporal weights."""
    dets: dict[str, list] = {m: [] for m in models}
    correct = dict.fromkeys(models, 0)
    for video_id, name, label in videos:
        frames = read_frames(video_id)
        edges = uniform_edges(len(frames) / fps, len(frames))
        for m in [m for m in models if dets[m] is not None]:
            found = video_weights(models[m], frames, device)
            if found is None:
                dets[m] = None                                 # no temporal attention: nothing to localise
                continue
            weights, probs = found
            predicted = int(np.argmax(probs))
            correct[m] += int(predicted == label)
            dets[m] += attention_detections(name, weights, edges, predicted, threshold)
    out = {}
    for m, found in dets.items():
        if found is None:
            out[m] = {"note": "no temporal attention weights"}
            continue
        result = temporal_map(found, truths, TEMPORAL_IOUS)["map"]
        out[m] = {**{f"map@{t:g}": float(result[t]) for t in TEMPORAL_IOUS},
                  "video_top1": correct[m] / max(len(videos), 1), "videos": len(videos)}
    return out


def untrimmed_localization(model_files: dict[str, str | os.PathLike], index_path: str | os.PathLike,
                           frames_dir: str | os.PathLike, annotations_dir: str | os.PathLike,
                           default_fps: float | None) -> dict:
    """The ``temporal`` stage: :func:`temporal_localization` of the models in ``model_files`` (id -> model.pt) on
    the test videos of an untrimmed index (frame packs in ``frames_dir``, THUMOS'14-format annotations in
    ``annotations_dir``); ``{"note": ...}`` for an index without videos (a real dataset)."""
    from ..data.index import VideoIndex
    from ..data.packs import Pack, pack_path
    from ..data.thumos14 import read_annotations
    from ..models.files import load_frozen
    from .localize import stored_fps

    index = VideoIndex.load(index_path)
    videos = [(v.video_id, v.video_id.split("/")[-1], v.label) for v in index.split("test")]
    if not videos:
        return {"note": f"{index_path}: no untrimmed videos (dataset {index.dataset!r})"}
    label_of = {c: i for i, c in enumerate(index.classes)}
    truths = [GroundTruth(s.video, label_of[c], (s.start, s.end))
              for c, segs in read_annotations(annotations_dir, "test").items() for s in segs]
    with Pack(pack_path(frames_dir, videos[0][0])) as p:
        fps = stored_fps(p.meta, default_fps, frames_dir)

    def read(video_id: str) -> np.ndarray:
        with Pack(pack_path(frames_dir, video_id)) as p:
            return p.read(list(range(len(p))))

    models = {m: load_frozen(Path(f))[0] for m, f in model_files.items()}
    return temporal_localization(models, videos, read, truths, fps)
