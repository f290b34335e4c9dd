"""20BN-Something-Something V2 (registration required) into the :class:`VideoIndex`.

Official annotation files (the 20BN / Qualcomm download; later copies name them ``labels/labels.json``,
``labels/train.json``, ``labels/validation.json``, which are accepted too):

* ``something-something-v2-labels.json``: ``{"<template>": "<id>", ...}``, 174 templates, ids "0".."173";
* ``something-something-v2-train.json`` / ``-validation.json``: lists of
  ``{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
  "template": "Holding [something] next to [something]", "placeholders": [...]}``.
  The template carries ``[`` ``]`` around placeholders; they are stripped before the lookup.

Videos are ``<id>.webm`` (the ``20bn-something-something-v2-??`` parts concatenate to one tar that unpacks to
``20bn-something-something-v2/<id>.webm``). As in the paper, the validation set is our test split; the
paper reports top-1 / top-5 accuracy (metric ``top1``).

Direction classes: a horizontal flip turns "Pushing something from left to right" into "... from right to
left". :func:`flip_map_from_templates` pairs every template with the one obtained by swapping the words
``left`` and ``right`` when that template exists (MMAction2's sthv2 configs flip-map the same three pairs:
86<->87, 93<->94, 166<->167 for Pulling / Pushing left-right and Turning the camera left/right).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from attdistill.data.index import VideoIndex, VideoRecord, list_some

ANNOTATION_NAMES = {
    "labels": ("something-something-v2-labels.json", "labels.json"),
    "train": ("something-something-v2-train.json", "train.json"),
    "validation": ("something-something-v2-validation.json", "validation.json"),
}
NUM_TEMPLATES = 174
_LR = re.compile(r"\b(left|right)\b", re.IGNORECASE)


class SSv2FormatError(ValueError):
    """An annotation file does not follow the 20BN-V2 format."""


def normalize_template(template: str) -> str:
    """``Putting [something] onto [something]`` -> ``Putting something onto something``."""
    return template.replace("[", "").replace("]", "").strip()


def find_annotation(ann_dir: str | os.PathLike, kind: str) -> Path | None:
    """The file of ``kind`` (labels / train / validation) under ``ann_dir`` or ``ann_dir/labels``, if any."""
    ann_dir = Path(ann_dir)
    for folder in (ann_dir, ann_dir / "labels"):
        for name in ANNOTATION_NAMES[kind]:
            if (folder / name).is_file():
                return folder / name
    return None


def read_labels(path: str | os.PathLike) -> list[str]:
    """Templates of ``-labels.json`` in id order."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data:
        raise SSv2FormatError(f"{path}: expected an object {{template: id}}")
    by_id: dict[int, str] = {}
    for template, idx in data.items():
        if not str(idx).isdigit():
            raise SSv2FormatError(f"{path}: id {idx!r} of {template!r} is not an integer string")
        if int(idx) in by_id:
            raise SSv2FormatError(f"{path}: id {idx} appears twice")
        by_id[int(idx)] = normalize_template(template)
    if sorted(by_id) != list(range(len(by_id))):
        raise SSv2FormatError(f"{path}: ids must be 0..{len(by_id) - 1} without gaps")
    return [by_id[i] for i in range(len(by_id))]


def flip_map_from_templates(classes: list[str]) -> list[int]:
    """Label permutation of a horizontal flip: swap ``left``/``right`` words; identity when no partner exists."""
    pos = {c.lower(): i for i, c in enumerate(classes)}

    def swap(text: str) -> str:
        return _LR.sub(lambda m: {"left": "right", "right": "left"}[m.group(1).lower()], text)

    out = []
    for i, c in enumerate(classes):
        partner = pos.get(swap(c).lower(), i)
        # Only a mutual pair counts (swap is an involution, so this holds whenever partner exists).
        out.append(partner if pos.get(swap(classes[partner]).lower()) == i else i)
    return out


def _read_entries(path: Path, templates: dict[str, int]) -> list[tuple[str, int]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise SSv2FormatError(f"{path}: expected a list of {{id, label, template, placeholders}}")
    out = []
    for n, item in enumerate(data):
        if not isinstance(item, dict) or "id" not in item or "template" not in item:
            raise SSv2FormatError(f"{path}: entry {n} lacks 'id' or 'template': {item!r}")
        template = normalize_template(str(item["template"]))
        if template not in templates:
            raise SSv2FormatError(f"{path}: entry {n} (id {item['id']}) has template {template!r}, "
                                  f"which is not in the labels file")
        out.append((str(item["id"]), templates[template]))
    return out


def parse_ssv2(annotations_dir: str | os.PathLike, videos_dir: str | os.PathLike, dataset: str = "ssv2",
               check_files: bool = True) -> VideoIndex:
    """Read the labels / train / validation JSON files into a :class:`VideoIndex` of ``<id>.webm`` videos.

    ``validation`` becomes the ``test`` split. With ``check_files`` missing videos are reported together.
    """
    ann = Path(annotations_dir)
    paths = {kind: find_annotation(ann, kind) for kind in ANNOTATION_NAMES}
    absent = [ANNOTATION_NAMES[k][0] for k, p in paths.items() if p is None]
    if absent:
        raise FileNotFoundError(f"{ann}: missing 20BN-V2 annotation file(s): {', '.join(absent)}")
    classes = read_labels(paths["labels"])
    templates = {c: i for i, c in enumerate(classes)}
    videos_root = Path(videos_dir)
    present: set[str] | None = None
    if check_files:
        if not videos_root.is_dir():
            raise FileNotFoundError(f"{videos_root}: 20BN-V2 videos folder not found")
        present = {e.name for e in os.scandir(videos_root) if e.is_file()}

    records: list[VideoRecord] = []
    missing: list[str] = []
    for split_name, kind in (("train", "train"), ("test", "validation")):
        for vid, label in _read_entries(paths[kind], templates):
            rel = f"{vid}.webm"
            if present is not None and rel not in present:
                missing.append(rel)
                continue
            records.append(VideoRecord(video_id=vid, path=rel, label=label, split=split_name))
    if missing:
        raise FileNotFoundError(f"{len(missing)} 20BN-V2 video(s) are missing under {videos_root}: "
                                f"{list_some(missing)}")
    index = VideoIndex(dataset=dataset, root=str(videos_dir), classes=classes, videos=records,
                       flip_map=flip_map_from_templates(classes), flip_invariant=False, metric="top1")
    index.validate()
    return index
