"""Resume checkpoints: everything needed to continue a killed run bit-identically.

A training run writes two files into its output folder: ``model.pt`` (the model-file format of
:mod:`attdistill.models.files`) and

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
