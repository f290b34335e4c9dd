"""Flow: quantisation, TV-L1 / DIS / Farneback accuracy (attdistill.flow), the flow stage (attdistill.data.flow_packs:
reversed flow, skips, resume, shards), CLI."""

from __future__ import annotations

import dataclasses as dc
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from attdistill import flow as F
from attdistill.benchmark.flow_pattern import endpoint_error, smooth_texture, synthetic_pair
from attdistill.config import TVL1Config
from attdistill.data import flow_packs as FP
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.packs import Pack, is_valid_pack, read_pack, write_pack
from attdistill.flow import opencv as CV
from attdistill.flow.opencv import opencv_tvl1_defaults
from params import DEFAULT
from test_frames import PYTHON, REPO, make_index, pack_files, write_params

PARAMS_TVL1 = DEFAULT.flow.tvl1                                     # what the pipeline uses (params.yaml)
FAST = dc.replace(DEFAULT.flow, method="tvl1", reverse="backward", workers=1,
                  tvl1=dc.replace(opencv_tvl1_defaults(), nscales=3, warps=3))


def translating_frames(n: int, dx: float, dy: float, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """(n, h, w, 3) uint8 RGB frames of a texture moving by (dx, dy) px per frame."""
    tex = smooth_texture(seed, periods=(8.0, 40.0))
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    grey = [np.clip(np.round(tex(x - t * dx, y - t * dy)), 0, 255).astype(np.uint8) for t in range(n)]
    return np.stack([np.stack([g, g, g], -1) for g in grey])


def test_quantize_round_trip():
    bound = 20.0
    f = np.random.default_rng(0).uniform(-bound, bound, (50, 60, 2)).astype(np.float32)
    q = F.quantize(f, bound)
    assert q.dtype == np.uint8
    assert np.abs(F.dequantize(q, bound) - f).max() <= bound / 255 + 1e-6
    assert F.dequantize(q, bound).dtype == np.float32
    assert F.quantize(np.array([-100.0, -20.0, 0.0, 20.0, 100.0]), bound).tolist() == [0, 0, 128, 255, 255]
    assert F.quantize(np.array([0.0]), 5.0)[0] == 128      # round(127.5), numpy rounds half to even
    np.testing.assert_allclose(F.dequantize(255 - q, bound), -F.dequantize(q, bound), atol=1e-5)   # negation


@pytest.mark.parametrize("tvl1", [opencv_tvl1_defaults(), PARAMS_TVL1], ids=["opencv-defaults", "params.yaml"])
def test_tvl1_recovers_subpixel_translation(tvl1):
    prev, nxt, truth = synthetic_pair(96, 120, "translate", (1.3, -0.6), seed=3)
    flow = F.flow_tvl1(prev, nxt, tvl1)
    assert flow.shape == (96, 120, 2) and flow.dtype == np.float32
    med = np.median(flow[10:-10, 10:-10].reshape(-1, 2), axis=0)
    assert abs(med[0] - 1.3) < 0.5 and abs(med[1] + 0.6) < 0.5
    assert endpoint_error(flow, truth)[0] < 0.5


def test_tvl1_recovers_rotation():
    prev, nxt, truth = synthetic_pair(96, 120, "rotate", 4.0, seed=2)
    assert endpoint_error(F.flow_tvl1(prev, nxt, PARAMS_TVL1), truth)[0] < 0.5


@pytest.mark.parametrize("cfg", [dc.replace(FAST, method="dis"), dc.replace(FAST, method="farneback"), FAST],
                         ids=["dis", "farneback", "tvl1"])
def test_compute_flow_dispatch(cfg):
    prev, nxt, truth = synthetic_pair(96, 120, "translate", (2.0, 1.0), seed=4, periods=(8.0, 40.0))
    assert endpoint_error(F.compute_flow(prev, nxt, cfg), truth)[0] < 0.5
    with pytest.raises(ValueError, match=", ".join(F.METHODS)):
        F.compute_flow(prev, nxt, dc.replace(cfg, method="foo"))


def test_estimators_created_once_with_every_parameter():
    cfg = TVL1Config(tau=0.2, lambda_=0.1, theta=0.4, nscales=4, warps=2, epsilon=0.02, inner_iterations=20,
                     outer_iterations=7, scale_step=0.6, gamma=0.1, median_filtering=3)
    tvl1 = CV._tvl1(cfg)
    got = (tvl1.getTau(), tvl1.getLambda(), tvl1.getTheta(), tvl1.getScalesNumber(), tvl1.getWarpingsNumber(),
           tvl1.getEpsilon(), tvl1.getInnerIterations(), tvl1.getOuterIterations(), tvl1.getScaleStep(),
           tvl1.getGamma(), tvl1.getMedianFiltering(), tvl1.getUseInitialFlow())
    assert got == pytest.approx((0.2, 0.1, 0.4, 4, 2, 0.02, 20, 7, 0.6, 0.1, 3, False))
    prev, nxt, _ = synthetic_pair(24, 32, "translate", (1.0, 0.0))
    misses = CV._tvl1.cache_info().misses
    a = F.flow_tvl1(prev, nxt, cfg)
    b = F.flow_tvl1(prev, nxt, cfg)
    assert CV._tvl1.cache_info().misses == misses            # reused, not re-created
    assert np.array_equal(a, b)                              # and stateless between pairs
    assert CV._dis("fast") is CV._dis("fast")


def test_reverse_by_negation():
    fwd = F.quantize(np.stack([np.full((4, 5, 2), v, np.float32) for v in (1.0, 2.0, 3.0)]), 20)
    rev = F.reverse_by_negation(fwd)
    np.testing.assert_allclose(F.dequantize(rev, 20)[:, 0, 0, 0], [-3, -2, -1], atol=0.08)


def make_frames_index(root: Path, n: int = 4, frames: int = 6, dx: float = 1.5, dy: float = -0.5) -> VideoIndex:
    """Frame packs (no videos) of textures translating by (dx, dy); videos 0 and 2 are test videos."""
    records = []
    for i in range(n):
        vid = f"C{i % 2}/v_{i:02d}"
        write_pack(root / "frames" / f"{vid}.pack", translating_frames(frames, dx, dy, seed=i), "png")
        records.append(VideoRecord(vid, f"{vid}.avi", i % 2, "test" if i % 2 == 0 else "train", f"g{i}"))
    index = VideoIndex("tiny", "videos", ["C0", "C1"], records)
    index.save(root / "index.json")
    return index


def mean_flow(path: Path, bound: float = 20.0) -> np.ndarray:
    f = F.dequantize(read_pack(path), bound)                # (N-1, H, W, 2)
    return np.median(f[:, 8:-8, 8:-8].reshape(-1, 2), axis=0)


def test_flow_stage_forward_and_reversed(tmp_path):
    index = make_frames_index(tmp_path)
    summary = FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", FAST,
                                   reversed_dir=tmp_path / "flow_rev", report=tmp_path / "skipped.json")
    assert (summary.done, summary.skipped) == (4, [])
    assert json.loads((tmp_path / "skipped.json").read_text()) == []
    for rec in index.videos:
        path = tmp_path / "flow" / f"{rec.video_id}.pack"
        with Pack(path) as p:
            assert p.shape == (5, 48, 64, 2)                 # N - 1 fields, channels (x, y)
            assert p.meta["method"] == "tvl1" and p.meta["direction"] == "forward" and p.meta["frames"] == 6
        np.testing.assert_allclose(mean_flow(path), [1.5, -0.5], atol=0.3)
        rev = tmp_path / "flow_rev" / f"{rec.video_id}.pack"
        assert rev.exists() == (rec.split == "test")
        if rec.split == "test":
            assert len(read_pack(rev)) == 5
            np.testing.assert_allclose(mean_flow(rev), [-1.5, 0.5], atol=0.3)   # points the opposite way


def test_reversed_pack_is_in_reversed_video_order(tmp_path):
    """Field j of the reversed pack is the flow from reversed frame j to j + 1 (speeds differ per pair)."""
    speeds = [0.5, 1.0, 2.0, 3.0]                        # frame k -> k+1 moves by speeds[k] px in x
    tex = smooth_texture(7, periods=(8.0, 40.0))
    y, x = np.mgrid[0:48, 0:64].astype(np.float64)
    pos = np.concatenate([[0.0], np.cumsum(speeds)])
    frames = np.stack([np.repeat(np.clip(np.round(tex(x - p, y)), 0, 255).astype(np.uint8)[..., None], 3, -1)
                       for p in pos])
    write_pack(tmp_path / "frames" / "v.pack", frames, "png")
    index = VideoIndex("tiny", "videos", ["a"], [VideoRecord("v", "v.avi", 0, "test")])
    FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", FAST, reversed_dir=tmp_path / "rev")
    fwd = F.dequantize(read_pack(tmp_path / "flow" / "v.pack"), 20)[:, 8:-8, 8:-8, 0]
    rev = F.dequantize(read_pack(tmp_path / "rev" / "v.pack"), 20)[:, 8:-8, 8:-8, 0]
    np.testing.assert_allclose(np.median(fwd, axis=(1, 2)), speeds, atol=0.3)
    np.testing.assert_allclose(np.median(rev, axis=(1, 2)), [-s for s in speeds[::-1]], atol=0.3)


def test_negate_mode_computes_no_reversed_flow(tmp_path):
    index = make_frames_index(tmp_path, n=2)
    cfg = dc.replace(FAST, reverse="negate")
    FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", cfg, reversed_dir=tmp_path / "rev")
    assert [p.name for p in (tmp_path / "rev").iterdir()] == ["README.txt"]
    assert "negate" in (tmp_path / "rev" / "README.txt").read_text()
    assert len(list((tmp_path / "flow").rglob("*.pack"))) == 2


def test_flow_skips_missing_and_corrupt_frame_packs(tmp_path):
    index = make_frames_index(tmp_path, n=4)
    (tmp_path / "frames" / f"{index.videos[1].video_id}.pack").unlink()
    corrupt = tmp_path / "frames" / f"{index.videos[2].video_id}.pack"
    corrupt.write_bytes(corrupt.read_bytes()[:-100])
    summary = FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", dc.replace(FAST, method="dis"),
                                   reversed_dir=tmp_path / "rev", report=tmp_path / "r.json")
    assert summary.done == 2
    report = {r["video_id"]: r["reason"] for r in json.loads((tmp_path / "r.json").read_text())}
    assert set(report) == {index.videos[1].video_id, index.videos[2].video_id}
    assert "cannot open" in report[index.videos[1].video_id]
    assert "truncated" in report[index.videos[2].video_id] or "corrupt" in report[index.videos[2].video_id]
    assert not (tmp_path / "flow" / f"{index.videos[2].video_id}.pack").exists()
    assert not (tmp_path / "rev" / f"{index.videos[2].video_id}.pack").exists()


def test_flow_resume_redoes_only_missing_outputs(tmp_path, monkeypatch):
    index = make_frames_index(tmp_path, n=4)
    dirs = dict(reversed_dir=tmp_path / "rev")
    FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", FAST, **dirs)
    ids = [r.video_id for r in index.videos]
    for p in list((tmp_path / "flow").rglob("*.pack")) + list((tmp_path / "rev").rglob("*.pack")):
        os.utime(p, (1_000_000, 1_000_000))
    (tmp_path / "rev" / f"{ids[0]}.pack").unlink()                       # only the reversed one is missing
    t = tmp_path / "flow" / f"{ids[3]}.pack"
    t.write_bytes(t.read_bytes()[: t.stat().st_size // 2])                 # a truncated forward pack
    pairs = []
    real = FP.compute_flow
    monkeypatch.setattr(FP, "compute_flow", lambda a, b, c: (pairs.append(1), real(a, b, c))[1])
    summary = FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", FAST, **dirs)
    assert (summary.done, summary.present) == (2, 2)
    assert len(pairs) == 5 + 5                                            # one reversed + one forward pack
    assert os.stat(tmp_path / "flow" / f"{ids[0]}.pack").st_mtime == 1_000_000
    assert os.stat(tmp_path / "rev" / f"{ids[2]}.pack").st_mtime == 1_000_000
    assert all(is_valid_pack(p, full=True) for p in (tmp_path / "flow").rglob("*.pack"))
    assert is_valid_pack(tmp_path / "rev" / f"{ids[0]}.pack", expected_frames=5)
    # other flow parameters -> the packs are redone, not reused
    summary = FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "flow", dc.replace(FAST, bound=10.0), **dirs)
    assert summary.done == 4


def test_flow_shards_union_equals_unsharded(tmp_path):
    index = make_frames_index(tmp_path, n=5)
    cfg = dc.replace(FAST, method="dis")
    FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "full", cfg, reversed_dir=tmp_path / "full_rev")
    total = sum(FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / "sh", cfg, reversed_dir=tmp_path / "sh_rev",
                                     shard=(k, 2)).total for k in range(2))
    assert total == 5
    assert pack_files(tmp_path / "sh") == pack_files(tmp_path / "full")
    assert pack_files(tmp_path / "sh_rev") == pack_files(tmp_path / "full_rev")


def write_flow_params(path: Path, method: str = "tvl1") -> Path:
    return write_params(path, {"flow": {"method": method, "reverse": "backward", "workers": 2,
                                        "tvl1": {"nscales": 3, "warps": 3, "inner_iterations": 30}}})


def test_cli_end_to_end(tmp_path):
    index = make_index(tmp_path, n=4, frames=6, fps=24, bad={3: "empty"})
    params = write_flow_params(tmp_path / "params.yaml")

    def run(stage: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, str(REPO / "stages" / stage), "--params", str(params), *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    r = run("frames.py", "--index", "index.json", "--out", "data/frames", "--report", "reports/frames_skipped.json")
    assert r.returncode == 0, r.stderr
    r = run("flow.py", "--index", "index.json", "--frames", "data/frames", "--out", "data/flow",
            "--reversed-out", "data/flow_reversed", "--report", "reports/flow_skipped.json")
    assert r.returncode == 0, r.stderr
    assert "3 done" in r.stdout and "1 skipped" in r.stdout
    ids = [v.video_id for v in index.videos]
    for i, vid in enumerate(ids[:3]):
        assert read_pack(tmp_path / "data" / "flow" / f"{vid}.pack").shape == (5, 24, 32, 2)
        assert (tmp_path / "data" / "flow_reversed" / f"{vid}.pack").exists() == (index.videos[i].split == "test")
    skipped = json.loads((tmp_path / "reports" / "flow_skipped.json").read_text())
    assert [s["video_id"] for s in skipped] == [ids[3]] and "cannot open" in skipped[0]["reason"]


def test_cli_rejects_bad_method_before_work(tmp_path):
    make_frames_index(tmp_path, n=1)
    params = write_flow_params(tmp_path / "params.yaml", method="foo")
    r = subprocess.run([PYTHON, str(REPO / "stages" / "flow.py"), "--params", str(params), "--index", "index.json",
                        "--frames", "frames", "--out", "flow", "--reversed-out", "rev", "--report", "r.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "flow.method" in r.stderr and ", ".join(F.METHODS) in r.stderr
    assert not any((tmp_path / d).exists() for d in ("flow", "rev", "r.json"))


def test_flow_stage_with_tvl1_torch_writes_the_packs_opencv_writes(tmp_path):
    """``flow.method: tvl1-torch`` goes through the same stage code (compute_flow) and writes the same packs as
    OpenCV's TV-L1, up to one quantisation level at a few pixels (float rounding; docs/flow.md)."""
    index = make_frames_index(tmp_path, n=2)
    small = dc.replace(FAST.tvl1, nscales=2, warps=1, inner_iterations=5, outer_iterations=2)
    for method in ("tvl1", "tvl1-torch"):
        cfg = dc.replace(FAST, method=method, tvl1=small)
        FP.compute_flow_packs(index, tmp_path / "frames", tmp_path / method, cfg, reversed_dir=tmp_path / f"{method}_r")
    for rec in index.videos:
        a = read_pack(tmp_path / "tvl1" / f"{rec.video_id}.pack").astype(int)
        b = read_pack(tmp_path / "tvl1-torch" / f"{rec.video_id}.pack").astype(int)
        with Pack(tmp_path / "tvl1-torch" / f"{rec.video_id}.pack") as p:
            assert p.meta["method"] == "tvl1-torch"
        assert a.shape == b.shape and np.abs(a - b).max() <= 1 and np.mean(a != b) < 0.01
