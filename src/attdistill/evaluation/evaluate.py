"""The ``evaluate`` stage: accuracy, reversed-time accuracy, confusion matrix and attention maps of one model.

Outputs for model id ``<id>``:

* ``data/eval/<id>/scores.npz`` — video ids, labels, video scores for normal and reversed time;
* ``data/eval/<id>/maps.npz`` — expected attention maps (``maps_<branch>``) and, for STAM, temporal weights
  (``weights_<branch>``, (clips, T, n)) of every test clip (models with attention), with the clip → video map and
  clip start frames, for ``localize`` and the figures;
* ``reports/eval/<id>/metrics.json`` — top-1, top-5, mean class accuracy, the same on reversed videos, and the
  fraction of reversed videos predicted as their time-reversal partner class (where the dataset defines one);
* ``reports/eval/<id>/confusion.json`` — one {actual, predicted} row per test video (DVC's confusion template).

Reversed time (supplement, Table 5): "we invert the frame order for all testing videos". RGB models see the frames
in reverse order. Flow models see the flow *of the reversed video*: with ``flow.reverse: backward`` (default) the
flow stage computed TV-L1 on the reversed frame pairs of every test video; with ``negate`` the loader uses the
negated forward flow in reversed order (exact for translations, an approximation otherwise).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import methods
from ..config import Params
from ..data.dataset import ClipDataset
from ..data.index import VideoIndex
from ..data.packs import Pack, pack_path
from ..data.skips import skipped_ids
from ..models.files import load_frozen, resolve_device
from .metrics import accuracy_metrics, late_fusion, multilabel_metrics
from .scoring import Scores, score_dataset


@dataclass(frozen=True)
class EvalPaths:
    """Every file the evaluation of one model reads or writes (the stage passes each on its command line)."""

    index: Path
    frames: Path
    flow: Path | None                   # None: a model that reads RGB only
    flow_reversed: Path | None
    model: Path                         # the model.pt to score (a test-time variant's: its weights_of id's)
    data_out: Path                      # scores.npz and maps.npz go here
    reports: Path                       # metrics.json and confusion.json go here
    skipped: tuple[Path, ...] = ()      # the frames / flow skip reports
    teachers: dict[str, Path] = field(default_factory=dict)   # role -> model file of each test-time teacher
    raw: Path | None = None             # the original frames (focused crops)


def metrics_with_reversal(probs: np.ndarray, probs_rev: np.ndarray, labels: np.ndarray,
                          reverse_map: list[int] | None) -> dict[str, float]:
    m = accuracy_metrics(probs, labels)
    r = accuracy_metrics(probs_rev, labels)
    m.update({f"{k}_reversed": v for k, v in r.items()})
    if reverse_map is not None:
        partner = np.asarray(reverse_map)[labels]
        m["reversed_as_pair"] = float((probs_rev.argmax(1) == partner).mean())
    return m


def confusion_rows(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> list[dict]:
    return [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(labels, probs.argmax(1))]


def save_scores(path: Path, normal: Scores, reversed_: Scores) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, video_ids=np.asarray(normal.video_ids), labels=normal.labels,
                        probs=normal.probs, probs_reversed=reversed_.probs)


def load_scores(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def save_maps(path: Path, s: Scores, clip_frames: int, frame_size: tuple[int, int]) -> None:
    if not (s.maps or s.weights):
        return
    np.savez_compressed(path, video_ids=np.asarray(s.video_ids), clip_video=s.clip_video, clip_start=s.clip_start,
                        clip_frames=np.asarray(clip_frames), frame_hw=np.asarray(frame_size),
                        **{f"maps_{b}": m for b, m in s.maps.items()},
                        **{f"weights_{b}": w for b, w in s.weights.items()})


def write_reports(out_dir: Path, metrics: dict, confusion: list[dict] | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if confusion is not None:
        (out_dir / "confusion.json").write_text(json.dumps(confusion) + "\n")


def load_for_test(model_id: str, paths: EvalPaths, dev: torch.device):
    """The frozen model, its file, and the teachers its test-time forward still needs (role -> module)."""
    spec = methods.get(model_id)
    model, obj = load_frozen(paths.model, dev)
    declared = {t.role for t in spec.test_teachers}
    if set(paths.teachers) != declared:
        raise ValueError(f"{model_id}: test-time teachers are {sorted(declared) or 'none'}, got "
                         f"{sorted(paths.teachers) or 'none'} (pass each as --teacher ROLE=PATH)")
    teachers = {role: load_frozen(Path(f), dev)[0] for role, f in paths.teachers.items()}
    return spec, model, obj, teachers


def evaluate_model(model_id: str, params: Params, paths: EvalPaths, device: str = "auto",
                   progress: bool = False) -> dict:
    """Score ``paths.model`` on the test split, normal and reversed time; write its outputs."""
    dev = resolve_device(device)
    spec, model, obj, teachers = load_for_test(model_id, paths, dev)
    index = VideoIndex.load(paths.index)
    if obj["classes"] != index.classes:
        raise ValueError(f"{model_id}: model classes differ from the index classes (trained on another dataset?)")
    common = dict(frames_dir=paths.frames, flow_dir=paths.flow, flow_reversed_dir=paths.flow_reversed,
                  train=False, crops=params.evaluate.crops, seed=params.seed, reverse_flow=params.flow.reverse,
                  exclude=skipped_ids(paths.skipped), raw_dir=paths.raw, test_clips=params.evaluate.clips)
    amp = dev.type == "cuda" and params.train.amp
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    results = []
    for reverse in (False, True):
        ds = ClipDataset(index, "test", spec.test_modality, params.clip, params.augment, reverse_time=reverse,
                         **common)
        results.append(score_dataset(model, spec, teachers, ds, dev, progress=progress, autocast=autocast,
                                     params=params, pool=params.evaluate.pool))
    normal, rev = results
    multilabel = index.metric == "mAP"
    if multilabel:                     # Charades: video mAP and top-1 hit, normal and reversed time
        metrics = {**multilabel_metrics(normal.probs, normal.labels),
                   **{f"{k}_reversed": v for k, v in multilabel_metrics(rev.probs, rev.labels).items()}}
    else:
        metrics = metrics_with_reversal(normal.probs, rev.probs, normal.labels, index.reverse_map)
    metrics.update({"num_videos": len(normal.video_ids), "num_clips": int(len(normal.clip_video)),
                    "crops": params.evaluate.crops})
    save_scores(paths.data_out / "scores.npz", normal, rev)
    with Pack(pack_path(paths.frames, normal.video_ids[0])) as p:
        hw = (p.height, p.width)
    save_maps(paths.data_out / "maps.npz", normal, params.clip.frames, hw)
    write_reports(paths.reports, metrics, None if multilabel else
                  confusion_rows(normal.probs, normal.labels, index.classes))
    return metrics


def evaluate_fusion(name: str, members: list[str], score_files: list[Path], out_dir: Path,
                    reverse_map: list[int] | None = None, classes: list[str] | None = None) -> dict:
    """Equal-weight late fusion of softmax scores of ``members`` (e.g. two-stream = rgb-none + flow-none), read
    from ``score_files`` (one scores.npz per member, in order); writes ``out_dir``/metrics.json."""
    if len(score_files) != len(members):
        raise ValueError(f"fusion {name}: {len(members)} members ({', '.join(members)}), "
                         f"{len(score_files)} score files given")
    loaded = [load_scores(Path(f)) for f in score_files]
    ref = loaded[0]
    for m, s in zip(members[1:], loaded[1:]):
        if not np.array_equal(s["video_ids"], ref["video_ids"]):
            raise ValueError(f"fusion {name}: {m} was scored on other videos than {members[0]}")
    probs = late_fusion(*[s["probs"] for s in loaded])
    probs_rev = late_fusion(*[s["probs_reversed"] for s in loaded])
    metrics = metrics_with_reversal(probs, probs_rev, ref["labels"], reverse_map)
    metrics.update({"members": members, "num_videos": int(len(ref["labels"]))})
    write_reports(Path(out_dir), metrics,
                  confusion_rows(probs, ref["labels"], classes) if classes is not None else None)
    return metrics
