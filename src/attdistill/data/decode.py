"""Video decoding: one video file -> ``(N, H, W, 3)`` uint8 RGB frames at a fixed rate and size.

Backends: decord ``VideoReader`` (default; MMAction2's default too), decoding only the source frames that the
output needs, in chunks of ``chunk`` frames, so a long video never has all of its source frames in memory at once.
OpenCV ``cv2.VideoCapture`` is the fallback, used only for a file that decord cannot open; it reads frames
sequentially and keeps only the ones the output needs.

**Resampling rule.** Output frame ``k`` shows the scene at time ``t_k = k / fps``: it is the source frame being
displayed at that instant, i.e. the nearest *earlier* (or coincident) source frame
``i_k = floor(k * src_fps / fps)``. Output frames are produced while ``i_k < N_src``, so the output covers the
same duration as the source: ``N_out = ceil(N_src * fps / src_fps)``. Downsampling drops frames evenly
(30 -> 24 fps keeps source frames 0, 1, 2, 3, 5, 6, 7, 8, 10, ...), upsampling repeats them, and equal rates are
the identity. (ffmpeg's ``-r`` picks the *nearest* source frame instead; "nearest earlier" never shows a frame
before its time, and is what a player shows at ``t_k``.)

Frames are resized to ``size = (width, height)`` with ``cv2.INTER_AREA`` (the right filter for downscaling;
it interpolates when enlarging). A missing, empty (0-byte), corrupt or undecodable file raises
:class:`VideoError` with a short reason.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import cv2
import decord
import numpy as np

# Tolerance for floor(k * src_fps / fps): keeps k * 30 / 24 = 5.0 from landing on 4.999999.
_EPS = 1e-6


class VideoError(IOError):
    """A video file is missing, empty, corrupt or cannot be decoded. The message is a short reason."""


@dataclass(frozen=True)
class VideoInfo:
    """What the source file holds (before resampling/resizing), and which backend decoded it."""

    fps: float        # source frame rate (frames per second)
    frames: int       # source frame count
    width: int        # source width in pixels
    height: int       # source height in pixels
    backend: str      # "decord" or "opencv"

    def to_dict(self) -> dict:
        return asdict(self)


def source_indices(num_source: int, source_fps: float, fps: float | None) -> np.ndarray:
    """Source frame shown by each output frame: ``i_k = floor(k * source_fps / fps)`` while ``i_k < num_source``.

    ``fps=None`` (or equal rates) is the identity ``0 .. num_source - 1``.
    """
    if fps is None or math.isclose(fps, source_fps, rel_tol=1e-9):
        return np.arange(num_source, dtype=np.int64)
    if not (source_fps > 0 and fps > 0):
        raise ValueError(f"frame rates must be > 0, got source {source_fps} and target {fps}")
    ratio = source_fps / fps
    count = max(0, math.ceil(num_source / ratio - _EPS))
    idx = np.floor(np.arange(count) * ratio + _EPS).astype(np.int64)
    return idx[idx < num_source]


def _resize(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    return cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"{path}: file not found")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")


def _check_fps(path: Path, source_fps: float, fps: float | None) -> None:
    if fps is not None and not (source_fps > 0 and math.isfinite(source_fps)):
        raise VideoError(f"{path}: unknown source frame rate ({source_fps}); cannot resample to {fps} fps")


def _read_decord(path: Path, vr, fps: float | None, size: tuple[int, int] | None,
                 chunk: int) -> tuple[np.ndarray, VideoInfo]:
    n_src = len(vr)
    if n_src == 0:
        raise VideoError(f"{path}: no frames")
    src_fps = float(vr.get_avg_fps())
    _check_fps(path, src_fps, fps)
    idx = source_indices(n_src, src_fps, fps)
    if len(idx) == 0:
        raise VideoError(f"{path}: no frames after resampling to {fps} fps")
    unique = np.unique(idx)                                           # upsampling repeats source frames
    lo, hi = np.searchsorted(idx, unique, "left"), np.searchsorted(idx, unique, "right")
    out: np.ndarray | None = None                                     # (N, H, W, 3) RGB
    h0 = w0 = 0
    for start in range(0, len(unique), chunk):
        part = unique[start: start + chunk]
        try:
            batch = vr.get_batch(part.tolist()).asnumpy()             # (n, H0, W0, 3) RGB
        except Exception as exc:                                      # decord raises plain RuntimeError
            raise VideoError(f"{path}: decoding failed near source frame {int(part[0])} "
                             f"({str(exc).splitlines()[0][:120]})") from exc
        if out is None:
            h0, w0 = batch.shape[1:3]
            w, h = size if size is not None else (w0, h0)
            out = np.empty((len(idx), h, w, 3), np.uint8)
        for j, frame in enumerate(batch):
            out[lo[start + j]: hi[start + j]] = _resize(frame, size)
    info = VideoInfo(src_fps, n_src, int(w0), int(h0), "decord")
    return out, info


def _iter_opencv(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def _read_opencv(path: Path, fps: float | None, size: tuple[int, int] | None,
                 reason: str) -> tuple[np.ndarray, VideoInfo]:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError(f"{path}: undecodable (decord: {reason}; OpenCV: cannot open)")
        src_fps = float(cap.get(cv2.CAP_PROP_FPS))
        _check_fps(path, src_fps, fps)
        ratio = 1.0 if fps is None else src_fps / fps
        out: list[np.ndarray] = []
        k = 0                      # next output frame; it shows source frame floor(k * ratio)
        n_src, w0, h0 = 0, 0, 0
        for i, bgr in enumerate(_iter_opencv(cap)):
            n_src, (h0, w0) = i + 1, bgr.shape[:2]
            frame = None
            while math.floor(k * ratio + _EPS) == i:
                if frame is None:
                    frame = _resize(np.ascontiguousarray(bgr[..., ::-1]), size)   # BGR -> RGB
                out.append(frame)
                k += 1
    finally:
        cap.release()
    if n_src == 0:
        raise VideoError(f"{path}: undecodable (decord: {reason}; OpenCV: no frames)")
    if not out:
        raise VideoError(f"{path}: no frames after resampling to {fps} fps")
    return np.stack(out), VideoInfo(src_fps, n_src, int(w0), int(h0), "opencv")


def read_video(path: str | os.PathLike, fps: float | None = None, size: tuple[int, int] | None = None,
               *, chunk: int = 64) -> tuple[np.ndarray, VideoInfo]:
    """Decode ``path`` to ``(N, H, W, 3)`` uint8 RGB frames resampled to ``fps`` and resized to ``size``.

    Args:
        path: video file (anything FFmpeg reads: avi/XviD, mp4, webm ...).
        fps: output frame rate; ``None`` keeps every source frame. See the module docstring for the rule.
        size: output ``(width, height)``; ``None`` keeps the source size.
        chunk: source frames decoded per decord call (bounds the memory of the source frames).

    Returns:
        ``(frames, info)``: frames ``(N, H, W, 3)`` uint8 RGB and the source :class:`VideoInfo`.

    Raises:
        VideoError: the file is missing, empty, corrupt or cannot be decoded.
    """
    path = Path(path)
    _check_file(path)
    try:
        vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as exc:      # decord cannot open it: try OpenCV (other demuxers, other fallbacks)
        return _read_opencv(path, fps, size, reason=str(exc).splitlines()[0][:120] or type(exc).__name__)
    try:
        return _read_decord(path, vr, fps, size, chunk)
    except VideoError as exc:
        # decord opened the file but could not decode it. Seen here: decord 0.6.0 mis-sizes frames whose width
        # is not a multiple of 32 for some XviD streams ("from_size == to_size (7680 vs. 5760)" at 48 px).
        # OpenCV's FFmpeg reader decodes those; a truly corrupt file fails there too and is skipped.
        try:
            return _read_opencv(path, fps, size, reason=str(exc).split(": ", 1)[-1][:120])
        except VideoError:
            raise exc from None
    finally:
        del vr
