"""Inception-I3D (Carreira & Zisserman, CVPR 2017), parameter-compatible with ``piergiaj/pytorch-i3d``.

The backbone of every network in this project (paper §3.6, supplementary Table 6 rows 1-13 and 22-24).

Compatibility contract
----------------------
Module and parameter names are those of pytorch-i3d's ``InceptionI3d``, so its ``rgb_imagenet.pt`` /
``flow_imagenet.pt`` (Kinetics-400, converted from DeepMind's checkpoints) load with ``strict=True`` into
``InceptionI3d(400, in_channels=3 | 2)``: keys look like ``Conv3d_1a_7x7.conv3d.weight``,
``Mixed_4f.b1b.bn.running_mean``, ``logits.conv3d.bias``. Every :class:`Unit3D` is a bias-free 3D convolution
(``.conv3d``), a ``BatchNorm3d(eps=1e-3, momentum=0.01)`` (``.bn``) and a ReLU; the classifier ``logits`` is a
1x1x1 convolution with bias and neither BN nor activation. TensorFlow "SAME" padding is computed in ``forward``
from the input size, exactly as pytorch-i3d does, for convolutions *and* max-pools (zero padding; every max-pool
follows a ReLU, so zeros never win against a real activation)::

    pad = max(k - s, 0) if n % s == 0 else max(k - n % s, 0);  front = pad // 2;  back = pad - front

With ``width=1`` and ``final_stride=2`` the network is exactly pytorch-i3d's (tests/test_i3d.py checks every
endpoint and the logits against the reference fixture in ``shared/reference``).

Two departures, both off by default
-----------------------------------
* ``width`` multiplies every channel count (``max(1, round(c * width))``), for CPU-sized models. The CPU default
  of this project is ``width=0.125`` (1.6 % of the multiply-adds of the full network).
* ``final_stride`` is the *spatial* stride of ``MaxPool3d_5a_2x2`` (2 = I3D). ``final_stride=1`` keeps Mixed_5b/5c
  at the Mixed_4f resolution — the "stem change" of the CPU default: a 96x96 crop then still gives 6x6 attention
  maps (16 frames -> 2 time slices), where I3D's own strides would give 3x3. Measured on the 2-core CPU machine:
  ``width=0.125, final_stride=1`` on 16x96x96 clips trains at roughly 20 ms per clip.

Head
----
pytorch-i3d's head is ``AvgPool3d((2, 7, 7), stride 1)`` -> dropout -> ``logits`` -> squeeze, i.e. per-time-step
logits (N, K, T'); :meth:`InceptionI3d.forward_reference` reproduces it exactly. :meth:`InceptionI3d.forward` uses
the same head made robust to small inputs: the pooling window is ``(min(2, T), min(7, H), min(7, W))`` (stride 1)
and the logits are averaged over every remaining position, giving (N, K). For a 224x224 input (7x7 Mixed_5c) this
equals the time-averaged output of pytorch-i3d.

Dropout: pytorch-i3d's ``dropout_keep_prob`` argument is handed to ``nn.Dropout`` as the *drop* probability (a
long-standing quirk, harmless at 0.5). Here the argument is named ``dropout`` and is a drop probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Triple = tuple[int, int, int]

#: Endpoint names in network order (pytorch-i3d's VALID_ENDPOINTS).
ENDPOINTS: tuple[str, ...] = (
    "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
    "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
    "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c", "Logits",
)

#: Inception module channels (width 1): [b0, b1a, b1b, b2a, b2b, b3b] (Table 6 rows 6-7, 9-13, 23-24).
INCEPTION_CHANNELS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def scaled(channels: int, width: float) -> int:
    """A channel count multiplied by ``width`` (rounded, at least 1)."""
    return max(1, int(round(channels * width)))


def same_padding(size: Sequence[int], kernel: Triple, stride: Triple) -> tuple[int, ...]:
    """TF-"SAME" padding for ``F.pad`` (last dim first: w_front, w_back, h_front, h_back, t_front, t_back).

    The rule of pytorch-i3d: ``pad = max(k - s, 0)`` if ``n % s == 0`` else ``max(k - n % s, 0)``; the smaller half
    goes in front.
    """
    pads: list[int] = []
    for n, k, s in zip(reversed(tuple(size)), reversed(kernel), reversed(stride)):
        pad = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
        pads += [pad // 2, pad - pad // 2]
    return tuple(pads)


def symmetric_padding(pad: Sequence[int]) -> tuple[int, int, int] | None:
    """The (t, h, w) padding per side when a :func:`same_padding` result is symmetric (every stride-1 odd kernel,
    and some strided ones), so that a convolution or pooling kernel can pad by itself; ``None`` otherwise."""
    fronts, backs = tuple(pad[0::2]), tuple(pad[1::2])    # (w, h, t)
    return fronts[::-1] if fronts == backs else None      # type: ignore[return-value]


def _triple(v: int | Sequence[int]) -> Triple:
    return (v, v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


class MaxPool3dSame(nn.MaxPool3d):
    """``nn.MaxPool3d`` with TF-"SAME" zero padding computed from the input size (pytorch-i3d's rule).

    ``nonnegative_input=True`` promises ``x >= 0`` (every pool of I3D follows a ReLU, a concatenation of ReLU
    outputs, or another such pool). Then a symmetric SAME padding is left to the pooling kernel itself, which pads
    with -inf: every window holds at least one real element, all >= 0, so its max equals the max with zero padding,
    bit for bit, without materialising a padded copy of ``x`` (tests/test_i3d.py). Asymmetric padding, or an input
    that may be negative, takes the ``F.pad`` path.
    """

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int],
                 nonnegative_input: bool = False) -> None:
        super().__init__(_triple(kernel_size), _triple(stride), padding=0)
        self.nonnegative_input = nonnegative_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, T, H, W)
        pad = same_padding(x.shape[2:], self.kernel_size, self.stride)
        sym = symmetric_padding(pad) if self.nonnegative_input else None
        if sym is not None and all(p <= k // 2 for p, k in zip(sym, self.kernel_size)):
            return F.max_pool3d(x, self.kernel_size, self.stride, sym)
        return super().forward(F.pad(x, pad))


class Unit3D(nn.Module):
    """Conv3d (+ BatchNorm3d eps 1e-3, momentum 0.01) (+ ReLU) with TF-"SAME" padding: pytorch-i3d's ``Unit3D``.

    Attribute names (``conv3d``, ``bn``) match pytorch-i3d so its checkpoints load. Without batch norm there is no
    ``bn`` attribute (and no state-dict entry), as in pytorch-i3d.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_shape: int | Sequence[int] = 1,
                 stride: int | Sequence[int] = 1, activation: bool = True, use_batch_norm: bool = True,
                 use_bias: bool = False) -> None:
        super().__init__()
        self.kernel_shape, self.stride = _triple(kernel_shape), _triple(stride)
        self.activation = activation
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel_shape, self.stride, padding=0, bias=use_bias)
        if use_batch_norm:
            self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, T, H, W) -> (N, C_out, T', H', W')
        pad = same_padding(x.shape[2:], self.kernel_shape, self.stride)
        sym = symmetric_padding(pad)
        if sym is not None:
            # Symmetric SAME padding: let the convolution zero-pad by itself. Same arithmetic as F.pad + conv,
            # without materialising a padded copy.
            x = F.conv3d(x, self.conv3d.weight, self.conv3d.bias, self.stride, sym)
        else:
            x = self.conv3d(F.pad(x, pad))
        if hasattr(self, "bn"):
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels: 1x1x1 | 1x1x1 -> 3x3x3 | 1x1x1 -> 3x3x3 | pool -> 1x1x1.

    ``out_channels`` = [b0, b1a, b1b, b2a, b2b, b3b]; output channels = b0 + b1b + b2b + b3b.
    """

    def __init__(self, in_channels: int, out_channels: Sequence[int]) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3b = out_channels
        self.b0 = Unit3D(in_channels, c0, 1)
        self.b1a = Unit3D(in_channels, c1a, 1)
        self.b1b = Unit3D(c1a, c1b, 3)
        self.b2a = Unit3D(in_channels, c2a, 1)
        self.b2b = Unit3D(c2a, c2b, 3)
        self.b3a = MaxPool3dSame(3, 1, nonnegative_input=True)   # x: concatenated ReLU outputs
        self.b3b = Unit3D(in_channels, c3b, 1)
        self.out_channels = c0 + c1b + c2b + c3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, T, H, W) -> (N, C_out, T, H, W)
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


def build_endpoint(name: str, in_channels: int, width: float = 1.0, final_stride: int = 2) -> tuple[nn.Module, int]:
    """The module of one I3D endpoint (not ``Logits``) and its output channel count.

    ``in_channels`` is the input's channel count (already scaled by ``width``); the module's own channels are scaled.
    Used by :class:`InceptionI3d` and by the branches of the two-branch student, which carry their own copies of
    ``MaxPool3d_5a_2x2``, ``Mixed_5b`` and ``Mixed_5c``.
    """
    if name == "Conv3d_1a_7x7":
        c = scaled(64, width)
        return Unit3D(in_channels, c, 7, 2), c
    if name == "Conv3d_2b_1x1":
        c = scaled(64, width)
        return Unit3D(in_channels, c, 1), c
    if name == "Conv3d_2c_3x3":
        c = scaled(192, width)
        return Unit3D(in_channels, c, 3), c
    if name in ("MaxPool3d_2a_3x3", "MaxPool3d_3a_3x3"):
        return MaxPool3dSame((1, 3, 3), (1, 2, 2), nonnegative_input=True), in_channels   # after a ReLU
    if name == "MaxPool3d_4a_3x3":
        return MaxPool3dSame(3, 2, nonnegative_input=True), in_channels
    if name == "MaxPool3d_5a_2x2":
        if final_stride not in (1, 2):
            raise ValueError(f"final_stride must be 1 or 2, got {final_stride}")
        return MaxPool3dSame(2, (2, final_stride, final_stride), nonnegative_input=True), in_channels
    if name in INCEPTION_CHANNELS:
        m = InceptionModule(in_channels, [scaled(c, width) for c in INCEPTION_CHANNELS[name]])
        return m, m.out_channels
    raise ValueError(f"unknown I3D endpoint {name!r}; valid endpoints: {', '.join(ENDPOINTS)}")


class InceptionI3d(nn.Module):
    """Inception-I3D; ``InceptionI3d(400, in_channels=3)`` loads pytorch-i3d's ``rgb_imagenet.pt`` strictly.

    Args:
        num_classes:     size of the ``logits`` layer.
        spatial_squeeze: squeeze H and W of :meth:`forward_reference`'s output (pytorch-i3d's flag).
        final_endpoint:  build the network up to this endpoint only (``"Logits"`` = everything). With another
                         endpoint, :meth:`forward` returns that endpoint's features (N, C, T', H', W').
        name:            kept for pytorch-i3d signature compatibility.
        in_channels:     3 for RGB, 2 for optical flow (x, y).
        dropout:         drop probability before ``logits`` (pytorch-i3d's ``dropout_keep_prob`` was in fact used
                         as a drop probability too).
        width:           channel multiplier (1 = I3D); see the module docstring.
        final_stride:    spatial stride of ``MaxPool3d_5a_2x2`` (2 = I3D; 1 = the CPU "stem change").
    """

    def __init__(self, num_classes: int = 400, spatial_squeeze: bool = True, final_endpoint: str = "Logits",
                 name: str = "inception_i3d", in_channels: int = 3, dropout: float = 0.5, width: float = 1.0,
                 final_stride: int = 2) -> None:
        super().__init__()
        if final_endpoint not in ENDPOINTS:
            raise ValueError(f"unknown final_endpoint {final_endpoint!r}; valid endpoints: {', '.join(ENDPOINTS)}")
        if not 0 < width:
            raise ValueError(f"width must be > 0, got {width}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.num_classes, self.spatial_squeeze, self.name = num_classes, spatial_squeeze, name
        self.final_endpoint, self.in_channels = final_endpoint, in_channels
        self.width, self.final_stride = width, final_stride
        self.endpoints: list[str] = []
        self.channels: dict[str, int] = {}   # endpoint -> output channels
        c = in_channels
        for ep in ENDPOINTS[: ENDPOINTS.index(final_endpoint) + 1]:
            if ep == "Logits":
                break
            module, c = build_endpoint(ep, c, width, final_stride)
            self.add_module(ep, module)
            self.endpoints.append(ep)
            self.channels[ep] = c
        self.feature_channels = c
        if final_endpoint == "Logits":
            self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=1)   # pytorch-i3d's head (used by forward_reference)
            self.dropout = nn.Dropout(dropout)
            self.logits = Unit3D(c, num_classes, 1, activation=False, use_batch_norm=False, use_bias=True)

    # ------------------------------------------------------------------------------------------------ features
    def extract_features(self, x: torch.Tensor,
                         endpoints: Sequence[str] = ("Mixed_4f", "Mixed_5c")) -> dict[str, torch.Tensor]:
        """Run the network up to the last requested endpoint; return ``{endpoint: (N, C, T', H', W')}``."""
        wanted = set(endpoints)
        missing = wanted - set(self.endpoints)
        if missing:
            raise ValueError(f"endpoints {sorted(missing)} are not built (final_endpoint={self.final_endpoint!r}); "
                             f"available: {', '.join(self.endpoints)}")
        out: dict[str, torch.Tensor] = {}
        for ep in self.endpoints:
            x = getattr(self, ep)(x)
            if ep in wanted:
                out[ep] = x
                if len(out) == len(wanted):
                    break
        return out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The final built endpoint's output (N, C, T', H', W') (Mixed_5c for the full network)."""
        for ep in self.endpoints:
            x = getattr(self, ep)(x)
        return x

    # ------------------------------------------------------------------------------------------------ heads
    def _check_head(self) -> None:
        if not hasattr(self, "logits"):
            raise RuntimeError(f"this InceptionI3d stops at {self.final_endpoint!r} and has no logits layer")

    def head(self, feats: torch.Tensor) -> torch.Tensor:
        """Robust I3D head: (N, C, T, H, W) Mixed_5c -> (N, K) logits.

        Average pool with window (min(2, T), min(7, H), min(7, W)) and stride 1, dropout, ``logits``, then the mean
        over every remaining (t, h, w) position. Equal to pytorch-i3d's time-averaged output when H = W = 7.
        """
        self._check_head()
        t, h, w = feats.shape[2:]
        x = F.avg_pool3d(feats, (min(2, t), min(7, h), min(7, w)), stride=1)
        x = self.logits(self.dropout(x))            # (N, K, T'', H'', W'')
        return x.mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, H, W) -> (N, K) logits (robust head); or the final endpoint's features without a head."""
        feats = self.features(x)
        return self.head(feats) if hasattr(self, "logits") else feats

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """pytorch-i3d's ``forward`` exactly: AvgPool3d (2, 7, 7) stride 1, dropout, logits, squeeze -> (N, K, T').

        Needs Mixed_5c of at least 2x7x7 (e.g. a 224x224 input). Average over time for clip-level logits.
        """
        self._check_head()
        x = self.logits(self.dropout(self.avg_pool(self.features(x))))
        return x.squeeze(3).squeeze(3) if self.spatial_squeeze else x

    def replace_logits(self, num_classes: int) -> None:
        """A fresh ``logits`` layer with ``num_classes`` outputs (fine-tuning on a new label set)."""
        self._check_head()
        self.num_classes = num_classes
        self.logits = Unit3D(self.feature_channels, num_classes, 1, activation=False, use_batch_norm=False,
                             use_bias=True)
