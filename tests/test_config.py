"""params.yaml -> typed, validated dataclasses: a bad value fails at once, naming the key and the valid values."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from attdistill.config import DATASETS, ConfigError, Params, load_params, params_from_dict, pretraining_params
from attdistill.profile import apply_profile, load_profile
from params import PARAMS_YAML, REPO, params_dict, params_with


def test_repository_params_load_and_round_trip():
    p = load_params(REPO / "params.yaml")
    assert params_from_dict(p.to_dict()) == p


@pytest.mark.parametrize("data, message", [
    ({"attention": "foo"}, "attention: invalid value 'foo'; valid values: none, soft-atten, soft-res, prob-atten"),
    ({"flow": {"method": "lk"}}, "flow.method: invalid value 'lk'; valid values: tvl1, tvl1-torch, dis, farneback"),
    ({"flow": {"quality": 0}}, "flow.quality: must be in [1, 100]"),
    ({"frames": {"quality": 101}}, "frames.quality: must be in [1, 100]"),
    ({"model": {"dropout": 1.0}}, "model.dropout: must be in [0, 1)"),
    ({"train": {"epochs": "ten"}}, "train.epochs: expected an integer"),
    ({"pretrain": {"kinds": ["star", "hexagon"]}}, "pretrain.kinds: unknown kind 'hexagon'"),
    ({"pretrain": {"kinds": ["star", "star"]}}, "pretrain.kinds: must be a non-empty list without repeats"),
    ({"pretrain": {"epochs": 0}}, "pretrain.epochs: must be >= 1"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError) as exc:
        params_with(data)
    assert message in str(exc.value)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match="params.yaml: unknown key 'trian'; valid keys: .*train"):
        params_from_dict(params_dict({"trian": {"epochs": 3}}))
    with pytest.raises(ConfigError, match="flow: unknown key 'bund'; valid keys: method, bound,"):
        params_with({"flow": {"bund": 3}})


def without(data: dict, dotted: str) -> dict:
    """``data`` (a fresh dict) with the key ``a.b.c`` removed."""
    *parents, last = dotted.split(".")
    node = data
    for k in parents:
        node = node[k]
    del node[last]
    return data


@pytest.mark.parametrize("removed, message", [
    (["train.optimizer"], "train: missing key 'optimizer'; every key must be set"),
    (["train.optimizer", "train.lr"], "train: missing keys 'optimizer', 'lr';"),
    (["flow.tvl1.warps"], "flow.tvl1: missing key 'warps'"),
    (["download.boxes.mirrors"], "download.boxes: missing key 'mirrors'"),
    (["benchmark"], "params.yaml: missing key 'benchmark'"),
    (["seed"], "params.yaml: missing key 'seed'"),
])
def test_missing_key_is_rejected_naming_it(removed, message):
    data = params_dict()
    for key in removed:
        without(data, key)
    with pytest.raises(ConfigError) as exc:
        params_from_dict(data)
    assert message in str(exc.value)


def test_dataclasses_carry_no_defaults():
    """params.yaml is the only place a default lives: no field of Params or of a section has one."""
    seen, todo = [], [Params]
    while todo:
        cls = todo.pop()
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            seen.append(f"{cls.__name__}.{f.name}")
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, seen[-1]
            if dataclasses.is_dataclass(hints[f.name]):
                todo.append(hints[f.name])
        with pytest.raises(TypeError):
            cls()
    assert {"TrainConfig.optimizer", "TVL1Config.warps", "RemoteFile.mirrors", "BenchmarkConfig.clips"} <= set(seen)


def test_missing_key_in_the_file_fails_from_the_cli(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(without(params_dict(), "train.plateau_patience")))
    r = subprocess.run([sys.executable, "-m", "attdistill.config", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "train: missing key 'plateau_patience'" in r.stderr
    with pytest.raises(ConfigError, match="train: missing key 'plateau_patience'"):
        load_params(bad)
    assert load_params(bad, ["train.plateau_patience=3"]).train.plateau_patience == 3      # -S can supply it


def test_overrides_are_typed_and_validated():
    p = load_params(PARAMS_YAML, ["train.epochs=3", "attention=soft-res", "flow.tvl1.warps=4"])
    assert p.train.epochs == 3 and p.attention == "soft-res" and p.flow.tvl1.warps == 4
    assert dataclasses.replace(p.train, epochs=load_params(PARAMS_YAML).train.epochs) == load_params(PARAMS_YAML).train
    with pytest.raises(ConfigError, match="train.epochs"):
        load_params(PARAMS_YAML, ["train.epochs=-1"])
    with pytest.raises(ConfigError, match="train: unknown key 'epoch'"):
        load_params(PARAMS_YAML, ["train.epoch=3"])


@pytest.mark.parametrize("dataset", [d for d in DATASETS if d != "synthetic"])
def test_every_profile_loads(dataset, tmp_path):
    """A profile sets only what it changes: merged over the repository's params.yaml it validates, with its values."""
    target = tmp_path / "params.yaml"
    target.write_text(PARAMS_YAML.read_text())
    p, changes = apply_profile(dataset, target, REPO / "profiles", write=False)
    profile = load_profile(dataset, REPO / "profiles")
    assert p.dataset.name == dataset == profile["dataset"]["name"]
    paper_clip = (64, 224) if dataset == "charades" else (24, 224)      # the focused-crop paper's Table 2: T_in 64
    assert (p.clip.frames, p.clip.crop) == (profile["clip"]["frames"], profile["clip"]["crop"]) == paper_clip
    assert p.train.optimizer == profile["train"]["optimizer"] and "train.optimizer" in changes
    assert target.read_text() == PARAMS_YAML.read_text()                      # write=False wrote nothing


def test_cli_exits_2_with_the_message(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params_dict({"attention": "foo"})))
    r = subprocess.run([sys.executable, "-m", "attdistill.config", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "valid values: none, soft-atten, soft-res, prob-atten" in r.stderr


def test_pretraining_params_change_only_the_benchmark_and_the_schedule():
    """The pretraining run: the study's recipe on the embedded benchmark with pretrain's seed and kinds, for
    pretrain's epochs, from random weights (even when the study itself starts from pretrained weights)."""
    p = params_with({"dataset": {"name": "ucf101"}, "model": {"pretrained_rgb": "models/pretrain/i3d_rgb.pt"},
                     "pretrain": {"seed": 7, "kinds": ["cross"], "epochs": 5}})
    q = pretraining_params(p)
    assert (q.seed, q.synthetic.kinds, q.train.epochs, q.dataset.name) == (7, ("cross",), 5, "synthetic")
    assert q.train == dataclasses.replace(p.train, epochs=5)
    assert q.synthetic == dataclasses.replace(p.synthetic, kinds=("cross",)) and q.clip == p.clip
    assert q.model == dataclasses.replace(p.model, pretrained_rgb="", pretrained_rgb_sha256="")


def test_pretraining_kinds_must_not_overlap_the_study(tmp_path, capsys):
    p = params_with({"pretrain": {"kinds": ["disc", "star"]}})     # the study's kinds: disc, square
    with pytest.raises(ConfigError, match="pretrain.kinds: must share no kind with synthetic.kinds; both have disc"):
        pretraining_params(p)
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params_dict({"pretrain": {"kinds": ["square"]}})))
    sys.path.insert(0, str(REPO / "stages"))
    import download as download_stage                              # stages/download.py: rejected before any work
    assert download_stage.main(["--params", str(bad), "--pretraining", "--out", str(tmp_path / "raw")]) == 2
    assert "both have square" in capsys.readouterr().err and not (tmp_path / "raw").exists()
