"""``reports/summary.json``: the output contract (DESIGN.md) that bars, tables and plots read.

::

    {"dataset": "synthetic", "seeds": [0, 1, 2],
     "models": {"<id>": {"top1", "top5", "mean_class", "mean_class_reversed", "reversed_as_pair",
                         "spread": {<the same keys>}, "per_seed": {"0": {<the same keys>}, ...}}},
     "localization": {"<id>": {"precision", "recall", "f1", "spread": {...}, "per_seed": {...}}},
     "chance": 1 / K, "kind_only": 1 / M, "attention": "prob-atten", "notes": [...]}

Inputs: ``<eval reports>/<id>/s<seed>/metrics.json`` for every declared model id
(:data:`attdistill.methods.MODEL_IDS`: the trained models and the late fusions) and every training seed, and
``<localize>/s<seed>/metrics.json``. Accuracies are fractions in [0, 1], on the test split. The top-level numbers are
the mean over seeds, ``spread`` is the sample standard deviation over seeds (ddof 1; 0 with one seed), ``per_seed``
keeps every seed's values.

Extra keys (the contract welcomes them):

* ``models.<id>.reversed_as_pair``: fraction of reversed test videos predicted as the time-reversal partner
  class (present when the dataset has a ``reverse_map``);
* ``chance``: 1 / number of classes (from the index);
* ``kind_only``: the mean class accuracy of a classifier that knows what the actor is (visible in one frame) and
  guesses how it moves, 1 / number of motions — the level a motion-blind RGB model can reach on the synthetic
  benchmark (classes = kinds x motions); present only when the class names show that structure;
* ``validation``: every trained model's last-epoch validation top-1 / mean class accuracy (middle clip, from the
  training logs), over seeds: what choices (the reading ablations of ``reports/tables/readings.md``) are made on;
* ``attention``: the attention module of the main method (params ``attention``);
* ``flops``: the ``flops`` stage's GFLOPs of I3D, +CBAM and +W3 at this configuration (``ours``) and at the paper
  profile's shapes (``paper_profile``), the W3 paper's Table 6 comparison;
* ``detection``: STAM Table 3, the frame-level box mAP (``map@0.05`` … ``map@0.3``) of each scored mask, over seeds
  (the ``detect`` stage); ``temporal``: STAM Table 4, the segment mAP (``map@0.1`` … ``map@0.5``) and whole-video
  top-1 on the untrimmed variant, over seeds (the ``temporal`` stage); ``focus_boxes``: the IoU and hit rate of each
  focused-crop box with the actor boxes, over seeds (the ``focus_boxes`` stage);
* ``notes``: why something is absent (e.g. a dataset without boxes has an empty ``localization``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .. import methods
from ..config import ACTOR_KINDS, MOTION_PAIRS
from .paths import ReportPaths, write_json

MODEL_IDS: tuple[str, ...] = methods.MODEL_IDS
# The maps of Table 4 (declared as table4 rows of their models) and the centre prior it compares them with.
LOCALIZATION_IDS: tuple[str, ...] = ("center-prior", *(r.key for _, r in methods.table_rows("table4")))
MODEL_KEYS: tuple[str, ...] = ("top1", "top5", "mean_class", "mean_class_reversed")
MULTILABEL_KEYS: tuple[str, ...] = ("map", "map_reversed", "top1", "top1_reversed")
LOCALIZATION_KEYS: tuple[str, ...] = ("precision", "recall", "f1")


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found (run the stage that writes it: "
                                f"{'localize' if 'localize' in path.parts else 'evaluate'})")
    with open(path) as fh:
        try:
            return json.load(fh)
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def _fraction(value, path: Path, key: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{path}: {key} = {value!r} is not a fraction in [0, 1]")
    return float(value)


def model_metrics(eval_reports: str | os.PathLike, model_id: str, seed: int) -> dict:
    """The contract's accuracies of one model and seed (+ reversed_as_pair) from
    ``<eval_reports>/<id>/s<seed>/metrics.json``."""
    path = Path(eval_reports) / model_id / f"s{seed}" / "metrics.json"
    m = _read_json(path)
    keys = MULTILABEL_KEYS if "map" in m else MODEL_KEYS      # a multi-label dataset's (Charades) metrics
    missing = [k for k in keys if k not in m]
    if missing:
        raise KeyError(f"{path}: missing {', '.join(missing)}")
    out = {k: _fraction(m[k], path, k) for k in keys}
    if m.get("reversed_as_pair") is not None:
        out["reversed_as_pair"] = _fraction(m["reversed_as_pair"], path, "reversed_as_pair")
    return out


def localization_metrics(localize_dir: str | os.PathLike, seed: int) -> tuple[dict, list[str]]:
    """({map id: {precision, recall, f1}}, notes) from ``<localize_dir>/s<seed>/metrics.json``."""
    path = Path(localize_dir) / f"s{seed}" / "metrics.json"
    data = _read_json(path)
    notes = [data["note"]] if isinstance(data.get("note"), str) else []
    entries = {k: v for k, v in data.items() if isinstance(v, dict)}
    if not entries:
        return {}, notes or [f"{path}: no localisation metrics"]
    missing = [k for k in LOCALIZATION_IDS if k not in entries]
    if missing:
        raise KeyError(f"{path}: missing map ids {', '.join(missing)}")
    out = {}
    for map_id, v in entries.items():
        out[map_id] = {k: (None if v.get(k) is None else _fraction(v[k], path, f"{map_id}.{k}"))
                       for k in LOCALIZATION_KEYS}
        if v.get("note"):
            notes.append(f"localization {map_id}: {v['note']}")
    return out, notes


def kinds_and_motions(classes: list[str], meta: dict | None = None) -> tuple[list[str], list[str]] | None:
    """(kinds, motions) when the classes are exactly kinds x motions (the synthetic benchmark), else None.

    From ``index.meta["kinds"]`` / ``["motions"]`` when present, else from the class names (one actor kind of
    :data:`attdistill.config.ACTOR_KINDS` and one motion of ``MOTION_PAIRS`` among each name's words).
    """
    meta = meta or {}
    if isinstance(meta.get("kinds"), list) and isinstance(meta.get("motions"), list):
        kinds, motions = list(meta["kinds"]), list(meta["motions"])
        return (kinds, motions) if len(kinds) * len(motions) == len(classes) else None
    pairs = []
    for name in classes:
        words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())
        k = [w for w in words if w in ACTOR_KINDS]
        m = [w for w in words if w in MOTION_PAIRS]
        if len(k) != 1 or len(m) != 1:
            return None
        pairs.append((k[0], m[0]))
    kinds = sorted({k for k, _ in pairs})
    motions = sorted({m for _, m in pairs})
    if len(set(pairs)) != len(classes) or len(kinds) * len(motions) != len(classes):
        return None
    return kinds, motions


def validation_metrics(train_logs: str | os.PathLike, model_id: str, seed: int) -> dict:
    """The last epoch's validation top-1 and mean class accuracy (middle clip) of one training run, from its
    dvclive summary ``<train_logs>/<id>/s<seed>/metrics.json``."""
    path = Path(train_logs) / model_id / f"s{seed}" / "metrics.json"
    val = _read_json(path).get("val", {})
    keys = ("top1", "map") if "map" in val else ("top1", "mean_class")     # multi-label: mAP
    missing = [k for k in keys if k not in val]
    if missing:
        raise KeyError(f"{path}: no validation {', '.join(missing)} (trained before the validation split?)")
    return {k: _fraction(val[k], path, f"val.{k}") for k in keys}


def spread(values) -> float:
    """The spread over seeds: the sample standard deviation (ddof 1), 0 for a single seed."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def over_seeds(per_seed: dict[int, dict]) -> dict:
    """Mean over seeds of every key the seeds share, its sample standard deviation (``spread``, ddof 1; 0 for one
    seed) and the per-seed values (keys as strings, as JSON writes them). A None value (a map of a model without
    attention) stays None."""
    keys = [k for k in next(iter(per_seed.values())) if all(k in m for m in per_seed.values())]
    out: dict = {}
    spreads: dict = {}
    for k in keys:
        vals = [m[k] for m in per_seed.values()]
        if any(v is None for v in vals):
            out[k], spreads[k] = None, None
            continue
        out[k] = float(np.mean(vals))
        spreads[k] = spread(vals)
    return {**out, "spread": spreads, "per_seed": {str(s): m for s, m in per_seed.items()}}


def _localization(paths: ReportPaths, seeds: list[int]) -> tuple[dict, list[str]]:
    per_seed, notes = {}, []
    for seed in seeds:
        per_seed[seed], n = localization_metrics(paths.localize, seed)
        notes += [x for x in n if x not in notes]
    ids = [i for i in per_seed[seeds[0]] if all(i in per_seed[s] for s in seeds)]
    return {i: over_seeds({s: per_seed[s][i] for s in seeds}) for i in ids}, notes


def _chance_levels(index_path: Path) -> dict:
    if not index_path.exists():
        return {}
    idx = json.loads(index_path.read_text())
    classes = list(idx.get("classes", []))
    if not classes:
        return {}
    out = {"chance": 1.0 / len(classes)}
    km = kinds_and_motions(classes, idx.get("meta"))
    if km is not None and len(km[0]) > 1:
        out["kind_only"] = 1.0 / len(km[1])
    return out


def _per_id_over_seeds(folder: Path, seeds: list[int]) -> dict:
    """{id: its numbers over seeds} from ``<folder>/s<seed>/metrics.json`` ({id: {name: number}}, the ``detect``
    and ``temporal`` stages); ids without numbers (a note) are left out."""
    per_seed = {}
    for seed in seeds:
        data = _read_json(Path(folder) / f"s{seed}" / "metrics.json")
        per_seed[seed] = {k: {m: float(x) for m, x in v.items()} for k, v in data.items()
                          if isinstance(v, dict) and "note" not in v}
    ids = [i for i in per_seed[seeds[0]] if all(i in per_seed[s] for s in seeds)]
    return {i: over_seeds({s: per_seed[s][i] for s in seeds}) for i in ids}


def collect_summary(paths: ReportPaths, dataset: str, attention: str, seeds: list[int]) -> dict:
    """The summary dict (see the module docstring) without writing it. A missing index just leaves the chance
    levels out."""
    seeds = list(seeds)
    models = {mid: over_seeds({s: model_metrics(paths.eval_reports, mid, s) for s in seeds}) for mid in MODEL_IDS}
    localization, notes = _localization(paths, seeds)
    validation = {mid: over_seeds({s: validation_metrics(paths.train_logs, mid, s) for s in seeds})
                  for mid in methods.TRAINED_IDS}
    summary: dict = {"dataset": dataset, "seeds": seeds, "models": models, "localization": localization,
                     "validation": validation, **_chance_levels(Path(paths.index)), "attention": attention}
    if notes:
        summary["notes"] = notes
    if paths.flops is not None and paths.flops.is_file():
        summary["flops"] = _read_json(paths.flops)
    if paths.detect is not None and paths.detect.is_dir():
        summary["detection"] = _per_id_over_seeds(paths.detect, seeds)
    if paths.temporal is not None and paths.temporal.is_dir():
        summary["temporal"] = _per_id_over_seeds(paths.temporal, seeds)
    if paths.focus is not None and paths.focus.is_dir():
        summary["focus_boxes"] = _per_id_over_seeds(paths.focus, seeds)
    return summary


def write_summary(summary: dict, out: str | os.PathLike) -> None:
    """Write a summary dict (:func:`collect_summary`) to ``out`` atomically."""
    write_json(summary, out)


