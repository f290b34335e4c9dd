"""Trained model files (``model.pt``): the format, atomic writes, and networks rebuilt from the file's own
``arch`` without params.yaml.

``model.pt`` holds the final weights, ``arch`` (what :func:`attdistill.models.build_model` needs), the class names
and the training metadata. ``predict``, ``evaluate`` and the teachers of a training run load this file alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig
from .build import build_model


def resolve_device(device: str) -> torch.device:
    """Where a model runs: ``"auto"`` -> cuda when available, else cpu; any other value as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # torch.save(obj, <path>) names the zip's records after the file (here the temp name, pid included); through a
    # file object they are always "archive/...", so the same object gives the same bytes in any run and any place
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
    os.replace(tmp, path)


def save_model(path: str | os.PathLike, model: torch.nn.Module, arch: dict, classes: list[str], meta: dict) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save({"format": "attdistill.model/v1", "arch": arch, "classes": list(classes), "meta": meta,
                 "state_dict": state}, path)


def load_model_file(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint (run `dvc repro` to train it, or pass --checkpoint)")
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(obj, dict) or obj.get("format") != "attdistill.model/v1":
        raise ValueError(f"{path}: not an attdistill model file")
    return obj


def model_from_file(obj: dict) -> nn.Module:
    """Rebuild the network described by a model file's ``arch`` and load its weights."""
    arch = obj["arch"]
    # "options": the kind's own arguments (W3's); the main paper's kinds have none and their files no key
    model = build_model(arch["kind"], len(obj["classes"]), arch["attention"], ModelConfig(**arch["model"]),
                        arch.get("options"))
    model.load_state_dict(obj["state_dict"])
    return model


def load_frozen(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """A trained model file as a frozen module in eval mode (no parameter requires grad)."""
    obj = load_model_file(path)
    model = model_from_file(obj)
    model.eval().requires_grad_(False)
    return model.to(device), obj
