"""Multi-label video metrics (Charades, "Focused Attention for Action Recognition" §5): mAP and clip max-pooling.

* **Video mAP**: scikit-learn's ``average_precision_score`` for each class over the videos (non-interpolated AP:
  the mean over recall steps of the precision, with tied scores forming one threshold), then the mean over the
  classes. Classes without a positive video have no AP and are left out of the mean (the convention of the
  Charades reference code, ``nanmean``); :func:`per_class_ap` marks them NaN.
* **Clip max-pooling** (10-clip testing): a video's score for class k is the max of its clips' scores for k.

Videos with no action count as negatives for every class. The Charades reference code (``charades_map`` of
gsig/charades-algorithms) instead ranks them last, which is the same as dropping them: :func:`labelled` gives
the mask for that reading.
"""

from __future__ import annotations

import numpy as np

# scikit-learn is imported inside the functions: it costs ~0.8 s at start-up, paid by every training stage.


def _check(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2 or scores.shape != targets.shape or len(scores) == 0:
        raise ValueError(f"need (V, K) scores and (V, K) targets, got {scores.shape} and {targets.shape}")
    if not np.isin(targets, (0, 1)).all():
        raise ValueError("targets must be 0 / 1 (multi-hot)")
    return scores, targets.astype(np.int64)


def per_class_ap(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(K,) average precision of each class over the V videos; NaN for a class without a positive video.

    scores: (V, K) video scores (any monotone scale: logits or probabilities); targets: (V, K) multi-hot.
    """
    from sklearn.metrics import average_precision_score

    scores, targets = _check(scores, targets)
    ap = np.full(scores.shape[1], np.nan)
    for k in np.flatnonzero(targets.sum(0) > 0):
        ap[k] = average_precision_score(targets[:, k], scores[:, k])
    return ap


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Video mAP: the mean of :func:`per_class_ap` over the classes that have a positive video (a fraction)."""
    ap = per_class_ap(scores, targets)
    if np.isnan(ap).all():
        raise ValueError("no class has a positive video: mAP is undefined")
    return float(np.nanmean(ap))


def labelled(targets: np.ndarray) -> np.ndarray:
    """(V,) bool: videos with at least one positive class (the Charades reference code drops the others)."""
    return np.asarray(targets).sum(1) > 0


def clip_max_pool(clip_scores: np.ndarray, video: np.ndarray, num_videos: int) -> np.ndarray:
    """Per-class max over each video's clips: (M, K) clip scores and (M,) video positions -> (V, K).

    ``video[m]`` is the position (0 .. V-1) of clip m's video, as ``collate_test``'s ``"video"``; videos may
    have different numbers of clips, but every video needs at least one.
    """
    clip_scores = np.asarray(clip_scores, np.float64)
    video = np.asarray(video, np.int64)
    if clip_scores.ndim != 2 or video.shape != (len(clip_scores),):
        raise ValueError(f"need (M, K) clip scores and (M,) video positions, got {clip_scores.shape} and "
                         f"{video.shape}")
    if len(video) and (video.min() < 0 or video.max() >= num_videos):
        raise ValueError(f"video positions must lie in [0, {num_videos})")
    empty = np.flatnonzero(np.bincount(video, minlength=num_videos) == 0)
    if len(empty):
        raise ValueError(f"video position(s) {empty[:5].tolist()} have no clip")
    out = np.full((num_videos, clip_scores.shape[1]), -np.inf)
    np.maximum.at(out, video, clip_scores)
    return out
