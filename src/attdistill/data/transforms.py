"""Small pure clip transforms on numpy arrays (used by :mod:`attdistill.data.dataset`).

A clip is a ``(T, H, W, C)`` array: uint8 RGB frames (C = 3) or uint8 quantised flow fields (C = 2, x then y,
``q = round((clip(f, -b, b) + b) * 255 / (2b))``, so ``q / 127.5 - 1 = f / b``). Every function takes its random
numbers from an explicit ``numpy.random.Generator`` (or takes the drawn values as arguments), so the dataset can
make each item a pure function of ``(seed, epoch, index)``.

Conventions (paper §3.6: "random flipping, cropping and color perturbation"; pytorch-i3d input scaling):

* crop boxes are ``(y0, x0, h, w)`` in pixels of the stored frame;
* resizing is bilinear (``cv2.INTER_LINEAR``), frame by frame;
* flow *values* are not rescaled when a crop is resized (the convention of I3D / MMAction2 / MARS: the flow
  stays in pixels of the stored resolution; with scale jitter in [0.875, 1] the difference is < 15 %);
* a horizontal flip negates flow x: ``q -> 255 - q`` on the x channel, which is exact for this quantisation;
* values are scaled to [-1, 1] as ``x / 127.5 - 1`` (pytorch-i3d), for flow that is ``f / bound``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

# ITU-R 601 luma weights, as torchvision's rgb_to_grayscale (they sum to 1, so grey is a fixed point).
GRAY = np.array([0.299, 0.587, 0.114], np.float64)


# --------------------------------------------------------------------------------------------- geometry
def sample_crop_box(rng: np.random.Generator, height: int, width: int,
                    scale: tuple[float, float]) -> tuple[int, int, int, int]:
    """A random square ``(y0, x0, side, side)``: side = U(scale) x short side, at a uniform random position."""
    lo, hi = scale
    short = min(height, width)
    side = int(round(rng.uniform(lo, hi) * short))
    side = min(max(side, 1), short)
    y0 = int(rng.integers(0, height - side + 1))
    x0 = int(rng.integers(0, width - side + 1))
    return y0, x0, side, side


def three_crop_boxes(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """MMAction2's ThreeCrop with crop side = short side: squares at the start, centre and end of the long side.

    For a 120 x 96 (W x H) frame: three 96 x 96 squares at x0 = 0, 12, 24. A square frame gives three equal boxes.
    """
    side = min(height, width)
    if width >= height:
        return [(0, x0, side, side) for x0 in (0, (width - side) // 2, width - side)]
    return [(y0, 0, side, side) for y0 in (0, (height - side) // 2, height - side)]


def crop(clip: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``clip[:, y0:y0+h, x0:x0+w]`` (a view). clip: (T, H, W, C)."""
    y0, x0, h, w = box
    if y0 < 0 or x0 < 0 or y0 + h > clip.shape[1] or x0 + w > clip.shape[2]:
        raise ValueError(f"crop box {box} outside a {clip.shape[1]}x{clip.shape[2]} frame")
    return clip[:, y0:y0 + h, x0:x0 + w]


def resize(clip: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize (``cv2.INTER_LINEAR``) of every frame of ``clip`` (T, H, W, C) to ``size`` (side, or
    (height, width)). Returns a new contiguous (T, h, w, C) array (``clip`` may be a crop view)."""
    oh, ow = (size, size) if isinstance(size, int) else size
    t, h, w, c = clip.shape
    if (h, w) == (oh, ow):
        return np.ascontiguousarray(clip)
    if c > 4:
        raise ValueError(f"resize expects at most 4 channels per frame, got {c}")
    out = np.empty((t, oh, ow, c), clip.dtype)
    for k in range(t):  # one call per frame: OpenCV's 1-4 channel paths are ~5x faster than a T*C-channel image
        cv2.resize(clip[k], (ow, oh), dst=out[k].reshape(oh, ow, c) if c > 1 else out[k, ..., 0],
                   interpolation=cv2.INTER_LINEAR)
    return out


def hflip(clip: np.ndarray, is_flow: bool = False) -> np.ndarray:
    """Horizontal flip of (T, H, W, C) into a new array; for uint8 flow also negate x (``q -> 255 - q`` on
    channel 0, exactly ``f_x -> -f_x``)."""
    t, h, w, c = clip.shape
    out = np.empty_like(clip)
    for k in range(t):  # cv2.flip per frame is ~20x faster than copying numpy's reversed view
        fr = cv2.flip(clip[k], 1)
        out[k] = fr.reshape(h, w, c)
    if is_flow:
        negate_flow(out, channels=(0,), out=out)
    return out


def negate_flow(flow: np.ndarray, channels: tuple[int, ...] = (0, 1), out: np.ndarray | None = None) -> np.ndarray:
    """Negate quantised uint8 flow on ``channels``: ``q -> 255 - q`` (exactly ``f -> -f``). flow: (..., 2)."""
    if flow.dtype != np.uint8:
        raise ValueError(f"negate_flow expects uint8 quantised flow, got {flow.dtype}")
    if out is None:
        out = flow.copy()
    for ch in channels:
        np.subtract(255, flow[..., ch], out=out[..., ch])
    return out


# --------------------------------------------------------------------------------------------- colour
def sample_color_factors(rng: np.random.Generator, amplitude: float) -> tuple[float, float, float]:
    """(brightness, contrast, saturation) factors, each U(1 - a, 1 + a) (torchvision ColorJitter's ranges)."""
    f = rng.uniform(1.0 - amplitude, 1.0 + amplitude, size=3)
    return float(f[0]), float(f[1]), float(f[2])


def color_matrix(brightness: float, contrast: float, saturation: float, mean_gray: float) -> np.ndarray:
    """The 3 x 4 affine colour map of brightness, then contrast, then saturation (fixed order).

    With ``g(x) = GRAY . x`` the grey value and ``m`` the clip's mean grey value before jitter:

    * brightness: ``x1 = b x``
    * contrast (blend with the mean grey, as torchvision): ``x2 = c x1 + (1 - c) b m``
    * saturation (blend with the pixel's grey): ``x3 = s x2 + (1 - s) g(x2)``

    All three are affine, so their composition is ``x3 = A x + o`` with
    ``A = c b (s I + (1 - s) 1 GRAY^T)`` and ``o = (1 - c) b m 1`` (grey is a fixed point of the saturation blend).
    Unlike torchvision there is no clamping between the steps, only at the end.
    """
    b, c, s = brightness, contrast, saturation
    sat = s * np.eye(3) + (1.0 - s) * np.outer(np.ones(3), GRAY)
    m = np.empty((3, 4), np.float64)
    m[:, :3] = c * b * sat
    m[:, 3] = (1.0 - c) * b * mean_gray
    return m


def mean_gray(clip: np.ndarray) -> float:
    """Mean grey value of an RGB clip (T, H, W, 3) (uint8 or float)."""
    means = cv2.mean(np.ascontiguousarray(clip).reshape(-1, clip.shape[-2], 3))[:3] if clip.dtype == np.uint8 \
        else clip.reshape(-1, 3).mean(0)
    return float(np.dot(GRAY, np.asarray(means, np.float64)))


def color_jitter(clip: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """Apply the same brightness/contrast/saturation factors to every frame of an RGB clip (T, H, W, 3).

    uint8 in -> uint8 out (rounded and saturated to [0, 255] by ``cv2.transform``); float in (values in
    [0, 255]) -> float32 out, clipped to [0, 255]. Factors of 1 leave the clip unchanged.
    """
    if clip.shape[-1] != 3:
        raise ValueError(f"colour jitter needs RGB clips (..., 3), got {clip.shape}")
    m = color_matrix(brightness, contrast, saturation, mean_gray(clip))
    t, h, w, _ = clip.shape
    if clip.dtype == np.uint8:
        flat = np.ascontiguousarray(clip).reshape(t * h, w, 3)
        return cv2.transform(flat, m).reshape(t, h, w, 3)
    x = clip.astype(np.float32, copy=False)
    out = x @ m[:, :3].T.astype(np.float32) + m[:, 3].astype(np.float32)
    return np.clip(out, 0.0, 255.0, out=out)


# --------------------------------------------------------------------------------------------- tensors
_SCALE_LUT = (np.arange(256, dtype=np.float64) / 127.5 - 1.0).astype(np.float32)   # q -> q / 127.5 - 1
_NEG_LUT = np.ascontiguousarray(_SCALE_LUT[::-1])                                    # q -> (255 - q) / 127.5 - 1


def to_float(clip: np.ndarray, out: np.ndarray | None = None, negate: tuple[int, ...] = ()) -> np.ndarray:
    """(T, H, W, C) uint8 -> (C, T, H, W) float32 ``x / 127.5 - 1`` (pytorch-i3d input scaling), into ``out``.

    Channels in ``negate`` are read as ``255 - q`` (flow negation fused into the lookup; bit-identical to
    :func:`negate_flow` followed by this function).

    Done with OpenCV (split into planes, then a float lookup table): single-threaded, and several times faster
    than a strided torch copy (or ``torch.stack``) when the training process's threads compete for the 2 cores.
    """
    if clip.dtype != np.uint8:
        raise ValueError(f"to_float expects uint8 clips, got {clip.dtype}")
    t, h, w, c = clip.shape
    if out is None:
        out = np.empty((c, t, h, w), np.float32)
    if out.shape != (c, t, h, w) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous float32 array of shape {(c, t, h, w)}")
    flat = np.ascontiguousarray(clip).reshape(t * h, w, c)
    planes = cv2.split(flat) if c > 1 else [flat[..., 0]]
    for k, plane in enumerate(planes):
        cv2.LUT(plane, _NEG_LUT if k in negate else _SCALE_LUT, dst=out[k].reshape(t * h, w))
    return out


def to_tensor(clip: np.ndarray) -> torch.Tensor:
    """(T, H, W, C) uint8 -> (C, T, H, W) float32 tensor in [-1, 1] (see :func:`to_float`)."""
    return torch.from_numpy(to_float(clip))


def normalize(x: np.ndarray) -> np.ndarray:
    """numpy version of the scaling: uint8 (or float in [0, 255]) -> float32 ``x / 127.5 - 1``."""
    return np.asarray(x, np.float32) / np.float32(127.5) - np.float32(1.0)
