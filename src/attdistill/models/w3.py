"""The What-Where-When (W3) video attention module, and CBAM as W3 without its temporal reasoning.

From "Knowing What, Where and When to Look: Efficient Video Action Modeling with Attention" (Pérez-Rúa et al.),
§3.1-3.2, Eq. 1-6. A feature map F (N, C, T, H, W) is attended in two steps (Eq. 2)::

    F^c = M^c (x) F      M^c = f^c(F)     (N, C, T)     broadcast over H, W    channel-temporal ("what, when")
    F^s = M^s (x) F^c    M^s = f^s(F^c)   (N, T, H, W)  broadcast over C       spatio-temporal ("where, when")

Each mask is a per-frame mask (CBAM, "Convolutional Block Attention Module", Woo et al.) followed by temporal
reasoning, and keeps the paper's *double* sigmoid: a sigmoid closes the per-frame mask (Eq. 3 / 5) and another
closes the temporal network (Eq. 4 / 6). Switching the temporal reasoning off leaves the per-frame masks with one
sigmoid each: that is CBAM applied frame by frame (:func:`cbam`).

Readings of what the paper leaves open (docs/equations.md, section "W3"): hidden MLP size ``max(1, C // r)`` with
ReLU; depthwise (per-channel) 1-D temporal convolutions by default; one hidden channel between the two 3x3x3
convolutions, ReLU between the two layers of each temporal network; 'same' zero padding; no BatchNorm; the
temporal convolutions start as the identity (Dirac kernels, zero bias); the rest keeps PyTorch's initialisation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

#: Kernel of the 1-D temporal convolutions of Eq. 4 (K_c-vid = 3, stated) and of the 3-D ones of Eq. 6 (3x3x3).
TEMPORAL_KERNEL = 3
#: Kernel of the per-frame spatial convolution of Eq. 5 (7x7, stated).
SPATIAL_KERNEL = 7


class W3Output(NamedTuple):
    """What :class:`W3Attention` returns."""

    features: torch.Tensor               # (N, C, T, H, W) the attended features F^s (F^c without spatial attention)
    channel: torch.Tensor                # (N, C, T) the channel-temporal mask M^c (Eq. 4; Eq. 3 without TA)
    spatial: torch.Tensor | None         # (N, T, H, W) the spatio-temporal mask M^s (Eq. 6; Eq. 5 without TA)


def _identity_init(conv: nn.Module, groups: int = 1) -> None:
    """Dirac kernel + zero bias: the temporal network starts as the identity on its (positive) input mask."""
    nn.init.dirac_(conv.weight, groups=groups)
    nn.init.zeros_(conv.bias)


class ChannelTemporalAttention(nn.Module):
    """f^c of Eq. 2: (N, C, T, H, W) -> the channel-temporal mask M^c (N, C, T) and the frame mask (N, C, T).

    Eq. 3: ``M^c-frm = sigmoid(MLP(avg_hw F) + MLP(max_hw F))`` per frame; the MLP (C -> C/r -> C, ReLU) is shared
    by the two descriptors and by the frames (1x1 convolutions over time).
    Eq. 4: ``M^c = sigmoid(conv1d(relu(conv1d(M^c-frm))))``, two k=3 convolutions over time (``temporal=True``);
    per channel (``depthwise=True``, "the per-channel temporal relationships") or mixing channels.
    """

    def __init__(self, channels: int, reduction: int, temporal: bool, depthwise: bool) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv1d(hidden, channels, 1))
        self.temporal: nn.Sequential | None = None
        if temporal:
            groups = channels if depthwise else 1
            convs = [nn.Conv1d(channels, channels, TEMPORAL_KERNEL, padding=TEMPORAL_KERNEL // 2, groups=groups)
                     for _ in range(2)]
            for c in convs:
                _identity_init(c, groups)
            self.temporal = nn.Sequential(convs[0], nn.ReLU(inplace=True), convs[1])

    def frame_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 3: (N, C, T, H, W) -> M^c-frm (N, C, T), in (0, 1)."""
        n = x.shape[0]
        d = torch.cat([x.mean(dim=(3, 4)), x.amax(dim=(3, 4))])        # (2N, C, T): d_avg-c, d_max-c
        a = self.mlp(d)
        return torch.sigmoid(a[:n] + a[n:])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frame = self.frame_mask(x)                                      # (N, C, T)
        if self.temporal is None:
            return frame, frame
        return torch.sigmoid(self.temporal(frame)), frame               # Eq. 4: the second sigmoid


class SpatioTemporalAttention(nn.Module):
    """f^s of Eq. 2: (N, C, T, H, W) -> the spatio-temporal mask M^s (N, T, H, W) and the frame mask (N, T, H, W).

    Eq. 5: ``M^s-frm = sigmoid(conv7x7([avg_c F, max_c F]))`` per frame (a 1x7x7 Conv3d, 2 -> 1 channel).
    Eq. 6: ``M^s = sigmoid(conv3x3x3(relu(conv3x3x3(M^s-frm))))`` on the stacked frame masks (``temporal=True``).
    """

    def __init__(self, temporal: bool) -> None:
        super().__init__()
        k = SPATIAL_KERNEL
        self.frame = nn.Conv3d(2, 1, (1, k, k), padding=(0, k // 2, k // 2))
        self.temporal: nn.Sequential | None = None
        if temporal:
            k = TEMPORAL_KERNEL
            convs = [nn.Conv3d(1, 1, k, padding=k // 2) for _ in range(2)]
            for c in convs:
                _identity_init(c)
            self.temporal = nn.Sequential(convs[0], nn.ReLU(inplace=True), convs[1])

    def frame_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 5: (N, C, T, H, W) -> M^s-frm (N, 1, T, H, W), in (0, 1)."""
        d = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)   # (N, 2, T, H, W)
        return torch.sigmoid(self.frame(d))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frame = self.frame_mask(x)                                      # (N, 1, T, H, W)
        mask = frame if self.temporal is None else torch.sigmoid(self.temporal(frame))   # Eq. 6
        return mask.squeeze(1), frame.squeeze(1)


class W3Attention(nn.Module):
    """The W3 module (Eq. 1-6) on a feature map (N, C, T, H, W); the output has the input's shape.

    Args:
        channels:  C of the input.
        reduction: r, the bottleneck ratio of the per-frame channel MLP (hidden size ``max(1, C // r)``).
        spatial:   keep the spatio-temporal sub-module ("w/o SA" when False: F^s = F^c, no spatial mask).
        temporal:  keep the temporal reasoning of both sub-modules ("w/o TA" when False: CBAM, one sigmoid each).
        depthwise: per-channel 1-D temporal convolutions (True) or C -> C ones (False).
    """

    def __init__(self, channels: int, reduction: int, spatial: bool, temporal: bool, depthwise: bool) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction}")
        self.channels, self.reduction, self.temporal = channels, reduction, temporal
        self.channel = ChannelTemporalAttention(channels, reduction, temporal, depthwise)
        self.spatial = SpatioTemporalAttention(temporal) if spatial else None

    def forward(self, x: torch.Tensor) -> W3Output:  # (N, C, T, H, W)
        m_c, _ = self.channel(x)
        f_c = x * m_c[..., None, None].to(x.dtype)                     # Eq. 2, F(T, C): broadcast over H, W
        if self.spatial is None:
            return W3Output(f_c, m_c, None)
        m_s, _ = self.spatial(f_c)
        f_s = f_c * m_s[:, None].to(x.dtype)                           # Eq. 2, F^c(T, H, W): broadcast over C
        return W3Output(f_s, m_c, m_s)


def cbam(channels: int, reduction: int) -> W3Attention:
    """CBAM applied frame by frame: W3 without its temporal reasoning (the paper's Table 6 "+CBAM")."""
    return W3Attention(channels, reduction, spatial=True, temporal=False, depthwise=True)
