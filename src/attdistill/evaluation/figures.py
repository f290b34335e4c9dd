"""The PNG figures of ``reports/figures/`` (the ``plots`` stage), drawn with matplotlib's Agg backend.

========================================  ==========================================================================
file                                      what it shows (and what it reads)
========================================  ==========================================================================
``attention_<k>_<class>.png``             paper Fig. 2 / 3: first and last frame of a test clip with the student's
                                          appearance and motion maps, Soft-Atten RGB and Soft-Atten Flow overlaid
                                          (``data/eval/<id>/maps.npz``, ``data/eval/distill/scores.npz``,
                                          ``data/frames/<video>.pack``, ``data/raw/index.json``)
``localization_pr.png``                   precision-recall curves of the localisation of every map, best-F1 points
                                          (``reports/localize/pr/<id>.csv``: recall, precision, threshold;
                                          best points from ``reports/localize/metrics.json`` if present)
``training_curves.png``                   train loss and test mean class accuracy per epoch of every model
                                          (dvclive ``reports/train/<id>/plots/metrics/train/loss.tsv`` and
                                          ``.../val/mean_class.tsv``)
``accuracy_vs_epochs.png``                test mean class accuracy per epoch of rgb-prob-atten and distill, chance
                                          level, final multi-clip accuracy (``reports/eval/<id>/metrics.json``): does
                                          distillation change the end point, or only the speed of learning?
``w3_masks_<k>_<class>.png``              the W3 paper's qualitative figure: W3's and CBAM's spatial masks (stage
                                          masks Mixed_3c and Mixed_5c) on 5 evenly sampled frames of a test clip
                                          (``data/eval/{w3,cbam}/maps.npz``, ``data/eval/w3/scores.npz``)
``stam_masks_<k>_<class>.png``            STAM's importance masks on 5 evenly sampled frames of a test clip
``stam_weights.png``                      STAM's temporal weights (mean over steps) over the frames of test clips
``confusion_matrices.png``                row-normalised confusion matrices of distill, rgb-prob-atten and the flow
                                          teacher (``reports/eval/<id>/confusion.json``)
========================================  ==========================================================================

A figure whose inputs are missing is skipped with a :class:`FigureWarning` naming the file; a series of a multi-model
figure that is missing is left out with a warning. Nothing here raises for missing inputs, so the stage never fails
because one model was not trained.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .. import methods  # noqa: E402
from ..visualize import attention_panel, save_figure  # noqa: E402
from .convergence import read_tsv  # noqa: E402  (the dvclive reader the figures share)
from .paths import ReportPaths  # noqa: E402

# Rows of the attention figure: the learned maps of Table 4 as the registry declares them, (label, model id,
# branch of maps_<branch> in data/eval/<id>/maps.npz).
ATTENTION_ROWS: tuple[tuple[str, str, str], ...] = tuple(
    (row.label, *methods.localization_maps()[row.key]) for _, row in methods.table_rows("table4")
    if row.key in methods.localization_maps())
CURVE_IDS: tuple[str, ...] = ("rgb-prob-atten", "distill")
MAX_ATTENTION_VIDEOS = 6


class FigureWarning(UserWarning):
    """An input of a figure is missing or unreadable; the figure (or one series of it) is skipped."""


def _warn(msg: str) -> None:
    warnings.warn(msg, FigureWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------- readers
def _read_curve(path: Path, consequence: str) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`read_tsv`, or None with a warning ("<path> is missing / unreadable; <consequence>")."""
    if not path.exists():
        _warn(f"{path} is missing; {consequence}")
        return None
    try:
        return read_tsv(path)
    except (OSError, ValueError, KeyError) as exc:
        _warn(f"cannot read {path} ({exc}); {consequence}")
        return None


def read_pr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``reports/localize/pr/<id>.csv`` (columns recall, precision, threshold) -> (recall, precision)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "recall" not in rows[0] or "precision" not in rows[0]:
        raise ValueError(f"{path}: expected columns recall, precision, threshold")
    return (np.array([float(r["recall"]) for r in rows]), np.array([float(r["precision"]) for r in rows]))


def best_f1(recall: np.ndarray, precision: np.ndarray) -> tuple[int, float]:
    """Index and value of the point with the highest F1 = 2PR / (P + R)."""
    denom = np.maximum(recall + precision, 1e-12)
    f1 = 2 * recall * precision / denom
    i = int(np.argmax(f1))
    return i, float(f1[i])


def _load_json(path: Path):
    with open(path) as fh:
        return json.load(fh)


def _classes(paths: ReportPaths) -> list[str] | None:
    path = paths.index
    try:
        return list(_load_json(path)["classes"])
    except (OSError, ValueError, KeyError):
        return None


def _index_maps(paths: ReportPaths) -> tuple[list[int] | None, list[int] | None]:
    try:
        d = _load_json(paths.index)
        return d.get("reverse_map"), d.get("flip_map")
    except (OSError, ValueError):
        return None, None


def _class_namer(paths: ReportPaths, num_classes: int):
    """label -> class name from the index (``class <k>`` when the index is missing or has another class count)."""
    classes = _classes(paths)
    if classes and len(classes) == num_classes:
        return lambda k: classes[k]
    return lambda k: f"class {k}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "video"


# --------------------------------------------------------------------------------------------- figures
def _load_maps(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _clip_map(mz: dict[str, np.ndarray], branch: str, video_id: str, start: int) -> np.ndarray | None:
    """The (T', h, w) map of ``branch`` for the clip of ``video_id`` starting at ``start`` (centre crop if 3 crops)."""
    key = f"maps_{branch}"
    if key not in mz:
        return None
    vids = [str(v) for v in mz["video_ids"]]
    if video_id not in vids:
        return None
    v = vids.index(video_id)
    rows = np.flatnonzero((mz["clip_video"] == v) & (mz["clip_start"] == start))
    if len(rows) == 0:
        return None
    return mz[key][rows[len(rows) // 2]]   # 1 crop: the clip; 3 crops (start, centre, end): the centre one


def _crops_per_clip(mz: dict[str, np.ndarray]) -> int:
    pairs = np.stack([mz["clip_video"], mz["clip_start"]], 1)
    _, counts = np.unique(pairs, axis=0, return_counts=True)
    return int(counts.max()) if len(counts) else 1


def choose_videos(video_ids: list[str], labels: np.ndarray, reverse_map: list[int] | None,
                  max_videos: int = MAX_ATTENTION_VIDEOS) -> list[int]:
    """Deterministic choice of test videos: the first (by id) of each class pair {c, reverse(c)}, evenly spread.

    Without a reverse map every class is its own pair. At most ``max_videos`` pairs, spread over the label range.
    """
    groups: dict[int, list[int]] = {}
    for i, (vid, lab) in enumerate(zip(video_ids, labels)):
        lab = int(lab)
        key = min(lab, reverse_map[lab]) if reverse_map is not None else lab
        groups.setdefault(key, []).append(i)
    keys = sorted(groups)
    if len(keys) > max_videos:
        keys = [keys[int(round(j))] for j in np.linspace(0, len(keys) - 1, max_videos)]
    return [min(groups[k], key=lambda i: video_ids[i]) for k in keys]


def clip_frames(paths: ReportPaths, vid: str, start: int, T: int, crops: int) -> np.ndarray | None:
    """The (T, H, W, 3) frames of the clip the evaluate stage scored (its centre square crop when it took 3 crops);
    None, with a warning, when the pack cannot be read."""
    from ..data.dataset import clip_indices
    from ..data.packs import Pack, PackError, pack_path

    pack = pack_path(paths.frames, vid)
    try:
        with Pack(pack) as pk:
            frames = pk.read(clip_indices(start, T, len(pk))[0].tolist())   # as the evaluate stage
    except (PackError, OSError) as exc:
        _warn(f"attention figure of {vid} skipped: cannot read {pack} ({exc})")
        return None
    if crops > 1:  # maps cover the centre square crop (MMAction2 ThreeCrop order: start, centre, end)
        from ..data.transforms import crop, three_crop_boxes

        frames = crop(frames, three_crop_boxes(frames.shape[1], frames.shape[2])[1])
    return frames


def attention_figures(paths: ReportPaths, out_dir: Path) -> list[Path]:
    """Paper Fig. 2 / 3 for a few test videos: one PNG per video, maps of the student and of Soft-Atten."""
    main_maps, main_scores = paths.eval_dir("distill") / "maps.npz", paths.eval_dir("distill") / "scores.npz"
    for p in (main_maps, main_scores):
        if not p.exists():
            _warn(f"attention figures skipped: {p} is missing")
            return []
    loaded: dict[str, dict[str, np.ndarray]] = {}
    for _, mid, _ in ATTENTION_ROWS:
        path = paths.eval_dir(mid) / "maps.npz"
        if mid in loaded:
            continue
        if not path.exists():
            _warn(f"attention figures: {path} is missing; its rows are left out")
            continue
        try:
            loaded[mid] = _load_maps(path)
        except (OSError, ValueError) as exc:
            _warn(f"attention figures: cannot read {path} ({exc}); its rows are left out")
    if "distill" not in loaded:
        return []
    with np.load(main_scores) as z:
        s_ids, s_labels, s_probs = [str(v) for v in z["video_ids"]], z["labels"], z["probs"]
    name = _class_namer(paths, s_probs.shape[1])
    reverse_map, _ = _index_maps(paths)
    if reverse_map is not None and len(reverse_map) != s_probs.shape[1]:
        reverse_map = None
    dm = loaded["distill"]
    T = int(dm["clip_frames"])
    crops = _crops_per_clip(dm)
    written = []
    for n, i in enumerate(choose_videos(s_ids, s_labels, reverse_map)):
        vid = s_ids[i]
        vpos = [str(v) for v in dm["video_ids"]].index(vid) if vid in [str(v) for v in dm["video_ids"]] else None
        if vpos is None:
            _warn(f"attention figures: {vid} has no maps in {main_maps}; skipped")
            continue
        start = int(dm["clip_start"][np.flatnonzero(dm["clip_video"] == vpos)].min())
        frames = clip_frames(paths, vid, start, T, crops)
        if frames is None:
            continue
        maps = {}
        for label, mid, branch in ATTENTION_ROWS:
            if mid in loaded:
                m = _clip_map(loaded[mid], branch, vid, start)
                if m is not None:
                    maps[label] = m
        true_c, pred_c = name(int(s_labels[i])), name(int(np.argmax(s_probs[i])))
        title = f"{vid} (frames {start}-{start + T - 1})\ntrue: {true_c}   predicted (distill): {pred_c}"
        fig = attention_panel(frames, maps, T, title)
        out = out_dir / f"attention_{n:02d}_{_slug(true_c)}.png"
        save_figure(fig, out)
        written.append(out)
    return written


def pr_figure(paths: ReportPaths, out_dir: Path) -> list[Path]:
    """All localisation PR curves on one plot, each with its best-F1 point."""
    pr_dir = paths.localize_dir() / "pr"
    files = sorted(pr_dir.glob("*.csv")) if pr_dir.is_dir() else []
    if not files:
        _warn(f"localisation PR figure skipped: no {pr_dir}/<id>.csv")
        return []
    try:   # the localize stage's best points (its CSVs may be thinned out), when present
        best = _load_json(paths.localize_dir() / "metrics.json")
    except (OSError, ValueError):
        best = {}
    fig, ax = plt.subplots(figsize=(6, 5))
    drawn = 0
    for f in files:
        try:
            r, p = read_pr(f)
        except (OSError, ValueError) as exc:
            _warn(f"localisation PR figure: cannot read {f} ({exc}); left out")
            continue
        order = np.argsort(r, kind="stable")
        (line,) = ax.plot(r[order], p[order], label=None)
        m = best.get(f.stem) if isinstance(best, dict) else None
        if isinstance(m, dict) and all(k in m for k in ("precision", "recall", "f1")):
            br, bp, f1 = float(m["recall"]), float(m["precision"]), float(m["f1"])
        else:
            i, f1 = best_f1(r, p)
            br, bp = r[i], p[i]
        ax.plot([br], [bp], "o", color=line.get_color())
        line.set_label(f"{f.stem} (best F1 {f1:.3f})")
        drawn += 1
    if not drawn:
        plt.close(fig)
        return []
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("Localisation of the action by attention maps (dots: best F1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    out = out_dir / "localization_pr.png"
    save_figure(fig, out)
    return [out]


def training_figure(paths: ReportPaths, out_dir: Path) -> list[Path]:
    """Train loss and validation mean class accuracy per epoch (reference seed) for every model with dvclive logs."""
    train_dir = paths.train_logs
    ids = sorted(p.name for p in train_dir.iterdir() if p.is_dir()) if train_dir.is_dir() else []
    if not ids:
        _warn(f"training curves skipped: no model folders in {train_dir}")
        return []
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.get_cmap("tab20").colors
    drawn = 0
    for n, mid in enumerate(ids):
        base = paths.train_dir(mid) / "plots" / "metrics"
        for ax, rel in ((ax_l, "train/loss.tsv"), (ax_a, "val/mean_class.tsv")):
            curve = _read_curve(base / rel, f"training curves: {mid} left out of that panel")
            if curve is None:
                continue
            steps, vals = curve
            ax.plot(steps + 1, vals, marker=".", label=mid, color=colors[n % len(colors)])   # step = epoch - 1
            drawn += 1
    if not drawn:
        plt.close(fig)
        return []
    ax_l.set_title("training loss")
    ax_a.set_title("validation mean class accuracy (middle clip)")
    for ax in (ax_l, ax_a):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    ax_a.set_ylim(0, 1)
    handles, labels = ax_a.get_legend_handles_labels()
    if not handles:
        handles, labels = ax_l.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    out = out_dir / "training_curves.png"
    save_figure(fig, out)
    return [out]


def accuracy_epochs_figure(paths: ReportPaths, out_dir: Path,
                           ids: tuple[str, ...] = CURVE_IDS) -> list[Path]:
    """Validation mean class accuracy per epoch of ``ids`` (reference seed) with the chance level and the final
    multi-clip test accuracy."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn, last_epoch = 0, 1
    for mid in ids:
        curve = _read_curve(paths.train_dir(mid) / "plots" / "metrics" / "val" / "mean_class.tsv",
                            f"accuracy-vs-epochs: {mid} left out")
        if curve is None:
            continue
        steps, vals = curve
        (line,) = ax.plot(steps + 1, vals, marker="o", label=f"{mid}: val mean class acc. (middle clip)")
        last_epoch = max(last_epoch, int(steps[-1]) + 1)
        drawn += 1
        mpath = paths.report_dir(mid) / "metrics.json"
        try:
            final = float(_load_json(mpath)["mean_class"])
        except (OSError, ValueError, KeyError) as exc:
            _warn(f"accuracy-vs-epochs: no final accuracy for {mid} ({mpath}: {exc})")
            continue
        ax.plot([steps[-1] + 1], [final], marker="*", markersize=14, color=line.get_color(), linestyle="none",
                label=f"{mid}: test, all clips = {final:.3f}")
    if not drawn:
        plt.close(fig)
        return []
    classes = _classes(paths)
    if classes:
        ax.axhline(1.0 / len(classes), color="gray", linestyle=":", label=f"chance = 1/{len(classes)}")
    else:
        _warn(f"accuracy-vs-epochs: {paths.index} is missing; no chance level drawn")
    ax.set(xlabel="epoch", ylabel="mean class accuracy", ylim=(0, 1.02), xlim=(0.5, last_epoch + 0.5),
           title=f"Does distillation change the end point or the speed of learning? (seed {paths.seed})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    out = out_dir / "accuracy_vs_epochs.png"
    save_figure(fig, out)
    return [out]


def convergence_figure(paths: ReportPaths, out_dir: Path, report: dict) -> list[Path]:
    """Validation top-1 per epoch of every trained model and seed, the last quarter shaded: the convergence
    criterion of :mod:`attdistill.evaluation.convergence` (``report``) in pictures."""
    models = report.get("models", {})
    if not models:
        _warn("convergence figure skipped: no training logs")
        return []
    cols = 4
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False, sharey=True)
    for ax, (mid, entry) in zip(axes.flat, models.items()):
        for seed, run in entry["per_seed"].items():
            ax.plot(np.arange(1, len(run["curve"]) + 1), run["curve"], marker=".", linewidth=0.8, alpha=0.6,
                    label=f"seed {seed}" + ("" if run["not_rising"] else " (rising)"))
            ax.axvspan(run["window"][0], run["window"][1], color="0.9", zorder=0)
        ax.plot(np.arange(1, len(entry["mean_curve"]) + 1), entry["mean_curve"], color="k", linewidth=1.6,
                label="mean over seeds")
        ax.set_title(f"{mid}: {'converged' if entry['converged'] else 'NOT converged'} "
                     f"(mean rise {entry['mean_rise'] * report['num_val']:+.1f} videos)", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    fig.supxlabel("epoch")
    fig.supylabel("validation top-1 (middle clip)")
    fig.tight_layout()
    out = out_dir / "convergence.png"
    save_figure(fig, out)
    return [out]


def confusion_figure(paths: ReportPaths, out_dir: Path, teacher_id: str) -> list[Path]:
    """Row-normalised confusion matrices of distill, rgb-prob-atten and the flow teacher (``teacher_id``)."""
    ids = ["distill", "rgb-prob-atten", teacher_id]
    loaded = []
    for mid in dict.fromkeys(ids):
        path = paths.report_dir(mid) / "confusion.json"
        try:
            rows = _load_json(path)
            loaded.append((mid, [(str(r["actual"]), str(r["predicted"])) for r in rows]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _warn(f"confusion matrices: cannot read {path} ({exc.__class__.__name__}); {mid} left out")
    if not loaded:
        return []
    classes = _classes(paths) or sorted({c for _, rows in loaded for pair in rows for c in pair})
    pos = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    fig, axes = plt.subplots(1, len(loaded), figsize=(4.6 * len(loaded) + 0.8, 4.6 + 0.05 * k), squeeze=False)
    for j, (ax, (mid, rows)) in enumerate(zip(axes[0], loaded)):
        cm = np.zeros((k, k))
        for a, p in rows:
            if a in pos and p in pos:
                cm[pos[a], pos[p]] += 1
        acc = np.trace(cm) / max(cm.sum(), 1)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(f"{mid} (top-1 {acc:.3f})", fontsize=10)
        ax.set_xlabel("predicted")
        if j == 0:
            ax.set_ylabel("actual")
        if k <= 30:
            ax.set_xticks(range(k))
            ax.set_yticks(range(k))
            ax.set_xticklabels(classes, rotation=90, fontsize=7)
            ax.set_yticklabels(classes if j == 0 else [], fontsize=7)
        if k <= 15:
            for a in range(k):
                for p in range(k):
                    if cm[a, p]:
                        ax.text(p, a, int(cm[a, p]), ha="center", va="center", fontsize=6,
                                color="white" if norm[a, p] > 0.5 else "black")
    fig.colorbar(im, ax=list(axes[0]), fraction=0.02, label="fraction of the actual class")
    out = out_dir / "confusion_matrices.png"
    save_figure(fig, out)
    return [out]


# --------------------------------------------------------------------------------------------- entry point
# Rows of the mask figures: every map a paper's models declare, (label, model id, branch).
def _mask_rows(specs) -> tuple[tuple[str, str, str], ...]:
    return tuple((f"{spec.id} {branch}", spec.id, branch) for spec in specs for branch in spec.maps.values())


MASK_ROWS = _mask_rows(methods.w3.MODELS)
STAM_ROWS = _mask_rows(methods.stam.MODELS)
MASK_FRAMES = 5


def mask_figures(paths: ReportPaths, out_dir: Path, rows=MASK_ROWS, prefix: str = "w3_masks",
                 max_videos: int = 4) -> list[Path]:
    """A paper's qualitative figure: its declared masks (``rows``) on 5 evenly sampled frames of test clips,
    ``<prefix>_<k>_<class>.png``; the first row's model gives the clips and the predicted class."""
    loaded = {}
    for _, mid, _ in rows:
        path = paths.eval_dir(mid) / "maps.npz"
        if mid not in loaded and path.exists():
            loaded[mid] = _load_maps(path)
    first = rows[0][1] if rows else None
    scores = paths.eval_dir(first) / "scores.npz" if first else None
    if first not in loaded or not scores.exists():
        _warn(f"{prefix} figures skipped: the maps or scores of {first} are missing")
        return []
    with np.load(scores) as z:
        ids, labels, probs = [str(v) for v in z["video_ids"]], z["labels"], z["probs"]
    name = _class_namer(paths, probs.shape[1])
    ref = loaded[first]
    T, crops, ref_ids = int(ref["clip_frames"]), _crops_per_clip(ref), [str(v) for v in ref["video_ids"]]
    shown = sorted({int(round(t)) for t in np.linspace(0, T - 1, MASK_FRAMES)})
    written = []
    for n, i in enumerate(choose_videos(ids, labels, None, max_videos)):
        vid = ids[i]
        if vid not in ref_ids:
            continue
        start = int(ref["clip_start"][np.flatnonzero(ref["clip_video"] == ref_ids.index(vid))].min())
        frames = clip_frames(paths, vid, start, T, crops)
        maps = {label: m for label, mid, branch in rows if mid in loaded
                for m in [_clip_map(loaded[mid], branch, vid, start)] if m is not None}
        if frames is None or not maps:
            continue
        title = f"{vid} (frames {start}-{start + T - 1}): true {name(int(labels[i]))}, {first} predicts " \
                f"{name(int(np.argmax(probs[i])))}"
        out = out_dir / f"{prefix}_{n:02d}_{_slug(name(int(labels[i])))}.png"
        save_figure(attention_panel(frames, maps, T, title, shown=shown), out)
        written.append(out)
    return written


def weights_figure(paths: ReportPaths, out_dir: Path, model_id: str, max_videos: int = 6) -> list[Path]:
    """STAM's temporal weights over time: w_ti averaged over the T steps against clip frame i, for the first clip
    of a few test videos (``stam_weights.png``, from ``maps.npz``'s ``weights_main``)."""
    path = paths.eval_dir(model_id) / "maps.npz"
    if not path.exists():
        _warn(f"temporal weights figure skipped: {path} is missing")
        return []
    mz = _load_maps(path)
    if "weights_main" not in mz:
        _warn(f"temporal weights figure skipped: {path} has no weights_main")
        return []
    vids = [str(v) for v in mz["video_ids"]]
    fig, ax = plt.subplots(figsize=(7, 4))
    for v in range(min(max_videos, len(vids))):
        rows = np.flatnonzero(mz["clip_video"] == v)
        w = mz["weights_main"][rows[0]].mean(axis=0)                  # (n,): mean over the T steps
        label = vids[v].split("/")[-1]
        ax.plot(np.arange(len(w)), w, marker="o", ms=3, label=label)
    ax.set_xlabel("clip frame i")
    ax.set_ylabel("mean temporal weight (1/T) Σ_t w_ti")
    ax.set_title(f"{model_id}: temporal attention over the frames of test clips")
    ax.legend(fontsize=7)
    out = out_dir / "stam_weights.png"
    save_figure(fig, out)
    return [out]


def make_figures(paths: ReportPaths, out_dir: str | Path, convergence: dict | None = None, *,
                 teacher_id: str) -> list[Path]:
    """Draw every figure whose inputs exist; returns the PNG files written (see the module docstring).
    ``convergence``: the report of :func:`attdistill.evaluation.convergence.convergence_report`; ``teacher_id``:
    the teacher's Table-1 model (:func:`attdistill.methods.teacher_model_id` of the run's params)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = (
        ("attention overlays", lambda: attention_figures(paths, out_dir)),
        ("localisation PR curves", lambda: pr_figure(paths, out_dir)),
        ("training curves", lambda: training_figure(paths, out_dir)),
        ("accuracy vs epochs", lambda: accuracy_epochs_figure(paths, out_dir)),
        ("confusion matrices", lambda: confusion_figure(paths, out_dir, teacher_id)),
        ("convergence", lambda: convergence_figure(paths, out_dir, convergence or {})),
        ("W3 / CBAM masks", lambda: mask_figures(paths, out_dir)),
        ("STAM masks", lambda: mask_figures(paths, out_dir, STAM_ROWS, "stam_masks")),
        ("STAM temporal weights", lambda: weights_figure(paths, out_dir, STAM_ROWS[0][1])),
    )
    written: list[Path] = []
    for what, draw in steps:
        try:
            written += draw()
        except Exception as exc:  # one broken input must not fail the whole stage
            plt.close("all")
            _warn(f"{what} skipped: {exc.__class__.__name__}: {exc}")
    return written
