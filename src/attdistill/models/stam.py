"""STAM, from "Where and When to Look? Spatio-temporal Attention for Action Recognition in Videos" (Eq. 1-6), and
its frame-CNN baseline ("averaging the predictions of ResNet-50 over 50 frames").

Pipeline for a clip x (N, 3, n, H, W) of n frames::

    X_i   = CNN(frame i)                                (N, n, C, h, w)   frame features, 2D backbone
    M_i   = σ(conv1x1(relu(conv3x3(relu(conv3x3(X_i))))))  (N, n, h, w)   importance mask
    X̃_i  = X_i ⊙ M_i                                   (N, n, C, h, w)   Eq. 1 (mask broadcast over C)
    C_0, H_0 = g_c(mean_i X̃_i), g_h(mean_i X̃_i)        (N, D, h, w)      Eq. 5
    for t = 1..T:
        e_ti = vᵀ tanh(W_x GAP(X̃_i) + W_h GAP(H_{t-1}))   Eq. 2 (Bahdanau form)
        w_ti = softmax_i(e_ti)                          (N, T, n)         Eq. 3
        Y_t  = (1/n) Σ_i w_ti X̃_i                       (N, C, h, w)      Eq. 4
        H_t, C_t = ConvLSTM(Y_t, (H_{t-1}, C_{t-1}))
    H̄ = (1/T) Σ_t H_t → GAP → dropout → FC              (N, K)            Eq. 6

Eq. 2 writes Φ = Φ_H(H_{t-1}) + Φ_X(X̃_i). With scalar outputs Φ_H would be the same for every frame i and cancel
in the softmax of Eq. 3, so attention could not depend on the step t; as in Bahdanau et al. (which the paper
cites), both project to a d-dim vector and the sum passes through tanh before the scoring vector v.

Shapes at the two sizes this project runs:

================================  ======================  ==================  ===================  =============
configuration                     input (N, 3, n, H, W)   features X          masks (N, n, h, w)   weights
================================  ======================  ==================  ===================  =============
CPU default (SmallFrameCNN, w)    (N, 3, 16, 96, 96)      (N, 16, 8w, 6, 6)   (N, 16, 6, 6)        (N, T, 16)
paper (ResNet-50, 224², n=T=50)   (N, 3, 50, 224, 224)    (N, 50, 2048, 7, 7) (N, 50, 7, 7)        (N, 50, 50)
================================  ======================  ==================  ===================  =============
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .convlstm import ConvLSTMCell
from .networks import NetOutput


@dataclass
class StamOutput(NetOutput):
    """:class:`NetOutput` plus what STAM and the frame baseline add (branch key ``"main"``).

    maps / expected_maps: ``"main"`` -> (N, n, h, w) the importance masks M_i in [0, 1] (absent without the mask).
    temporal_weights:     ``"main"`` -> (N, T, n) w_ti, each row a softmax over the n frames (absent without
                          temporal attention).
    frame_logits:         ``"main"`` -> (N, n, K) per-frame logits (the frame-CNN baseline only).
    pooled:               ``"main"`` -> (N, D) GAP of H̄ (STAM) or the mean GAP frame feature (baseline).
    final:                ``"main"`` -> (N, D, T, h, w) the hidden states H_1..H_T (STAM); the frame features
                          (N, n, C, h, w) (baseline).
    """

    temporal_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    frame_logits: dict[str, torch.Tensor] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- backbones
class SmallFrameCNN(nn.Module):
    """The CPU default frame CNN: four Conv3x3(stride 2)-BN-ReLU stages of width·(1, 2, 4, 8) channels.

    (B, 3, H, W) -> (B, 8·width, H/16, W/16); a 96×96 frame gives a 6×6 map.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1 channel, got {width}")
        layers, c = [], 3
        for mult in (1, 2, 4, 8):
            layers += [nn.Conv2d(c, width * mult, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(width * mult), nn.ReLU(inplace=True)]
            c = width * mult
        self.features = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class ResNet50Frames(nn.Module):
    """The paper's frame CNN: torchvision's ResNet-50 up to its last conv stage (no average pool, no fc).

    (B, 3, 224, 224) -> (B, 2048, 7, 7). Built with ``weights=None``: nothing is downloaded; ImageNet or
    fine-tuned weights come from :func:`load_resnet50_state`.
    """

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        net = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.out_channels = 2048

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def load_resnet50_state(backbone: ResNet50Frames, state: Mapping[str, torch.Tensor] | str | os.PathLike) -> None:
    """Load a torchvision ResNet-50 state_dict (a mapping, or a local ``.pth`` file) into ``backbone``.

    The checkpoint's ``fc.*`` tensors (the ImageNet classifier) are dropped; every other tensor must fit
    (``strict=True``). A path is read with ``torch.load(weights_only=True)``; nothing is downloaded.
    """
    if not isinstance(state, Mapping):
        state = torch.load(state, map_location="cpu", weights_only=True)
    trunk = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    backbone.load_state_dict(trunk, strict=True)


def frame_features(backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a 2D backbone on every frame: (N, 3, n, H, W) -> (N, n, C, h, w)."""
    if x.dim() != 5:
        raise ValueError(f"expected a clip (N, 3, n, H, W), got shape {tuple(x.shape)}")
    n, c, t, h, w = x.shape
    f = backbone(x.transpose(1, 2).reshape(n * t, c, h, w))          # (N n, C, h, w)
    return f.reshape(n, t, *f.shape[1:])


# --------------------------------------------------------------------------------------------- STAM parts
class ImportanceMask(nn.Module):
    """§3.2 importance mask: Conv3x3-ReLU-Conv3x3-ReLU-Conv1x1-sigmoid, one channel.

    (B, C, h, w) -> (B, h, w) in (0, 1); ``hidden`` = the two intermediate widths (paper profile: 512, 128).
    """

    def __init__(self, in_channels: int, hidden: tuple[int, int]) -> None:
        super().__init__()
        a, b = hidden
        self.net = nn.Sequential(nn.Conv2d(in_channels, a, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(a, b, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(b, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x)).squeeze(1)


class TemporalAttention(nn.Module):
    """Eq. 2-3 in Bahdanau form: w_t = softmax_i(vᵀ tanh(W_x GAP(X̃_i) + W_h GAP(H_{t-1}) + b)).

    Φ_X = W_x∘GAP (equal to a 1×1 conv followed by GAP) and Φ_H = W_h∘GAP, both to ``dim``; v is bias-free.
    """

    def __init__(self, feat_channels: int, hidden_channels: int, dim: int) -> None:
        super().__init__()
        self.phi_x = nn.Linear(feat_channels, dim)
        self.phi_h = nn.Linear(hidden_channels, dim, bias=False)
        self.v = nn.Linear(dim, 1, bias=False)

    def keys(self, xt: torch.Tensor) -> torch.Tensor:
        """Φ_X of every masked frame, computed once per clip: (N, n, C, h, w) -> (N, n, dim)."""
        return self.phi_x(xt.mean(dim=(3, 4)))

    def forward(self, keys: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """keys (N, n, dim), H_{t-1} (N, D, h, w) -> w_t (N, n), a softmax over the n frames."""
        e = self.v(torch.tanh(keys + self.phi_h(h.mean(dim=(2, 3)))[:, None])).squeeze(-1)   # (N, n)
        return F.softmax(e.float(), dim=1).to(keys.dtype)


def state_init(in_channels: int, hidden_channels: int) -> nn.Sequential:
    """g_c / g_h of Eq. 5: "two layer convolutional networks with batch normalization", Conv3x3-BN-ReLU-Conv3x3-BN."""
    return nn.Sequential(nn.Conv2d(in_channels, hidden_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(hidden_channels), nn.ReLU(inplace=True),
                         nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(hidden_channels))


# --------------------------------------------------------------------------------------------- networks
class STAM(nn.Module):
    """The STAM network (Eq. 1-6) on a 2D frame backbone; see the module docstring for the equations.

    backbone:        a 2D CNN with an ``out_channels`` attribute, (B, 3, H, W) -> (B, C, h, w)
                     (:class:`SmallFrameCNN` or :class:`ResNet50Frames`).
    mask_hidden:     widths of the mask's two hidden convolutions (paper profile 512, 128).
    attention_dim:   d of the Bahdanau scoring (paper: not given).
    hidden_channels: ConvLSTM hidden channels D (paper: 512); ``kernel_size`` its (odd) kernel.
    steps:           ConvLSTM steps T (paper: T = n = 50); ``None`` = one step per input frame (T = n).
    dropout:         drop probability before the FC layer.
    spatial:         False = "w/o spatial attention" (no mask: X̃_i = X_i, no ``maps``).
    temporal:        False = "w/o temporal attention" (w_ti = 1/n at every step, no ``temporal_weights``).
    mean_input:      True = Eq. 4 as printed, Y_t = (1/n) Σ_i w_ti X̃_i; False = Y_t = Σ_i w_ti X̃_i.

    ``forward(x)`` takes a clip (N, 3, n, H, W); ``head(features)`` takes precomputed frame features
    (N, n, C, h, w), the paper's second training step (attention and ConvLSTM on a fine-tuned CNN's features).
    """

    def __init__(self, num_classes: int, backbone: nn.Module, mask_hidden: tuple[int, int], attention_dim: int,
                 hidden_channels: int, kernel_size: int, steps: int | None, dropout: float, spatial: bool,
                 temporal: bool, mean_input: bool) -> None:
        super().__init__()
        if steps is not None and steps < 1:
            raise ValueError(f"steps must be >= 1 (or None for one step per frame), got {steps}")
        c = backbone.out_channels
        self.backbone, self.steps, self.mean_input = backbone, steps, mean_input
        self.mask = ImportanceMask(c, mask_hidden) if spatial else None
        self.attention = TemporalAttention(c, hidden_channels, attention_dim) if temporal else None
        self.init_h, self.init_c = state_init(c, hidden_channels), state_init(c, hidden_channels)
        self.cell = ConvLSTMCell(c, hidden_channels, kernel_size)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_channels, num_classes)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> StamOutput:   # (N, 3, n, H, W)
        """``features`` (N, n, C, h, w): precomputed frame features (the second training step, through DDP's
        forward); ``x`` is then not read."""
        return self.head(frame_features(self.backbone, x) if features is None else features)

    def head(self, feats: torch.Tensor) -> StamOutput:      # (N, n, C, h, w)
        n, frames = feats.shape[:2]
        out = StamOutput(logits={}, probs=torch.empty(0), attention="stam")
        xt = feats
        if self.mask is not None:
            m = self.mask(feats.flatten(0, 1)).reshape(n, frames, *feats.shape[3:])   # (N, n, h, w)
            xt = feats * m[:, :, None]                                                 # Eq. 1
            out.maps["main"] = out.expected_maps["main"] = m
        mean_x = xt.mean(dim=1)                                                        # (N, C, h, w)
        h, c = self.init_h(mean_x), self.init_c(mean_x)                                # Eq. 5
        keys = self.attention.keys(xt) if self.attention is not None else None
        uniform = xt.new_full((n, frames), 1.0 / frames)
        scale = 1.0 / frames if self.mean_input else 1.0
        hs, ws = [], []
        for _ in range(self.steps or frames):
            w = self.attention(keys, h) if keys is not None else uniform               # Eq. 2-3, (N, n)
            y = torch.einsum("ni,nichw->nchw", w, xt) * scale                          # Eq. 4
            h, c = self.cell(y, (h, c))
            hs.append(h)
            ws.append(w)
        if keys is not None:
            out.temporal_weights["main"] = torch.stack(ws, dim=1)                      # (N, T, n)
        states = torch.stack(hs, dim=2)                                                # (N, D, T, h, w)
        pooled = states.mean(dim=2).mean(dim=(2, 3))                                   # Eq. 6, GAP(H̄): (N, D)
        logits = self.fc(self.dropout(pooled))
        out.logits["main"], out.probs = logits, F.softmax(logits.float(), dim=1)
        out.pooled["main"], out.final["main"] = pooled, states
        return out


class FrameAverageNet(nn.Module):
    """The frame-CNN baseline: classify every frame (GAP -> dropout -> FC) and average the frame predictions.

    ``probs`` is the mean of the per-frame softmaxes; ``logits["main"]`` the mean per-frame logits (N, K);
    ``frame_logits["main"]`` (N, n, K) is what per-frame fine-tuning trains on
    (:func:`attdistill.losses.frame_classification_loss`), the paper's first training step.
    """

    def __init__(self, num_classes: int, backbone: nn.Module, dropout: float) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(backbone.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> StamOutput:       # (N, 3, n, H, W)
        feats = frame_features(self.backbone, x)                                       # (N, n, C, h, w)
        pooled = feats.mean(dim=(3, 4))                                                # (N, n, C)
        frame_logits = self.fc(self.dropout(pooled))                                   # (N, n, K)
        out = StamOutput(logits={"main": frame_logits.mean(dim=1)},
                         probs=F.softmax(frame_logits.float(), dim=2).mean(dim=1), attention="none")
        out.frame_logits["main"], out.pooled["main"] = frame_logits, pooled.mean(dim=1)
        out.final["main"] = feats          # the frame features STAM's head trains on in the second step
        return out


#: Networks of STAM's Table 1, by name: the frame-CNN baseline and STAM with its attention switches (the loss
#: ablations w/o L_TV, L_contrast, L_unimodal are the ``stam`` network with a zero weight).
VARIANTS: tuple[str, ...] = ("frames", "stam", "stam-no-spatial", "stam-no-temporal")


def build_stam(num_classes: int, variant: str, *, backbone: str, width: int, mask_hidden, attention_dim: int,
               hidden: int, kernel: int, steps: int, mean_input: bool, dropout: float) -> nn.Module:
    """The network of a :data:`VARIANTS` name on a fresh backbone (``"small"``: :class:`SmallFrameCNN` of
    ``width``; ``"resnet50"``: :class:`ResNet50Frames`, random weights); ``steps`` 0 = one step per frame."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown STAM variant {variant!r}; valid values: {', '.join(VARIANTS)}")
    if backbone not in ("small", "resnet50"):
        raise ValueError(f"unknown STAM backbone {backbone!r}; valid values: small, resnet50")
    trunk = SmallFrameCNN(width) if backbone == "small" else ResNet50Frames()
    if variant == "frames":
        return FrameAverageNet(num_classes, trunk, dropout)
    return STAM(num_classes, trunk, tuple(mask_hidden), attention_dim, hidden, kernel, steps or None, dropout,
                spatial=variant != "stam-no-spatial", temporal=variant != "stam-no-temporal", mean_input=mean_input)
