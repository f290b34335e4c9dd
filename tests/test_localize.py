"""Localisation with attention maps (supplement, Table 4): PR curve, tolerance zone, priors, slice matching, stage."""

from __future__ import annotations

import csv
import importlib.util
import json

import yaml
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from attdistill.data import boxes as B
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.packs import write_pack
from attdistill.evaluation.localize import (
    MAP_SOURCES, REQUIRED_MAPS, FrameBoxes, box_masks, center_prior, clip_targets, localize, model_ids, pr_curve,
    resize_maps, slice_frames,
)
from attdistill.evaluation.summary import LOCALIZATION_IDS
from params import DEFAULT, params_dict

ROOT = Path(__file__).resolve().parents[1]


def _rect(size: int, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[y1:y2, x1:x2] = True
    return m


# --------------------------------------------------------------------------------------------- PR curve
def test_box_indicator_map_gives_f1_one_with_zero_tolerance():
    box, zone = box_masks([(10, 12, 30, 40)], 1.0, 1.0, 56, tolerance=0)
    assert (box == zone).all() and box.sum() == 20 * 28
    best = pr_curve(box.astype(float), box, zone).best()
    assert best == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "threshold": 1.0}


def test_off_box_peak_scores_lower_than_on_box_peak():
    size = 56
    box, zone = box_masks([(30, 30, 46, 46)], 1.0, 1.0, size, tolerance=2)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5

    def peak(cx, cy):
        return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 6.0 ** 2))

    on = pr_curve(peak(38, 38), box, zone).best()
    off = pr_curve(peak(8, 8), box, zone).best()
    assert on["f1"] > 0.8
    assert off["f1"] < on["f1"] - 0.3


def test_tolerance_zone_helps_precision_only():
    size = 40
    grown = _rect(size, 8, 8, 22, 22)                       # the box [10, 20) grown by 2 pixels
    scores = grown.astype(float)
    strict_box, strict_zone = box_masks([(10, 10, 20, 20)], 1.0, 1.0, size, tolerance=0)
    loose_box, loose_zone = box_masks([(10, 10, 20, 20)], 1.0, 1.0, size, tolerance=3)
    assert (strict_box == loose_box).all() and loose_zone.sum() == 16 * 16
    strict = pr_curve(scores, strict_box, strict_zone).best()
    loose = pr_curve(scores, loose_box, loose_zone).best()
    assert strict["precision"] == pytest.approx(100 / 196) and strict["recall"] == 1.0
    assert loose["precision"] == 1.0 and loose["recall"] == 1.0
    # a map that only hits the near-miss ring: precision 1 with tolerance, recall 0 regardless
    ring = (grown & ~strict_box).astype(float)
    curve = pr_curve(ring, loose_box, loose_zone)
    top = np.argmax(curve.thresholds)
    assert curve.precision[top] == 1.0 and curve.recall[top] == 0.0


def test_threshold_enumeration_matches_brute_force_over_frames():
    """Slice maps covering several frames (aggregated counts) == pooling every pixel of every frame by hand."""
    rng = np.random.default_rng(0)
    size, slices, per_slice = 6, 3, 2
    maps = rng.integers(0, 5, (slices, size, size)).astype(float)          # ties on purpose
    maps[1, 2, 2] = 0.5                                                     # a value seen once
    frames = []                                                             # (slice, box mask, zone mask)
    for tau in range(slices):
        for _ in range(per_slice):
            x, y = rng.integers(0, 4, 2)
            box, zone = box_masks([(x, y, x + 2, y + 2)], 1.0, 1.0, size, tolerance=1)
            frames.append((tau, box, zone))
    box_hits = np.zeros((slices, size, size), int)
    zone_hits = np.zeros((slices, size, size), int)
    for tau, box, zone in frames:
        box_hits[tau] += box
        zone_hits[tau] += zone
    weights = np.full((slices, size, size), per_slice)
    curve = pr_curve(maps, box_hits, zone_hits, weights)

    expected = []
    flat_s = np.concatenate([maps[tau].ravel() for tau, _, _ in frames])
    flat_b = np.concatenate([b.ravel() for _, b, _ in frames])
    flat_z = np.concatenate([z.ravel() for _, _, z in frames])
    for t in sorted(set(flat_s.tolist()), reverse=True):
        pos = flat_s >= t
        expected.append((t, (pos & flat_z).sum() / pos.sum(), (pos & flat_b).sum() / flat_b.sum()))
    assert len(curve.thresholds) == len(expected) == len(np.unique(maps))
    np.testing.assert_allclose(curve.thresholds, [e[0] for e in expected])
    np.testing.assert_allclose(curve.precision, [e[1] for e in expected])
    np.testing.assert_allclose(curve.recall, [e[2] for e in expected])
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for _, p, r in expected]
    assert curve.best()["f1"] == pytest.approx(max(f1))
    assert curve.best()["threshold"] == expected[int(np.argmax(f1))][0]


def test_subsample_keeps_ends_and_best_point():
    rng = np.random.default_rng(1)
    box, zone = box_masks([(20, 20, 40, 40)], 1.0, 1.0, 56, tolerance=3)
    curve = pr_curve(rng.random((56, 56)) + box, box, zone)
    sub = curve.subsample(50)
    assert len(curve.thresholds) == 56 * 56 and len(sub.thresholds) <= 51
    assert sub.thresholds[0] == curve.thresholds[0] and sub.thresholds[-1] == curve.thresholds[-1]
    assert curve.best()["threshold"] in sub.thresholds
    assert np.all(np.diff(sub.recall) >= 0)


# --------------------------------------------------------------------------------------------- maps
def test_center_prior_is_a_normalised_centred_gaussian():
    g = center_prior(56, 0.1)
    assert g.shape == (56, 56) and g.sum() == pytest.approx(1.0)
    assert np.allclose(g, g.T) and np.allclose(g, g[::-1, ::-1])
    assert np.unravel_index(np.argmax(g), g.shape) in {(27, 27), (27, 28), (28, 27), (28, 28)}
    x = np.arange(56) + 0.5
    marginal = g.sum(0)
    std = np.sqrt((marginal * (x - 28.0) ** 2).sum())
    assert std == pytest.approx(0.1 * 56, rel=0.02)
    assert center_prior(56, 0.25).sum() == pytest.approx(1.0)


def test_resize_maps_normalises_each_slice():
    m = np.zeros((2, 6, 8), np.float32)
    m[0, 2, 3] = 5.0
    out = resize_maps(m, 16)
    assert out.shape == (2, 16, 16)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), 1.0)
    assert np.allclose(out[1], 1 / 256)                    # an empty slice becomes uniform


def test_box_masks_scale_and_union():
    box, zone = box_masks([(0, 0, 32, 24), (48, 36, 64, 48)], 0.5, 0.5, 32, tolerance=2)
    expected = _rect(32, 0, 0, 16, 12) | _rect(32, 24, 18, 32, 24)
    assert (box == expected).all()
    assert (zone == (_rect(32, 0, 0, 18, 14) | _rect(32, 22, 16, 32, 26))).all()
    tiny, _ = box_masks([(10.1, 10.1, 10.3, 10.3)], 1.0, 1.0, 16, 0)   # smaller than a pixel: its centre pixel
    assert tiny.sum() == 1 and tiny[10, 10]


# --------------------------------------------------------------------------------------------- slices to frames
def test_slice_frames_partition():
    assert slice_frames(16, 2) == [list(range(8)), list(range(8, 16))]
    assert slice_frames(10, 4) == [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9]]
    assert slice_frames(4, 4) == [[0], [1], [2], [3]]


def _write_frames(frames_dir: Path, video_id: str, n: int, hw=(24, 32)) -> None:
    write_pack(frames_dir / f"{video_id}.pack", [np.zeros((*hw, 3), np.uint8) for _ in range(n)], "png")


def test_clip_targets_hand_made(tmp_path):
    """Clip of T=4 from stored frame 2 with T'=2; boxes on stored frames 2, 3, 5 only; source at 2x the stored fps."""
    size = 8
    # source: 48 fps, 16x16 px; stored: 24 fps, 8 stored frames. Stored frame k shows source frame 2k.
    tube = B.Tube(0, [4, 6, 10], [(0, 0, 8, 8), (8, 8, 16, 16), (0, 8, 8, 16)])   # source frames 4, 6, 10
    vb = {"v": B.VideoBoxes(16, 16, 48.0, 16, [tube])}
    _write_frames(tmp_path, "v", 8, (8, 8))
    fb = FrameBoxes(vb, tmp_path, 24.0, replace(DEFAULT.localize, size=size, tolerance=0))
    t = clip_targets(np.array(["v"]), np.array([0]), np.array([2]), 4, 2, fb)
    # clip frames 0..3 = stored 2..5 = source 4, 6, 8, 10: slice 0 <- stored 2, 3 (boxes); slice 1 <- 4 (none), 5
    assert t.weights.tolist() == [[2, 1]]
    q = size // 2
    np.testing.assert_array_equal(t.box_hits[0, 0], _rect(size, 0, 0, q, q) + _rect(size, q, q, size, size))
    np.testing.assert_array_equal(t.box_hits[0, 1], _rect(size, 0, q, q, size))
    assert t.frames_evaluated == 3
    # the pack's recorded stored rate wins over the fallback: at 12 fps stored frame k shows source frame 4k
    write_pack(tmp_path / "x.pack", [np.zeros((8, 8, 3), np.uint8)] * 4, "png",
               meta={"fps": 12.0, "source": {"fps": 48.0}})
    fb.boxes["x"] = B.VideoBoxes(16, 16, 48.0, 16, [B.Tube(0, [4, 8], [(0, 0, 8, 8), (8, 8, 16, 16)])])
    t = clip_targets(np.array(["x"]), np.array([0]), np.array([0]), 4, 4, fb)
    assert t.weights.tolist() == [[0, 1, 1, 0]]
    # a short video (N=3 < T): the clip repeats its last frame (stored 2), the only annotated one: it counts twice
    _write_frames(tmp_path, "w", 3, (8, 8))
    fb.boxes["w"] = B.VideoBoxes(16, 16, 48.0, 6, [B.Tube(0, [4], [(0, 0, 16, 16)])])
    t = clip_targets(np.array(["w"]), np.array([0]), np.array([0]), 4, 1, fb)
    # stored 0, 1, 2, 2 -> source 0, 2, 4, 4; only source frame 4 is annotated
    assert t.weights.tolist() == [[2]]
    np.testing.assert_array_equal(t.box_hits[0, 0], np.full((size, size), 2))


# --------------------------------------------------------------------------------------------- end to end
T, TP, H, W, HP, WP = 8, 2, 24, 32, 6, 8     # clip frames, map slices, stored frame, map cells


def _fixture(root: Path, with_boxes: bool = True, crops: int = 1) -> Path:
    """Two test videos (16 stored frames, source 64x48 at 24 fps), their packs, boxes and three models' maps."""
    records, vboxes = [], {}
    for i, vid in enumerate(["a/v1", "b/v2"]):
        records.append(VideoRecord(vid, f"{vid}.avi", i, "test"))
        _write_frames(root / "frames", vid, 16, (H, W))
        # actor fixed at source pixels [16, 40) x [16, 32): map cells x 2..4, y 2..3; annotated on frames 0..11
        vboxes[vid] = B.VideoBoxes(64, 48, 24.0, 16, [B.Tube(i, list(range(12)), [(16, 16, 40, 32)] * 12)])
    if with_boxes:
        B.save(vboxes, root / "boxes.json")
    VideoIndex("fixture", "videos", ["disc_left", "disc_right"], records,
               boxes=str(root / "boxes.json") if with_boxes else "").save(root / "index.json")
    clip_video = np.repeat([0, 1], 2 * crops)
    clip_start = np.tile(np.repeat([0, 7], crops), 2)
    m = len(clip_video)
    on = np.zeros((m, TP, HP, WP), np.float32)
    on[:, :, 2:4, 2:5] = 1.0
    off = np.zeros((m, TP, HP, WP), np.float32)
    off[:, :, 4:6, 6:8] = 1.0
    flat = np.ones((m, TP, HP, WP), np.float32)
    common = dict(video_ids=np.array(["a/v1", "b/v2"]), clip_video=clip_video, clip_start=clip_start,
                  clip_frames=np.asarray(T), frame_hw=np.asarray((H, W)))
    for model, maps in {"rgb-soft-atten": {"main": off}, "flow-soft-atten": {"main": on + 0.1 * flat},
                        "distill": {"motion": on, "appearance": flat},
                        "rgb-prob-atten": {"main": on}}.items():
        (root / "eval" / model).mkdir(parents=True)
        np.savez_compressed(root / "eval" / model / "maps.npz", **common,
                            **{f"maps_{b}": v / v.sum(axis=(1, 2, 3), keepdims=True) for b, v in maps.items()})
        np.savez_compressed(root / "eval" / model / "scores.npz", video_ids=common["video_ids"])
    return root


def eval_dirs(root: Path) -> dict[str, Path]:
    """The evaluation folder of every model localised (those the fixture has no maps for do not exist)."""
    return {m: root / "eval" / m for m in model_ids(MAP_SOURCES)}


def run_localize(root: Path, cfg, out: Path, crops: int = 1) -> dict:
    return localize(eval_dirs(root), root / "index.json", root / "frames", cfg, out, fps=24.0, crops=crops)


def test_localize_end_to_end(tmp_path):
    root = _fixture(tmp_path)
    out = root / "reports" / "localize"
    cfg = replace(DEFAULT.localize, tolerance=0)
    res = run_localize(root, cfg, out)
    assert set(res) >= set(LOCALIZATION_IDS) | {"uniform", "prob-atten-rgb"}
    assert set(LOCALIZATION_IDS) == set(REQUIRED_MAPS)
    assert "soft-res-rgb" not in res and "distill-mfr-motion" not in res          # no maps: optional ids left out
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == res
    # clips start at 0 and 7 (8 frames): frames 0..7 and 7..14, of which 0..11 are annotated -> 8 + 5 per video
    for k in res:
        assert res[k]["frames_evaluated"] == 2 * (8 + 5)
    # box = 12 % of the frame at 56 x 56 (source [16, 40) x [16, 32) of 64 x 48)
    # pixel centres in x [14, 35), y [18.7, 37.3): 21 x 18 pixels
    assert res["uniform"]["precision"] == pytest.approx(21 * 18 / 56 ** 2)
    assert res["distill-motion"]["f1"] > 0.95
    assert res["soft-atten-rgb"]["f1"] == pytest.approx(res["uniform"]["f1"])      # off-box: best is "all pixels"
    assert res["distill-motion"]["f1"] > res["center-prior"]["f1"] > res["soft-atten-rgb"]["f1"] + 0.3
    assert res["soft-atten-flow"]["f1"] == pytest.approx(res["distill-motion"]["f1"], abs=0.02)
    assert res["distill-appearance"]["recall"] == 1.0                    # uniform map: everything positive
    assert res["distill-appearance"] == pytest.approx(res["uniform"])
    for k in ("precision", "recall", "f1"):
        assert 0.0 <= res["center-prior"][k] <= 1.0
    with open(out / "pr" / "distill-motion.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["recall", "precision", "threshold"] and 1 <= len(rows) <= 201
    assert sorted(p.stem for p in (out / "pr").glob("*.csv")) == sorted(res)
    # deterministic
    again = run_localize(root, cfg, out)
    assert again == res
    # the paper's 10-pixel tolerance zone raises precision, never recall
    loose = run_localize(root, replace(cfg, tolerance=10), out)
    assert loose["uniform"]["recall"] == 1.0 and loose["uniform"]["precision"] > 3 * res["uniform"]["precision"]


def test_localize_rejects_crops_and_handles_missing_inputs(tmp_path):
    root = _fixture(tmp_path / "crops", crops=3)
    with pytest.raises(ValueError, match="crops"):
        run_localize(root, DEFAULT.localize, root / "out")
    with pytest.raises(ValueError, match="crops"):
        run_localize(root, DEFAULT.localize, root / "out", crops=3)
    root = _fixture(tmp_path / "noboxes", with_boxes=False)
    res = run_localize(root, DEFAULT.localize, root / "out")
    assert list(res) == ["note"] and "no bounding boxes" in res["note"]
    assert json.loads((root / "out" / "metrics.json").read_text()) == res
    root = _fixture(tmp_path / "missing")
    for f in (root / "eval" / "distill").iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match="distill"):
        run_localize(root, DEFAULT.localize, root / "out")
    # evaluated but without attention maps (attention: none): null entries with a note, not a crash
    (root / "eval" / "distill" / "scores.npz").write_bytes(b"")
    res = run_localize(root, DEFAULT.localize, root / "out")
    assert res["distill-motion"]["f1"] is None and "note" in res["distill-motion"]


def test_localize_checks_the_evaluation_folders_given(tmp_path):
    root = _fixture(tmp_path)
    dirs = eval_dirs(root)
    with pytest.raises(ValueError, match="without localisation maps: rgb-none"):
        localize({**dirs, "rgb-none": root / "eval" / "rgb-none"}, root / "index.json", root / "frames", DEFAULT.localize,
                 root / "out", fps=24.0, crops=1)
    with pytest.raises(ValueError, match="no evaluation folder given for distill"):
        localize({m: d for m, d in dirs.items() if m != "distill"}, root / "index.json", root / "frames", DEFAULT.localize,
                 root / "out", fps=24.0, crops=1)
    assert not (root / "out").exists()
    # only the required models: the optional maps are left out, the required ones are the same
    required = {m: d for m, d in dirs.items() if m in model_ids(REQUIRED_MAPS)}
    few = localize(required, root / "index.json", root / "frames", DEFAULT.localize, root / "few", fps=24.0, crops=1)
    full = run_localize(root, DEFAULT.localize, root / "full")
    assert set(few) == set(REQUIRED_MAPS) | {"uniform"} and "prob-atten-rgb" in full
    assert {k: full[k] for k in few} == few


def test_dvc_stage_passes_every_localised_model():
    """The localize stage's command gives the evaluation folder of exactly the models MAP_SOURCES reads."""
    import shlex

    import yaml

    st = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["localize"]
    argv = shlex.split(st["cmd"])
    rest = argv[argv.index("--eval") + 1:]
    given = dict(a.split("=", 1) for a in rest[:next((k for k, a in enumerate(rest) if a.startswith("--")),
                                                      len(rest))])
    assert given == {m: f"data/eval/{m}/s${{item.seed}}" for m in model_ids(MAP_SOURCES)}
    assert set(given.values()) <= set(st["deps"])


def _stage():
    spec = importlib.util.spec_from_file_location("localize_stage", ROOT / "stages" / "localize.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stage_cli(tmp_path, capsys):
    root = _fixture(tmp_path)
    stage = _stage()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params_dict({"localize": {"size": 2}})))          # JSON is YAML
    paths = ["--eval", *(f"{m}={d}" for m, d in eval_dirs(root).items()), "--dataset", str(root), "--frames", str(root / "frames")]
    assert stage.main(["--params", str(bad), *paths, "--out", str(tmp_path / "bad_out")]) == 2
    assert not (tmp_path / "bad_out").exists()
    assert "localize.size" in capsys.readouterr().err
    good = tmp_path / "params.yaml"
    good.write_text(yaml.safe_dump(params_dict({"frames": {"fps": 24}})))
    out = tmp_path / "out"
    assert stage.main(["--params", str(good), *paths, "--out", str(out)]) == 0
    assert "distill-motion: P=" in capsys.readouterr().out
    assert (out / "metrics.json").exists()
