"""Safe extraction: zip / tar / stored RAR, nested RARs, refusal of escaping names and links (nothing written)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
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
    with pytest.raises(RarToolMissing, match="apt-get install -y libarchive-tools"):
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
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
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
