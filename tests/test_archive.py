"""Safe extraction: zip / tar / RAR (stored and compressed, solid and not, nested), the choice of RAR tool, refusal
of escaping names and links (nothing written)."""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import struct
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from attdistill import archive as A
from attdistill.archive import RarToolMissing, UnsafeArchiveError, check_member_name, extract

FILES = {"UCF-101/Cls/v_Cls_g01_c01.avi": b"video-1" * 100, "UCF-101/Cls/v_Cls_g02_c01.avi": b"video-2",
         "lists/classInd.txt": b"1 Cls\r\n"}


def make_zip(path: Path, files: dict[str, bytes], symlink: tuple[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        if symlink:
            info = zipfile.ZipInfo(symlink[0])
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, symlink[1])
    return path


def make_tar(path: Path, files: dict[str, bytes], symlink: tuple[str, str] | None = None,
             hardlink: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for link, kind in ((symlink, tarfile.SYMTYPE), (hardlink, tarfile.LNKTYPE)):
            if link:
                info = tarfile.TarInfo(link[0])
                info.type, info.linkname = kind, link[1]
                tf.addfile(info)
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["zip", "tar", "rar"])
def test_extracts_every_format(tmp_path, kind, rar_writer):
    src = tmp_path / f"a.{'tar.gz' if kind == 'tar' else kind}"
    if kind == "zip":
        make_zip(src, FILES)
    elif kind == "tar":
        make_tar(src, FILES)
    else:
        rar_writer(src, [("UCF-101/", b"")] + list(FILES.items()))
    out = tmp_path / "out"
    written = extract(src, out)
    assert tree(out) == FILES
    assert sorted(written) == sorted(out / n for n in FILES)
    assert not list(out.glob(".*"))                     # no staging folder left behind


EVIL = [("../evil.txt", "'..'"), ("a/../../evil.txt", "'..'"), ("/tmp/evil_abs.txt", "absolute")]


@pytest.mark.parametrize("kind", ["zip", "tar", "rar"])
@pytest.mark.parametrize("name,why", EVIL)
def test_refuses_escaping_names_and_writes_nothing(tmp_path, kind, name, why, rar_writer):
    files = {"good/first.txt": b"ok", name: b"pwned", "good/last.txt": b"ok"}
    src = tmp_path / f"evil.{'tar.gz' if kind == 'tar' else kind}"
    if kind == "zip":
        make_zip(src, files)
    elif kind == "tar":
        make_tar(src, files)
    else:
        rar_writer(src, list(files.items()))
    out = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match=why) as err:
        extract(src, out)
    assert name in str(err.value)                        # the error names the member
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()
    if name.startswith("/"):
        assert not Path(name).exists()
    assert tree(out) == {}                               # not even the valid members were written


@pytest.mark.parametrize("kind", ["zip", "tar", "tar-hard", "rar"])
def test_refuses_links_and_writes_nothing(tmp_path, kind, rar_writer):
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / f"links.{'rar' if kind == 'rar' else 'zip' if kind == 'zip' else 'tar.gz'}"
    files = {"a/file.txt": b"ok"}
    # the link comes first and a later member would be written through it if links were followed
    if kind == "zip":
        make_zip(src, {**files, "lnk/payload.txt": b"pwned"}, symlink=("lnk", str(outside)))
    elif kind == "tar":
        make_tar(src, files, symlink=("lnk", "../../outside"))
    elif kind == "tar-hard":
        make_tar(src, files, hardlink=("hard", "/etc/passwd"))
    else:
        rar_writer(src, list(files.items()), symlinks={"lnk": "../outside"})
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="link") as err:
        extract(src, out)
    assert ("'lnk'" in str(err.value)) or ("'hard'" in str(err.value))
    assert list(outside.iterdir()) == []
    assert tree(out) == {} and not (out / "lnk").exists()


def test_existing_symlink_in_target_cannot_redirect_writes(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / "UCF-101")                 # planted before extraction
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(make_zip(tmp_path / "a.zip", FILES), out)
    assert list(outside.iterdir()) == []                 # nothing went through the link
    assert sorted(p.name for p in out.iterdir()) == ["UCF-101"]


def test_nested_rar_of_rars(tmp_path, rar_writer):
    inner = tmp_path / "inner"
    inner.mkdir()
    a = rar_writer(inner / "brush_hair.rar", [("brush_hair/v1.avi", b"1"), ("brush_hair/v2.avi", b"2")])
    b = rar_writer(inner / "cartwheel.rar", [("cartwheel/v3.avi", b"3")])
    outer = rar_writer(tmp_path / "hmdb51_org.rar", [("brush_hair.rar", a.read_bytes()),
                                                      ("cartwheel.rar", b.read_bytes())])
    out = tmp_path / "videos"
    written = extract(outer, out, nested=True)
    assert tree(out) == {"brush_hair/v1.avi": b"1", "brush_hair/v2.avi": b"2", "cartwheel/v3.avi": b"3"}
    assert sorted(p.name for p in written) == ["v1.avi", "v2.avi", "v3.avi"]


def test_nested_archive_is_validated_too(tmp_path, rar_writer):
    bad = rar_writer(tmp_path / "bad.rar", [("../escape.avi", b"x")])
    outer = rar_writer(tmp_path / "outer.rar", [("bad.rar", bad.read_bytes())])
    with pytest.raises(UnsafeArchiveError, match="escape.avi"):
        extract(outer, tmp_path / "out", nested=True)
    assert not (tmp_path / "escape.avi").exists() and not (tmp_path / "out" / "escape.avi").exists()


def test_compressed_rar_without_tool_names_the_debian_package(tmp_path, rar_writer, monkeypatch):
    src = rar_writer(tmp_path / "c.rar", [("x.avi", b"zz")], method=0x33)
    monkeypatch.setattr(A.shutil, "which", lambda name: None)
    with pytest.raises(RarToolMissing, match="apt-get install -y unar"):
        extract(src, tmp_path / "out")
    assert not (tmp_path / "out" / "x.avi").exists()


def test_member_name_rules():
    assert check_member_name("./a//b/./c.txt") == "a/b/c.txt"
    assert check_member_name("dir\\sub\\f.avi") == "dir/sub/f.avi"
    for bad in ["", "..", "a/../../b", "/abs", "C:\\windows", "C:/x", "nul\x00byte"]:
        with pytest.raises(UnsafeArchiveError):
            check_member_name(bad)


def test_unknown_or_corrupt_archive(tmp_path):
    (tmp_path / "x.7z").write_bytes(b"7z")
    with pytest.raises(ValueError, match="unknown archive type"):
        extract(tmp_path / "x.7z", tmp_path / "out")
    (tmp_path / "x.rar").write_bytes(b"not a rar")
    with pytest.raises(ValueError, match="not a readable RAR"):
        extract(tmp_path / "x.rar", tmp_path / "out")


FAKE_UNAR = """#!{python}
import json, os, sys
args = sys.argv[1:]
if "-version" in args:
    sys.exit(0)
with open(os.environ["FAKE_UNAR_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
out, spec = args[args.index("-o") + 1], json.loads(os.environ["FAKE_UNAR"])
if out == "-":                                   # rarfile reading one member through a pipe
    import rarfile
    rest = args[args.index("--") + 1:]
    member = rest[1] if len(rest) > 1 else rarfile.RarFile(rest[0]).namelist()[0]
    sys.stdout.write(spec["files"][member])
    sys.exit(0)
for name, text in spec.get("files", {{}}).items():
    os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
    open(os.path.join(out, name), "w").write(text)
for name, target in spec.get("links", {{}}).items():
    os.symlink(target, os.path.join(out, name))
"""


@pytest.fixture
def fake_unar(tmp_path, monkeypatch):
    """An 'unar' on PATH that records its calls and writes what FAKE_UNAR says (stands in for the real tool)."""
    import json
    import sys

    import rarfile

    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "unar"
    tool.write_text(FAKE_UNAR.format(python=sys.executable))
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))                 # the fake is the only RAR tool, whatever is installed
    monkeypatch.setenv("FAKE_UNAR_LOG", str(tmp_path / "unar.log"))
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)      # restored after the test

    def configure(files: dict[str, str], links: dict[str, str] | None = None) -> Path:
        monkeypatch.setenv("FAKE_UNAR", json.dumps({"files": files, "links": links or {}}))
        return tmp_path / "unar.log"
    return configure


def test_solid_compressed_rar_is_extracted_by_the_tool_in_one_pass(tmp_path, rar_writer, fake_unar):
    src = rar_writer(tmp_path / "UCF101.rar", [("UCF-101/A/v1.avi", b"?"), ("UCF-101/B/v2.avi", b"?")],
                     method=0x33, solid=True)
    log = fake_unar({"UCF-101/A/v1.avi": "one", "UCF-101/B/v2.avi": "two"})
    out = tmp_path / "out"
    extract(src, out)
    assert tree(out) == {"UCF-101/A/v1.avi": b"one", "UCF-101/B/v2.avi": b"two"}
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and calls[0].endswith(str(src)) and "-D" in calls[0].split()


@pytest.mark.parametrize("files,links,why", [
    ({"UCF-101/A/v1.avi": "1", "UCF-101/B/v2.avi": "2", "extra.sh": "x"}, {}, "does not list"),
    ({"UCF-101/A/v1.avi": "1", "UCF-101/B/v2.avi": "2"}, {"UCF-101/lnk": "/etc"}, "link"),
])
def test_solid_rar_tool_output_is_checked_before_it_is_moved(tmp_path, rar_writer, fake_unar, files, links, why):
    src = rar_writer(tmp_path / "s.rar", [("UCF-101/A/v1.avi", b"?"), ("UCF-101/B/v2.avi", b"?")],
                     method=0x33, solid=True)
    fake_unar(files, links)
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=why):
        extract(src, out)
    assert list(out.iterdir()) == []                      # staging removed, nothing moved into place


def test_non_solid_compressed_rar_is_read_member_by_member_through_the_tool(tmp_path, rar_writer, fake_unar):
    src = rar_writer(tmp_path / "brush_hair.rar", [("brush_hair/a.avi", b"aa"), ("brush_hair/b.avi", b"bb")],
                     method=0x33)
    log = fake_unar({"brush_hair/a.avi": "aa", "brush_hair/b.avi": "bb"})   # header CRCs match these bytes
    extract(src, tmp_path / "out")
    assert tree(tmp_path / "out") == {"brush_hair/a.avi": b"aa", "brush_hair/b.avi": b"bb"}
    assert len(log.read_text().splitlines()) == 2          # one tool call per member


# ------------------------------------------------------------- real compressed RAR 3.x fixtures (tests/fixtures/rar)
FIXTURES = Path(__file__).parent / "fixtures" / "rar"
needs_unar = pytest.mark.skipif(shutil.which("unar") is None,
                                reason="unar is not installed (make data-tools / make test install it)")
needs_bsdtar = pytest.mark.skipif(shutil.which("bsdtar") is None,
                                  reason="bsdtar is not installed (apt-get install libarchive-tools)")


def _fixture_module():
    """tests/fixtures/rar/make_fixtures.py: recomputes the member bytes the fixtures were made from (stdlib only)."""
    spec = importlib.util.spec_from_file_location("make_rar_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M = _fixture_module()


def record_runs(monkeypatch) -> list:
    """Every command the archive module runs through subprocess.run, in order (the commands still run)."""
    calls: list = []
    real_run = A.subprocess.run
    monkeypatch.setattr(A.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or real_run(cmd, **kw))
    return calls


def only_tools(monkeypatch, tmp_path: Path, *tools: str) -> Path:
    """Make ``tools`` (links to the real ones) the only programs on PATH."""
    bindir = tmp_path / "only-bin"
    bindir.mkdir()
    for tool in tools:
        os.symlink(shutil.which(tool), bindir / tool)
    monkeypatch.setenv("PATH", str(bindir))
    return bindir


def test_fixtures_are_what_their_names_say():
    import rarfile

    for name, (solid, store, members) in M.FIXTURES.items():
        with rarfile.RarFile(FIXTURES / name) as rf:
            assert rf.is_solid() == solid, name
            infos = [i for i in rf.infolist() if not i.is_dir()]
            assert [i.filename for i in infos] == members, name
            assert {i.compress_type == 0x30 for i in infos} == {store}, name          # 0x30: stored
            assert {i.extract_version for i in infos} == {29}, name          # RAR 2.9 = the RAR 3.x/4.x format


@pytest.mark.parametrize("source", ["conftest", "conftest-solid", "rar3_stored.rar"])
def test_stored_rar_needs_no_tool_solid_or_not(tmp_path, monkeypatch, rar_writer, source):
    import rarfile

    monkeypatch.setenv("PATH", str(tmp_path))                     # no RAR tool at all
    if source.startswith("conftest"):
        src, files = rar_writer(tmp_path / "s.rar", list(FILES.items()), solid=source.endswith("solid")), FILES
    else:
        src, files = FIXTURES / source, M.expected(source)
    with rarfile.RarFile(src) as rf:
        assert rf.is_solid() == source.endswith("solid")
    extract(src, tmp_path / "out")
    assert tree(tmp_path / "out") == files


@needs_unar
@pytest.mark.parametrize("fixture", ["rar3_compressed.rar", "rar3_compressed_solid.rar"])
def test_real_rar_is_extracted_with_unar(tmp_path, monkeypatch, fixture):
    only_tools(monkeypatch, tmp_path, "unar")
    out = tmp_path / "out"
    written = extract(FIXTURES / fixture, out)
    assert tree(out) == M.expected(fixture)
    assert sorted(written) == sorted(out / n for n in M.expected(fixture))
    assert not list(out.glob(".*"))


@needs_unar
def test_hmdb51_solid_rar_of_solid_and_plain_rars(tmp_path, monkeypatch):
    only_tools(monkeypatch, tmp_path, "unar")
    out = tmp_path / "videos"
    written = extract(FIXTURES / "hmdb51_org.rar", out, nested=True)
    assert tree(out) == M.expected("hmdb51_org.rar", nested=True)
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(M.BRUSH + M.CARTWHEEL)
    assert not list(out.rglob("*.rar"))                   # inner archives deleted after extraction


@needs_unar
def test_solid_rar_goes_through_the_tool_once(tmp_path, monkeypatch):
    only_tools(monkeypatch, tmp_path, "unar")
    calls = record_runs(monkeypatch)
    extract(FIXTURES / "rar3_compressed_solid.rar", tmp_path / "out")
    assert len(calls) == 1 and calls[0][0] == "unar" and calls[0][-1] == str(FIXTURES / "rar3_compressed_solid.rar")


@needs_bsdtar
def test_bsdtar_reads_non_solid_compressed_rar_in_one_pass(tmp_path, monkeypatch):
    only_tools(monkeypatch, tmp_path, "bsdtar")
    calls = record_runs(monkeypatch)
    out = tmp_path / "out"
    extract(FIXTURES / "rar3_compressed.rar", out)
    assert tree(out) == M.expected("rar3_compressed.rar")
    assert len(calls) == 1 and calls[0][0] == "bsdtar"          # rarfile cannot stream members through bsdtar


@needs_bsdtar
def test_bsdtar_itself_refuses_the_solid_fixture(tmp_path):
    """The premise: libarchive cannot read solid RAR 3.x (so the solid fixtures really are solid to it)."""
    result = subprocess.run(["bsdtar", "-x", "-f", str(FIXTURES / "rar3_compressed_solid.rar"), "-C", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "RAR solid archive support unavailable" in result.stderr


@pytest.mark.parametrize("fixture", ["rar3_compressed_solid.rar", "hmdb51_org.rar"])
def test_solid_rar_with_only_bsdtar_names_unar(tmp_path, monkeypatch, fixture):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "bsdtar").write_text("#!/bin/sh\nexit 1\n")            # never run: refused before any tool call
    (bindir / "bsdtar").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    out = tmp_path / "out"
    with pytest.raises(RarToolMissing, match=r"solid RAR.*only bsdtar is installed.*apt-get install -y unar"):
        extract(FIXTURES / fixture, out)
    assert tree(out) == {} and not list(out.iterdir())


def test_choose_rar_tool_prefers_solid_capable_tools(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bsdtar", "unar", "unrar-free"):
        (bindir / tool).write_text("#!/bin/sh\n")
        (bindir / tool).chmod(0o755)
    os.symlink(bindir / "unrar-free", bindir / "unrar")              # what Debian's unrar-free alternative does
    monkeypatch.setenv("PATH", str(bindir))
    assert A.available_rar_tools() == ["unar", "bsdtar"]             # unrar-free is not RARLAB's unrar
    assert A.choose_rar_tool("x.rar", solid=True, compressed=["a"]) == "unar"
    assert A.choose_rar_tool("x.rar", solid=False, compressed=["a"]) == "unar"
    (bindir / "unar").unlink()
    assert A.choose_rar_tool("x.rar", solid=False, compressed=["a"]) == "bsdtar"
    with pytest.raises(RarToolMissing, match="unrar or unar"):
        A.choose_rar_tool("x.rar", solid=True, compressed=["a"])
    (bindir / "unrar").unlink()
    (bindir / "unrar-nonfree").write_text("#!/bin/sh\n")
    (bindir / "unrar-nonfree").chmod(0o755)
    os.symlink(bindir / "unrar-nonfree", bindir / "unrar")           # RARLAB's, as Debian non-free installs it
    assert A.choose_rar_tool("x.rar", solid=True, compressed=["a"]) == "unrar"


def rename_member(data: bytes, old: str, new: str) -> bytes:
    """``data`` (a RAR 4 archive) with member ``old`` renamed to ``new`` (same length) and its header CRC redone."""
    assert len(old) == len(new)
    raw = old.replace("/", "\\").encode()
    at = data.index(raw)
    pos = 7                                               # after the marker block: walk the blocks to the header
    while True:
        flags, size = struct.unpack_from("<HH", data, pos + 3)
        add = struct.unpack_from("<L", data, pos + 7)[0] if flags & 0x8000 else 0
        if pos <= at < pos + size:
            break
        pos += size + add
    header = bytearray(data[pos:pos + size])
    header[at - pos: at - pos + len(raw)] = new.replace("/", "\\").encode()
    header[:2] = struct.pack("<H", zlib.crc32(bytes(header[2:])) & 0xFFFF)
    return data[:pos] + bytes(header) + data[pos + size:]


@needs_unar
@pytest.mark.parametrize("fixture", ["rar3_compressed_solid.rar", "rar3_compressed.rar"])
def test_real_compressed_rar_with_escaping_member_writes_nothing(tmp_path, monkeypatch, fixture):
    import rarfile

    only_tools(monkeypatch, tmp_path, "unar")
    evil = tmp_path / "evil.rar"
    evil.write_bytes(rename_member((FIXTURES / fixture).read_bytes(), "UCF-101/Biking", "../../../Bikin"))
    with rarfile.RarFile(evil) as rf:                     # the header is valid: rarfile itself lists the new name
        assert rf.namelist()[-1] == "../../../Bikin/v_Biking_g01_c01.avi"
    deep = tmp_path / "a" / "b" / "out"
    with pytest.raises(UnsafeArchiveError, match=r"'\.\.'"):
        extract(evil, deep)
    assert not (tmp_path / "Bikin").exists() and not list((tmp_path / "a").rglob("*.avi"))
    assert list(deep.iterdir()) == []
