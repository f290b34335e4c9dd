"""The focused box (Eq. 6), the input geometry θ of Eq. 1 and its inverse, and the focused view (Eq. 2).

From "Focused Attention for Action Recognition" (§4.2): the saliency map s (H_in, W_in) of the network input is
searched for the fixed-size ``side x side`` box with the largest summed saliency; the box is the same for every
frame. It is mapped back through the crop / resize / flip that produced the input (θ of Eq. 1) to the stored
frames, cut there at their full resolution and resized to the input size: the focused view ``V_in^s``.

Coordinates. A box is ``(y, x, h, w)`` in *edge* coordinates: it covers ``[y, y + h) x [x, x + w)`` and pixel
``(i, j)`` covers ``[i, i + 1) x [j, j + 1)``. Crop boxes are ``(y0, x0, h, w)`` in pixels of the stored frame, as
in :mod:`attdistill.data.transforms`. With this convention a bilinear resize by ``s`` (``cv2.INTER_LINEAR``,
half-pixel centres) maps edge coordinate ``u`` to ``u * s`` exactly, so the geometry below is exact for the
project's transforms: crop, then resize, then horizontal flip (the order of ``ClipDataset``'s training items).

Box search ties: among the positions of maximal sum (compared exactly, in float64), the box whose centre is
nearest the map centre wins (an all-zero map gives the centre crop), then the first in row-major order (smallest
top, then smallest left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data import transforms as TF

Box = tuple[float, float, float, float]   # (y, x, h, w), edge coordinates


# --------------------------------------------------------------------------------------------- box search (Eq. 6)
def box_sums(saliency: torch.Tensor, side: int) -> torch.Tensor:
    """Summed saliency of every ``side x side`` box inside the map, by an integral image (float64).

    saliency: (N, H, W) -> (N, H - side + 1, W - side + 1); entry ``[n, i, j]`` is ``s[n, i:i+side, j:j+side].sum()``.
    """
    if saliency.dim() != 3:
        raise ValueError(f"saliency maps must be (N, H, W), got shape {tuple(saliency.shape)}")
    n, h, w = saliency.shape
    _check_side(h, w, side)
    s = saliency.detach().to(torch.float64)
    integral = torch.zeros(n, h + 1, w + 1, dtype=torch.float64, device=s.device)
    integral[:, 1:, 1:] = s.cumsum(1).cumsum(2)
    b = side
    return integral[:, b:, b:] - integral[:, :-b, b:] - integral[:, b:, :-b] + integral[:, :-b, :-b]


def best_box(saliency: torch.Tensor, side: int) -> torch.Tensor:
    """Eq. 6: (top, left) of the ``side x side`` box of largest summed saliency, per map. (N, H, W) -> (N, 2) long.

    The box lies inside the map. Ties: nearest the map centre, then row-major first (module docstring).
    """
    if not torch.isfinite(saliency).all():
        raise ValueError("saliency map has NaN or infinite values")
    sums = box_sums(saliency, side)                                       # (N, A, B)
    n, a, b = sums.shape
    h, w = saliency.shape[1:]
    top = torch.arange(a, device=sums.device)[:, None]
    left = torch.arange(b, device=sums.device)[None, :]
    dist2 = (2 * top + side - h) ** 2 + (2 * left + side - w) ** 2         # 4 x squared centre distance, exact
    is_max = sums == sums.flatten(1).amax(1)[:, None, None]
    key = torch.where(is_max, dist2.expand(n, a, b), torch.iinfo(torch.int64).max)
    flat = key.flatten(1).argmin(1)                                       # first minimum = row-major first
    return torch.stack([flat // b, flat % b], 1)


def center_box(height: int, width: int, side: int) -> tuple[int, int]:
    """(top, left) of the centred ``side x side`` box (the "Center crop" control); rounds towards the top-left."""
    _check_side(height, width, side)
    return (height - side) // 2, (width - side) // 2


def random_box(rng: np.random.Generator, height: int, width: int, side: int) -> tuple[int, int]:
    """(top, left) of a ``side x side`` box at a uniform random position inside the map (the "Random crop" control)."""
    _check_side(height, width, side)
    return int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))


def _check_side(height: int, width: int, side: int) -> None:
    if not 1 <= side <= min(height, width):
        raise ValueError(f"box side {side} does not fit a {height}x{width} map")


# --------------------------------------------------------------------------------------------- geometry (θ of Eq. 1)
@dataclass(frozen=True)
class ClipGeometry:
    """How a network input was made from a stored frame: crop, resize, then (optionally) a horizontal flip.

    source: (H, W) of the stored frame the crop box refers to.
    crop:   (y0, x0, h, w) crop box in pixels of that frame.
    size:   (h_in, w_in) of the network input (the crop is resized to it).
    flip:   whether the resized crop was flipped left-right.
    """

    source: tuple[int, int]
    crop: tuple[float, float, float, float]
    size: tuple[int, int]
    flip: bool

    def __post_init__(self) -> None:
        y0, x0, h, w = self.crop
        if h <= 0 or w <= 0 or y0 < 0 or x0 < 0 or y0 + h > self.source[0] or x0 + w > self.source[1]:
            raise ValueError(f"crop box {self.crop} outside a {self.source[0]}x{self.source[1]} frame")
        if min(self.size) < 1:
            raise ValueError(f"input size {self.size} must be positive")

    @property
    def scale(self) -> tuple[float, float]:
        """(s_y, s_x): input pixels per source pixel."""
        return self.size[0] / self.crop[2], self.size[1] / self.crop[3]

    def forward(self, box: Box) -> Box:
        """A box in source-frame coordinates -> the same region in network-input coordinates."""
        y, x, h, w = box
        y0, x0, _, _ = self.crop
        sy, sx = self.scale
        y, x, h, w = (y - y0) * sy, (x - x0) * sx, h * sy, w * sx
        if self.flip:
            x = self.size[1] - x - w
        return y, x, h, w

    def inverse(self, box: Box) -> Box:
        """A box in network-input coordinates -> the same region in source-frame coordinates."""
        y, x, h, w = box
        if self.flip:
            x = self.size[1] - x - w
        y0, x0, _, _ = self.crop
        sy, sx = self.scale
        return y0 + y / sy, x0 + x / sx, h / sy, w / sx


def pixel_box(box: Box, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer crop box ``(y0, x0, h, w)`` inside a ``height x width`` frame nearest to ``box`` (edge coordinates).

    Side and corner are rounded half up separately (so every box of one size gets the same pixel size), the side is
    clamped to [1, frame side] and the corner shifted so that the box lies inside the frame.
    """
    y, x, h, w = box
    ph = min(max(math.floor(h + 0.5), 1), height)
    pw = min(max(math.floor(w + 0.5), 1), width)
    py = min(max(math.floor(y + 0.5), 0), height - ph)
    px = min(max(math.floor(x + 0.5), 0), width - pw)
    return py, px, ph, pw


def source_box(box: Box, geometry: ClipGeometry, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel crop box in frames of ``frame_size`` (H', W') of an input-coordinate ``box``.

    The frames may be stored at another resolution than ``geometry.source`` (e.g. the raw frames behind a smaller
    training copy); the back-mapped box is scaled by ``frame_size / geometry.source``.
    """
    y, x, h, w = geometry.inverse(box)
    ky, kx = frame_size[0] / geometry.source[0], frame_size[1] / geometry.source[1]
    return pixel_box((y * ky, x * kx, h * ky, w * kx), frame_size[0], frame_size[1])


# --------------------------------------------------------------------------------------------- focused views (Eq. 2)
def focused_view(frames: np.ndarray, box: Box, geometry: ClipGeometry,
                 color: tuple[float, float, float] | None = None) -> np.ndarray:
    """V_in^s: ``box`` (input coordinates) re-cut from the stored frames and resized to the input size.

    frames: (T, H', W', C) uint8, the clip's frames at full stored resolution -> (T, h_in, w_in, C).
    The input's augmentations are re-applied in the dataset's order: resize, colour factors ``color``
    (brightness, contrast, saturation; RGB only, None = none), then the flip of ``geometry``, so the focused view
    has the orientation of the input the box was found on.
    """
    crop_box = source_box(box, geometry, frames.shape[1:3])
    view = TF.resize(TF.crop(frames, crop_box), geometry.size)
    if color is not None:
        view = TF.color_jitter(view, *color)
    return TF.hflip(view) if geometry.flip else view


def geometry_from_row(row) -> ClipGeometry:
    """The :class:`ClipGeometry` of one ``"geometry"`` row of a dataset item (``attdistill.data.dataset.GEOMETRY``:
    source h, w; crop y, x, h, w; size h, w; flip)."""
    sh, sw, cy, cx, ch, cw, oh, ow, flip = (float(v) for v in row)
    return ClipGeometry((int(sh), int(sw)), (cy, cx, ch, cw), (int(oh), int(ow)), flip > 0.5)


def box_side(fraction: float, height: int, width: int) -> int:
    """Side in input pixels of the focused box: ``fraction`` x the input's short side, rounded (>= 1)."""
    return max(1, int(math.floor(fraction * min(height, width) + 0.5)))


def focused_batch(raw: torch.Tensor, geometry: torch.Tensor, corners: torch.Tensor, side: int,
                  colors: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2 for a batch: each clip's ``side x side`` box at ``corners`` (N, 2) re-cut from its original frames.

    raw: (N, T, H', W', C) uint8; geometry: (N, 9) rows (:func:`geometry_from_row`); colors: (N, 3) colour factors
    to re-apply (None: none) -> (N, C, T, h_in, w_in) float32 in [-1, 1], the dataset's scaling.
    """
    out = []
    for n, (top, left) in enumerate(corners.tolist()):
        color = tuple(colors[n].tolist()) if colors is not None else None
        view = focused_view(raw[n].numpy(), (top, left, side, side), geometry_from_row(geometry[n]), color)
        out.append(torch.from_numpy(TF.to_float(view)))
    return torch.stack(out)


def upscaled_view(x: torch.Tensor, corners: torch.Tensor, side: int) -> torch.Tensor:
    """The "(upscaled)" control: each clip's ``side x side`` box cut from the network input itself, resized back.

    x: (N, C, T, H, W); corners: (N, 2) (top, left) -> (N, C, T, H, W). Bilinear with half-pixel centres and no
    antialiasing (``align_corners=False``), the same sampling as ``cv2.INTER_LINEAR`` in :func:`TF.resize`. The
    input already carries its crop, flip and colour augmentations.
    """
    n, c, t, h, w = x.shape
    if corners.shape != (n, 2):
        raise ValueError(f"corners must be (N, 2) = ({n}, 2), got {tuple(corners.shape)}")
    _check_side(h, w, side)
    out = []
    for clip, (top, left) in zip(x, corners.tolist()):
        if not (0 <= top <= h - side and 0 <= left <= w - side):
            raise ValueError(f"box at ({top}, {left}) of side {side} outside a {h}x{w} input")
        patch = clip[:, :, top:top + side, left:left + side].reshape(1, c * t, side, side)
        out.append(F.interpolate(patch, size=(h, w), mode="bilinear", align_corners=False).reshape(c, t, h, w))
    return torch.stack(out)
