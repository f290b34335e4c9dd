"""The ``evaluate`` stage: accuracy, reversed-time accuracy, confusion matrix and attention maps of one model.

Outputs for model id ``<id>``:

* ``data/eval/<id>/scores.npz`` — video ids, labels, video scores for normal and reversed time;
* ``data/eval/<id>/maps.npz`` — expected attention maps of every test clip (models with attention), with the
  clip → video map and clip start frames, for ``localize`` and the figures;
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import Params
from ..data.dataset import ClipDataset
from ..data.index import VideoIndex
from ..training.engine import skipped_ids
from ..training.recipes import load_frozen, make_recipe
from .metrics import accuracy_metrics, late_fusion
from .scoring import Scores, score_dataset


@dataclass
class EvalPaths:
    index: Path = Path("data/raw/index.json")
    frames: Path = Path("data/frames")
    flow: Path = Path("data/flow")
    flow_reversed: Path = Path("data/flow_reversed")
    models: Path = Path("models")
    data_out: Path = Path("data/eval")
    reports: Path = Path("reports/eval")
    skipped: tuple[Path, ...] = (Path("reports/data/frames_skipped.json"), Path("reports/data/flow_skipped.json"))


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
    if not s.maps:
        return
    np.savez_compressed(path, video_ids=np.asarray(s.video_ids), clip_video=s.clip_video, clip_start=s.clip_start,
                        clip_frames=np.asarray(clip_frames), frame_hw=np.asarray(frame_size),
                        **{f"maps_{b}": m for b, m in s.maps.items()})


def write_reports(out_dir: Path, metrics: dict, confusion: list[dict] | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if confusion is not None:
        (out_dir / "confusion.json").write_text(json.dumps(confusion) + "\n")


def evaluate_model(model_id: str, params: Params, paths: EvalPaths = EvalPaths(), device: str = "auto",
                   progress: bool = False) -> dict:
    """Score ``models/<model_id>/model.pt`` on the test split, normal and reversed time; write its outputs."""
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    recipe = make_recipe(model_id, params)
    model, obj = load_frozen(paths.models / model_id / "model.pt", dev)
    # teachers a test-time forward still needs, read from the same --models folder as the model
    teachers = {role: load_frozen(paths.models / Path(f).parent.name / "model.pt", dev)[0]
                for role, f in recipe.test_teachers(recipe.teachers).items()}
    index = VideoIndex.load(paths.index)
    if obj["classes"] != index.classes:
        raise ValueError(f"{model_id}: model classes differ from the index classes (trained on another dataset?)")
    common = dict(frames_dir=paths.frames, flow_dir=paths.flow, flow_reversed_dir=paths.flow_reversed,
                  train=False, crops=params.evaluate.crops, seed=params.seed, reverse_flow=params.flow.reverse,
                  exclude=skipped_ids(paths.skipped))
    amp = dev.type == "cuda" and params.train.amp
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    results = []
    for reverse in (False, True):
        ds = ClipDataset(index, "test", recipe.test_modality, params.clip, params.augment, reverse_time=reverse,
                         **common)
        results.append(score_dataset(model, recipe, teachers, ds, dev, progress=progress, autocast=autocast))
    normal, rev = results
    metrics = metrics_with_reversal(normal.probs, rev.probs, normal.labels, index.reverse_map)
    metrics.update({"num_videos": len(normal.video_ids), "num_clips": int(len(normal.clip_video)),
                    "crops": params.evaluate.crops})
    save_scores(paths.data_out / model_id / "scores.npz", normal, rev)
    first = paths.frames / f"{normal.video_ids[0]}.pack"
    from ..data.packs import Pack

    with Pack(first) as p:
        hw = (p.height, p.width)
    save_maps(paths.data_out / model_id / "maps.npz", normal, params.clip.frames, hw)
    write_reports(paths.reports / model_id, metrics, confusion_rows(normal.probs, normal.labels, index.classes))
    return metrics


def evaluate_fusion(name: str, members: list[str], paths: EvalPaths = EvalPaths(),
                    reverse_map: list[int] | None = None, classes: list[str] | None = None) -> dict:
    """Equal-weight late fusion of softmax scores of ``members`` (e.g. two-stream = rgb-none + flow-none)."""
    loaded = [load_scores(paths.data_out / m / "scores.npz") for m in members]
    ref = loaded[0]
    for m, s in zip(members[1:], loaded[1:]):
        if not np.array_equal(s["video_ids"], ref["video_ids"]):
            raise ValueError(f"fusion {name}: {m} was scored on other videos than {members[0]}")
    probs = late_fusion(*[s["probs"] for s in loaded])
    probs_rev = late_fusion(*[s["probs_reversed"] for s in loaded])
    metrics = metrics_with_reversal(probs, probs_rev, ref["labels"], reverse_map)
    metrics.update({"members": members, "num_videos": int(len(ref["labels"]))})
    write_reports(paths.reports / name, metrics,
                  confusion_rows(probs, ref["labels"], classes) if classes is not None else None)
    return metrics
