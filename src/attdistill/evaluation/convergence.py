"""Did every model stop learning? The convergence criterion of the study, checked on the validation curves.

A **model** (one id, every seed of params ``seeds``) of E epochs has **converged** when both hold over the last
quarter of its epochs, ``[ceil(3E/4), E]``:

1. **the schedule has annealed to its floor** (``train.lr x train.plateau_floor``). For ``train.schedule:
   plateau`` the lr of every epoch of the window is the floor: the plateau rule has seen the validation loss
   saturate twice before the window starts. For ``cosine`` the lr reaches the floor at the last epoch by
   construction, so this part cannot fail there and the second part carries the test; and
2. **validation top-1 is not rising**: the least-squares line through the window of the **mean over seeds** of the
   validation top-1 curves (middle clip of every validation video, logged every epoch) rises by at most one video
   (``1 / N_val``) across the window. Under the cosine schedule the window's lr falls from 0.15 to
   ``plateau_floor`` x lr, so a model that is still learning when the schedule anneals shows up as a rising line.
   Part 1 holds for every seed.

Why the seed mean and not every seed on its own (the criterion of the stops before 2026-12-02): the fitted rise of
one seed's window has a standard error of about one video itself (measured on the committed study: residual sd
1.15 videos about the line, standard error of the rise 1.14 videos, median over 87 runs), so a run that has
stopped learning fails "at most one video" by chance about one time in five, and a model passes in all three seeds
about half the time: that test could not tell a flat model from a rising one. The mean of S seeds divides the
standard error by sqrt(S) (0.66 videos for three), so a flat model fails by chance about one time in fifteen,
while a model that rises by 2 videos or more still fails. Every run keeps its own verdict (``per_seed``) and the
standard error of its rise (``rise_se``), so the per-seed reading stays in the report.

The second test is on a fitted line, not on ``max - min``: with 48 validation videos the curve of a run whose
weights have stopped changing still moves by 2-3 videos from epoch to epoch (batch-norm running statistics and
dropout), so a range test would call every run unconverged and say nothing about learning. The report also gives
the range (``moved``), the number of lr cuts and the last lr. ``plots`` writes the report to
``reports/convergence.json``; ``figures`` draws ``convergence.png``.

The criterion is necessary, not sufficient: an annealed schedule flattens the curve of a model that a longer one
would still improve; ``scripts/doubling.py`` is the sufficient test (docs/study.md).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from scipy.stats import linregress

from .. import methods
from ..config import Params
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


def window_start(epochs: int) -> int:
    """The 1-based first epoch of the last quarter of ``epochs``: the criterion's window is ``[start, epochs]``."""
    return math.ceil(3 * epochs / 4)


def fitted_rise(tail: np.ndarray) -> tuple[float, float | None]:
    """The rise of the least-squares line across ``tail`` (slope x (n - 1)) and its standard error
    (``scipy.stats.linregress``; None below three points, where no residual is left)."""
    n = len(tail)
    if n < 2:
        return 0.0, None
    fit = linregress(np.arange(n, dtype=float), np.asarray(tail, dtype=float))
    return float(fit.slope * (n - 1)), (float(fit.stderr * (n - 1)) if n >= 3 else None)


def not_rising(rise: float, num_val: int) -> bool:
    """Part 2 of the criterion: a fitted rise of at most one validation video."""
    return rise <= 1.0 / num_val + 1e-12


def run_convergence(curve: np.ndarray, lr: np.ndarray, num_val: int, floor_lr: float, schedule: str) -> dict:
    """The criterion on one validation top-1 curve (one value per epoch), its lr curve, the schedule's floor and
    the schedule's name (``plateau``: the whole window at the floor; ``cosine``: the last epoch)."""
    epochs = len(curve)
    start = window_start(epochs)
    tail, tail_lr = curve[start - 1:], lr[start - 1:]
    rise, rise_se = fitted_rise(tail)
    at_floor = bool(np.all((tail_lr if schedule == "plateau" else lr[-1:]) <= floor_lr * (1 + 1e-6)))
    flat = not_rising(rise, num_val)
    # plateau: how often the rule cut the lr; a cosine schedule lowers it every epoch, so no count there
    cuts = int(np.sum(lr[1:] < lr[:-1] * (1 - 1e-9))) if len(lr) > 1 and schedule == "plateau" else None
    return {"epochs": epochs, "window": [start, epochs], "rise": rise, "rise_se": rise_se, "tolerance": 1.0 / num_val,
            "moved": float(tail.max() - tail.min()), "at_floor": at_floor, "not_rising": flat,
            "converged": at_floor and flat, "lr_cuts": cuts, "final_lr": float(lr[-1]), "floor_lr": floor_lr,
            "schedule": schedule,
            "curve": [float(v) for v in curve]}


def lr_floors(params: Params) -> dict[str, float]:
    """Each trained id's lr floor, ``train.plateau_floor`` x the lr of its own schedule (a fine-tune anneals from
    its own lr: ``ModelSpec.train_params``)."""
    out = {}
    for m in methods.MODELS:
        if m.id in methods.TRAINED_IDS:
            tp = (m.train_params(params) if m.train_params else params).train
            out[m.id] = tp.lr * tp.plateau_floor
    return out


def study_convergence(paths: ReportPaths, params: Params) -> dict:
    """:func:`convergence_report` of every trained id over params ``seeds``, each at its own lr floor, with the
    validation split's size read from the index (what the ``plots`` and ``figures`` stages both need)."""
    from ..data.index import VideoIndex

    num_val = len(VideoIndex.load(paths.index).split("val"))
    return convergence_report(paths, list(methods.TRAINED_IDS), list(params.seeds), num_val, lr_floors(params),
                              params.train.schedule)


def model_convergence(per_seed: dict[str, dict], num_val: int) -> dict:
    """One model's verdict from its runs (:func:`run_convergence` per seed): every seed annealed to its floor, and
    the fitted line of the seeds' mean curve over the window rises by at most one video. The mean is over the
    epochs all seeds have (the seeds of one id share their schedule, so normally all of them)."""
    runs = list(per_seed.values())
    epochs = min(r["epochs"] for r in runs)
    mean = np.mean([r["curve"][:epochs] for r in runs], axis=0)
    rise, rise_se = fitted_rise(mean[window_start(epochs) - 1:])
    at_floor, flat = all(r["at_floor"] for r in runs), not_rising(rise, num_val)
    return {"converged": at_floor and flat, "at_floor": at_floor, "not_rising": flat,
            "mean_curve": [float(v) for v in mean], "mean_rise": rise, "mean_rise_se": rise_se, "seeds": len(runs),
            "seeds_not_rising": sum(r["not_rising"] for r in runs), "per_seed": per_seed}


def convergence_report(paths: ReportPaths, model_ids: list[str], seeds: list[int], num_val: int,
                       floor_lr: float | dict[str, float], schedule: str) -> dict:
    """{"criterion", "num_val", "models": {id: :func:`model_convergence`}, "all_converged"} for
    every trained model with logs (a model without logs is listed under "missing"). ``floor_lr``: one floor, or
    one per model id (a fine-tune anneals from its own lr)."""
    models, missing = {}, []
    for mid in model_ids:
        per_seed = {}
        for seed in seeds:
            base = paths.train_dir(mid, seed) / "plots" / "metrics"
            if not (base / "val" / "top1.tsv").exists():
                missing.append(f"{mid}/s{seed}")
                continue
            per_seed[str(seed)] = run_convergence(read_tsv(base / "val" / "top1.tsv")[1],
                                                  read_tsv(base / "lr.tsv")[1], num_val,
                                                  floor_lr[mid] if isinstance(floor_lr, dict) else floor_lr, schedule)
        if per_seed:
            models[mid] = model_convergence(per_seed, num_val)
    floor = ("over the last quarter of epochs the lr is at the plateau schedule's floor" if schedule == "plateau"
             else "the cosine schedule ends at its floor")
    return {"criterion": f"in every seed {floor}, and over the last quarter of epochs the least-squares line of the "
                         "seeds' mean validation top-1 rises by at most one video (1/N_val)", "schedule": schedule,
            "num_val": num_val, "models": models, "missing": missing,
            "all_converged": bool(models) and not missing and all(m["converged"] for m in models.values())}
