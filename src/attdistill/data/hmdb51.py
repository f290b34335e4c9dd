"""HMDB51's official split format (``test_train_splits.rar``) into the :class:`VideoIndex`.

``test_train_splits.rar`` unpacks to ``testTrainMulti_7030_splits/`` with 153 files
``<class>_test_split{1,2,3}.txt``; each line is ``<video>.avi <k>`` with ``1`` = train, ``2`` = test and
``0`` = not used in that split (70/30 per class). There is no class index file: classes are the sorted class
names (as MMAction2 and torchvision do), which are also the sorted folder names of ``hmdb51_org.rar``
(a RAR of 51 RARs, ``<class>.rar`` -> ``<class>/<video>.avi``).

No HMDB51 class depends on horizontal direction, so the index is ``flip_invariant`` (flips keep labels).
The paper reports mean class accuracy on split 1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.parsing import finish_index

SPLIT_FILE_RE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>[123])\.txt$")
_SPLIT_OF = {"1": "train", "2": "test"}
_MAX_LISTED = 5


class HMDB51FormatError(ValueError):
    """A split file does not follow the HMDB51 format, or disagrees with the videos on disk."""


def split_files(splits_dir: str | os.PathLike, split: int = 1) -> dict[str, Path]:
    """``{class name: <class>_test_split{split}.txt}`` found in ``splits_dir``."""
    splits_dir = Path(splits_dir)
    if not splits_dir.is_dir():
        raise FileNotFoundError(f"{splits_dir}: HMDB51 split folder not found")
    out = {}
    for path in sorted(splits_dir.iterdir()):
        m = SPLIT_FILE_RE.match(path.name)
        if m and int(m.group("k")) == split:
            out[m.group("cls")] = path
    if not out:
        raise FileNotFoundError(f"{splits_dir}: no '<class>_test_split{split}.txt' files")
    return out


def parse_hmdb51(splits_dir: str | os.PathLike, videos_dir: str | os.PathLike, split: int = 1,
                 dataset: str = "hmdb51", check_files: bool = True) -> VideoIndex:
    """Read the per-class split files of ``split`` into a :class:`VideoIndex` rooted at ``videos_dir``.

    Records are ``<class>/<video>.avi`` (``video_id`` without the extension), labels index the sorted class
    names, lines marked ``0`` are left out. With ``check_files`` every listed video must exist under
    ``videos_dir`` and the class folders must match the split files' classes; missing ones are listed together.
    """
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split}")
    files = split_files(splits_dir, split)
    classes = sorted(files)
    videos_root = Path(videos_dir)
    if check_files:
        if not videos_root.is_dir():
            raise FileNotFoundError(f"{videos_root}: HMDB51 videos folder not found")
        folders = sorted(p.name for p in videos_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if folders != classes:
            only_splits = sorted(set(classes) - set(folders))
            only_videos = sorted(set(folders) - set(classes))
            raise HMDB51FormatError(
                f"class folders under {videos_root} do not match the split files in {splits_dir}: "
                f"no folder for {only_splits[:_MAX_LISTED]}, no split file for {only_videos[:_MAX_LISTED]}")

    records: list[VideoRecord] = []
    missing: list[str] = []
    for label, cls in enumerate(classes):
        path = files[cls]
        seen: set[str] = set()
        for n, line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise HMDB51FormatError(f"{path}:{n}: expected '<video>.avi <0|1|2>', got {line.strip()!r}")
            name, k = fields
            if name in seen:
                raise HMDB51FormatError(f"{path}:{n}: {name} is listed twice")
            seen.add(name)
            if k == "0":
                continue
            rel = f"{cls}/{name}"
            if check_files and not (videos_root / rel).is_file():
                missing.append(rel)
                continue
            records.append(VideoRecord(video_id=str(Path(rel).with_suffix("").as_posix()), path=rel,
                                       label=label, split=_SPLIT_OF[k]))
    return finish_index(dataset, videos_dir, classes, records, missing=missing, flip_invariant=True,
                        missing_what=f"video(s) listed in {splits_dir} (split {split}) are missing under {videos_root}",
                        empty=HMDB51FormatError(f"{splits_dir}: split {split} lists no videos"))
