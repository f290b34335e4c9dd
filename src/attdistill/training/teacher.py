"""The teacher: the Table-1 flow model trained with the main method's attention (paper: Flow Prob-Atten)."""

from __future__ import annotations

from pathlib import Path

from ..models.files import atomic_save, load_model_file


def select_teacher(source: str | Path, out: str | Path, attention: str) -> Path:
    """Copy the flow model file ``source`` to ``out``, recording where it came from. It must be a flow model with
    the main method's ``attention``."""
    src = Path(source)
    obj = load_model_file(src)
    if obj["arch"]["kind"] != "flow" or obj["arch"]["attention"] != attention:
        raise ValueError(f"{src}: the teacher must be a flow model with attention {attention!r}, got "
                         f"{obj['arch']['kind']} / {obj['arch']['attention']}")
    obj["meta"] = {**obj["meta"], "role": "teacher", "selected_from": str(src)}
    atomic_save(obj, out)
    return src
