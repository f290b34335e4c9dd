""":func:`build_model`: the network of a model kind, the one constructor the registry and model files use.

Kinds: ``rgb`` / ``flow`` / ``student`` / ``reference`` (the main paper's nets, :func:`.networks.build_network`;
``attention`` is one of its attention modules) and ``w3`` (Inception-I3D with W3 or CBAM,
:func:`.w3_i3d.build_variant`; ``attention`` names the variant, ``options`` gives ``reduction`` and ``depthwise``).
"""

from __future__ import annotations

from torch import nn

from .networks import build_network
from .w3_i3d import build_variant

KINDS: tuple[str, ...] = ("rgb", "flow", "student", "reference", "w3")


def build_model(kind: str, num_classes: int, attention: str, model_cfg, options: dict | None = None) -> nn.Module:
    """The network for ``kind``, sized by ``model_cfg`` (:class:`attdistill.config.ModelConfig`); ``options`` are
    the kind's own arguments (none for the main paper's nets)."""
    options = options or {}
    if kind == "w3":
        return build_variant(num_classes, attention, model_cfg, **options)
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid values: {', '.join(KINDS)}")
    if options:
        raise ValueError(f"model kind {kind!r} takes no options, got {sorted(options)}")
    return build_network(kind, num_classes, attention, model_cfg)
