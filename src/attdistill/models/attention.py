"""Attention generation (paper Eq. 1-2) and attention-guided recognition (Eq. 4-5), Table 6 rows 14-17 and 25-27.

Attention modes (the top-level ``attention`` parameter):

==============  ====================================  ==========================================================
value           map generation                        recognition (pooling of Mixed_5c)
==============  ====================================  ==========================================================
``none``        —                                     average pooling (the plain I3D baseline)
``soft-atten``  soft attention, Eq. 1                 attention pooling, Eq. 4
``soft-res``    soft attention, Eq. 1                 residual attention pooling, Eq. 5
``prob-atten``  probabilistic soft attention, Eq. 2   attention pooling, Eq. 4
==============  ====================================  ==========================================================

Prob + Res is rejected, as in the paper (§4.2). The KL-to-uniform prior of Eq. 3 is in :mod:`attdistill.losses`.

Shapes: Mixed_4f features ``phi_4`` (N, C4, T, H, W); attention logits / maps (N, T', H', W') with one 2D
distribution per time slice; Mixed_5c features ``phi`` (N, C, T', H', W').
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ATTENTIONS
from .i3d import MaxPool3dSame, Unit3D, scaled

PROB_RES_REASON = ("the paper (§4.2) rules this combination out: \"We note that the combination of Prob+Res is "
                   "invalid, as it violates the probabilistic modeling of attention. In practice, we also found its "
                   "training to be unstable.\"")

#: Standard deviation of the normal initialisation of the bias-free linear map w_a (see AttentionHead).
LINEAR_INIT_STD = 1e-2


class AttentionSpec(NamedTuple):
    """A parsed ``attention`` value: how maps are generated and how they are used for pooling."""

    generation: str | None    # None (no attention) | "soft" (Eq. 1) | "prob" (Eq. 2)
    residual: bool            # Eq. 5 instead of Eq. 4


def parse_attention(attention: str) -> AttentionSpec:
    """Validate an ``attention`` value; raises ValueError (with the paper's reason for Prob+Res)."""
    a = str(attention).strip().lower()
    if a.startswith("prob") and "res" in a:
        raise ValueError(f"attention={attention!r} (probabilistic attention + residual connection) is not supported: "
                         f"{PROB_RES_REASON} Valid values: {', '.join(ATTENTIONS)}")
    table = {"none": AttentionSpec(None, False), "soft-atten": AttentionSpec("soft", False),
             "soft-res": AttentionSpec("soft", True), "prob-atten": AttentionSpec("prob", False)}
    if a not in table:
        raise ValueError(f"unknown attention {attention!r}; valid values: {', '.join(ATTENTIONS)}")
    return table[a]


# ------------------------------------------------------------------------------------------------ maps
def slice_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over each time slice: (N, T, H, W) -> (N, T, H, W), every [n, t] sums to 1 (Eq. 1)."""
    n, t, h, w = logits.shape
    return F.softmax(logits.float().reshape(n, t, h * w), dim=-1).reshape(n, t, h, w)


def slice_log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log of :func:`slice_softmax`, computed stably (for the KL terms of Eq. 3, 6, 8)."""
    n, t, h, w = logits.shape
    return F.log_softmax(logits.float().reshape(n, t, h * w), dim=-1).reshape(n, t, h, w)


def gumbel_sample(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """A Gumbel-softmax sample of each slice's map, A = softmax((logits + g) / tau), g ~ Gumbel(0, 1) (Eq. 2).

    One i.i.d. Gumbel variable per map cell (N, T, H, W): we sample the *map*, as Eq. 2 says. (The authors' proxy
    code drew the noise with the feature tensor's shape, i.e. a different map per feature channel.) Every sample is
    a distribution over H x W. Its argmax is distributed exactly as ``softmax(logits)`` (the Gumbel-max trick); the
    mean of the relaxed samples approaches ``softmax(logits)`` as ``tau -> 0`` and is flatter than it at ``tau = 1``.
    Uses the global torch RNG (seeded by the training engine).
    """
    n, t, h, w = logits.shape
    return F.gumbel_softmax(logits.float().reshape(n, t, h * w), tau=tau, hard=False, dim=-1).reshape(n, t, h, w)


class AttentionMaps(NamedTuple):
    """The outputs of an attention head, all (N, T', H', W')."""

    map: torch.Tensor        # the map used for pooling (a Gumbel sample while training prob-atten)
    expected: torch.Tensor   # softmax(w_a * phi): the expected map p(A) (Eq. 1 / 2)
    log: torch.Tensor        # log_softmax(w_a * phi)


class AttentionHead(nn.Module):
    """Predicts an attention map from Mixed_4f features (Table 6 rows 14-17 / 18-21; Eq. 1-2).

    max-pool 2x3x3, stride (2, s, s), SAME padding (brings Mixed_4f to the Mixed_5c grid; s = ``final_stride``)
    -> 1x3x3 ``Unit3D`` (conv + BN + ReLU, ``hidden_channels``; a plain conv with ``bn_relu=False``) = phi(x)
    -> bias-free 1x1x1 conv to one channel = the linear map ``w_a * phi(x)`` of Eq. 1 -> logits (N, T', H', W')
    -> softmax over each time slice.

    ``generation="soft"``: ``A = softmax(logits)`` (Eq. 1). ``generation="prob"``: while training ``A`` is a
    Gumbel-softmax sample with temperature ``tau`` (Eq. 2); in eval mode it is the expected map ``softmax(logits)``
    ("During testing, we directly plug in p(A)", §3.2).

    Initialisation: ``w_a`` ~ N(0, 1e-2) (``LINEAR_INIT_STD``), so the first maps are close to uniform but not exactly
    uniform — §3.2: a bias-free linear map avoids the trivial all-zero (uniform) solution, which "almost never arises
    during training when using a proper initialization of w". The 1x3x3 unit keeps PyTorch's default init.
    """

    def __init__(self, in_channels: int, hidden_channels: int, spatial_stride: int = 2, generation: str = "prob",
                 tau: float = 1.0, bn_relu: bool = True) -> None:
        super().__init__()
        if generation not in ("soft", "prob"):
            raise ValueError(f"generation must be 'soft' or 'prob', got {generation!r}")
        if tau <= 0:
            raise ValueError(f"Gumbel temperature must be > 0, got {tau}")
        self.generation, self.tau = generation, tau
        self.pool = MaxPool3dSame((2, 3, 3), (2, spatial_stride, spatial_stride), nonnegative_input=True)  # Mixed_4f >= 0
        # bn_relu=False reads §3.2's "F_A is a linear mapping without a bias term" as covering phi too: the
        # whole head is then one bias-free linear map of the features (a bias would cancel in the softmax anyway)
        self.conv = Unit3D(in_channels, hidden_channels, (1, 3, 3), activation=bn_relu, use_batch_norm=bn_relu)
        self.linear = Unit3D(hidden_channels, 1, 1, activation=False, use_batch_norm=False, use_bias=False)
        nn.init.normal_(self.linear.conv3d.weight, std=LINEAR_INIT_STD)

    def logits(self, phi4: torch.Tensor) -> torch.Tensor:
        """(N, C4, T, H, W) Mixed_4f -> (N, T', H', W') attention logits ``w_a * phi(x)``."""
        return self.linear(self.conv(self.pool(phi4))).squeeze(1)

    def forward(self, phi4: torch.Tensor) -> AttentionMaps:
        logits = self.logits(phi4)
        expected = slice_softmax(logits)
        sample = gumbel_sample(logits, self.tau) if self.generation == "prob" and self.training else expected
        return AttentionMaps(sample, expected, slice_log_softmax(logits))


def make_attention_head(attention: str, in_channels: int, attention_channels: int = 128, width: float = 1.0,
                        final_stride: int = 2, tau: float = 1.0, bn_relu: bool = True) -> AttentionHead | None:
    """The head for an ``attention`` value (None for ``none``); hidden channels = ``attention_channels * width``."""
    spec = parse_attention(attention)
    if spec.generation is None:
        return None
    return AttentionHead(in_channels, scaled(attention_channels, width), final_stride, spec.generation, tau, bn_relu)


# ------------------------------------------------------------------------------------------------ pooling
def check_map(attention_map: torch.Tensor, features: torch.Tensor, what: str = "attention map") -> None:
    """Raise ValueError unless ``attention_map`` is (N, T', H', W') for ``features`` (N, C, T', H', W')."""
    want = (features.shape[0], *features.shape[2:])
    if attention_map.dim() != 4 or tuple(attention_map.shape) != tuple(want):
        raise ValueError(f"{what} must have shape (N, T', H', W') = {tuple(want)} to pool Mixed_5c features of shape "
                         f"{tuple(features.shape)}; got {tuple(attention_map.shape)}")


def average_pool(features: torch.Tensor) -> torch.Tensor:
    """Spatial average pooling (N, C, T', H', W') -> (N, C, T'): the I3D baseline (attention ``none``)."""
    return features.mean(dim=(3, 4))


def attention_pool(features: torch.Tensor, attention_map: torch.Tensor, residual: bool = False) -> torch.Tensor:
    """Attention-guided pooling of Mixed_5c features, (N, C, T', H', W') x (N, T', H', W') -> (N, C, T').

    Eq. 4 (``residual=False``): ``A (.) phi = sum_{h,w} A(t, h, w) phi(x)(t, h, w)`` — a weighted average (each slice
    of A sums to 1) with the weights shared across channels.

    Eq. 5 (``residual=True``): the paper writes ``(A + 1) (.) phi`` with "1 a 3D tensor of all ones" and explains
    "this operation further adds average pooled features". Read literally, the all-ones term adds the spatial *sum*,
    i.e. H'W' times the average, which would drown the attention term by a factor H'W' (49 at 7x7) and make the
    result depend on the feature-map size. We implement the text's meaning: attention pooling + average pooling,
    ``sum A phi + mean phi`` (equivalently ``(A + U) (.) phi`` with U the uniform map 1 / (H'W')).
    """
    check_map(attention_map, features)
    pooled = torch.einsum("nthw,ncthw->nct", attention_map.to(features.dtype), features)
    return pooled + average_pool(features) if residual else pooled


def temporal_logits(pooled: torch.Tensor, dropout: nn.Module, logits: nn.Module) -> torch.Tensor:
    """The shared recognition head (Table 6 rows 25-27 / 32-34): (N, C, T') pooled features -> (N, K) logits.

    Temporal average pool with window min(2, T') and stride 1 (as pytorch-i3d's ``avg_pool``), dropout, the 1x1x1
    ``logits`` layer, mean over time.
    """
    x = F.avg_pool1d(pooled, kernel_size=min(2, pooled.shape[-1]), stride=1)    # (N, C, T'')
    x = logits(dropout(x[..., None, None]))                                    # (N, K, T'', 1, 1)
    return x.mean(dim=(2, 3, 4))
