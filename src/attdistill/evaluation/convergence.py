"""Did every model stop learning? The convergence criterion of the study, checked on the validation curves.

A run (one model, one seed) has **converged** when its validation top-1 (middle clip of every validation video,
logged every epoch by the training engine) moved by at most one video over the last quarter of its epochs:
``max - min <= 1 / N_val`` over epochs ``[ceil(3E/4), E]``. The report also gives, for each run, how often the
plateau schedule cut the learning rate (``lr_cuts``) and the lr of the last epoch. A model has converged when all
of its seeds have. ``plots`` writes the report to ``reports/convergence.json`` and draws ``convergence.png``;
tests/test_study.py checks the committed study against it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .paths import ReportPaths


def read_tsv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A dvclive metric file (``step<TAB>value``; extra columns such as timestamp ignored) -> (steps, values)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: no rows")
    name = Path(path).stem
    key = name if name in rows[0] else [k for k in rows[0] if k not in ("step", "timestamp")][-1]
    steps = np.array([int(float(r["step"])) for r in rows])
    values = np.array([float(r[key]) for r in rows])
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def run_convergence(curve: np.ndarray, lr: np.ndarray, num_val: int) -> dict:
    """The criterion on one validation top-1 curve (one value per epoch) and its lr curve."""
    epochs = len(curve)
    start = math.ceil(3 * epochs / 4)                 # 1-based first epoch of the last quarter
    tail = curve[start - 1:]
    moved = float(tail.max() - tail.min())
    cuts = int(np.sum(lr[1:] < lr[:-1] * (1 - 1e-9))) if len(lr) > 1 else 0
    return {"epochs": epochs, "window": [start, epochs], "moved": moved, "tolerance": 1.0 / num_val,
            "converged": moved <= 1.0 / num_val + 1e-12, "lr_cuts": cuts, "final_lr": float(lr[-1]),
            "curve": [float(v) for v in curve]}


def convergence_report(paths: ReportPaths, model_ids: list[str], seeds: list[int], num_val: int) -> dict:
    """{"criterion", "num_val", "models": {id: {"converged", "per_seed": {seed: run}}}, "all_converged"} for
    every trained model with logs (a model without logs is listed under "missing")."""
    models, missing = {}, []
    for mid in model_ids:
        per_seed = {}
        for seed in seeds:
            base = paths.train_dir(mid, seed) / "plots" / "metrics"
            if not (base / "val" / "top1.tsv").exists():
                missing.append(f"{mid}/s{seed}")
                continue
            per_seed[str(seed)] = run_convergence(read_tsv(base / "val" / "top1.tsv")[1],
                                                  read_tsv(base / "lr.tsv")[1], num_val)
        if per_seed:
            models[mid] = {"converged": all(r["converged"] for r in per_seed.values()), "per_seed": per_seed}
    return {"criterion": "validation top-1 moved by at most one video (1/N_val) over the last quarter of epochs",
            "num_val": num_val, "models": models, "missing": missing,
            "all_converged": bool(models) and not missing and all(m["converged"] for m in models.values())}
