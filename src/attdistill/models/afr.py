"""Attention-guided Feature Refinement (AFR), Eq. 7-8 of "Knowing What, Where and When to Look: Efficient Video
Action Modeling with Attention" (§3.4, Fig. 2).

The stage-wise spatio-temporal masks M^{s,j} are pooled to the last stage's grid and concatenated (Eq. 7), then a
1x1x1 convolution with ReLU maps them to the last stage's channels and the result is added to its features
(Eq. 8)::

    M^ms = [AAP(M^{s,1}), ..., AAP(M^{s,S})]       (N, S, T_l, H_l, W_l)
    y    = x + relu(conv1x1x1(M^ms))               (N, C_l, T_l, H_l, W_l)

In I3D the stages also differ in temporal size, so the adaptive average pooling (AAP) runs over (T, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def pool_masks(masks: Sequence[torch.Tensor], size: tuple[int, int, int]) -> torch.Tensor:
    """Eq. 7: S masks (N, T_j, H_j, W_j) -> (N, S, T_l, H_l, W_l), each adaptively average-pooled to ``size``."""
    return torch.stack([F.adaptive_avg_pool3d(m, size) for m in masks], dim=1)


class AttentionFeatureRefinement(nn.Module):
    """Eq. 8: ``y = x + relu(conv1x1x1(M^ms))``: a second gradient path from the loss to every stage's mask.

    Args:
        num_masks: S, the number of stage masks (3 for Inception-I3D: Mixed_3c, Mixed_4f, Mixed_5c).
        channels:  C_l, the channels of the last stage's features x.
    """

    def __init__(self, num_masks: int, channels: int) -> None:
        super().__init__()
        self.num_masks = num_masks
        self.conv = nn.Conv3d(num_masks, channels, 1)

    def forward(self, x: torch.Tensor, masks: Sequence[torch.Tensor]) -> torch.Tensor:  # x (N, C_l, T, H, W)
        if len(masks) != self.num_masks:
            raise ValueError(f"AFR was built for {self.num_masks} stage masks, got {len(masks)}")
        m = pool_masks(masks, tuple(x.shape[2:])).to(x.dtype)          # (N, S, T_l, H_l, W_l)
        return x + F.relu(self.conv(m))
