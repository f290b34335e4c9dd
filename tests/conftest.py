"""Shared fixtures: a local HTTP file server on 127.0.0.1 and a writer of stored (uncompressed) RAR4 archives."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class FileServer:
    """Serves ``files`` (name -> bytes) with HTTP Range support; misbehaves on request, and logs every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []   # (name, Range header)
        self.fail: dict[str, int] = {}        # name -> number of 503 answers still to give
        self.truncate: dict[str, int] = {}    # name -> number of answers to cut after half the body
        self.ignore_range = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if server.fail.get(name, 0) > 0:
                    server.fail[name] -= 1
                    self.send_error(503, "try again")
                    return
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start, status = 0, 200
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and not server.ignore_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                body = data[start:]
                self.send_response(status)
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate.get(name, 0) > 0:
                    server.truncate[name] -= 1
                    body = body[: len(body) // 2]
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()


def write_stored_rar(path: Path, members: list[tuple[str, bytes]], symlinks: dict[str, str] | None = None,
                     method: int = 0x30, solid: bool = False) -> Path:
    """Write a RAR 4.x archive whose members are stored (method 0x30) — readable by rarfile without any tool.

    ``members``: (name, data) files; a name ending in "/" is a folder. ``symlinks``: name -> target (Unix host,
    mode 0o120777). ``method`` other than 0x30 marks members as compressed (their bytes are then meaningless);
    ``solid`` sets the archive's solid flag.
    Block layout per the RAR 4 technote: 2-byte header CRC (low 16 bits of CRC32 of the header from its type
    byte on), type, flags, size, then the type-specific fields.
    """
    def block(htype: int, flags: int, fields: bytes) -> bytes:
        size = 7 + len(fields)
        head = struct.pack("<BHH", htype, flags, size) + fields
        return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head

    def file_block(name: str, data: bytes, host_os: int, mode: int, is_dir: bool) -> bytes:
        raw = name.rstrip("/").encode()
        flags = 0x8000 | (0x00E0 if is_dir else 0)          # LONG_BLOCK (+ directory "dictionary" bits)
        fields = struct.pack("<LLBLLBBHL", len(data), len(data), host_os, zlib.crc32(data) & 0xFFFFFFFF,
                             (40 << 25) | (1 << 21) | (1 << 16), 29, method, len(raw), mode) + raw
        return block(0x74, flags, fields) + data

    out = bytearray(b"Rar!\x1a\x07\x00")
    out += block(0x73, 0x0008 if solid else 0, b"\0" * 6)     # main archive header (0x0008 = solid)
    for name, data in members:
        is_dir = name.endswith("/")
        out += file_block(name, b"" if is_dir else data, 3, 0o40755 if is_dir else 0o100644, is_dir)
    for name, target in (symlinks or {}).items():
        out += file_block(name, target.encode(), 3, 0o120777, False)
    out += block(0x7B, 0x4000, b"")                           # end of archive
    path = Path(path)
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def rar_writer():
    return write_stored_rar
