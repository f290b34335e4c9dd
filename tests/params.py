"""The tests' one source of configuration: the repository's ``params.yaml``.

config.py has no default values, so a test that needs a config takes the repository's and changes only what it is
about, keeping no second set of defaults:

    from params import DEFAULT, params_with
    cfg = dataclasses.replace(DEFAULT.frames, width=32, height=24)     # one section
    p = params_with({"train": {"epochs": 2}}, ["attention=soft-res"])  # whole Params, validated
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attdistill.config import Params, load_params, params_from_dict
from attdistill.profile import deep_merge

REPO = Path(__file__).resolve().parents[1]
PARAMS_YAML = REPO / "params.yaml"
DEFAULT: Params = load_params(PARAMS_YAML)


def params_dict(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """``params.yaml`` as a plain dict, with the nested (partial) ``changes`` deep-merged over it."""
    return deep_merge(DEFAULT.to_dict(), changes or {})


def params_with(changes: dict[str, Any] | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Validated :class:`Params`: ``params.yaml`` with ``changes`` merged over it, then ``key=value`` overrides."""
    return params_from_dict(params_dict(changes), overrides)
