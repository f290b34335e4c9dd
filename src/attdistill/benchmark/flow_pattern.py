"""Synthetic frames with known motion: the test pattern of the flow tests and of the benchmarks.

:func:`smooth_texture` is an analytic texture (a sum of plane waves), so it can be sampled exactly at sub-pixel
translations and rotations; :func:`synthetic_pair` builds a frame pair and its exact flow from it,
:func:`endpoint_error` scores an estimate, and :func:`synthetic_frames` is the moving-disc clip the speed
benchmark times when no dataset video is at hand.
"""

from __future__ import annotations

import numpy as np


def smooth_texture(seed: int = 0, waves: int = 12, periods: tuple[float, float] = (25.0, 150.0)):
    """A random texture as a function ``I(x, y)`` -> grey level (sum of plane waves, std 45 around 127.5).

    ``periods`` bounds the wavelengths in px (the default is smooth; (6, 25) is a fine texture). Being analytic,
    it can be sampled exactly at sub-pixel translations and rotations.
    """
    rng = np.random.default_rng(seed)
    freq = 2 * np.pi / rng.uniform(periods[0], periods[1], waves)     # radians per pixel
    angle = rng.uniform(0, np.pi, waves)
    phase = rng.uniform(0, 2 * np.pi, waves)
    amp = rng.uniform(0.5, 1.0, waves)
    kx, ky = freq * np.cos(angle), freq * np.sin(angle)

    def texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        v = sum(a * np.sin(fx * x + fy * y + p) for a, fx, fy, p in zip(amp, kx, ky, phase))
        return 127.5 + 45.0 * v / np.sqrt((amp ** 2).sum() / 2)

    return texture


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def _rotation(tex, x: np.ndarray, y: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """(next frame, flow) of ``tex`` rotated by ``degrees`` about the frame centre (clockwise on screen)."""
    th = np.deg2rad(float(degrees))
    cx, cy = (x.shape[1] - 1) / 2, (x.shape[0] - 1) / 2
    c, s = np.cos(th), np.sin(th)
    nxt = tex(c * (x - cx) + s * (y - cy) + cx, -s * (x - cx) + c * (y - cy) + cy)   # prev(R^-1 (q - c) + c)
    flow = np.stack([c * (x - cx) - s * (y - cy) + cx - x, s * (x - cx) + c * (y - cy) + cy - y], -1)
    return nxt, flow


def _moving_object(tex, x: np.ndarray, y: np.ndarray, amount, seed: int,
                   periods: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prev, next, flow) of a textured disc moving by ``amount`` over the static texture ``tex``."""
    dx, dy = amount
    obj = smooth_texture(seed + 1, periods=periods)
    height, width = x.shape
    r, cx, cy = height / 6, width / 2 - dx / 2, height / 2 - dy / 2
    inside0 = np.hypot(x - cx, y - cy) < r
    inside1 = np.hypot(x - cx - dx, y - cy - dy) < r
    background = tex(x, y)
    prev = np.where(inside0, 255 - obj(x, y), background)
    nxt = np.where(inside1, 255 - obj(x - dx, y - dy), prev * ~inside0 + background * inside0)
    flow = np.full((height, width, 2), np.nan)
    flow[np.hypot(x - cx, y - cy) < r - 2] = (dx, dy)
    return prev, nxt, flow


def synthetic_pair(height: int, width: int, motion: str, amount, seed: int = 0,
                   periods: tuple[float, float] = (25.0, 150.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(prev, next, true_flow)``: uint8 frames and the exact ``(H, W, 2)`` flow (NaN where not scored).

    * ``"translate"``, ``amount=(dx, dy)``: next(x, y) = prev(x - dx, y - dy); flow = (dx, dy) everywhere.
    * ``"rotate"``, ``amount=degrees``: next is prev rotated by R(degrees) about the centre c (clockwise on
      screen for positive degrees, y pointing down); flow(p) = R (p - c) + c - p.
    * ``"object"``, ``amount=(dx, dy)``: a textured disc (radius height / 6) moves by (dx, dy) over a static
      textured background; flow is scored inside the disc only (2 px from its edge).
    """
    tex = smooth_texture(seed, periods=periods)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    if motion == "translate":
        prev, nxt = tex(x, y), tex(x - amount[0], y - amount[1])
        flow = np.zeros((height, width, 2))
        flow[:] = amount
    elif motion == "rotate":
        prev = tex(x, y)
        nxt, flow = _rotation(tex, x, y, amount)
    elif motion == "object":
        prev, nxt, flow = _moving_object(tex, x, y, amount, seed, periods)
    else:
        raise ValueError(f"unknown motion {motion!r}; valid values: translate, rotate, object")
    return _to_uint8(prev), _to_uint8(nxt), flow.astype(np.float32)


def endpoint_error(flow: np.ndarray, truth: np.ndarray, margin: int = 8) -> tuple[float, float]:
    """(median, mean) endpoint error in px over the interior (``margin`` px from each border; NaN truth ignored)."""
    err = np.linalg.norm(flow - truth, axis=-1)[margin:-margin, margin:-margin]
    return float(np.nanmedian(err)), float(np.nanmean(err))


def synthetic_frames(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(frames, H, W, 3) uint8: a textured disc moving 2 px/frame right over a static smooth texture."""
    bg_tex, obj_tex = smooth_texture(seed), smooth_texture(seed + 1, periods=(8.0, 40.0))
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    bg = bg_tex(x, y)
    r = max(height / 6, 3.0)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        cx, cy = width / 2 + 2.0 * (t - frames / 2), height / 2
        inside = np.hypot(x - cx, y - cy) < r
        g = _to_uint8(np.where(inside, 255 - obj_tex(x - cx, y - cy), bg))
        out[t] = np.stack([g, (g * 0.8).astype(np.uint8), 255 - g], -1)
    return out
