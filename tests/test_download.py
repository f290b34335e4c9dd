"""download_file against a local HTTP server on 127.0.0.1: checksum, resume, retry, restart, atomic placement."""

from __future__ import annotations

import hashlib

import pytest

from attdistill.download import ChecksumError, DownloadError, download_file, sha256sum

DATA = bytes((i * 7 + 3) % 251 for i in range(300_000))
SHA = hashlib.sha256(DATA).hexdigest()


def test_downloads_and_verifies(tmp_path, file_server):
    file_server.files["UCF101.rar"] = DATA
    dest = download_file(file_server.url("UCF101.rar"), tmp_path / "cache" / "UCF101.rar", sha256=SHA,
                         progress=False, retries=3, timeout=30)
    assert dest.read_bytes() == DATA
    assert not (tmp_path / "cache" / "UCF101.rar.part").exists()
    assert file_server.requests == [("UCF101.rar", None)]


def test_existing_file_with_right_checksum_is_not_downloaded_again(tmp_path, file_server):
    file_server.files["a.zip"] = DATA
    dest = tmp_path / "a.zip"
    dest.write_bytes(DATA)
    download_file(file_server.url("a.zip"), dest, sha256=SHA, progress=False, retries=3, timeout=30)
    assert file_server.requests == []
    dest.write_bytes(b"stale")                          # wrong checksum: downloaded again
    download_file(file_server.url("a.zip"), dest, sha256=SHA, progress=False, retries=3, timeout=30)
    assert dest.read_bytes() == DATA and len(file_server.requests) == 1


def test_partial_file_is_continued_with_a_range_request(tmp_path, file_server):
    file_server.files["v.rar"] = DATA
    dest = tmp_path / "v.rar"
    (tmp_path / "v.rar.part").write_bytes(DATA[:123_456])
    download_file(file_server.url("v.rar"), dest, sha256=SHA, progress=False, retries=3, timeout=30)
    assert file_server.requests == [("v.rar", "bytes=123456-")]
    assert dest.read_bytes() == DATA


def test_server_ignoring_range_restarts_from_zero(tmp_path, file_server):
    file_server.files["v.rar"] = DATA
    file_server.ignore_range = True
    (tmp_path / "v.rar.part").write_bytes(b"garbage-prefix")
    download_file(file_server.url("v.rar"), tmp_path / "v.rar", sha256=SHA, progress=False, retries=3, timeout=30)
    assert (tmp_path / "v.rar").read_bytes() == DATA


def test_complete_part_file_gets_416_and_is_accepted(tmp_path, file_server):
    file_server.files["v.rar"] = DATA
    (tmp_path / "v.rar.part").write_bytes(DATA)
    download_file(file_server.url("v.rar"), tmp_path / "v.rar", sha256=SHA, progress=False, retries=3, timeout=30)
    assert file_server.requests == [("v.rar", f"bytes={len(DATA)}-")]
    assert (tmp_path / "v.rar").read_bytes() == DATA


def test_retries_server_errors_then_succeeds(tmp_path, file_server):
    file_server.files["s.zip"] = DATA
    file_server.fail["s.zip"] = 2                       # two 503s, then the file
    download_file(file_server.url("s.zip"), tmp_path / "s.zip", sha256=SHA, retries=2, backoff=0.01,
                  progress=False, timeout=30)
    assert len(file_server.requests) == 3
    assert (tmp_path / "s.zip").read_bytes() == DATA


def test_gives_up_after_the_allowed_retries(tmp_path, file_server):
    file_server.files["s.zip"] = DATA
    file_server.fail["s.zip"] = 5
    with pytest.raises(DownloadError, match="giving up after 3 attempts"):
        download_file(file_server.url("s.zip"), tmp_path / "s.zip", retries=2, backoff=0.01, progress=False, timeout=30)
    assert len(file_server.requests) == 3 and not (tmp_path / "s.zip").exists()


def test_truncated_body_is_resumed_where_it_stopped(tmp_path, file_server):
    file_server.files["t.rar"] = DATA
    file_server.truncate["t.rar"] = 1                   # first answer stops after half the body
    download_file(file_server.url("t.rar"), tmp_path / "t.rar", sha256=SHA, backoff=0.01, progress=False, retries=3, timeout=30)
    assert file_server.requests == [("t.rar", None), ("t.rar", f"bytes={len(DATA) // 2}-")]
    assert (tmp_path / "t.rar").read_bytes() == DATA


def test_checksum_mismatch_keeps_part_and_never_writes_dest(tmp_path, file_server):
    file_server.files["x.rar"] = DATA
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        download_file(file_server.url("x.rar"), tmp_path / "x.rar", sha256=wrong, progress=False, retries=3, timeout=30)
    assert wrong in str(err.value) and SHA in str(err.value)       # names expected and actual
    assert not (tmp_path / "x.rar").exists()
    assert sha256sum(tmp_path / "x.rar.part") == SHA                 # kept for inspection
    # a rerun does not download the bytes again; it re-checks them and fails the same way
    with pytest.raises(ChecksumError):
        download_file(file_server.url("x.rar"), tmp_path / "x.rar", sha256=wrong, progress=False, retries=3, timeout=30)
    assert file_server.requests[-1] == ("x.rar", f"bytes={len(DATA)}-")


def test_http_404_fails_at_once(tmp_path, file_server):
    with pytest.raises(DownloadError, match="404"):
        download_file(file_server.url("missing.rar"), tmp_path / "m.rar", retries=3, backoff=0.01, progress=False, timeout=30)
    assert len(file_server.requests) == 1


def test_bad_checksum_string_is_rejected_before_any_request(tmp_path, file_server):
    with pytest.raises(ValueError, match="64 hex digits"):
        download_file(file_server.url("a"), tmp_path / "a", sha256="abc", retries=3, timeout=30)
    assert file_server.requests == []


def test_attempts_that_make_progress_do_not_use_up_the_retries(tmp_path, file_server):
    file_server.files["big.rar"] = DATA
    file_server.truncate["big.rar"] = 4                 # four cut answers in a row, each delivering half the rest
    download_file(file_server.url("big.rar"), tmp_path / "big.rar", sha256=SHA, retries=1, backoff=0.001,
                  progress=False, timeout=30)
    assert len(file_server.requests) == 5 and (tmp_path / "big.rar").read_bytes() == DATA
    starts = [int(r.split("=")[1][:-1]) if r else 0 for _, r in file_server.requests]
    assert starts == sorted(starts) and len(set(starts)) == 5       # every request resumed further on
