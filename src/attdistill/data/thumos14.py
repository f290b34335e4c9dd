"""THUMOS'14 temporal annotations: the official per-class text files, read and written.

The THUMOS'14 detection task (http://crcv.ucf.edu/THUMOS14/) ships its validation and test annotations as one
text file per class, ``<Class>_val.txt`` / ``<Class>_test.txt`` (folders ``TH14_Temporal_annotations_validation/
annotation`` and ``TH14_Temporal_Annotations_Test/annotations/annotation``), 20 detection classes plus
``Ambiguous_<subset>.txt``, the parts "hard to be labeled as action or no-action" that the official evaluation
takes out. Each row is one instance, ``[video_name starting_time ending_time]``, times in seconds with one
decimal; the distributed files separate the name from the times by two spaces::

    video_validation_0000051  67.5 75.9

:func:`read_annotations` accepts any whitespace; :func:`write_annotations` writes the distributed layout. Note
that every CliffDiving instance is also annotated as Diving, so a CliffDiving video has two labels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The 20 detection classes with their UCF101 class numbers (1-based), as the THUMOS'14 readme lists them.
THUMOS14_DETECTION_CLASSES: tuple[tuple[int, str], ...] = (
    (7, "BaseballPitch"), (9, "BasketballDunk"), (12, "Billiards"), (21, "CleanAndJerk"), (22, "CliffDiving"),
    (23, "CricketBowling"), (24, "CricketShot"), (26, "Diving"), (31, "FrisbeeCatch"), (33, "GolfSwing"),
    (36, "HammerThrow"), (40, "HighJump"), (45, "JavelinThrow"), (51, "LongJump"), (68, "PoleVault"),
    (79, "Shotput"), (85, "SoccerPenalty"), (92, "TennisSwing"), (93, "ThrowDiscus"), (97, "VolleyballSpiking"),
)
AMBIGUOUS = "Ambiguous"
SUBSETS: tuple[str, ...] = ("val", "test")


class Thumos14FormatError(ValueError):
    """An annotation file or folder does not have the layout described in the module docstring."""


@dataclass(frozen=True)
class Segment:
    """One annotated instance: ``label`` is the class name of its file (``"Ambiguous"`` for ambiguous parts)."""

    video: str
    label: str
    start: float
    end: float


def _subset(subset: str) -> str:
    if subset not in SUBSETS:
        raise ValueError(f"unknown THUMOS'14 subset {subset!r}; valid values: {', '.join(SUBSETS)}")
    return subset


def read_annotation_file(path: str | os.PathLike, label: str) -> list[Segment]:
    """Rows ``video start end`` of one class file -> segments of class ``label`` (blank lines skipped)."""
    out = []
    with open(path, encoding="utf-8-sig") as fh:          # tolerate a BOM
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                if len(fields) != 3:
                    raise ValueError(f"{len(fields)} fields")
                start, end = float(fields[1]), float(fields[2])
            except ValueError as exc:
                raise Thumos14FormatError(f"{path}:{lineno}: expected 'video_name start end', got {line.strip()!r} "
                                          f"({exc})") from exc
            if not 0 <= start <= end:
                raise Thumos14FormatError(f"{path}:{lineno}: segment {start}..{end} needs 0 <= start <= end")
            out.append(Segment(fields[0], label, start, end))
    return out


def read_annotations(folder: str | os.PathLike, subset: str) -> dict[str, list[Segment]]:
    """Every ``<Class>_<subset>.txt`` in ``folder`` -> ``{class name: [Segment, ...]}`` (``Ambiguous`` included
    when present; drop it with :func:`without_ambiguous`). Raises when no file of the subset is found."""
    suffix = f"_{_subset(subset)}.txt"
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name.endswith(suffix))
    if not files:
        raise Thumos14FormatError(f"{folder}: no '<Class>{suffix}' annotation file")
    out = {}
    for p in files:
        label = p.name[: -len(suffix)]
        if not re.fullmatch(r"[A-Za-z0-9]+", label):
            raise Thumos14FormatError(f"{p}: {label!r} is not a class name")
        out[label] = read_annotation_file(p, label)
    return out


def without_ambiguous(annotations: dict[str, list[Segment]]) -> dict[str, list[Segment]]:
    return {k: v for k, v in annotations.items() if k != AMBIGUOUS}


def video_labels(annotations: dict[str, list[Segment]]) -> dict[str, set[str]]:
    """``{video: set of action classes}`` (Ambiguous not counted)."""
    out: dict[str, set[str]] = {}
    for label, segments in without_ambiguous(annotations).items():
        for s in segments:
            out.setdefault(s.video, set()).add(label)
    return out


def single_label_videos(annotations: dict[str, list[Segment]]) -> dict[str, str]:
    """``{video: class}`` for the videos annotated with exactly one action class (STAM Appendix B.1 removes
    "the videos with multiple labels")."""
    return {v: next(iter(ls)) for v, ls in sorted(video_labels(annotations).items()) if len(ls) == 1}


def format_row(segment: Segment) -> str:
    """One row in the distributed layout: name, two spaces, start and end with one decimal."""
    return f"{segment.video}  {segment.start:.1f} {segment.end:.1f}"


def write_annotations(segments: Iterable[Segment], folder: str | os.PathLike, subset: str,
                      classes: Iterable[str] = ()) -> list[Path]:
    """Write ``<Class>_<subset>.txt`` per class into ``folder`` (created); rows sorted by video, then start.

    ``classes`` names classes that get a file even without instances (empty file). Returns the written paths.
    Times are rounded to one decimal, the official precision.
    """
    _subset(subset)
    by_class: dict[str, list[Segment]] = {c: [] for c in classes}
    for s in segments:
        if not re.fullmatch(r"[A-Za-z0-9]+", s.label):
            raise ValueError(f"class name {s.label!r} cannot be a THUMOS'14 file name (letters and digits only)")
        if any(c.isspace() for c in s.video) or not s.video:
            raise ValueError(f"video name {s.video!r} must be non-empty without whitespace")
        by_class.setdefault(s.label, []).append(s)
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for label in sorted(by_class):
        rows = sorted(by_class[label], key=lambda s: (s.video, s.start, s.end))
        path = out_dir / f"{label}_{subset}.txt"
        path.write_text("".join(format_row(s) + "\n" for s in rows), encoding="utf-8")
        paths.append(path)
    return paths
