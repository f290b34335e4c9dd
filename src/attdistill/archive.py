"""Safe extraction of the official dataset archives: ``.zip``, ``.tar(.gz/.bz2/.xz)`` and ``.rar``.

Policy (the same for every format):

* **Validate everything first, then write.** All member names and types are checked before a single byte
  is extracted; one bad member refuses the whole archive with :class:`UnsafeArchiveError` naming it.
* **Refused members:** absolute paths (``/etc/x``, ``C:\\x``), any ``..`` component, empty names or names with
  NUL bytes, and *every* link — symbolic or hard, whatever it points at — plus device files and FIFOs.
  No official archive of UCF101, HMDB51, EGTEA or 20BN-V2 contains links, so refusing them all is both the
  simplest rule to audit and loses nothing.
* **Our own path computation.** Members are streamed into paths we compute and check: a resolved path must
  stay under ``target_dir``, so a symlink already present in ``target_dir`` that would redirect a member
  outside refuses the archive too. No library ``extractall`` decides where bytes go.
* **All or nothing.** Files are written into a staging folder inside ``target_dir`` and moved into place
  only when the whole archive extracted cleanly; on any error the staging folder is removed.

RAR support comes from the ``rarfile`` library. It reads *stored* (uncompressed) members itself, solid archive
or not; compressed members need an external tool, chosen by :func:`choose_rar_tool` for the archive at hand:

* ``unrar`` (RARLAB's reference decoder, Debian non-free) or ``unar`` (Debian main; what ``make data-tools``
  installs) read every RAR the official archives may be, *solid* ones included;
* ``bsdtar`` (libarchive) refuses solid RAR 3.x archives ("RAR solid archive support unavailable"): it is used
  only for non-solid ones. ``unrar-free``, which Debian may install under the name ``unrar``, is libarchive too
  and is never used.

With no tool that can read the archive, :func:`extract` raises :class:`RarToolMissing` before writing anything,
naming the Debian package to install (``sudo apt-get install -y unar``). Compressed members of a non-solid RAR
are streamed one by one through unrar or unar by rarfile (which checks each CRC). A *solid* RAR with compressed
members (member by member would decompress from the start for every file), or any compressed RAR when bsdtar is
the only tool (rarfile cannot stream through it), is extracted by the tool in one pass into the staging folder,
after the same validation; the staged tree is then checked to hold exactly the validated files and no links
before it is moved into place.

HMDB51 ships a RAR of 51 RARs: ``extract(..., nested=True)`` extracts archives found inside, each into the
folder it was found in, and deletes the inner archive afterwards.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

# Decompressors rarfile can use for compressed RAR members (in our order of preference) -> their Debian package.
RAR_TOOLS: dict[str, str] = {"unrar": "unrar", "unar": "unar", "bsdtar": "libarchive-tools"}
SOLID_RAR_TOOLS = ("unrar", "unar")         # bsdtar refuses solid RAR 3.x archives
RAR_INSTALL_HINT = "sudo apt-get install -y unar"
_CHUNK = 1 << 20
_ARCHIVE_SUFFIXES = (".zip", ".rar", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder, or is a link / special file."""


class RarToolMissing(RuntimeError):
    """A RAR has compressed members and no installed decompressor can read it (none at all, or only bsdtar for a
    solid archive)."""


@dataclass(frozen=True)
class _Member:
    name: str                       # normalised relative POSIX path
    kind: str                       # "file" | "dir"
    open: Callable[[], BinaryIO] | None   # opens the member's bytes (files only)


# --------------------------------------------------------------------------------------------- public API
def is_archive(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an archive suffix :func:`extract` understands."""
    name = Path(path).name.lower()
    return name.endswith(_ARCHIVE_SUFFIXES)


def extract(archive: str | os.PathLike, target_dir: str | os.PathLike, nested: bool = False,
            max_depth: int = 3) -> list[Path]:
    """Extract ``archive`` into ``target_dir`` safely (see the module docstring); return the files written.

    With ``nested=True``, archives found among the extracted files are extracted in turn into the folder
    they sit in and then deleted (HMDB51's RAR of RARs), up to ``max_depth`` levels.
    """
    archive, target = Path(archive), Path(target_dir)
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: archive not found")
    target.mkdir(parents=True, exist_ok=True)
    written = _extract_one(archive, target)
    if nested:
        for _ in range(max_depth):
            inner = [p for p in written if is_archive(p)]
            if not inner:
                break
            written = [p for p in written if not is_archive(p)]
            for path in inner:
                written += _extract_one(path, path.parent)
                path.unlink()
        else:
            if any(is_archive(p) for p in written):
                raise UnsafeArchiveError(f"{archive}: archives nested deeper than {max_depth} levels")
    return written


def available_rar_tools() -> list[str]:
    """External RAR decompressors found on PATH, in our order of preference (an ``unrar`` that is really
    ``unrar-free`` is left out: it is libarchive, cannot read solid archives and has another command line)."""
    found = []
    for tool in RAR_TOOLS:
        path = shutil.which(tool)
        if path and not (tool == "unrar" and "unrar-free" in os.path.basename(os.path.realpath(path))):
            found.append(tool)
    return found


def choose_rar_tool(archive: str | os.PathLike, solid: bool, compressed: list[str]) -> str:
    """The tool that decompresses ``archive``'s ``compressed`` members: the first of :func:`available_rar_tools`
    that can read it (for a ``solid`` archive, unrar or unar only). Raises :class:`RarToolMissing` naming the
    Debian package to install when there is none."""
    tools = available_rar_tools()
    usable = [t for t in tools if t in SOLID_RAR_TOOLS] if solid else tools
    if usable:
        return usable[0]
    kind, needs = ("solid RAR", " or ".join(SOLID_RAR_TOOLS)) if solid else ("RAR", "unrar, unar or bsdtar")
    found = f"; only {', '.join(tools)} is installed, which cannot read solid RAR archives" if tools else ""
    raise RarToolMissing(
        f"{archive}: a {kind} with {len(compressed)} compressed member(s) (e.g. {compressed[0]!r}); the rarfile "
        f"library needs {needs} to decompress it{found}. On Debian/Ubuntu: {RAR_INSTALL_HINT}")


# --------------------------------------------------------------------------------------------- validation
def check_member_name(name: str, archive: str | os.PathLike = "") -> str:
    """Normalise a member name to a relative POSIX path, or raise :class:`UnsafeArchiveError`."""
    where = f"{archive}: " if archive else ""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"{where}member {name!r} has an empty name or a NUL byte")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(f"{where}member {name!r} is an absolute path; refusing the archive")
    parts = [p for p in PurePosixPath(norm).parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{where}member {name!r} has a '..' component; refusing the archive")
    if not parts:
        raise UnsafeArchiveError(f"{where}member {name!r} names no file")
    return "/".join(parts)


def _destination(root: Path, rel: str, archive: Path) -> Path:
    """``root / rel``, checked to resolve inside ``root`` (no pre-existing symlink may redirect it)."""
    dest = root / rel
    real_root = os.path.realpath(root)
    real = os.path.realpath(dest)
    if os.path.commonpath([real_root, real]) != real_root:
        raise UnsafeArchiveError(f"{archive}: member {rel!r} would be written outside {root} (through a link)")
    return dest


# --------------------------------------------------------------------------------------------- readers
def _zip_members(zf: zipfile.ZipFile, archive: Path) -> list[_Member]:
    out = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; links are refused")
        if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and stat.S_IFMT(mode):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is not a regular file or folder")
        name = check_member_name(info.filename, archive)
        if info.is_dir():
            out.append(_Member(name, "dir", None))
        else:
            out.append(_Member(name, "file", lambda info=info: zf.open(info)))
    return out


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list[_Member]:
    out = []
    for info in tf.getmembers():
        if info.issym() or info.islnk():
            kind = "symbolic" if info.issym() else "hard"
            raise UnsafeArchiveError(
                f"{archive}: member {info.name!r} is a {kind} link (to {info.linkname!r}); links are refused")
        if not (info.isfile() or info.isdir()):
            raise UnsafeArchiveError(f"{archive}: member {info.name!r} is not a regular file or folder")
        name = check_member_name(info.name, archive)
        if info.isdir():
            out.append(_Member(name, "dir", None))
        else:
            out.append(_Member(name, "file", lambda info=info: tf.extractfile(info)))
    return out


def _rar_members(rf, archive: Path) -> tuple[list[_Member], Callable[[Path], None] | None]:
    """Validated members, plus a whole-archive extractor for solid RARs with compressed members (else None)."""
    out, compressed = [], []
    for info in rf.infolist():
        if info.is_symlink() or getattr(info, "file_redir", None):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a link; links are refused")
        if info.needs_password():
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is password-protected")
        name = check_member_name(info.filename, archive)
        if info.is_dir():
            out.append(_Member(name, "dir", None))
        else:
            if info.compress_type != 0x30:   # RAR_M0 = stored
                compressed.append(info.filename)
            out.append(_Member(name, "file", lambda info=info: rf.open(info)))
    if not compressed:
        return out, None
    solid = rf.is_solid()
    tool = choose_rar_tool(archive, solid, compressed)
    if solid or tool == "bsdtar":
        # Member by member, a solid archive is decompressed from its start for every file (quadratic time); and
        # rarfile 4.5 runs bsdtar as `bsdtar -x --to-stdout -f -- ARCHIVE`, which opens a file named "--", so it
        # streams no member through bsdtar. Either way the tool extracts the whole (validated) archive once.
        return out, lambda dest: _rar_bulk_extract(archive, dest, tool)
    import rarfile

    # rarfile streams each member through this one tool (never 7z: Debian's 7zip build has no RAR codec).
    rarfile.tool_setup(unrar=tool == "unrar", unar=tool == "unar", bsdtar=tool == "bsdtar",
                       sevenzip=False, sevenzip2=False, force=True)
    return out, None


def _rar_bulk_extract(archive: Path, dest: Path, tool: str) -> None:
    """Extract a whole (validated) RAR into the staging folder ``dest`` with ``tool`` (bsdtar: non-solid only)."""
    cmd = {"unrar": ["unrar", "x", "-o+", "-p-", "-idq", "-y", str(archive), f"{dest}{os.sep}"],
           "unar": ["unar", "-q", "-f", "-D", "-o", str(dest), str(archive)],
           "bsdtar": ["bsdtar", "-x", "--no-same-owner", "--no-same-permissions", "-f", str(archive),
                      "-C", str(dest)]}[tool]
    result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)   # never prompts
    if result.returncode != 0:
        raise RuntimeError(f"{archive}: {tool} failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")


def _check_staged(staging: Path, members: list[_Member], archive: Path) -> None:
    """After a tool extracted a whole archive: exactly the validated files, no links, nothing else."""
    expected = {m.name for m in members if m.kind == "file"}
    found = set()
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(staging).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                raise UnsafeArchiveError(f"{archive}: the extractor created {rel!r}, which is a link or special file")
            if path.is_file():
                if rel not in expected:
                    raise UnsafeArchiveError(f"{archive}: the extractor wrote {rel!r}, which the archive does not list")
                found.add(rel)
    if found != expected:
        raise RuntimeError(f"{archive}: the extractor did not write {sorted(expected - found)[:5]}")


@contextmanager
def _open_members(archive: Path) -> Iterator[tuple[list[_Member], Callable[[Path], None] | None]]:
    """Open ``archive``; yield its validated members and an optional whole-archive extractor (solid RARs)."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            yield _zip_members(zf, archive), None
    elif name.endswith(".rar"):
        import rarfile

        try:
            rf = rarfile.RarFile(archive)
        except rarfile.Error as exc:
            raise ValueError(f"{archive}: not a readable RAR archive ({exc})") from exc
        with rf:
            yield _rar_members(rf, archive)
    elif name.endswith(_ARCHIVE_SUFFIXES):
        try:
            tf = tarfile.open(archive, "r:*")
        except tarfile.TarError as exc:
            raise ValueError(f"{archive}: not a readable tar archive ({exc})") from exc
        with tf:
            yield _tar_members(tf, archive), None
    else:
        raise ValueError(f"{archive}: unknown archive type (expected one of {', '.join(_ARCHIVE_SUFFIXES)})")


# --------------------------------------------------------------------------------------------- extraction
def _extract_one(archive: Path, target: Path) -> list[Path]:
    staging = target / f".{archive.name}.extracting"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        with _open_members(archive) as (members, bulk):   # every member is validated before anything is written
            for m in members:                               # ... including links already present in target_dir
                _destination(target, m.name, archive)
            staging.mkdir()
            if bulk is not None:
                bulk(staging)
                _check_staged(staging, members, archive)
                members_to_stream = []
            else:
                members_to_stream = members
            for m in members_to_stream:
                dest = _destination(staging, m.name, archive)
                if m.kind == "dir":
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with m.open() as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
        for entry in sorted(staging.iterdir()):
            _merge(entry, _destination(target, entry.name, archive))
        return sorted({target / m.name for m in members if m.kind == "file"})
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _merge(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; folders are merged into an existing folder, files replace files."""
    if src.is_dir() and dst.is_dir() and not dst.is_symlink():
        for child in src.iterdir():
            _merge(child, dst / child.name)
        src.rmdir()
        return
    if dst.is_symlink() or dst.is_file():
        dst.unlink()
    elif dst.is_dir():
        shutil.rmtree(dst)
    os.replace(src, dst)
