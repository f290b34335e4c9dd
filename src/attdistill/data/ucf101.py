"""UCF101's official split format: one writer, one reader.

Real UCF101 and the embedded synthetic benchmark go through the same code. The format
(``UCF101TrainTestSplits-RecognitionTask.zip``) is three kinds of text file:

* ``classInd.txt``: ``1 ApplyEyeMakeup``, one class a line, 1-indexed;
* ``trainlist0{k}.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1`` (path and 1-based label);
* ``testlist0{k}.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi`` (path only).

The videos live in ``<videos_dir>/<ClassFolder>/v_<Class>_gXX_cYY.avi``. Groups ``gXX`` hold clips of one
actor/scene; the official splits never put one group in both lists.

Quirks of the real files handled here:

* CRLF line ends, trailing spaces, blank lines, a UTF-8 byte-order mark;
* folder ``HandstandPushups`` holds files ``v_HandStandPushups_gXX_cYY.avi``, and some tools lower-case the
  paths: a listed path missing on disk is resolved case-insensitively;
* the label always comes from the class *folder* via ``classInd.txt`` (never from the file name); a label
  written in a list must agree with it;
* missing videos are reported together (count and the first few), not one at a time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.parsing import finish_index

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov")
_GROUP_RE = re.compile(r"_g(\d+)_c(\d+)$", re.IGNORECASE)


class SplitFormatError(ValueError):
    """A split file does not follow the UCF101 format, or disagrees with the videos on disk."""


# --------------------------------------------------------------------------------------------- reading
def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, whitespace-separated fields) of every non-blank line; tolerant of CRLF/BOM/trailing spaces."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: split file not found")
    text = path.read_text(encoding="utf-8-sig")
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_class_index(path: str | os.PathLike) -> list[str]:
    """Class names of ``classInd.txt`` in label order (file index 1 -> label 0)."""
    path = Path(path)
    entries: dict[int, str] = {}
    for n, fields in _lines(path):
        if len(fields) != 2 or not fields[0].isdigit():
            raise SplitFormatError(f"{path}:{n}: expected '<index> <ClassName>', got {' '.join(fields)!r}")
        idx = int(fields[0])
        if idx in entries:
            raise SplitFormatError(f"{path}:{n}: class index {idx} appears twice")
        entries[idx] = fields[1]
    if not entries:
        raise SplitFormatError(f"{path}: no classes")
    if sorted(entries) != list(range(1, len(entries) + 1)):
        raise SplitFormatError(f"{path}: class indices must be 1..{len(entries)} (1-indexed, no gaps)")
    names = [entries[i] for i in range(1, len(entries) + 1)]
    lowered = [c.lower() for c in names]
    if len(set(lowered)) != len(lowered):
        raise SplitFormatError(f"{path}: class names must differ case-insensitively")
    return names


def group_of(path: str) -> str:
    """The ``gXX`` group of a UCF101-style file name (``v_Class_g08_c01.avi`` -> ``g08``), or "" if none."""
    m = _GROUP_RE.search(Path(path).stem)
    return f"g{int(m.group(1)):02d}" if m else ""


class _DiskResolver:
    """Maps a listed relative path to the file on disk: exact first, then case-insensitively (scanned once)."""

    def __init__(self, videos_dir: Path):
        self.videos_dir = videos_dir
        self._folded: dict[str, str] | None = None

    def _scan(self) -> dict[str, str]:
        folded: dict[str, str] = {}
        for dirpath, _dirs, files in os.walk(self.videos_dir):
            for f in files:
                rel = Path(dirpath, f).relative_to(self.videos_dir).as_posix()
                folded.setdefault(rel.lower(), rel)
        return folded

    def resolve(self, rel: str) -> str | None:
        if (self.videos_dir / rel).is_file():
            return rel
        if self._folded is None:
            self._folded = self._scan()
        return self._folded.get(rel.lower())


def parse_ucf101(splits_dir: str | os.PathLike, videos_dir: str | os.PathLike, split: int = 1,
                 dataset: str = "ucf101", flip_invariant: bool = True) -> VideoIndex:
    """Read ``classInd.txt``, ``trainlist0{split}.txt`` and ``testlist0{split}.txt`` into a :class:`VideoIndex`.

    Each record's path is the file as found on disk, relative to ``videos_dir``; ``video_id`` is that path
    without its extension. The label comes from the class folder (first path component) through
    ``classInd.txt``; a label given in a list must agree with it. ``root`` is ``videos_dir`` as given, so a
    relative path stays relative. ``flip_invariant`` says that no class depends on horizontal direction
    (true for UCF101, whose training flips frames); callers with direction classes set a ``flip_map`` instead.

    Raises :class:`SplitFormatError` on malformed lists and :class:`FileNotFoundError` listing missing videos.
    """
    splits_dir, videos_root = Path(splits_dir), Path(videos_dir)
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split}")
    if not videos_root.is_dir():
        raise FileNotFoundError(f"{videos_root}: videos folder not found")
    classes = read_class_index(splits_dir / "classInd.txt")
    by_folder = {c.lower(): i for i, c in enumerate(classes)}
    resolver = _DiskResolver(videos_root)

    records: list[VideoRecord] = []
    missing: list[str] = []
    for split_name, fname in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        path = splits_dir / fname
        for n, fields in _lines(path):
            if len(fields) not in (1, 2):
                raise SplitFormatError(f"{path}:{n}: expected '<Class>/<video> [label]', got {' '.join(fields)!r}")
            listed = fields[0].replace("\\", "/")
            listed = listed[2:] if listed.startswith("./") else listed
            parts = listed.split("/")
            if len(parts) != 2:
                raise SplitFormatError(f"{path}:{n}: path {listed!r} is not '<ClassFolder>/<file>'")
            label = by_folder.get(parts[0].lower())
            if label is None:
                raise SplitFormatError(f"{path}:{n}: class folder {parts[0]!r} is not in classInd.txt")
            if len(fields) == 2:
                if not fields[1].isdigit():
                    raise SplitFormatError(f"{path}:{n}: label {fields[1]!r} is not a 1-based integer")
                if int(fields[1]) - 1 != label:
                    raise SplitFormatError(
                        f"{path}:{n}: label {fields[1]} disagrees with folder {parts[0]!r} "
                        f"(classInd.txt gives {label + 1})")
            rel = resolver.resolve(listed)
            if rel is None:
                missing.append(listed)
                continue
            records.append(VideoRecord(video_id=str(Path(rel).with_suffix("").as_posix()), path=rel,
                                       label=label, split=split_name, group=group_of(rel)))
    return finish_index(dataset, videos_dir, classes, records, missing=missing, flip_invariant=flip_invariant,
                        missing_what=f"video(s) listed in {splits_dir} (split {split}) are missing under {videos_root}",
                        empty=SplitFormatError(f"{splits_dir}: split {split} lists no videos"))


# --------------------------------------------------------------------------------------------- writing
def write_ucf101_lists(splits_dir: str | os.PathLike, classes: list[str],
                       train: Iterable[tuple[str, int]], test: Iterable[str], split: int = 1,
                       newline: str = "\r\n") -> None:
    """Write ``classInd.txt``, ``trainlist0{split}.txt`` and ``testlist0{split}.txt`` as the official files do.

    ``train`` holds (``Class/v_Class_gXX_cYY.avi``, 0-based label) pairs (written 1-based), ``test`` the paths.
    ``newline`` defaults to CRLF, as in the official zip.
    """
    splits_dir = Path(splits_dir)
    splits_dir.mkdir(parents=True, exist_ok=True)

    def write(name: str, lines: list[str]) -> None:
        with open(splits_dir / name, "w", encoding="utf-8", newline="") as fh:
            fh.write("".join(line + newline for line in lines))

    write("classInd.txt", [f"{i + 1} {c}" for i, c in enumerate(classes)])
    write(f"trainlist0{split}.txt", [f"{p} {label + 1}" for p, label in train])
    write(f"testlist0{split}.txt", list(test))
