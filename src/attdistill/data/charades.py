"""Charades v1 (Sigurdsson et al., 2016; registration-free) into the :class:`VideoIndex`, multi-label.

Official files (``Charades.zip`` of the Allen AI Charades page, which unpacks to ``Charades/``):

* ``Charades_v1_classes.txt``: ``c000 Holding some clothes``, one class a line, codes ``c000`` .. ``c156``;
* ``Charades_v1_train.csv`` / ``Charades_v1_test.csv``: a header line
  ``id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length`` then one video a row
  (fields with commas are double-quoted, as the ``csv`` module reads them). ``actions`` is
  ``c092 11.90 21.20;c147 0.00 12.60`` (class code, start and end in seconds) and may be empty (a video with no
  action); ``length`` is the video's duration in seconds.

Videos are ``<id>.mp4`` (``Charades_v1_480.zip`` unpacks them to ``Charades_v1_480/``). As in the papers using it,
the test csv is our test split (Charades has no separate validation set).

Multi-label representation (:mod:`attdistill.data.index`): the index has ``metric="mAP"``, every record has
``label = -1`` and its actions in ``VideoRecord.actions`` as ``(class index, start, end)``, in file order; class
names are the descriptions, codes are in ``meta["class_codes"]``. Times are kept as written (not checked against
``length`` or for start <= end, which we cannot check without the files). No Charades class depends on horizontal
direction, so the index is ``flip_invariant`` (the focused-crop paper flips with p = 0.5).
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np

from attdistill.data.index import VideoIndex, VideoRecord, list_some

CLASSES_FILE = "Charades_v1_classes.txt"
SPLIT_FILES = {"train": "Charades_v1_train.csv", "test": "Charades_v1_test.csv"}
COLUMNS: tuple[str, ...] = ("id", "subject", "scene", "quality", "relevance", "verified", "script", "objects",
                            "descriptions", "actions", "length")
NUM_CLASSES = 157
_CODE = re.compile(r"c(\d{3})")

Action = tuple[int, float, float]


class CharadesFormatError(ValueError):
    """A Charades annotation file does not follow the format described in the module docstring."""


def read_classes(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(codes, names) of ``Charades_v1_classes.txt`` in label order: code ``cNNN`` is label NNN."""
    path = Path(path)
    entries: dict[int, tuple[str, str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        m = _CODE.fullmatch(parts[0])
        if m is None or len(parts) != 2:
            raise CharadesFormatError(f"{path}:{n}: expected 'cNNN <class name>', got {line.strip()!r}")
        idx = int(m.group(1))
        if idx in entries:
            raise CharadesFormatError(f"{path}:{n}: class code {parts[0]} appears twice")
        entries[idx] = (parts[0], parts[1].strip())
    if not entries or sorted(entries) != list(range(len(entries))):
        raise CharadesFormatError(f"{path}: class codes must be c000..c{len(entries) - 1:03d} without gaps")
    codes, names = zip(*(entries[i] for i in range(len(entries))))
    if len(set(names)) != len(names):
        raise CharadesFormatError(f"{path}: duplicate class names")
    return list(codes), list(names)


def parse_actions(text: str, codes: dict[str, int], where: str = "") -> tuple[Action, ...]:
    """``"c092 11.90 21.20;c147 0.00 12.60"`` -> ``((92, 11.9, 21.2), (147, 0.0, 12.6))``; ``""`` -> ``()``."""
    out = []
    for part in text.split(";"):
        fields = part.split()
        if not fields:
            if text.strip():
                raise CharadesFormatError(f"{where}: empty action in {text!r}")
            continue
        if len(fields) != 3:
            raise CharadesFormatError(f"{where}: expected 'cNNN <start> <end>', got {part.strip()!r}")
        if fields[0] not in codes:
            raise CharadesFormatError(f"{where}: unknown class code {fields[0]!r}")
        try:
            start, end = float(fields[1]), float(fields[2])
        except ValueError:
            raise CharadesFormatError(f"{where}: times of {part.strip()!r} are not numbers") from None
        if not (math.isfinite(start) and math.isfinite(end)):
            raise CharadesFormatError(f"{where}: times of {part.strip()!r} are not finite")
        out.append((codes[fields[0]], start, end))
    return tuple(out)


def read_split(path: str | os.PathLike, codes: dict[str, int]) -> list[tuple[str, tuple[Action, ...]]]:
    """(video id, actions) of every row of ``Charades_v1_{train,test}.csv``, in file order."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise CharadesFormatError(f"{path}: header lacks column(s) {', '.join(absent)}; expected "
                                      f"{','.join(COLUMNS)}")
        rows = []
        for row in reader:
            where = f"{path}:{reader.line_num}"
            vid = (row["id"] or "").strip()
            if not vid or None in row:
                raise CharadesFormatError(f"{where}: {'no video id' if not vid else 'more fields than the header'}")
            rows.append((vid, parse_actions(row["actions"] or "", codes, where)))
    return rows


def find_file(ann_dir: Path, name: str) -> Path | None:
    """``name`` under ``ann_dir`` or ``ann_dir/Charades`` (where ``Charades.zip`` unpacks), if present."""
    for folder in (ann_dir, ann_dir / "Charades"):
        if (folder / name).is_file():
            return folder / name
    return None


def parse_charades(annotations_dir: str | os.PathLike, videos_dir: str | os.PathLike, dataset: str = "charades",
                   check_files: bool = True) -> VideoIndex:
    """Read the classes file and the train / test csv files into a multi-label :class:`VideoIndex` of
    ``<id>.mp4`` videos. With ``check_files`` missing videos are reported together (count and the first few)."""
    ann = Path(annotations_dir)
    names = [CLASSES_FILE, *SPLIT_FILES.values()]
    paths = {name: find_file(ann, name) for name in names}
    absent = [name for name, p in paths.items() if p is None]
    if absent:
        raise FileNotFoundError(f"{ann}: missing Charades annotation file(s): {', '.join(absent)}")
    codes, classes = read_classes(paths[CLASSES_FILE])
    code_pos = {c: i for i, c in enumerate(codes)}
    videos_root = Path(videos_dir)
    present: set[str] | None = None
    if check_files:
        if not videos_root.is_dir():
            raise FileNotFoundError(f"{videos_root}: Charades videos folder not found")
        present = {e.name for e in os.scandir(videos_root) if e.is_file()}
    records, missing = [], []
    for split, name in SPLIT_FILES.items():
        for vid, actions in read_split(paths[name], code_pos):
            rel = f"{vid}.mp4"
            if present is not None and rel not in present:
                missing.append(rel)
                continue
            records.append(VideoRecord(video_id=vid, path=rel, label=-1, split=split, actions=actions))
    if missing:
        raise FileNotFoundError(f"{len(missing)} Charades video(s) are missing under {videos_root}: "
                                f"{list_some(missing)}")
    index = VideoIndex(dataset=dataset, root=str(videos_dir), classes=classes, videos=records,
                       flip_invariant=True, metric="mAP", meta={"class_codes": codes})
    index.validate()
    return index


# --------------------------------------------------------------------------------------------- targets
def multi_hot(records: list[VideoRecord], num_classes: int) -> np.ndarray:
    """(V, K) float32 video targets: 1 where the class is among the video's ``labels`` (all 0 for no action)."""
    out = np.zeros((len(records), num_classes), np.float32)
    for i, r in enumerate(records):
        out[i, list(r.labels)] = 1.0
    return out


def frame_targets(actions: tuple[Action, ...], times: np.ndarray, num_classes: int) -> np.ndarray:
    """(len(times), K) float32 per-frame targets: class k is 1 at time t when an action of class k has
    ``start <= t <= end`` (the frame labels of the focused-crop paper's frame loss). times: seconds."""
    times = np.asarray(times, np.float64)
    out = np.zeros((len(times), num_classes), np.float32)
    for k, start, end in actions:
        out[(times >= start) & (times <= end), k] = 1.0
    return out
