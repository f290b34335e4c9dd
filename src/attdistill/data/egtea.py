"""EGTEA Gaze+ action clips (registration required) into the :class:`VideoIndex`.

Official files (``action_annotation.zip`` and ``video_clips.tar`` from the EGTEA Gaze+ page, after
registration); the format below is what the first author's parser (``load_ant_egtea`` in
Forecasting-HOI-in-FPV) and later public loaders read:

* ``action_idx.txt``: ``<label text> <id>`` one action a line, ids 1..106 (the label text may contain
  spaces; the id is the last field);
* ``train_split{k}.txt`` / ``test_split{k}.txt``: ``<clip_name> <action_id> <verb_id> <noun_id>``
  (1-indexed ids; only the action id is used);
* clips ``<clip_name>.mp4``, where ``clip_name`` is ``<session>-<start>-<end>-F<first>-F<last>`` and
  ``session`` its first three ``-`` fields (``OP01-R01-PastaSalad``). The tar unpacks them into
  ``cropped_clips/<session>/<clip_name>.mp4``; a flat ``<clip_name>.mp4`` layout is accepted too.

Assumptions (not checkable without the registered files): ids in ``action_idx.txt`` are contiguous from 1;
split files may carry extra trailing fields; the label text is kept verbatim as the class name.
No EGTEA action depends on horizontal direction, so the index is ``flip_invariant``.
The paper reports mean class accuracy on split 1 (10,321 clips, 106 classes).
"""

from __future__ import annotations

import os
from pathlib import Path

from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.parsing import finish_index

NUM_ACTIONS = 106


class EGTEAFormatError(ValueError):
    """An EGTEA annotation file does not follow the format described in the module docstring."""


def read_action_index(path: str | os.PathLike) -> list[str]:
    """Action names of ``action_idx.txt`` in label order (id 1 -> label 0)."""
    path = Path(path)
    entries: dict[int, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not parts[1].isdigit():
            raise EGTEAFormatError(f"{path}:{n}: expected '<label text> <id>', got {line.strip()!r}")
        idx = int(parts[1])
        if idx in entries:
            raise EGTEAFormatError(f"{path}:{n}: action id {idx} appears twice")
        entries[idx] = parts[0].strip()
    if sorted(entries) != list(range(1, len(entries) + 1)):
        raise EGTEAFormatError(f"{path}: action ids must be 1..{len(entries)} without gaps")
    names = [entries[i] for i in range(1, len(entries) + 1)]
    if len(set(names)) != len(names):
        raise EGTEAFormatError(f"{path}: duplicate action names")
    return names


def session_of(clip: str) -> str:
    """``OP01-R01-PastaSalad-1002316-1004005-F024051-F024101`` -> ``OP01-R01-PastaSalad``."""
    return "-".join(clip.split("-")[:3])


def parse_egtea(annotations_dir: str | os.PathLike, videos_dir: str | os.PathLike, split: int = 1,
                dataset: str = "egtea", check_files: bool = True) -> VideoIndex:
    """Read ``action_idx.txt`` and ``{train,test}_split{split}.txt`` into a :class:`VideoIndex`.

    Each clip is found as ``<session>/<clip>.mp4`` or ``<clip>.mp4`` under ``videos_dir``; with
    ``check_files`` clips found in neither place are reported together (count and the first few).
    """
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split}")
    ann, videos_root = Path(annotations_dir), Path(videos_dir)
    classes = read_action_index(ann / "action_idx.txt")
    records: list[VideoRecord] = []
    missing: list[str] = []
    seen: set[str] = set()
    for split_name in ("train", "test"):
        path = ann / f"{split_name}_split{split}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: EGTEA split file not found")
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2 or not fields[1].isdigit():
                raise EGTEAFormatError(
                    f"{path}:{n}: expected '<clip_name> <action_id> <verb_id> <noun_id>', got {line.strip()!r}")
            clip, action = fields[0], int(fields[1])
            if not 1 <= action <= len(classes):
                raise EGTEAFormatError(f"{path}:{n}: action id {action} outside 1..{len(classes)}")
            if clip in seen:
                raise EGTEAFormatError(f"{path}:{n}: clip {clip} is listed twice in split {split}")
            seen.add(clip)
            rel = f"{session_of(clip)}/{clip}.mp4"
            if check_files and not (videos_root / rel).is_file():
                if (videos_root / f"{clip}.mp4").is_file():
                    rel = f"{clip}.mp4"
                else:
                    missing.append(rel)
                    continue
            records.append(VideoRecord(video_id=rel[:-4], path=rel, label=action - 1, split=split_name))
    return finish_index(dataset, videos_dir, classes, records, missing=missing, flip_invariant=True,
                        missing_what=f"EGTEA clip(s) of split {split} are missing under {videos_root} "
                                     "(looked for <session>/<clip>.mp4 and <clip>.mp4)",
                        empty=EGTEAFormatError(f"{ann}: split {split} lists no clips"))
