"""Attention overlays (attdistill.visualize) and the figures of the plots stage on a fake reports tree."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from attdistill.data.packs import write_pack
from attdistill.evaluation.figures import (MASK_ROWS, FigureWarning, best_f1, choose_videos, make_figures,
                                          mask_figures)
from attdistill.evaluation.convergence import convergence_report, fitted_rise, model_convergence, run_convergence
from attdistill.evaluation.paths import ReportPaths
from attdistill.visualize import attention_panel, overlay, slice_for_frame

CLASSES = ["disc_left", "disc_right", "square_left", "square_right"]
REVERSE = [1, 0, 3, 2]


# --------------------------------------------------------------------------------------------- overlay
def test_overlay_shape_dtype_and_hot_cell_is_red():
    frame = np.full((48, 64, 3), 128, np.uint8)
    attn = np.zeros((6, 8), np.float32)
    attn[1, 6] = 1.0                      # hot cell: top right
    out = overlay(frame, attn)
    assert out.shape == frame.shape and out.dtype == np.uint8
    hot = out[10:14, 50:54].astype(int)   # centre of the cell (rows 8-15, cols 48-55; cell = 8 x 8 px)
    cold = out[36:44, 2:10].astype(int)   # bottom left, far from the hot cell
    assert hot[..., 0].mean() > cold[..., 0].mean() + 40     # red where attention is high
    assert cold[..., 2].mean() > hot[..., 2].mean() + 40     # blue where it is low
    # a constant map is blended uniformly
    flat = overlay(frame, np.ones((6, 8)))
    assert (flat == flat[0, 0]).all()


def test_overlay_rejects_bad_input():
    with pytest.raises(ValueError):
        overlay(np.zeros((8, 8), np.uint8), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        overlay(np.zeros((8, 8, 3), np.float32), np.zeros((2, 2)))


def test_slice_for_frame_covers_the_clip():
    assert [slice_for_frame(t, 16, 4) for t in (0, 3, 4, 15)] == [0, 0, 1, 3]
    assert slice_for_frame(15, 16, 1) == 0 and slice_for_frame(7, 8, 8) == 7


def test_attention_panel_layout():
    frames = np.random.default_rng(0).integers(0, 255, (8, 32, 40, 3), dtype=np.uint8)
    fig = attention_panel(frames, {"a": np.random.rand(2, 4, 5), "b": np.random.rand(4, 4, 5)}, 8, "t")
    assert len(fig.axes) == 4            # 2 maps x (first, last frame)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_choose_videos_one_per_pair_and_deterministic():
    ids = ["b", "a", "c", "d", "e"]
    labels = np.array([0, 1, 2, 3, 2])
    assert choose_videos(ids, labels, REVERSE) == [1, 2]      # "a" (pair {0,1}), "c" (pair {2,3})
    assert choose_videos(ids, labels, None) == [0, 1, 2, 3]
    assert choose_videos(ids, labels, None, max_videos=2) == [0, 3]


def test_best_f1():
    r = np.array([0.1, 0.5, 0.9])
    p = np.array([0.9, 0.8, 0.2])
    i, f1 = best_f1(r, p)
    assert i == 1 and f1 == pytest.approx(2 * 0.4 / 1.3)


# --------------------------------------------------------------------------------------------- fixture tree
def _tsv(path: Path, name: str, values) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"step\t{name}\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values)))


def make_tree(root: Path) -> tuple[Path, Path, Path]:
    reports, data, models = root / "reports", root / "data", root / "models"
    rng = np.random.default_rng(0)
    (data / "raw").mkdir(parents=True)
    (data / "raw" / "index.json").write_text(json.dumps({"classes": CLASSES, "reverse_map": REVERSE}))
    vids = [f"{c}/v_{c}_g01_c01" for c in CLASSES]
    labels = np.arange(4)
    T, n = 8, 10
    for v in vids:
        write_pack(data / "frames" / f"{v}.pack", rng.integers(0, 255, (n, 24, 32, 3), dtype=np.uint8), "png")
    clip_video = np.repeat(np.arange(4), 2)
    clip_start = np.tile([0, 2], 4)
    probs = rng.dirichlet(np.ones(4), 4).astype(np.float32)
    for mid, branches in (("distill", ("appearance", "motion")), ("rgb-soft-atten", ("main",)),
                          ("flow-soft-atten", ("main",)), ("w3", ("Mixed_5c", "Mixed_3c")),
                          ("cbam", ("Mixed_5c", "Mixed_3c")), ("stam", ("main",))):
        d = data / "eval" / mid / "s0"
        d.mkdir(parents=True)
        np.savez_compressed(d / "maps.npz", video_ids=np.array(vids), clip_video=clip_video, clip_start=clip_start,
                            clip_frames=np.asarray(T), frame_hw=np.asarray((24, 32)),
                            **{f"maps_{b}": rng.random((8, 2, 3, 4)).astype(np.float32) for b in branches},
                            **({"weights_main": rng.dirichlet(np.ones(T), (8, T)).astype(np.float32)}
                               if mid == "stam" else {}))
        np.savez_compressed(d / "scores.npz", video_ids=np.array(vids), labels=labels, probs=probs,
                            probs_reversed=probs)
    for mid in ("distill", "rgb-prob-atten", "rgb-none", "flow-prob-atten"):
        base = reports / "train" / mid / "s0" / "plots" / "metrics"
        _tsv(base / "train" / "loss.tsv", "loss", np.linspace(2, 0.5, 5))
        _tsv(base / "val" / "mean_class.tsv", "mean_class", np.linspace(0.25, 0.8, 5))
        _tsv(base / "val" / "top1.tsv", "top1", [0.2, 0.5, 0.7, 0.75, 0.75])
        _tsv(base / "lr.tsv", "lr", [1e-2, 1e-2, 1e-3, 1e-3, 1e-4])
        e = reports / "eval" / mid / "s0"
        e.mkdir(parents=True)
        (e / "metrics.json").write_text(json.dumps({"top1": 0.8, "mean_class": 0.75}))
        (e / "confusion.json").write_text(json.dumps(
            [{"actual": c, "predicted": CLASSES[(i + (mid == "rgb-none")) % 4]} for i, c in enumerate(CLASSES)]))
    pr = reports / "localize" / "s0" / "pr"
    pr.mkdir(parents=True)
    for lid in ("center-prior", "distill-motion"):
        (pr / f"{lid}.csv").write_text("recall,precision,threshold\n1.0,0.2,0.0\n0.6,0.5,0.5\n0.1,0.9,0.9\n")
    (reports / "localize" / "s0" / "metrics.json").write_text(json.dumps(
        {"distill-motion": {"precision": 0.5, "recall": 0.6, "f1": 0.545, "threshold": 0.5}}))
    return reports, data, models


W3_MASKS = [f"w3_masks_{i:02d}_{c}.png" for i, c in enumerate(CLASSES)]   # one test video per class
STAM_FIGURES = [f"stam_masks_{i:02d}_{c}.png" for i, c in enumerate(CLASSES)] + ["stam_weights.png"]


def test_w3_mask_figure_shows_both_models_masks_on_five_frames(tmp_path):
    reports, data, models = make_tree(tmp_path)
    files = mask_figures(report_paths(reports, data, models), tmp_path / "figs")
    assert [p.name for p in files] == W3_MASKS
    assert len(MASK_ROWS) == 4 and {m for _, m, _ in MASK_ROWS} == {"w3", "cbam"}
    img = mpimg.imread(files[0])          # 4 rows (w3, cbam) x (Mixed_5c, Mixed_3c), 5 frame columns: wide
    assert img.shape[1] > img.shape[0] and img.std() > 0.01
    (data / "eval" / "cbam" / "s0" / "maps.npz").unlink()           # CBAM missing: W3's rows alone
    with_w3_only = mask_figures(report_paths(reports, data, models), tmp_path / "figs2")
    assert len(with_w3_only) == 4 and mpimg.imread(with_w3_only[0]).shape[0] < img.shape[0]


def report_paths(reports: Path, data: Path, models: Path) -> ReportPaths:
    return ReportPaths(index=data / "raw" / "index.json", frames=data / "frames", eval_data=data / "eval",
                       eval_reports=reports / "eval", localize=reports / "localize", train_logs=reports / "train",
                       seed=0)


def convergence(paths: ReportPaths) -> dict:
    return convergence_report(paths, ["distill", "rgb-prob-atten", "rgb-none", "flow-prob-atten"], [0], num_val=20,
                              floor_lr=1e-3, schedule="plateau")


def test_make_figures_writes_every_figure(tmp_path):
    reports, data, models = make_tree(tmp_path)
    out = tmp_path / "figs"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FigureWarning)   # a complete tree gives no warning at all
        paths = report_paths(reports, data, models)
        files = make_figures(paths, out, convergence(paths), teacher_id="flow-prob-atten")
    names = sorted(p.name for p in files)
    assert names == sorted(["accuracy_vs_epochs.png", "confusion_matrices.png", "localization_pr.png",
                            "training_curves.png", "attention_00_disc_left.png", "attention_01_square_left.png",
                            "convergence.png", *W3_MASKS, *STAM_FIGURES])
    for p in files:
        assert p.exists() and p.parent == out
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.std() > 0.01   # a real, non-blank picture
    # deterministic: the same inputs draw the same attention figure
    again = make_figures(paths, tmp_path / "figs2", convergence(paths), teacher_id="flow-prob-atten")
    a = mpimg.imread(out / "attention_00_disc_left.png")
    b = mpimg.imread(tmp_path / "figs2" / "attention_00_disc_left.png")
    assert len(again) == len(files) and np.array_equal(a, b)


def test_missing_input_skips_only_that_figure(tmp_path):
    reports, data, models = make_tree(tmp_path)
    for f in (reports / "localize" / "s0" / "pr").glob("*.csv"):
        f.unlink()
    (data / "eval" / "distill" / "s0" / "maps.npz").unlink()
    with pytest.warns(FigureWarning) as rec:
        files = make_figures(report_paths(reports, data, models), tmp_path / "figs",
                             teacher_id="flow-prob-atten")
    names = {p.name for p in files}
    assert names == {"accuracy_vs_epochs.png", "confusion_matrices.png", "training_curves.png",   # no convergence
                     *W3_MASKS, *STAM_FIGURES}
    text = " ".join(str(w.message) for w in rec)
    assert "maps.npz" in text and "localize" in text


def test_missing_series_is_left_out_with_a_warning(tmp_path):
    reports, data, models = make_tree(tmp_path)
    (reports / "eval" / "distill" / "s0" / "metrics.json").unlink()
    (reports / "eval" / "rgb-prob-atten" / "s0" / "confusion.json").unlink()
    with pytest.warns(FigureWarning) as rec:
        files = make_figures(report_paths(reports, data, models), tmp_path / "figs",
                             teacher_id="flow-prob-atten")
    assert {"accuracy_vs_epochs.png", "confusion_matrices.png"} <= {p.name for p in files}
    text = " ".join(str(w.message) for w in rec)
    assert "distill/s0/metrics.json" in text and "rgb-prob-atten/s0/confusion.json" in text


def test_empty_tree_writes_nothing_and_does_not_raise(tmp_path):
    with pytest.warns(FigureWarning):
        files = make_figures(report_paths(tmp_path / "r", tmp_path / "d", tmp_path / "m"), tmp_path / "f",
                             teacher_id="flow-prob-atten")
    assert files == []


def test_convergence_criterion():
    """Converged when, over the last quarter, the lr is at the floor and the fitted val top-1 line rises <= 1 video."""
    lr = np.array([1, 1, 1, .1, .1, .01, .01, .01])
    flat = run_convergence(np.array([0.1, 0.4, 0.6, 0.7, 0.70, 0.75, 0.65, 0.75]), lr, num_val=20, floor_lr=0.01,
                           schedule="plateau")
    assert flat["window"] == [6, 8] and flat["moved"] == pytest.approx(0.10) and flat["rise"] == pytest.approx(0.0)
    assert flat["at_floor"] and flat["not_rising"] and flat["converged"]
    assert flat["lr_cuts"] == 2 and flat["final_lr"] == pytest.approx(0.01)
    rising = run_convergence(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), lr, num_val=20, floor_lr=0.01,
                             schedule="plateau")
    assert rising["at_floor"] and not rising["converged"] and rising["rise"] == pytest.approx(0.2)
    # flat curve but the lr reached its floor only in the last epoch: still learning by the schedule's account
    late = run_convergence(np.full(8, 0.5), np.array([1, 1, 1, 1, 1, .1, .1, .01]), num_val=20, floor_lr=0.01,
                           schedule="plateau")
    assert late["not_rising"] and not late["at_floor"] and not late["converged"]


def test_convergence_criterion_under_the_cosine_schedule():
    """Cosine ends at its floor by construction: only the last epoch's lr is checked, and the fitted line decides."""
    e = 8
    lr = 0.01 + 0.99 * (1 + np.cos(np.pi * np.arange(1, e + 1) / e)) / 2          # engine.make_scheduler's curve
    flat = run_convergence(np.array([0.1, 0.4, 0.6, 0.7, 0.70, 0.75, 0.65, 0.75]), lr, num_val=20, floor_lr=0.01,
                           schedule="cosine")
    assert flat["at_floor"] and flat["converged"] and flat["schedule"] == "cosine"
    # the same lr under the plateau reading is not at the floor over the window
    assert not run_convergence(np.full(e, 0.5), lr, num_val=20, floor_lr=0.01, schedule="plateau")["at_floor"]
    rising = run_convergence(np.linspace(0.1, 0.8, e), lr, num_val=20, floor_lr=0.01, schedule="cosine")
    assert rising["at_floor"] and not rising["not_rising"] and not rising["converged"]
    # a cosine run cut short (lr above the floor at its last epoch) has not annealed
    short = run_convergence(np.full(e - 2, 0.5), lr[:-2], num_val=20, floor_lr=0.01, schedule="cosine")
    assert short["not_rising"] and not short["at_floor"] and not short["converged"]


def test_convergence_report_lists_every_model_and_missing_logs(tmp_path):
    reports, data, models = make_tree(tmp_path)
    paths = report_paths(reports, data, models)
    r = convergence_report(paths, ["distill", "rgb-none", "mfr"], [0], num_val=20, floor_lr=1e-3,
                           schedule="plateau")
    assert set(r["models"]) == {"distill", "rgb-none"} and r["missing"] == ["mfr/s0"]
    assert r["models"]["distill"]["converged"] and not r["all_converged"]       # mfr has no logs


def test_fitted_rise_and_its_standard_error_match_scipy():
    from scipy.stats import linregress
    tail = np.array([0.30, 0.35, 0.31, 0.38, 0.36, 0.33, 0.40, 0.37, 0.39])
    rise, se = fitted_rise(tail)
    ref = linregress(np.arange(len(tail)), tail)
    assert rise == pytest.approx(ref.slope * 8) and se == pytest.approx(ref.stderr * 8)
    assert fitted_rise(np.array([0.5])) == (0.0, None) and fitted_rise(np.array([0.1, 0.3]))[1] is None


def test_model_verdict_reads_the_seed_mean_curve():
    """A model converges when every seed annealed and the seeds' mean curve does not rise by more than one video:
    one seed's noisy +2-video window does not fail a model whose mean is flat; a rise shared by all seeds does."""
    e, n = 8, 20
    lr = 0.01 + 0.99 * (1 + np.cos(np.pi * np.arange(1, e + 1) / e)) / 2
    tail_up = np.array([0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.45, 0.5])          # window 6-8 rises by 2 videos
    tail_down = np.array([0.4, 0.4, 0.4, 0.4, 0.4, 0.5, 0.45, 0.4])        # falls by 2 videos
    flat = np.full(e, 0.4)
    run = lambda c, l=lr: run_convergence(c, l, num_val=n, floor_lr=0.01, schedule="cosine")  # noqa: E731
    mixed = model_convergence({"0": run(tail_up), "1": run(tail_down), "2": run(flat)}, n)
    assert not mixed["per_seed"]["0"]["not_rising"] and mixed["seeds_not_rising"] == 2
    assert mixed["mean_rise"] == pytest.approx(0.0, abs=1e-9) and mixed["converged"] and mixed["seeds"] == 3
    rising = model_convergence({s: run(tail_up) for s in "012"}, n)
    assert rising["mean_rise"] == pytest.approx(0.1) and not rising["converged"] and rising["at_floor"]
    short = model_convergence({"0": run(flat), "1": run(flat[:-2], lr[:-2])}, n)       # seed 1 stopped early
    assert short["not_rising"] and not short["at_floor"] and not short["converged"]
