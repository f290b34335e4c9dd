"""The teacher: the Table-1 flow model trained with the main method's attention (paper: Flow Prob-Atten)."""

from __future__ import annotations

from pathlib import Path

from .checkpoint import atomic_save, load_model_file


def select_teacher(attention: str, models_dir: str | Path, out: str | Path) -> Path:
    """Copy ``models_dir/flow-<attention>/model.pt`` to ``out``, recording where it came from."""
    src = Path(models_dir) / f"flow-{attention}" / "model.pt"
    obj = load_model_file(src)
    if obj["arch"]["kind"] != "flow":
        raise ValueError(f"{src}: the teacher must be a flow model, got {obj['arch']['kind']}")
    obj["meta"] = {**obj["meta"], "role": "teacher", "selected_from": str(src)}
    atomic_save(obj, out)
    return src
