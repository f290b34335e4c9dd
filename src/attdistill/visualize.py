"""Attention overlays in the style of the paper's Fig. 2 / Fig. 3.

"For each video clip, we re-interpolate the attention maps and plot them on the first and last frame. Red regions
indicate higher value of attention." (Attention Distillation for Learning Video Representations, Fig. 2.) :func:`overlay` does the re-interpolation and colouring of
one map on one frame; :func:`attention_panel` lays out several maps (appearance, motion, Soft-Atten RGB, ...) on the
first and last frame of a clip. Both ``attdistill.evaluation.figures`` and ``attdistill.predict`` draw with these.

Which map slice covers a frame: an attention map of a clip of ``T`` frames has ``T'`` time slices, and slice ``tau``
covers clip frames ``[tau * T / T', (tau + 1) * T / T')`` (:func:`slice_for_frame`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DEFAULT_ALPHA = 0.5


def normalise_map(attn: np.ndarray) -> np.ndarray:
    """Rescale a map to [0, 1] (min -> 0, max -> 1); a constant map becomes all zeros."""
    a = np.asarray(attn, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)


def heatmap(attn: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(h, w) map -> (H, W, 3) uint8 RGB jet heat map (red = high), bilinearly upsampled to ``size_hw``."""
    h, w = size_hw
    a = normalise_map(attn)
    if a.ndim != 2:
        raise ValueError(f"an attention map must be (h, w), got shape {a.shape}")
    # cv2.resize with INTER_LINEAR places cell centres at half-pixel positions: the map covers the whole frame.
    up = cv2.resize(a, (int(w), int(h)), interpolation=cv2.INTER_LINEAR)
    u8 = np.clip(np.round(up * 255.0), 0, 255).astype(np.uint8)
    return cv2.applyColorMap(u8, cv2.COLORMAP_JET)[..., ::-1]  # BGR -> RGB


def overlay(frame_rgb: np.ndarray, attn: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Blend the heat map of ``attn`` (h, w) over ``frame_rgb`` (H, W, 3) uint8; returns (H, W, 3) uint8.

    The map is min-max normalised, upsampled bilinearly to the frame, coloured with the jet colormap (blue = low,
    red = high) and alpha-blended: ``out = (1 - alpha) * frame + alpha * heat``.
    """
    frame = np.asarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be (H, W, 3), got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = heatmap(attn, frame.shape[:2]).astype(np.float32)
    out = (1.0 - alpha) * frame.astype(np.float32) + alpha * heat
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def slice_for_frame(t: int, clip_frames: int, slices: int) -> int:
    """Index of the map slice (of ``slices`` = T') that covers clip frame ``t`` of a clip of ``clip_frames`` = T."""
    if clip_frames <= 0 or slices <= 0:
        raise ValueError("clip_frames and slices must be positive")
    t = min(max(int(t), 0), clip_frames - 1)
    return min(slices - 1, t * slices // clip_frames)


def attention_panel(frames: np.ndarray, maps: Mapping[str, np.ndarray], clip_frames: int | None = None,
                    title: str = "", shown: Sequence[int] | None = None, alpha: float = DEFAULT_ALPHA,
                    cell_inches: float = 2.2) -> Figure:
    """One row per map, one column per shown frame (default: the first and last frame of the clip), as Fig. 2.

    frames:      (T, H, W, 3) uint8, the clip's RGB frames (clip frame 0 first).
    maps:        name -> (T', h, w) attention map of that clip (each its own T' and resolution); the slice drawn on
                 frame ``t`` is :func:`slice_for_frame` (t, clip_frames, T').
    clip_frames: T, the clip length the maps were computed on (default ``len(frames)``).
    title:       figure caption (e.g. "true: ... / predicted: ...").
    shown:       clip frame positions to draw (default ``(0, T - 1)``).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got shape {frames.shape}")
    if not maps:
        raise ValueError("attention_panel needs at least one map")
    T = int(clip_frames or len(frames))
    shown = list(shown) if shown is not None else sorted({0, T - 1})
    H, W = frames.shape[1:3]
    rows, cols = len(maps), len(shown)
    fig_w = cols * cell_inches * max(W / H, 0.5)
    fig, axes = plt.subplots(rows, cols, figsize=(fig_w, rows * cell_inches + (0.5 if title else 0.1)),
                             squeeze=False)
    for r, (name, m) in enumerate(maps.items()):
        m = np.asarray(m)
        if m.ndim == 2:
            m = m[None]
        if m.ndim != 3:
            raise ValueError(f"map {name!r} must be (T', h, w), got shape {m.shape}")
        for c, t in enumerate(shown):
            ax = axes[r][c]
            frame = frames[min(max(t, 0), len(frames) - 1)]
            tau = slice_for_frame(t, T, m.shape[0])
            ax.imshow(overlay(frame, m[tau], alpha))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("first frame" if t == 0 else ("last frame" if t == T - 1 else f"frame {t}"),
                             fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path) -> None:
    """Save ``fig`` as PNG (creating the folder) and close it."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
