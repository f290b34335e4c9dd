"""Accuracy metrics as the paper reports them, computed with scikit-learn.

* top-1 / top-5: fraction of videos whose label is among the k highest video scores (20BN-V2, Table 3);
* mean class accuracy: the mean over classes of per-class recall — scikit-learn's ``balanced_accuracy_score``
  (UCF101, HMDB51, EGTEA; Tables 1, 2, 5).
"""

from __future__ import annotations

import numpy as np

# scikit-learn is imported inside the functions: it costs ~0.8 s at start-up, paid by every training stage.


def accuracy_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``probs`` (V, K) video scores, ``labels`` (V,) -> {"top1", "top5", "mean_class"} as fractions."""
    from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels) or len(labels) == 0:
        raise ValueError(f"need (V, K) scores and V labels, got {probs.shape} and {labels.shape}")
    k = probs.shape[1]
    classes = np.arange(k)
    pred = probs.argmax(1)
    return {
        "top1": float((pred == labels).mean()),
        # with K <= 5 classes every label is in the top 5 (sklearn warns that the score is meaningless)
        "top5": float(top_k_accuracy_score(labels, probs, k=5, labels=classes)) if k > 5 else 1.0,
        "mean_class": float(balanced_accuracy_score(labels, pred)),
    }


def hits_at_1(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(V,) whether each video's top-scored class is right: equal to its label (V,), or positive in its multi-hot
    targets (V, K)."""
    pred = np.asarray(probs).argmax(1)
    targets = np.asarray(targets)
    if targets.ndim == 2:
        return targets[np.arange(len(pred)), pred] > 0
    return pred == targets


def multilabel_metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``scores`` (V, K), multi-hot ``targets`` (V, K) -> {"map": video mAP, "top1": top-scored class positive}."""
    from .multilabel import mean_average_precision

    return {"map": mean_average_precision(scores, targets), "top1": float(hits_at_1(scores, targets).mean())}


def confusion(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(K, K) counts: rows = true class, columns = predicted class."""
    from sklearn.metrics import confusion_matrix

    k = probs.shape[1]
    return confusion_matrix(labels, np.asarray(probs).argmax(1), labels=np.arange(k))


def late_fusion(*probs: np.ndarray) -> np.ndarray:
    """Equal-weight late fusion of softmax scores (two-stream I3D; Prob-Distill + Flow I3D in Table 2)."""
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in probs]), axis=0)
