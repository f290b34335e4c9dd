"""params.yaml -> typed, validated dataclasses: a bad value fails at once, naming the key and the valid values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from attdistill.config import ConfigError, load_params, params_from_dict

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_load_and_round_trip():
    p = load_params(REPO / "params.yaml")
    assert params_from_dict(p.to_dict()) == p


@pytest.mark.parametrize("data, message", [
    ({"attention": "foo"}, "attention: invalid value 'foo'; valid values: none, soft-atten, soft-res, prob-atten"),
    ({"flow": {"method": "lk"}}, "flow.method: invalid value 'lk'; valid values: tvl1, dis, farneback"),
    ({"flow": {"quality": 0}}, "flow.quality: must be in [1, 100]"),
    ({"frames": {"quality": 101}}, "frames.quality: must be in [1, 100]"),
    ({"model": {"dropout": 1.0}}, "model.dropout: must be in [0, 1)"),
    ({"train": {"epochs": "ten"}}, "train.epochs: expected an integer"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError) as exc:
        params_from_dict(data)
    assert message in str(exc.value)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match="params.yaml: unknown key 'trian'; valid keys: .*train"):
        params_from_dict({"trian": {"epochs": 3}})
    with pytest.raises(ConfigError, match="flow: unknown key 'bund'; valid keys: method, bound,"):
        params_from_dict({"flow": {"bund": 3}})


def test_overrides_are_typed_and_validated():
    p = params_from_dict({}, ["train.epochs=3", "attention=soft-res"])
    assert p.train.epochs == 3 and p.attention == "soft-res"
    with pytest.raises(ConfigError, match="train.epochs"):
        params_from_dict({}, ["train.epochs=-1"])


def test_cli_exits_2_with_the_message(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("attention: foo\n")
    r = subprocess.run([sys.executable, "-m", "attdistill.config", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "valid values: none, soft-atten, soft-res, prob-atten" in r.stderr
