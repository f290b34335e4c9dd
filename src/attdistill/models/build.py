""":func:`build_model`: the network of a model kind, the one constructor the registry and model files use.

Kinds: ``rgb`` / ``flow`` / ``student`` / ``reference`` (the main paper's nets, :func:`.networks.build_network`;
``attention`` is one of its attention modules) and ``w3`` (Inception-I3D with W3 or CBAM,
:func:`.w3_i3d.build_variant`; ``attention`` names the variant, ``options`` gives ``reduction`` and ``depthwise``)
and ``stam`` (STAM or its frame-CNN baseline, :func:`.stam.build_stam`; ``options`` sizes the network).
"""

from __future__ import annotations

import torch
from torch import nn

from .networks import build_network
from .stam import build_stam
from .w3_i3d import build_variant

KINDS: tuple[str, ...] = ("rgb", "flow", "student", "reference", "w3", "stam")


def build_model(kind: str, num_classes: int, attention: str, model_cfg, options: dict | None = None) -> nn.Module:
    """The network for ``kind``, sized by ``model_cfg`` (:class:`attdistill.config.ModelConfig`); ``options`` are
    the kind's own arguments (none for the main paper's nets)."""
    options = options or {}
    if kind == "w3":
        return build_variant(num_classes, attention, model_cfg, **options)
    if kind == "stam":            # 2D frame CNN nets: model_cfg (the I3D's) does not apply
        return build_stam(num_classes, attention, **options)
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid values: {', '.join(KINDS)}")
    if options:
        raise ValueError(f"model kind {kind!r} takes no options, got {sorted(options)}")
    return build_network(kind, num_classes, attention, model_cfg)


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` in channels_last_3d when it is a net of 3-D convolutions (the I3Ds); a net with 2-D convolutions
    (STAM's frame CNN, whose 4-D weights have no 3-D layout) keeps its layout."""
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return model
    return model.to(memory_format=torch.channels_last_3d)
