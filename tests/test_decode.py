"""decode.read_video: decord round trip, resampling rule, OpenCV fallback, bad files -> VideoError."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from attdistill.data import decode
from attdistill.data.decode import VideoError, read_video, source_indices


def write_video(path: Path, frames: np.ndarray, fps: float = 24.0, codec: str = "MJPG") -> Path:
    """Write ``(N, H, W, 3)`` uint8 RGB frames with cv2.VideoWriter; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n, h, w, _ = frames.shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    assert writer.isOpened(), f"cv2.VideoWriter cannot write {codec}"
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    return path


def numbered_frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Frame i is a flat grey of level 8 * i + 4, so a decoded frame tells which source frame it shows."""
    return np.broadcast_to((8 * np.arange(n) + 4).astype(np.uint8)[:, None, None, None], (n, h, w, 3)).copy()


def frame_numbers(frames: np.ndarray) -> list[int]:
    return [int(round((f.mean() - 4) / 8)) for f in frames]


def smooth_frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(n):
        r = 128 + 60 * np.sin(xx / 6.0 + 0.3 * t) * np.cos(yy / 9.0)
        g = 128 + 50 * np.cos((xx + yy) / 8.0 - 0.2 * t)
        b = np.full_like(r, 60 + 4 * t)
        out.append(np.stack([r, g, b], -1))
    return np.clip(np.stack(out) + rng.normal(0, 2, (n, h, w, 3)), 0, 255).astype(np.uint8)


def test_decord_round_trip(tmp_path):
    src = smooth_frames(20)
    path = write_video(tmp_path / "v.avi", src, fps=24)
    frames, info = read_video(path)
    assert frames.shape == src.shape and frames.dtype == np.uint8
    assert info.backend == "decord"
    assert (info.frames, info.width, info.height) == (20, 64, 48) and info.fps == pytest.approx(24)
    assert np.abs(frames.astype(int) - src).mean() < 4          # MJPG is lossy, but close
    # resize to (width, height) with INTER_AREA
    small, info2 = read_video(path, fps=24, size=(32, 24))
    assert small.shape == (20, 24, 32, 3) and info2 == info
    ref = np.stack([cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in frames])
    assert np.array_equal(small, ref)


def test_source_indices_rule():
    assert source_indices(30, 30.0, 24.0).tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18,
                                                       20, 21, 22, 23, 25, 26, 27, 28]
    assert source_indices(7, 25.0, 25.0).tolist() == list(range(7))
    assert source_indices(7, 25.0, None).tolist() == list(range(7))
    assert source_indices(3, 12.0, 24.0).tolist() == [0, 0, 1, 1, 2, 2]         # upsampling repeats
    assert len(source_indices(100, 29.97, 24.0)) == int(np.ceil(100 * 24 / 29.97))


def test_resample_30_to_24(tmp_path):
    path = write_video(tmp_path / "v30.avi", numbered_frames(30), fps=30)
    frames, info = read_video(path, fps=24)
    assert info.frames == 30 and info.fps == pytest.approx(30)
    assert len(frames) == 24
    assert frame_numbers(frames) == source_indices(30, 30, 24).tolist()
    # small chunks give the same result (chunked decoding)
    frames_c, _ = read_video(path, fps=24, chunk=5)
    assert np.array_equal(frames, frames_c)


def test_opencv_fallback(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v30.avi", numbered_frames(30), fps=30)
    ref, _ = read_video(path, fps=24, size=(32, 24))

    def broken(*args, **kwargs):
        raise RuntimeError("Error reading file...")

    monkeypatch.setattr(decode.decord, "VideoReader", broken)
    frames, info = read_video(path, fps=24, size=(32, 24))
    assert info.backend == "opencv" and info.frames == 30 and (info.width, info.height) == (64, 48)
    assert frames.shape == (24, 24, 32, 3)
    assert frame_numbers(frames) == source_indices(30, 30, 24).tolist()
    assert np.abs(frames.astype(int) - ref).max() <= 2       # same FFmpeg decoder underneath


@pytest.mark.parametrize("kind, reason", [("empty", "empty file"), ("random", "undecodable"),
                                          ("missing", "not found"), ("truncated", "undecodable")])
def test_bad_files_raise_video_error(tmp_path, kind, reason):
    path = tmp_path / "bad.avi"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        good = write_video(tmp_path / "good.avi", smooth_frames(10), codec="XVID").read_bytes()
        path.write_bytes(good[: len(good) // 3])
    with pytest.raises(VideoError, match=reason):
        read_video(path, fps=24, size=(32, 24))


def test_opencv_reads_what_decord_opens_but_mis_decodes(tmp_path):
    """decord 0.6.0 opens a 48-px-wide XviD stream but fails on its frames ("from_size == to_size"); the
    reader falls back to OpenCV instead of skipping a good video."""
    path = tmp_path / "narrow.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"XVID"), 24, (48, 40))
    for i in range(10):
        w.write(np.full((40, 48, 3), 20 * i, np.uint8))
    w.release()
    frames, info = read_video(path)
    assert frames.shape == (10, 40, 48, 3)
    assert abs(int(frames[5].mean()) - 100) <= 4
    assert info.backend == "opencv"
