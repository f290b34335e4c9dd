"""Video-level scores: every clip of a test video at the stored resolution, softmax averaged (paper §3.6).

"For testing, we evaluate our model on full resolution clips (320 x 256) and aggregate scores from all clips to
produce the video-level results." :class:`attdistill.data.dataset.ClipDataset` in test mode yields every clip of a
video (optionally 3 crops each, MMAction2's protocol); here each clip's prediction (``NetOutput.probs``: softmax,
or the mean of the branch softmaxes for the two-branch student, Eq. 7) is averaged over the video's clips.
The expected attention maps of every clip are kept for localisation and figures.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data.dataset import ClipDataset, stack_labels
from ..losses import class_scores
from ..methods.registry import ModelSpec


@dataclass
class Scores:
    video_ids: list[str]
    labels: np.ndarray                 # (V,)
    probs: np.ndarray                  # (V, K) mean clip softmax
    clip_video: np.ndarray             # (M,) video position of each clip
    clip_start: np.ndarray             # (M,) first frame of each clip (crops of one clip share it)
    maps: dict[str, np.ndarray] = field(default_factory=dict)   # branch -> (M, T', H', W') expected maps
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # branch -> (M, T, n) temporal weights (STAM)


def score_dataset(model: nn.Module, spec: ModelSpec, teachers: dict[str, nn.Module], ds: ClipDataset,
                  device: torch.device, batch_clips: int = 16, progress: bool = False,
                  autocast=contextlib.nullcontext, params=None, pool: str = "mean") -> Scores:
    """Score every video of ``ds`` (a test-mode ClipDataset) with the model's declared forward (``spec.run``;
    ``params`` for a model with ``views``). Batches hold the clips' labels too (a test-time CE saliency reads them).
    A video's score is the ``pool`` (mean, or per-class max) of its clips'; a multi-label dataset's clip scores are
    the per-class sigmoids (``losses.multilabel_scores``) and its labels the (V, K) multi-hot targets."""
    if pool not in ("mean", "max"):
        raise ValueError(f"pool {pool!r}; valid values: mean, max")
    model.eval()
    for t in teachers.values():
        t.eval()
    keys = [k for k in ("rgb", "flow") if k in spec.test_modality]
    extra = ["raw", "geometry", "focus_u"] if ds.raw_dir is not None else []   # the focused-crop entries
    video_ids, labels, probs = [], [], []
    clip_video, clip_start = [], []
    maps: dict[str, list[np.ndarray]] = {}
    weights: dict[str, list[np.ndarray]] = {}
    pending: list[tuple[int, dict]] = []        # (video position, {key: clip tensor})
    clip_probs: dict[int, list[np.ndarray]] = {}

    def flush() -> None:
        if not pending:
            return
        batch = {k: torch.stack([c[k] for _, c in pending]).to(device) for k in keys + extra}
        batch["label"] = stack_labels([labels[v] for v, _ in pending]).to(device)
        with torch.no_grad(), autocast():
            out, _ = spec.run(model, batch, teachers, params)
        p = class_scores(out, ds.multilabel).float().cpu().numpy()
        for (v, _), row in zip(pending, p):
            clip_probs.setdefault(v, []).append(row)
        for b, m in out.expected_maps.items():
            maps.setdefault(b, []).append(m.float().cpu().numpy())
        for b, w in getattr(out, "temporal_weights", {}).items():
            weights.setdefault(b, []).append(w.float().cpu().numpy())
        pending.clear()

    for i in tqdm(range(len(ds)), desc="scoring", disable=not progress, leave=False):
        item = ds[i]
        v = len(video_ids)
        video_ids.append(item["video_id"])
        labels.append(item["label"])
        n_views = len(item[keys[0]])
        starts = list(item["starts"])
        crops = n_views // len(starts)
        for j in range(n_views):
            view = {k: item[k][j] for k in keys + [e for e in extra if e != "raw"]}
            view.update({"raw": item["raw"][j // crops]} if "raw" in extra else {})    # one per clip
            pending.append((v, view))
            clip_video.append(v)
            clip_start.append(starts[j // crops])
            if len(pending) >= batch_clips:
                flush()
    flush()
    reduce = np.mean if pool == "mean" else np.max
    probs = np.stack([reduce(clip_probs[v], axis=0) for v in range(len(video_ids))])
    return Scores(video_ids, stack_labels(labels).numpy(), probs.astype(np.float32), np.asarray(clip_video),
                  np.asarray(clip_start), {b: np.concatenate(m) for b, m in maps.items()},
                  {b: np.concatenate(w) for b, w in weights.items()})
