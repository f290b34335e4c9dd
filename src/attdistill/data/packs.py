"""Pack files: one file per video holding all its frames (or flow fields), with random access.

DVC hashes, stats and copies every file of an output; UCF101 alone is 2.5 M frames, so frames and flow are
stored one pack per video instead of one image per frame. Layout (little-endian)::

    b"ADPACK1\\n"                         8-byte magic
    u64 header length, header JSON        {"height", "width", "channels", "encoding", "meta"}
    payloads                              frame 0 planes, frame 1 planes, ... (each plane jpg/png-encoded)
    index JSON                            [[offset, [plane lengths...], crc32 of the frame's bytes], ...]
    u64 index length, u32 crc32(index)    trailer
    b"ADPKEND\\n"                         8-byte end magic

A frame is an ``(H, W, C)`` uint8 array. RGB frames (C = 3) are one colour image per frame; flow (C = 2)
is one grayscale image per component (x then y), the convention of denseflow/MMAction2. A pack whose end
magic, trailer or index checksum is missing or wrong (a truncated or partially-written file) raises
:class:`PackError` on open; a frame whose bytes do not match its CRC raises on read. Writes go to a
temporary file in the same folder and are renamed into place, so a pack either exists whole or not at all.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

MAGIC = b"ADPACK1\n"
END = b"ADPKEND\n"
_TRAILER = struct.Struct("<QI")  # index length, index crc32


class PackError(IOError):
    """A pack file is missing, truncated or corrupt."""


def _encode_plane(img: np.ndarray, encoding: str, quality: int) -> bytes:
    if encoding == "jpg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif encoding == "png":
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        raise ValueError(f"unknown pack encoding {encoding!r}; valid values: jpg, png")
    if not ok:
        raise PackError(f"could not encode a {img.shape} frame as {encoding}")
    return buf.tobytes()


def encode_frame(frame: np.ndarray, encoding: str, quality: int) -> list[bytes]:
    """Encode one ``(H, W, C)`` uint8 frame into planes (RGB -> one colour image; else one per channel)."""
    if frame.dtype != np.uint8 or frame.ndim != 3:
        raise ValueError(f"frames must be (H, W, C) uint8, got {frame.shape} {frame.dtype}")
    if frame.shape[2] == 3:
        return [_encode_plane(np.ascontiguousarray(frame[..., ::-1]), encoding, quality)]  # RGB -> BGR for cv2
    return [_encode_plane(np.ascontiguousarray(frame[..., c]), encoding, quality) for c in range(frame.shape[2])]


def decode_frame(planes: Sequence[bytes], channels: int) -> np.ndarray:
    if channels == 3:
        img = cv2.imdecode(np.frombuffer(planes[0], np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise PackError("undecodable frame")
        return img[..., ::-1]
    out = [cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_GRAYSCALE) for p in planes]
    if any(o is None for o in out):
        raise PackError("undecodable frame")
    return np.stack(out, axis=-1)


def write_pack(path: str | os.PathLike, frames: Iterable[np.ndarray], encoding: str = "jpg",
               quality: int = 95, meta: dict | None = None) -> int:
    """Write ``frames`` to ``path`` atomically (temp file + rename). Returns the number of frames.

    ``frames`` may be a generator: frames are encoded and written one at a time. Shape is taken from the
    first frame and every frame must match it. An empty sequence is an error (there is nothing to store).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    index: list[list] = []
    shape = None
    try:
        with open(tmp, "wb") as fh:
            it = iter(frames)
            first = next(it, None)
            if first is None:
                raise PackError(f"{path}: no frames to write")
            shape = first.shape
            header = json.dumps({"height": shape[0], "width": shape[1], "channels": shape[2],
                                 "encoding": encoding, "meta": meta or {}}).encode()
            fh.write(MAGIC + struct.pack("<Q", len(header)) + header)
            for frame in _chain(first, it):
                if frame.shape != shape:
                    raise PackError(f"{path}: frame shape {frame.shape} differs from {shape}")
                planes = encode_frame(frame, encoding, quality)
                blob = b"".join(planes)
                index.append([fh.tell(), [len(p) for p in planes], zlib.crc32(blob)])
                fh.write(blob)
            idx = json.dumps(index).encode()
            fh.write(idx + _TRAILER.pack(len(idx), zlib.crc32(idx)) + END)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(index)


def _chain(first, rest):
    yield first
    yield from rest


class Pack:
    """Random-access reader. ``len(pack)``, ``pack[i]`` -> (H, W, C) uint8, ``pack.read([i, j, ...])``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._fh = open(self.path, "rb")
        except OSError as exc:
            raise PackError(f"{self.path}: cannot open ({exc.strerror})") from exc
        try:
            self._open()
        except PackError:
            self._fh.close()
            raise

    def _open(self) -> None:
        fh = self._fh
        size = os.fstat(fh.fileno()).st_size
        tail = len(END) + _TRAILER.size
        if size < len(MAGIC) + 8 + tail or fh.read(len(MAGIC)) != MAGIC:
            raise PackError(f"{self.path}: not a pack file or truncated")
        (hlen,) = struct.unpack("<Q", fh.read(8))
        try:
            self.header = json.loads(fh.read(hlen))
        except ValueError as exc:
            raise PackError(f"{self.path}: corrupt header") from exc
        fh.seek(size - tail)
        trailer = fh.read(tail)
        if trailer[-len(END):] != END:
            raise PackError(f"{self.path}: truncated (no end marker)")
        ilen, icrc = _TRAILER.unpack(trailer[: _TRAILER.size])
        if ilen > size - tail:
            raise PackError(f"{self.path}: truncated (index length beyond file)")
        fh.seek(size - tail - ilen)
        raw = fh.read(ilen)
        if zlib.crc32(raw) != icrc:
            raise PackError(f"{self.path}: corrupt index (checksum mismatch)")
        self.index = json.loads(raw)
        data_end = size - tail - ilen
        for off, lens, _ in self.index:
            if off + sum(lens) > data_end:
                raise PackError(f"{self.path}: truncated (frame data beyond file)")
        self.height, self.width, self.channels = self.header["height"], self.header["width"], self.header["channels"]
        self.encoding = self.header["encoding"]
        self.meta = self.header.get("meta", {})

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self), self.height, self.width, self.channels)

    def raw(self, i: int) -> bytes:
        off, lens, crc = self.index[i]
        self._fh.seek(off)
        blob = self._fh.read(sum(lens))
        if len(blob) != sum(lens) or zlib.crc32(blob) != crc:
            raise PackError(f"{self.path}: frame {i} is corrupt (checksum mismatch)")
        return blob

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for a pack of {n}")
        i %= n
        blob = self.raw(i)
        lens = self.index[i][1]
        planes, pos = [], 0
        for ln in lens:
            planes.append(blob[pos: pos + ln])
            pos += ln
        return decode_frame(planes, self.channels)

    def read(self, indices: Iterable[int]) -> np.ndarray:
        """Frames at ``indices`` stacked as (N, H, W, C)."""
        return np.stack([self[i] for i in indices])

    def verify(self) -> None:
        """Check every frame's checksum (raises PackError)."""
        for i in range(len(self)):
            self.raw(i)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "Pack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self._fh.close()
        except Exception:
            pass


def is_valid_pack(path: str | os.PathLike, expected_frames: int | None = None, full: bool = False) -> bool:
    """True if ``path`` is a complete pack (optionally of ``expected_frames``; ``full`` checks every CRC)."""
    try:
        with Pack(path) as p:
            if expected_frames is not None and len(p) != expected_frames:
                return False
            if full:
                p.verify()
        return True
    except (PackError, OSError, ValueError):
        return False


def read_pack(path: str | os.PathLike) -> np.ndarray:
    """All frames of a pack as (N, H, W, C) uint8."""
    with Pack(path) as p:
        return p.read(range(len(p)))


def pack_path(folder: str | os.PathLike, video_id: str) -> Path:
    """``<folder>/<video_id>.pack``: where the per-video stages keep a video's pack (ids may contain ``/``)."""
    return Path(folder) / f"{video_id}.pack"
