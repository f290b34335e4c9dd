"""How flow fields are stored: uint8 quantisation (the DeepMind / denseflow / MMAction2 convention) and helpers.

A field ``(H, W, 2)`` float32 ``(dx, dy)`` in pixels is clipped to +-``flow.bound`` and stored as uint8
``round((f + bound) * 255 / (2 * bound))`` (:func:`quantize`; bound 20 as in those tools); :func:`dequantize`
inverts it within ``bound / 255`` px. Time-reversed flow with ``flow.reverse: negate`` is
:func:`reverse_by_negation`. See docs/flow.md.
"""

from __future__ import annotations

import cv2
import numpy as np


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """uint8 ``round((clip(f, -bound, bound) + bound) * 255 / (2 * bound))``; 0 px -> 127.5 -> 128."""
    q = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2.0 * bound))
    return np.round(q).astype(np.uint8)


def dequantize(q: np.ndarray, bound: float) -> np.ndarray:
    """float32 ``q * 2 * bound / 255 - bound``: the inverse of :func:`quantize` within ``bound / 255`` px."""
    return (q.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)).astype(np.float32)


def reverse_by_negation(forward: np.ndarray) -> np.ndarray:
    """``flow.reverse: negate``: reversed-video fields from forward ones, ``(N-1, H, W, 2)`` uint8 both.

    Field j of the reversed video ~ -(forward field N-2-j); on quantised data ``-f`` is exactly ``255 - q``.
    This is an approximation: backward flow is the negated forward flow only where nothing is occluded or
    revealed, and it lives on the other frame's pixel grid.
    """
    return 255 - forward[::-1]


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` uint8 luma (BT.601, as cv2)."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
