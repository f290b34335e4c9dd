"""scripts/doubling.py: the budget-doubling check of the study's schedule (docs/study.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from params import params_dict  # noqa: E402
from tiny_data import TINY_PARAMS, make_tiny_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("doubling", REPO / "scripts" / "doubling.py")
doubling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(doubling)


def write_curve(live: Path, values: list[float]) -> None:
    f = live / "plots" / "metrics" / "val" / "top1.tsv"
    f.parent.mkdir(parents=True)
    f.write_text("step\ttop1\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values)))


def test_last_quarter_mean_and_verdict(tmp_path):
    write_curve(tmp_path, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9])    # the criterion's window: epochs 6-8
    assert doubling.last_quarter_mean(tmp_path) == pytest.approx((0.5 + 0.6 + 0.9) / 3)
    ok = doubling.verdict(0.50, 0.52, num_val=48, tolerance_videos=1.0)        # +0.96 videos
    assert ok["long_enough"] and ok["gain_videos"] == pytest.approx(0.96)
    bad = doubling.verdict(0.215, 0.355, num_val=48, tolerance_videos=1.0)     # docs/study.md, rgb-none
    assert not bad["long_enough"] and bad["gain_videos"] == pytest.approx(6.72)
    assert doubling.verdict(0.40, 0.30, num_val=48, tolerance_videos=1.0)["long_enough"]   # a loss is no gain


def test_doubling_trains_twice_and_reports(tmp_path):
    make_tiny_dataset(tmp_path / "data")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_dict(TINY_PARAMS), sort_keys=False))
    d = tmp_path / "data"
    out = tmp_path / "doubling.json"
    rc = doubling.main(["rgb-none", "--epochs", "1", "--params", str(params), "--index", str(d / "index.json"),
                        "--frames", str(d / "frames"), "--flow", str(d / "flow"), "--work", str(tmp_path / "w"),
                        "--tolerance", "100", "--out", str(out)])
    report = json.loads(out.read_text())
    r = report["models"]["rgb-none"]
    assert rc == 0 and r["long_enough"] and report["epochs"] == 1
    for epochs, key in ((1, "last_quarter_top1"), (2, "last_quarter_top1_doubled")):
        curve = (tmp_path / "w" / "rgb-none" / f"e{epochs}" / "live" / "plots" / "metrics" / "val" / "top1.tsv")
        values = [float(line.split("\t")[1]) for line in curve.read_text().splitlines()[1:]]
        assert len(values) == epochs and r[key] == pytest.approx(np.mean(values[-1:]))


def test_malformed_teacher_fails_before_training(tmp_path):
    with pytest.raises(SystemExit, match="--teacher expects ROLE=PATH"):
        doubling.main(["distill", "--epochs", "1", "--teacher", "nopath", "--index", "i", "--frames", "f",
                       "--flow", "f", "--work", str(tmp_path)])
    assert not any(tmp_path.iterdir())
