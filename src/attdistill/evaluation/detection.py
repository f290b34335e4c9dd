"""Detection-style average precision, and STAM's spatial localisation metric (its Table 3).

"Where and When to Look? Spatio-temporal Attention for Action Recognition in Videos", §4.2.1: "we threshold the
produced saliency mask at 0.5 and the tightest bounding box that contains the thresholded saliency map is set as
the predicted localization box for each frame", compared with the ground-truth boxes by mAP at IoU σ ∈ {0.05, 0.1,
0.2, 0.3}. What the paper leaves open, and what we do:

* the h×w mask is upsampled bilinearly to the frame size (OpenCV ``INTER_LINEAR``, as :mod:`.localize`) before
  thresholding; a pixel is foreground when its value is **> 0.5** (the B = 1{M > 0.5} of the contrast term);
* one detection per frame with any foreground pixel, class = the label the caller gives (we use the video's
  predicted class), **score = the mean upsampled mask value inside the box** (the confidence AP ranks by);
  a frame with no foreground pixel has no detection (its ground truth counts as missed);
* matching and AP are those of :func:`match_detections` / :func:`average_precision`, the ActivityNet detection
  evaluation (also used by :mod:`.temporal`); mAP is the mean over the classes that have ground truth.

Boxes are ``(x1, y1, x2, y2)`` pixels with x2 / y2 exclusive (the :mod:`attdistill.data.boxes` schema): a box of
pixels columns 2..4 is ``(2, y1, 5, y2)``, of area (x2 − x1)(y2 − y1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[float, float, float, float]

#: IoU thresholds σ of STAM Table 3.
SPATIAL_IOUS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)


# --------------------------------------------------------------------------------------------- AP
def average_precision(scores: Sequence[float], is_tp: Sequence[bool], num_positives: int) -> float:
    """Interpolated (VOC 2010+ / ActivityNet ``interpolated_prec_rec``) AP of ranked detections.

    Detections are ranked by descending score (ties keep input order: a stable sort). Precision is made monotone
    from the right, p̂(r) = max_{r' >= r} p(r'), and AP = Σ_k (r_k − r_{k−1}) p̂(r_k) over the recall steps, with
    recall = TP / ``num_positives`` (missed ground truth included). NaN when ``num_positives`` is 0.
    """
    if num_positives <= 0:
        return float("nan")
    scores, tp = np.asarray(scores, dtype=np.float64), np.asarray(is_tp, dtype=bool)
    if scores.size == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp_c = np.cumsum(tp[order])
    fp_c = np.cumsum(~tp[order])
    rec = tp_c / num_positives
    prec = tp_c / (tp_c + fp_c)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mprec = np.concatenate([[0.0], prec, [0.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mprec[steps]))


def match_detections(det_scores: Sequence[float], overlaps: Sequence[tuple[np.ndarray, np.ndarray]],
                     threshold: float) -> np.ndarray:
    """Greedy matching of the ActivityNet / THUMOS detection evaluation; returns is-TP per detection.

    ``overlaps[d] = (ids, values)``: the ids of the ground-truth instances detection d can match (same frame or
    video, same class) and its overlap (IoU / tIoU) with each. In descending score order (stable), each detection
    takes the still-unmatched ground truth of highest overlap among those with overlap >= ``threshold``; a
    detection with none is a false positive. (A ground truth already taken passes the detection on to its next
    best, as ActivityNet's ``compute_average_precision_detection``; VOC would count it a false positive.)
    """
    order = np.argsort(-np.asarray(det_scores, dtype=np.float64), kind="stable")
    taken: set[int] = set()
    tp = np.zeros(len(order), dtype=bool)
    for d in order:
        ids, values = overlaps[d]
        for j in np.argsort(-np.asarray(values), kind="stable"):
            if values[j] < threshold:
                break
            if int(ids[j]) not in taken:
                taken.add(int(ids[j]))
                tp[d] = True
                break
    return tp


@dataclass(frozen=True)
class Detection:
    """A scored detection: ``key`` groups it with ground truth (a (video, frame) pair, or a video id)."""

    key: Hashable
    label: int
    score: float
    extent: tuple[float, ...]        # a box (x1, y1, x2, y2), or a segment (start, end)


@dataclass(frozen=True)
class GroundTruth:
    key: Hashable
    label: int
    extent: tuple[float, ...]


def class_ap(detections: Sequence[Detection], truths: Sequence[GroundTruth], label: int, threshold: float,
             overlap: Callable[[tuple, np.ndarray], np.ndarray]) -> float:
    """AP of class ``label`` at one overlap threshold; ``overlap(extent, gt_extents (M, k))`` -> (M,) overlaps."""
    gts = [g for g in truths if g.label == label]
    by_key: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(gts):
        by_key[g.key].append(i)
    dets = [d for d in detections if d.label == label]
    pairs = []
    for d in dets:
        ids = np.asarray(by_key.get(d.key, []), dtype=int)
        extents = np.asarray([gts[i].extent for i in ids], dtype=np.float64).reshape(len(ids), len(d.extent))
        values = overlap(d.extent, extents)
        pairs.append((ids, values))
    scores = [d.score for d in dets]
    return average_precision(scores, match_detections(scores, pairs, threshold), len(gts))


def mean_ap(detections: Sequence[Detection], truths: Sequence[GroundTruth], thresholds: Sequence[float],
            overlap: Callable[[tuple, np.ndarray], np.ndarray]) -> dict:
    """``{"map": {thr: mAP}, "ap": {thr: {label: AP}}}``: mean over the classes with ground truth."""
    labels = sorted({g.label for g in truths})
    out: dict = {"map": {}, "ap": {}}
    for thr in thresholds:
        aps = {lab: class_ap(detections, truths, lab, thr, overlap) for lab in labels}
        out["ap"][thr] = aps
        out["map"][thr] = float(np.mean(list(aps.values()))) if aps else float("nan")
    return out


# --------------------------------------------------------------------------------------------- boxes
def box_iou(box: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each row of ``boxes`` (M, 4); exclusive x2 / y2, so area = (x2 − x1)(y2 − y1)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = map(float, box)
    iw = np.clip(np.minimum(x2, b[:, 2]) - np.maximum(x1, b[:, 0]), 0, None)
    ih = np.clip(np.minimum(y2, b[:, 3]) - np.maximum(y1, b[:, 1]), 0, None)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def upsample_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """(h, w) mask -> (height, width), bilinear (OpenCV INTER_LINEAR, half-pixel centres)."""
    return cv2.resize(np.asarray(mask, dtype=np.float32), (int(width), int(height)), interpolation=cv2.INTER_LINEAR)


def mask_box(mask: np.ndarray, threshold: float) -> tuple[Box, float] | None:
    """The tightest box around the pixels with value > ``threshold``, and its score (the mean mask value inside).

    None when no pixel exceeds the threshold.
    """
    fg = np.asarray(mask) > threshold
    if not fg.any():
        return None
    rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    y1, y2, x1, x2 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return (float(x1), float(y1), float(x2), float(y2)), float(np.mean(mask[y1:y2, x1:x2]))


def mask_detections(video_id: str, frames: Sequence[int], masks: np.ndarray, label: int, width: int, height: int,
                    threshold: float) -> list[Detection]:
    """One :class:`Detection` per frame of a video from its masks (len(frames), h, w), keyed (video_id, frame).

    Each mask is upsampled to ``width`` × ``height`` (the frame size the ground-truth boxes refer to) and
    thresholded (:func:`mask_box`); frames without foreground give no detection.
    """
    out = []
    for frame, m in zip(frames, np.asarray(masks)):
        found = mask_box(upsample_mask(m, width, height), threshold)
        if found is not None:
            out.append(Detection((video_id, int(frame)), int(label), found[1], found[0]))
    return out


def spatial_map(detections: Sequence[Detection], truths: Sequence[GroundTruth], thresholds: Sequence[float]) -> dict:
    """Frame-level box mAP (STAM Table 3, σ = :data:`SPATIAL_IOUS`): :func:`mean_ap` with :func:`box_iou`;
    detection and ground-truth keys are (video, frame)."""
    return mean_ap(detections, truths, thresholds, box_iou)
