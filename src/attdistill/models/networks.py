"""The networks of the paper: single-stream attention I3D (Table 1, the teacher) and the two-branch student (Table 6).

Both return one structure, :class:`NetOutput`. Shapes at the two sizes this project runs:

===============================  =========================  ===============  =================  ==============
configuration                    input (N, C, T, H, W)      Mixed_4f         maps (N, T', H', W')  Mixed_5c
===============================  =========================  ===============  =================  ==============
CPU default (width 0.125, s=1)   (N, 3, 16, 96, 96)         (N, 104, 4, 6, 6)  (N, 2, 6, 6)     (N, 128, 2, 6, 6)
paper / Table 6 (width 1, s=2)   (N, 3, 24, 224, 224)       (N, 832, 6, 14, 14)  (N, 3, 7, 7)   (N, 1024, 3, 7, 7)
===============================  =========================  ===============  =================  ==============
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .attention import (AttentionHead, attention_pool, average_pool, check_map, make_attention_head,
                        parse_attention, temporal_logits)
from .i3d import InceptionI3d, Unit3D, build_endpoint

BRANCH_ENDPOINTS: tuple[str, ...] = ("MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c")


@dataclass
class NetOutput:
    """What every network returns. Branch keys: ``"main"`` for single-stream nets; ``"motion"`` and ``"appearance"``
    for the two-branch student. The map dicts are empty for attention ``none``.

    logits:        branch -> (N, K) time-averaged logits.
    probs:         (N, K) the prediction: softmax of ``"main"``, or the mean of the branch softmaxes (Eq. 7).
    maps:          branch -> (N, T', H', W') the map used for pooling (a Gumbel sample while training prob-atten;
                   for the reference-attention student's motion branch, the given map).
    expected_maps: branch -> (N, T', H', W') the noise-free softmax(w_a * phi) (Eq. 1 / 2): for the KL terms, plots
                   and localisation (for the given motion map: that map).
    log_maps:      branch -> (N, T', H', W') log_softmax of the same logits (numerically stable KL); only branches
                   that predict their own map.
    pooled:        branch -> (N, C) time-averaged pooled Mixed_5c features (MARS feature distillation).
    final:         branch -> (N, C, T', H', W') Mixed_5c features (MFR feature mimicking).
    attention:     the network's attention mode (the losses add the Eq. 3 prior only for ``prob-atten``).
    """

    logits: dict[str, torch.Tensor]
    probs: torch.Tensor
    maps: dict[str, torch.Tensor] = field(default_factory=dict)
    expected_maps: dict[str, torch.Tensor] = field(default_factory=dict)
    log_maps: dict[str, torch.Tensor] = field(default_factory=dict)
    pooled: dict[str, torch.Tensor] = field(default_factory=dict)
    final: dict[str, torch.Tensor] = field(default_factory=dict)
    attention: str = "none"


def _pool(feats: torch.Tensor, attention_map: torch.Tensor | None, residual: bool) -> torch.Tensor:
    """(N, C, T', H', W') -> (N, C, T'): Eq. 4 / Eq. 5 with a map, average pooling without one."""
    return average_pool(feats) if attention_map is None else attention_pool(feats, attention_map, residual)


class SingleStreamNet(nn.Module):
    """I3D with one attention module: the Table-1 models (RGB or flow x attention) and the flow teacher.

    Mixed_4f -> :class:`~attdistill.models.attention.AttentionHead` -> map A (N, T', H', W');
    Mixed_5c pooled with A (Eq. 4, or Eq. 5 for ``soft-res``; average pooling for ``none``) -> temporal head with
    the backbone's own ``logits`` layer (so pytorch-i3d's Kinetics weights load into ``backbone``).
    """

    def __init__(self, num_classes: int, stream: str = "rgb", attention: str = "prob-atten", width: float = 1.0,
                 final_stride: int = 2, attention_channels: int = 128, dropout: float = 0.5,
                 gumbel_temperature: float = 1.0, attention_bn_relu: bool = True) -> None:
        super().__init__()
        if stream not in ("rgb", "flow"):
            raise ValueError(f"unknown stream {stream!r}; valid values: rgb, flow")
        self.spec = parse_attention(attention)
        self.attention_mode, self.stream = attention, stream
        self.backbone = InceptionI3d(num_classes, in_channels=3 if stream == "rgb" else 2, dropout=dropout,
                                     width=width, final_stride=final_stride)
        self.attention = make_attention_head(attention, self.backbone.channels["Mixed_4f"], attention_channels,
                                             width, final_stride, gumbel_temperature, attention_bn_relu)

    def forward(self, x: torch.Tensor) -> NetOutput:  # (N, 3 | 2, T, H, W)
        f = self.backbone.extract_features(x, ("Mixed_4f", "Mixed_5c"))
        feats = f["Mixed_5c"]                                          # (N, C, T', H', W')
        out = NetOutput(logits={}, probs=torch.empty(0), attention=self.attention_mode)
        a = None
        if self.attention is not None:
            maps = self.attention(f["Mixed_4f"])
            a = maps.map
            out.maps["main"], out.expected_maps["main"], out.log_maps["main"] = maps
        pooled = _pool(feats, a, self.spec.residual)                   # (N, C, T')
        logits = temporal_logits(pooled, self.backbone.dropout, self.backbone.logits)
        out.logits["main"] = logits
        out.probs = F.softmax(logits.float(), dim=1)
        out.pooled["main"] = pooled.mean(dim=2)
        out.final["main"] = feats
        return out


class RecognitionBranch(nn.Module):
    """One action branch of the student (Table 6 rows 14-17 + 22-28 motion, 18-21 + 29-35 appearance).

    Its own attention head on the shared Mixed_4f (absent for attention ``none`` and for a given map), its own
    ``MaxPool3d_5a_2x2`` + ``Mixed_5b`` + ``Mixed_5c`` (Table 6 rows 22-24 / 29-31; Table 6 calls them
    Max Pool, Inception 5a, 5b), pooling, dropout and classifier.
    """

    def __init__(self, in_channels: int, num_classes: int, head: AttentionHead | None, width: float,
                 final_stride: int, dropout: float) -> None:
        super().__init__()
        self.attention = head
        c = in_channels
        for ep in BRANCH_ENDPOINTS:
            module, c = build_endpoint(ep, c, width, final_stride)
            self.add_module(ep, module)
        self.dropout = nn.Dropout(dropout)
        self.logits = Unit3D(c, num_classes, 1, activation=False, use_batch_norm=False, use_bias=True)

    def features(self, phi4: torch.Tensor) -> torch.Tensor:
        """(N, C4, T, H, W) Mixed_4f -> (N, C, T', H', W') this branch's Mixed_5c."""
        for ep in BRANCH_ENDPOINTS:
            phi4 = getattr(self, ep)(phi4)
        return phi4


class TwoBranchStudent(nn.Module):
    """The attention-distillation student (Table 6; Eq. 7): shared I3D to Mixed_4f, a motion and an appearance branch.

    Each branch pools its own Mixed_5c with its own map and classifies; the prediction is the equal-weight fusion of
    the two branch softmaxes (Eq. 7; ``probs`` is their mean, a distribution). Training attaches a cross entropy to
    each branch (Table 6 rows 28, 35), the distillation KL to the motion map and the prior KL to the appearance map
    (Eq. 8, :func:`attdistill.losses.student_loss`).

    ``motion_source="given"`` is the supplement's "How is motion encoded?" control (model id
    ``reference-attention``): the motion branch has no attention head and pools with the map passed as
    ``forward(x, motion_map=...)`` — the reference flow network's map, at train and test time.

    With ``attention="none"`` neither branch has a map and both average-pool: a degenerate two-branch control (an
    ensemble of two Mixed_5 towers on a shared trunk); the distillation term then has nothing to act on.
    """

    def __init__(self, num_classes: int, attention: str = "prob-atten", width: float = 1.0, final_stride: int = 2,
                 attention_channels: int = 128, dropout: float = 0.5, gumbel_temperature: float = 1.0,
                 attention_bn_relu: bool = True,
                 motion_source: str = "learned") -> None:
        super().__init__()
        if motion_source not in ("learned", "given"):
            raise ValueError(f"unknown motion_source {motion_source!r}; valid values: learned, given")
        self.spec = parse_attention(attention)
        self.attention_mode, self.motion_source = attention, motion_source
        self.backbone = InceptionI3d(num_classes, final_endpoint="Mixed_4f", in_channels=3, width=width,
                                     final_stride=final_stride)
        c4 = self.backbone.channels["Mixed_4f"]

        def head() -> AttentionHead | None:
            return make_attention_head(attention, c4, attention_channels, width, final_stride, gumbel_temperature,
                                       attention_bn_relu)

        self.motion = RecognitionBranch(c4, num_classes, head() if motion_source == "learned" else None, width,
                                        final_stride, dropout)
        self.appearance = RecognitionBranch(c4, num_classes, head(), width, final_stride, dropout)

    def forward(self, x: torch.Tensor, motion_map: torch.Tensor | None = None) -> NetOutput:  # x (N, 3, T, H, W)
        phi4 = self.backbone.features(x)                               # (N, C4, T, H, W)
        out = NetOutput(logits={}, probs=torch.empty(0), attention=self.attention_mode)
        for name, branch in (("motion", self.motion), ("appearance", self.appearance)):
            feats = branch.features(phi4)                              # (N, C, T', H', W')
            a = None
            if name == "motion" and self.motion_source == "given":
                if motion_map is None:
                    raise ValueError("this student pools its motion branch with a given map (motion_source='given', "
                                     "the reference-attention control): call forward(x, motion_map=<the flow "
                                     "network's (N, T', H', W') map>)")
                check_map(motion_map, feats, "motion_map")
                a = motion_map.detach()
                out.maps[name] = out.expected_maps[name] = a
            elif branch.attention is not None:
                maps = branch.attention(phi4)
                a = maps.map
                out.maps[name], out.expected_maps[name], out.log_maps[name] = maps
            pooled = _pool(feats, a, self.spec.residual)
            out.logits[name] = temporal_logits(pooled, branch.dropout, branch.logits)
            out.pooled[name] = pooled.mean(dim=2)
            out.final[name] = feats
        out.probs = torch.stack([F.softmax(v.float(), dim=1) for v in out.logits.values()]).mean(dim=0)
        return out


def build_network(kind: str, num_classes: int, attention: str, model_cfg) -> nn.Module:
    """The main paper's network for a model kind, sized by ``model_cfg`` (:class:`attdistill.config.ModelConfig`);
    :func:`attdistill.models.build.build_model` dispatches every kind.

    kind: ``rgb`` / ``flow`` (:class:`SingleStreamNet`), ``student`` (:class:`TwoBranchStudent`, learned motion
    attention), ``reference`` (:class:`TwoBranchStudent` with ``motion_source="given"``).
    """
    common = dict(attention=attention, width=model_cfg.width, final_stride=model_cfg.final_stride,
                  attention_channels=model_cfg.attention_channels, dropout=model_cfg.dropout,
                  gumbel_temperature=model_cfg.gumbel_temperature, attention_bn_relu=model_cfg.attention_bn_relu)
    if kind in ("rgb", "flow"):
        model = SingleStreamNet(num_classes, stream=kind, **common)
    elif kind == "student":
        model = TwoBranchStudent(num_classes, motion_source="learned", **common)
    elif kind == "reference":
        model = TwoBranchStudent(num_classes, motion_source="given", **common)
    else:
        raise ValueError(f"unknown model kind {kind!r}; valid values: rgb, flow, student, reference")
    return set_bn_momentum(model, model_cfg.bn_momentum)


def set_bn_momentum(model: nn.Module, momentum: float) -> nn.Module:
    """Set every BatchNorm's running-statistics momentum.

    pytorch-i3d uses 0.01 (TF's decay 0.99), right for the paper's long schedules. A short CPU run of ~100
    steps would leave the running statistics ~40% at their initial values, so evaluation (which uses them)
    would see a different network than training: the CPU default uses PyTorch's 0.1 (``model.bn_momentum``).
    """
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
    return model
