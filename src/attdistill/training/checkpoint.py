"""Checkpoints: atomic writes, everything needed to resume bit-identically, and self-describing model files.

Two kinds of file per trained model (``models/<id>/``):

* ``model.pt`` — the final weights plus ``arch`` (what :func:`attdistill.models.build_model` needs to rebuild
  the network without params.yaml), the class names and the training metadata. ``predict`` and ``evaluate`` load
  this file alone.
* ``resume.pt`` — written every epoch beside model.pt (not a DVC output, so DVC never deletes it): model,
  optimizer, scheduler, RNG states, epoch, the dvclive step and a fingerprint of the configuration. A rerun of a
  killed stage resumes from it when the fingerprint matches; a checkpoint of a *finished* run or of another
  configuration is ignored (DVC reruns a finished stage only when something it depends on changed).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # torch.save(obj, <path>) names the zip's records after the file (here the temp name, pid included); through a
    # file object they are always "archive/...", so the same object gives the same bytes in any run and any place
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
    os.replace(tmp, path)


def fingerprint(obj: Any) -> str:
    """Stable hash of a JSON-able configuration."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_resume(path: str | os.PathLike, expected_fingerprint: str) -> dict | None:
    """The resume state at ``path`` if it belongs to this configuration and the run is unfinished, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # a torn or foreign file: start over rather than fail
        return None
    if state.get("fingerprint") != expected_fingerprint or state.get("finished", False):
        return None
    return state


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
