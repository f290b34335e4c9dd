"""Inception-I3D with W3 (or CBAM) after every Inception module, optional AFR, and the project's I3D head.

"Knowing What, Where and When to Look: Efficient Video Action Modeling with Attention" puts W3 on "every
intermediate feature tensor of each stage" of its backbone. Inception modules have no residual branch, so W3
multiplies each module's concatenated output: Mixed_3b, 3c, 4b-4f, 5b, 5c (9 modules). AFR (Eq. 7-8) takes the
mask of the last module of each stage (Mixed_3c, Mixed_4f, Mixed_5c) and refines Mixed_5c. The head is the one of
:class:`~attdistill.models.networks.SingleStreamNet` with attention ``none``: spatial average pooling,
:func:`~attdistill.models.attention.temporal_logits` with the backbone's own dropout and ``logits`` layer.

Shapes (N, C, T', H', W'), masks (N, T', H', W'):

=============================  ======================  ==============  ==============  ===================
configuration                  input (N, 3, T, H, W)   Mixed_3c mask   Mixed_4f mask   Mixed_5c = ``final``
=============================  ======================  ==============  ==============  ===================
CPU default (0.125, s=1)       (N, 3, 12, 80, 80)      (N, 6, 10, 10)  (N, 3, 5, 5)    (N, 128, 2, 5, 5)
paper profile (1, s=2)         (N, 3, 24, 224, 224)    (N, 12, 28, 28) (N, 6, 14, 14)  (N, 1024, 3, 7, 7)
=============================  ======================  ==============  ==============  ===================

Parameter names: the W3 modules live under ``w3.<endpoint>.`` and AFR under ``afr.`` (not ``attention.``), so the
training engine's 10x learning-rate group for the main paper's attention heads does not pick them up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .afr import AttentionFeatureRefinement
from .attention import average_pool, temporal_logits
from .i3d import InceptionI3d
from .networks import NetOutput, SingleStreamNet, set_bn_momentum
from .w3 import W3Attention

#: The Inception modules W3 attends (all of them).
W3_ENDPOINTS: tuple[str, ...] = ("Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
                                 "Mixed_4f", "Mixed_5b", "Mixed_5c")
#: The last module of each Inception stage: the stage masks M^{s,j} of Eq. 7, exposed in ``NetOutput.maps``.
STAGE_ENDPOINTS: tuple[str, ...] = ("Mixed_3c", "Mixed_4f", "Mixed_5c")
#: The W3 paper's architectures (its Tables 5-7), by name: the switches of :func:`build_w3`. "w/o SA" loses AFR
#: too (AFR refines with the spatial masks); "w/o TA" keeps AFR; CBAM is W3 without temporal reasoning and AFR.
VARIANTS: dict[str, dict[str, bool]] = {
    "w3": dict(spatial=True, temporal=True, afr=True),
    "w3-no-afr": dict(spatial=True, temporal=True, afr=False),
    "w3-no-sa": dict(spatial=False, temporal=True, afr=False),
    "w3-no-ta": dict(spatial=True, temporal=False, afr=True),
    "cbam": dict(spatial=True, temporal=False, afr=False),
}


class W3I3D(nn.Module):
    """RGB Inception-I3D + W3 / CBAM on every Inception module (+ AFR); returns :class:`NetOutput`.

    ``NetOutput``: ``logits["main"]`` / ``probs``; ``final["main"]`` the refined Mixed_5c features y of Eq. 8 (the
    MFR target of Eq. 9; the attended Mixed_5c without AFR); ``pooled["main"]``; ``maps`` and ``expected_maps``
    (the same tensors: W3's masks are deterministic) keyed by the stage endpoints ``"Mixed_3c"``, ``"Mixed_4f"``,
    ``"Mixed_5c"``: each stage's last spatio-temporal mask M^s (N, T', H', W') in (0, 1), empty without spatial
    attention; ``attention`` is ``"w3"`` (temporal reasoning on) or ``"cbam"``. :meth:`features` gives all nine.

    Args:
        num_classes, width, final_stride, dropout: as :class:`~attdistill.models.networks.SingleStreamNet`.
        spatial, temporal, reduction, depthwise: of every :class:`~attdistill.models.w3.W3Attention`.
        afr: add Eq. 8's refinement to Mixed_5c (needs ``spatial``).
    """

    def __init__(self, num_classes: int, *, width: float, final_stride: int, dropout: float, spatial: bool,
                 temporal: bool, afr: bool, reduction: int, depthwise: bool) -> None:
        super().__init__()
        if afr and not spatial:
            raise ValueError("AFR (Eq. 7-8) refines Mixed_5c with the spatial masks: it needs spatial=True")
        self.attention_mode = "w3" if temporal else "cbam"
        self.backbone = InceptionI3d(num_classes, in_channels=3, dropout=dropout, width=width,
                                     final_stride=final_stride)
        ch = self.backbone.channels
        self.w3 = nn.ModuleDict({ep: W3Attention(ch[ep], reduction, spatial, temporal, depthwise)
                                 for ep in W3_ENDPOINTS})
        self.afr = AttentionFeatureRefinement(len(STAGE_ENDPOINTS), ch["Mixed_5c"]) if afr else None

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(N, 3, T, H, W) -> (y (N, C, T', H', W'), {endpoint: M^s (N, T_j, H_j, W_j)} of all nine modules)."""
        masks: dict[str, torch.Tensor] = {}
        for ep in self.backbone.endpoints:
            x = getattr(self.backbone, ep)(x)
            if ep in self.w3:
                att = self.w3[ep](x)
                x = att.features
                if att.spatial is not None:
                    masks[ep] = att.spatial
        if self.afr is not None:
            x = self.afr(x, [masks[ep] for ep in STAGE_ENDPOINTS])
        return x, masks

    def forward(self, x: torch.Tensor) -> NetOutput:  # (N, 3, T, H, W)
        y, masks = self.features(x)
        pooled = average_pool(y)                                       # (N, C, T')
        logits = temporal_logits(pooled, self.backbone.dropout, self.backbone.logits)
        stage = {ep: masks[ep] for ep in STAGE_ENDPOINTS if ep in masks}
        return NetOutput(logits={"main": logits}, probs=F.softmax(logits.float(), dim=1), maps=dict(stage),
                         expected_maps=dict(stage), pooled={"main": pooled.mean(dim=2)}, final={"main": y},
                         attention=self.attention_mode)


def build_w3(num_classes: int, model_cfg, *, spatial: bool, temporal: bool, afr: bool, reduction: int,
             depthwise: bool) -> W3I3D:
    """A :class:`W3I3D` sized by ``model_cfg`` (:class:`attdistill.config.ModelConfig`: width, final_stride, dropout,
    bn_momentum). CBAM is ``spatial=True, temporal=False``; the W3 ablations switch one argument off."""
    model = W3I3D(num_classes, width=model_cfg.width, final_stride=model_cfg.final_stride,
                  dropout=model_cfg.dropout, spatial=spatial, temporal=temporal, afr=afr, reduction=reduction,
                  depthwise=depthwise)
    return set_bn_momentum(model, model_cfg.bn_momentum)


def build_variant(num_classes: int, variant: str, model_cfg, *, reduction: int, depthwise: bool) -> W3I3D:
    """The :class:`W3I3D` of a named architecture of :data:`VARIANTS`."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown W3 variant {variant!r}; valid values: {', '.join(VARIANTS)}")
    return build_w3(num_classes, model_cfg, reduction=reduction, depthwise=depthwise, **VARIANTS[variant])


def count_gflops(model: nn.Module, frames: int, size: int) -> float:
    """GFLOPs of one eval-mode forward pass on a (1, 3, frames, size, size) clip, counted by ``FlopCounterMode`` on
    the model's device (build it under ``torch.device("meta")`` to count without computing).

    ``FlopCounterMode`` counts matrix products and convolutions, 2 FLOPs per multiply-add; element-wise operations
    (the mask products, sigmoids, pooling) are not counted. The model's train / eval mode is restored.
    """
    x = torch.empty(1, 3, frames, size, size, device=next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 1e9


def attention_gflops(num_classes: int, frames: int, size: int, *, width: float, final_stride: int, reduction: int,
                     depthwise: bool, afr: bool) -> tuple[float, float, float]:
    """(GFLOPs of I3D, of I3D + CBAM, of I3D + W3) for one clip (the W3 paper's Table 6 comparison).

    I3D is the project's plain RGB net (``SingleStreamNet`` with attention ``none``, the same head); CBAM is on every
    Inception module without AFR; W3 is the full module on every Inception module, with AFR when ``afr``.
    """
    with torch.device("meta"):
        nets = [SingleStreamNet(num_classes, stream="rgb", attention="none", width=width, final_stride=final_stride,
                                attention_channels=1, dropout=0.0, gumbel_temperature=1.0)]   # no head: unused
        for temporal, with_afr in ((False, False), (True, afr)):
            nets.append(W3I3D(num_classes, width=width, final_stride=final_stride, dropout=0.0, spatial=True,
                              temporal=temporal, afr=with_afr, reduction=reduction, depthwise=depthwise))
    i3d, cb, w3 = (count_gflops(n, frames, size) for n in nets)
    return i3d, cb, w3
