"""The libraries whose arithmetic or encoders make the benchmark's bytes and the weights are pinned exactly in
pyproject.toml, and the installed ones are those versions (README "Determinism")."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# torch / torchvision: the weights; OpenCV: the videos, the JPEG packs and TV-L1; numpy: the generator
EXACT = ["torch", "torchvision", "opencv-contrib-python-headless", "numpy"]


def pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {name: spec for name, _, spec in (d.partition("==") for d in deps) if spec}


@pytest.mark.parametrize("name", EXACT)
def test_pinned_exactly_and_installed_at_the_pin(name):
    pinned = pins()
    assert name in pinned, f"{name} must be pinned with == in pyproject.toml"
    assert version(name).split("+")[0] == pinned[name]
