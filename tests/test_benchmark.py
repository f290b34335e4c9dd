"""The speed benchmark (attdistill.benchmark, stages/benchmark.py) and the flow-settings table on tiny inputs.
No timed assertions."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import yaml
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from attdistill.benchmark.flow import (BENCH_CASES, bare_tvl1, default_benchmark_settings, flow_bench,
                                       format_bench_table)
from attdistill.benchmark.flow_pattern import synthetic_frames
from attdistill.benchmark.speed import run_benchmark
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.packs import write_pack
from attdistill.flow import flow_tvl1, to_gray
from attdistill.models import build_model
from attdistill.models.files import save_model
from params import DEFAULT, params_dict, params_with

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "frames": {"width": 48, "height": 40},
    "clip": {"frames": 4, "crop": 32},
    "model": {"width": 0.0625, "final_stride": 1, "attention_channels": 16, "dropout": 0.0},
    "flow": {"tvl1": {"nscales": 2, "warps": 1, "outer_iterations": 3, "inner_iterations": 5}},
    "benchmark": {"clips": 2, "repeats": 2},
}


def load_stage():
    spec = importlib.util.spec_from_file_location("stage_benchmark", REPO / "stages" / "benchmark.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_report(r: dict, params) -> None:
    for key in ("student", "two_stream"):
        assert r[key]["clips_per_s"] > 0 and r[key]["s_per_clip"] > 0
        assert len(r[key]["repeats_s"]) == params.benchmark.repeats
        assert r[key]["clips_per_s"] == pytest.approx(1 / r[key]["s_per_clip"])
    assert r["ratio"] == pytest.approx(r["student"]["clips_per_s"] / r["two_stream"]["clips_per_s"])
    ts = r["two_stream"]
    assert ts["flow_s_per_clip"] > 0 and ts["networks_s_per_clip"] > 0
    f = r["flow"]
    assert f["ours_frames_per_s"] > 0 and f["opencv_frames_per_s"] > 0
    assert f["ratio"] == pytest.approx(f["ours_frames_per_s"] / f["opencv_frames_per_s"])
    assert f["pairs"] == params.clip.frames and f["params"]["nscales"] == 2
    assert r["threads"] == {"torch": 2, "opencv": 2}
    assert r["versions"]["torch"] == torch.__version__
    assert r["input"]["clip_frames"] == 4 and (r["input"]["height"], r["input"]["width"]) == (40, 48)


def test_stage_writes_speed_json_synthetic_random(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_dict(TINY)))   # JSON is YAML
    out = tmp_path / "reports" / "speed.json"
    models = tmp_path / "models"
    rc = load_stage().main(["--params", str(tmp_path / "params.yaml"), "--out", str(out),
                            "--student", str(models / "distill" / "model.pt"), "--rgb", str(models / "rgb-none.pt"),
                            "--flow", str(models / "flow-none.pt"), "--frames", str(tmp_path / "frames"),
                            "--index", str(tmp_path / "index.json")])
    assert rc == 0
    r = json.loads(out.read_text())
    check_report(r, params_with(TINY))
    assert r["input"]["source"] == "synthetic"
    assert all(w.startswith("random init") for w in r["weights"].values())
    assert "student / two-stream" in capsys.readouterr().out


def test_uses_dataset_video_and_trained_models(tmp_path):
    params = params_with(TINY)
    classes = ["a", "b", "c"]
    frames = synthetic_frames(7, 40, 48, seed=3)
    write_pack(tmp_path / "frames" / "a" / "v1.pack", frames, "png")
    VideoIndex("tiny", "videos", classes, [VideoRecord("a/v1", "a/v1.avi", 0, "test"),
                                          VideoRecord("b/v2", "b/v2.avi", 1, "train")]).save(tmp_path / "index.json")
    for mid, kind, att in (("distill", "student", "prob-atten"), ("rgb-none", "rgb", "none"),
                           ("flow-none", "flow", "none")):
        model = build_model(kind, len(classes), att, params.model)
        save_model(tmp_path / "models" / mid / "model.pt", model,
                   {"kind": kind, "attention": att, "model": params.model.__dict__.copy()}, classes, {"model_id": mid})
    files = {role: tmp_path / "models" / mid / "model.pt"
             for role, mid in (("student", "distill"), ("rgb", "rgb-none"), ("flow", "flow-none"))}
    r = run_benchmark(params, **files, frames_dir=tmp_path / "frames", index_path=tmp_path / "index.json",
                      threads=2, device="cpu")
    check_report(r, params)
    assert r["input"]["source"] == str(tmp_path / "frames" / "a" / "v1.pack") and r["input"]["num_classes"] == 3
    assert r["weights"] == {role: f"trained: {path}" for role, path in files.items()}


def test_bare_opencv_tvl1_matches_our_flow():
    """The bare loop really is the same computation: identical parameters give identical flow."""
    params = params_with(TINY)
    f = synthetic_frames(2, 40, 48)
    a, b = to_gray(f[0]), to_gray(f[1])
    ours = flow_tvl1(a, b, params.flow.tvl1)
    bare = bare_tvl1(params.flow.tvl1).calc(a, b, None)
    assert np.array_equal(ours, bare)
    assert np.abs(ours[..., 0]).max() > 0.5          # the synthetic clip moves


def test_synthetic_frames_deterministic():
    a, b = synthetic_frames(3, 32, 40, seed=1), synthetic_frames(3, 32, 40, seed=1)
    assert a.shape == (3, 32, 40, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


def test_flow_bench_table_on_tiny_pairs():
    """Two settings on 40x32 pairs: every case scored, the OpenCV-defaults row really uses OpenCV's defaults."""
    settings = default_benchmark_settings(DEFAULT.flow)
    default = settings["tvl1 OpenCV defaults (s5 w5)"].tvl1
    assert (default.nscales, default.warps, default.inner_iterations, default.tau) == (5, 5, 30, 0.25)
    assert settings["tvl1 s3 w3"].tvl1 == dataclasses.replace(default, nscales=3, warps=3)
    assert settings["farneback"].farneback == DEFAULT.flow.farneback
    chosen = {k: settings[k] for k in ("tvl1 s3 w1", "dis medium")}
    rows = flow_bench(chosen, (40, 32), repeats=1, threads=1)
    assert [r["setting"] for r in rows] == list(chosen)
    for r in rows:
        assert set(r) == {"setting", "ms", "ms_max", *BENCH_CASES}
        assert r["ms_max"] >= r["ms"] > 0
        assert all(0 <= r[c][0] and 0 <= r[c][1] for c in BENCH_CASES)
    assert rows[1]["smooth t(1.3,-0.6)"][0] < 0.5                # DIS medium on a smooth sub-pixel shift
    table = format_bench_table(rows, (40, 32), 1).splitlines()
    assert len(table) == 3 + len(rows) and table[3].startswith("| tvl1 s3 w1 | ")
    assert table[1].count("|") == len(BENCH_CASES) + 3


def test_training_section_times_every_single_input_network_kind_against_its_peaks(tmp_path):
    from attdistill.benchmark.training_report import network_kinds
    params = params_with(TINY)
    r = run_benchmark(params, student=tmp_path / "s.pt", rgb=tmp_path / "r.pt", flow=tmp_path / "f.pt",
                      frames_dir=tmp_path / "frames", index_path=tmp_path / "index.json", threads=2, device="cpu")
    t = r["training"]
    assert set(t["kinds"]) == set(network_kinds()) == {"rgb", "flow", "student", "w3", "stam"}
    assert t["threads"] == params.train.threads
    for row in [*t["kinds"].values(), t["rgb_bf16"]]:
        c = params.clip
        assert row["input_shape"][0] == params.train.batch_size and row["input_shape"][2:] == [c.frames, c.crop, c.crop]
        assert row["clips_per_s"] > 0 and row["gflop_per_step"] > 0
        for dtype in ("float32", "bfloat16"):
            peak = row["matmul_peak_gflops"][dtype]
            assert row["ratio_to_peak"][dtype] == pytest.approx(row["achieved_gflops"] / peak)
    assert t["kinds"]["flow"]["input_shape"][1] == 2 and t["rgb_bf16"]["autocast"] == "bfloat16"
    assert t["kinds"]["rgb"]["channels_last"] == params.train.channels_last


def test_paper_setting_times_student_rgb_and_two_stream_at_the_profile_shapes(tmp_path, capsys):
    """The stage with --paper-profile adds ``paper_setting``: the three pipelines timed at the profile's shapes
    (here a tiny profile, so the test stays fast; the real one is profiles/paper.yaml)."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_dict(TINY)))
    profile = tmp_path / "paper.yaml"
    profile.write_text(json.dumps({"frames": {"width": 40, "height": 32}, "clip": {"frames": 8},
                                   "model": {"width": 0.0625, "final_stride": 2},
                                   "flow": {"tvl1": {"nscales": 2, "warps": 1, "inner_iterations": 2}}}))
    out = tmp_path / "speed.json"
    missing = str(tmp_path / "none.pt")
    rc = load_stage().main(["--params", str(tmp_path / "params.yaml"), "--out", str(out), "--student", missing,
                            "--rgb", missing, "--flow", missing, "--frames", str(tmp_path / "frames"),
                            "--index", str(tmp_path / "index.json"), "--paper-profile", str(profile)])
    assert rc == 0
    p = json.loads(out.read_text())["paper_setting"]
    assert p["input"] == {"clip_frames": 8, "height": 32, "width": 40, "num_classes": 12}
    assert p["architecture"]["width"] == 0.0625 and p["tvl1"]["nscales"] == 2
    for k in ("student", "rgb", "two_stream"):
        assert p[k]["clips_per_s"] > 0 and len(p[k]["repeats_s"]) == 1
    assert p["ratio"] == pytest.approx(p["student"]["clips_per_s"] / p["two_stream"]["clips_per_s"])
    assert p["two_stream"]["flow_s_per_clip"] > 0 and "OpenCV" in p["two_stream"]["flow"]
    assert "paper setting 8x32x40" in capsys.readouterr().out
