"""Resumable, checksum-verified HTTP(S) downloads with the standard library (``urllib``).

:func:`download_file` is used for the official dataset archives (``download`` stage) and for pytorch-i3d's
Kinetics weights (``models/pretrained.py``).

Behaviour:

* bytes go to ``<dest>.part``; an existing ``.part`` is continued with an HTTP ``Range: bytes=N-`` request.
  A server that ignores ``Range`` (answers 200 instead of 206) is detected and the file restarts from byte 0;
  a 416 answer for a ``.part`` that is already complete is accepted;
* connection errors, time-outs, truncated bodies, HTTP 5xx and 429 are retried ``retries`` times in a row with
  exponential back-off (``backoff * 2**attempt`` seconds), each retry resuming where the last one stopped
  (an attempt that received bytes resets the count, so a long download over a flaky link still finishes);
  other HTTP errors (404, 403, ...) fail at once;
* at the end the SHA-256 of the whole file is checked. **On a mismatch the file stays at ``<dest>.part``**
  (never at ``dest``) and :class:`ChecksumError` names the expected and actual digests: a rerun does not
  download the bytes again, it re-checks them and fails the same way until the pin or the file is fixed
  (delete the ``.part`` to start over);
* on success ``.part`` is renamed onto ``dest`` atomically (``os.replace``);
* an existing ``dest`` whose SHA-256 matches is not downloaded again. Without a pinned ``sha256`` an
  existing ``dest`` is trusted as is and a fresh download logs its digest so that it can be pinned.

Progress is shown with tqdm on a terminal only (``progress=None``), or forced on/off with ``True``/``False``;
without a bar, a log line every 30 s reports the bytes received.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)
USER_AGENT = "attdistill/0.1 (+https://github.com/; research dataset download)"
_CHUNK = 1 << 20
_RETRY_STATUS = {429, 500, 502, 503, 504}
_LOG_EVERY = 30.0          # seconds between progress log lines when no progress bar is shown


class DownloadError(IOError):
    """The file could not be downloaded (after the allowed retries, or on a permanent HTTP error)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the pinned SHA-256."""


def sha256sum(path: str | os.PathLike, chunk: int = _CHUNK) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class _Retry(Exception):
    """A transient failure: try again from the current .part size (``progressed``: bytes were received)."""

    def __init__(self, message: str, progressed: bool = False):
        super().__init__(message)
        self.progressed = progressed


def download_file(url: str, dest: str | os.PathLike, sha256: str = "", *, retries: int, timeout: float,
                  progress: bool | None = None, backoff: float = 1.0) -> Path:
    """Download ``url`` to ``dest`` (resumable, retried, SHA-256-verified, atomic); return ``dest`` as a Path.

    ``sha256`` is the expected hex digest ("" = do not verify). ``retries`` is the number of retries after the
    first attempt; ``timeout`` the socket time-out in seconds; ``backoff`` the first retry delay in seconds.
    Raises :class:`ChecksumError` on a digest mismatch and :class:`DownloadError` when the download fails.
    """
    dest = Path(dest)
    expected = sha256.strip().lower()
    if expected and not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise ValueError(f"sha256 for {dest.name} must be 64 hex digits, got {sha256!r}")
    if dest.is_file():
        if not expected:
            log.info("%s exists and no sha256 is pinned: using it as is", dest)
            return dest
        actual = sha256sum(dest)
        if actual == expected:
            log.info("%s exists with the pinned sha256: not downloading again", dest)
            return dest
        log.warning("%s exists but its sha256 is %s, not the pinned %s: downloading again", dest, actual, expected)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    show = sys.stderr.isatty() if progress is None else progress

    failures = 0
    while True:
        try:
            _fetch_into(url, part, timeout, show)
            break
        except _Retry as exc:
            # An attempt that received bytes resets the count: a long download over a flaky link still finishes.
            failures = 1 if exc.progressed else failures + 1
            if failures > retries:
                raise DownloadError(f"{url}: giving up after {failures} attempts; last error: {exc.__cause__ or exc}; "
                                    f"the partial file {part} is kept and will be resumed next time") from exc
            delay = backoff * 2 ** (failures - 1)
            log.warning("%s: %s; retry %d/%d in %.1f s", url, exc.__cause__ or exc, failures, retries, delay)
            time.sleep(delay)

    actual = sha256sum(part)
    if expected and actual != expected:
        raise ChecksumError(
            f"{url}: SHA-256 mismatch: expected {expected}, got {actual}. The file is kept at {part} for inspection "
            f"(it was not moved to {dest}); fix the pinned checksum or delete the .part file to download again")
    if not expected:
        log.warning("%s: no sha256 pinned; downloaded file has sha256 %s", url, actual)
    os.replace(part, dest)
    return dest


def _fetch_into(url: str, part: Path, timeout: float, show: bool) -> None:
    """One attempt: continue ``part`` from its current size until the body is complete."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            total = _total_from_content_range(exc.headers.get("Content-Range", ""))
            exc.close()
            if total == offset:
                return                      # the .part is already complete
            part.unlink()                   # the .part is longer than the file (or unknown): start over
            raise _Retry("416 Range Not Satisfiable for the partial file; restarting from byte 0") from exc
        if exc.code in _RETRY_STATUS:
            raise _Retry(f"HTTP {exc.code}") from exc
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, str) and "unknown url type" in exc.reason:
            raise DownloadError(f"{url}: {exc.reason}") from exc
        raise _Retry(str(exc)) from exc

    with resp:
        status = getattr(resp, "status", None) or 200
        mode = "ab"
        if offset and status == 206:
            start = _start_from_content_range(resp.headers.get("Content-Range", ""))
            if start != offset:
                part.unlink()
                raise _Retry(f"server resumed at byte {start}, not {offset}; restarting from byte 0")
        elif offset:
            log.info("%s: server ignored the Range request (HTTP %s); restarting from byte 0", url, status)
            offset, mode = 0, "wb"
        length = resp.headers.get("Content-Length")
        remaining = int(length) if length is not None and length.isdigit() else None
        total = offset + remaining if remaining is not None else None
        received, last_log = 0, time.monotonic()
        with open(part, mode) as fh, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=part.name[:-5], disable=not show,
                                          leave=False) as bar:
            while True:
                try:
                    block = resp.read(_CHUNK)
                except (socket.timeout, ConnectionError, http.client.HTTPException) as exc:
                    raise _Retry(f"connection lost after {offset + received} bytes ({exc!r})",
                                 progressed=received > 0) from exc
                if not block:
                    break
                fh.write(block)          # a disk error (ENOSPC ...) is not retried: it propagates
                received += len(block)
                bar.update(len(block))
                if not show and time.monotonic() - last_log > _LOG_EVERY:   # no terminal (e.g. under DVC)
                    last_log = time.monotonic()
                    log.info("%s: %.0f of %s MB", part.name[:-5], (offset + received) / 1e6,
                             f"{total / 1e6:.0f}" if total else "?")
            fh.flush()
            os.fsync(fh.fileno())
        if remaining is not None and received < remaining:
            raise _Retry(f"body ended after {received} of {remaining} bytes", progressed=received > 0)


def _start_from_content_range(value: str) -> int | None:
    m = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)", value)
    return int(m.group(1)) if m else None


def _total_from_content_range(value: str) -> int | None:
    m = re.match(r"\s*bytes\s+(?:\*|\d+-\d+)/(\d+)", value)
    return int(m.group(1)) if m else None
