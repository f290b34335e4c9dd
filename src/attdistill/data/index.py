"""The one internal index every dataset is parsed into.

Every parser (synthetic/UCF101, HMDB51, EGTEA, 20BN-V2) produces a :class:`VideoIndex`; the ``download``
stage writes it to ``data/raw/index.json`` and every later stage reads it from there. Nothing after
``download`` knows which dataset it is working on, except through the fields below.

``video_id`` is the video's path relative to the videos root without its extension, with ``/``
separators (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01``). Frame and flow packs are stored under the
same id (``data/frames/<video_id>.pack``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Literal

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
SCHEMA = "attdistill.index/v1"


@dataclass(frozen=True)
class VideoRecord:
    video_id: str          # relative path without extension, "/"-separated; unique within the index
    path: str              # path of the video file relative to VideoIndex.root
    label: int             # 0-based class index into VideoIndex.classes
    split: Split           # "train", "val" (carved from the official train list) or "test" (20BN-V2: its
                           # validation set is our test split)
    group: str = ""        # UCF101 gXX group / subject id when the dataset defines one
    # Multi-label datasets (Charades): every action as (class index, start s, end s); label is then -1.
    # Empty for single-label datasets, and then not written to index.json (their files stay byte-identical).
    actions: tuple[tuple[int, float, float], ...] = ()

    @property
    def labels(self) -> tuple[int, ...]:
        """The video's classes, sorted: those of its actions (multi-label), else ``(label,)``."""
        if self.label < 0:
            return tuple(sorted({a[0] for a in self.actions}))
        return (self.label,)


@dataclass
class VideoIndex:
    dataset: str                        # synthetic | ucf101 | hmdb51 | egtea | ssv2
    root: str                           # folder the record paths are relative to (as written, usually relative to the repo)
    classes: list[str]                  # class names; index = label
    videos: list[VideoRecord]
    # Label permutation applied by a horizontal flip (left<->right, cw<->ccw); None = the dataset declares none.
    flip_map: list[int] | None = None
    # True when no class depends on horizontal direction, so flipping without a map is label-preserving.
    flip_invariant: bool = False
    # Label permutation applied by reversing time (toward<->away ...); None = unknown. Used by Table 5 extras.
    reverse_map: list[int] | None = None
    # What the paper reports on this dataset; "mAP" marks a multi-label index (labels in VideoRecord.actions).
    metric: Literal["mean_class", "top1", "mAP"] = "mean_class"
    boxes: str = ""                     # path of the boxes file (attdistill.data.boxes schema), "" = none
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ queries
    def split(self, split: Split) -> list[VideoRecord]:
        return [v for v in self.videos if v.split == split]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def by_id(self) -> dict[str, VideoRecord]:
        return {v.video_id: v for v in self.videos}

    def can_flip(self) -> bool:
        """Horizontal flips are allowed only with a flip map, or when no class depends on direction."""
        return self.flip_map is not None or self.flip_invariant

    def flip_label(self, label: int) -> int:
        if self.flip_map is not None:
            return self.flip_map[label]
        if self.flip_invariant:
            return label
        raise ValueError(f"{self.dataset}: no flip label map and classes depend on direction; flipping is not allowed")

    # ------------------------------------------------------------------ validation and I/O
    def validate(self) -> None:
        n = len(self.classes)
        if len(set(self.classes)) != n:
            raise ValueError(f"{self.dataset}: duplicate class names")
        ids = [v.video_id for v in self.videos]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"{self.dataset}: duplicate video ids, e.g. {dup}")
        multilabel = self.metric == "mAP"
        for v in self.videos:
            if multilabel and v.label != -1:
                raise ValueError(f"{v.video_id}: a multi-label (mAP) index has label -1 and its classes in actions")
            if not multilabel and not 0 <= v.label < n:
                raise ValueError(f"{v.video_id}: label {v.label} outside [0, {n})")
            if v.actions and not multilabel:
                raise ValueError(f"{v.video_id}: actions are only allowed in a multi-label (mAP) index")
            if any(not 0 <= a[0] < n for a in v.actions):
                raise ValueError(f"{v.video_id}: an action class is outside [0, {n})")
            if v.split not in SPLITS:
                raise ValueError(f"{v.video_id}: split {v.split!r} is not one of {', '.join(SPLITS)}")
        for name, perm in (("flip_map", self.flip_map), ("reverse_map", self.reverse_map)):
            if perm is not None and sorted(perm) != list(range(n)):
                raise ValueError(f"{self.dataset}: {name} is not a permutation of the {n} labels")
        groups = {}
        for v in self.videos:
            if v.group:
                groups.setdefault((v.label, v.group), set()).add(v.split)
        leaks = [k for k, s in groups.items() if len(s) > 1]
        if leaks:
            raise ValueError(f"{self.dataset}: groups in both splits, e.g. {leaks[:3]}")

    def to_dict(self) -> dict:
        d = asdict(self)
        for v in d["videos"]:
            if not v["actions"]:
                del v["actions"]
        d["schema"] = SCHEMA
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VideoIndex":
        d = dict(d)
        if d.pop("schema", SCHEMA) != SCHEMA:
            raise ValueError(f"index schema is not {SCHEMA}")
        d["videos"] = [VideoRecord(**{**v, "actions": tuple(tuple(a) for a in v.get("actions", ()))})
                       for v in d["videos"]]
        idx = cls(**d)
        idx.validate()
        return idx

    def save(self, path: str | os.PathLike) -> None:
        self.validate()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "VideoIndex":
        with open(path) as fh:
            return cls.from_dict(json.load(fh))

    def video_path(self, record: VideoRecord, base: str | os.PathLike = ".") -> Path:
        return Path(base) / self.root / record.path


def permutation_from_names(classes: list[str], rename: dict[str, str]) -> list[int]:
    """Label permutation mapping each class to the class named ``rename(name)`` (identity if absent)."""
    pos = {c: i for i, c in enumerate(classes)}
    return [pos[rename.get(c, c)] for c in classes]


def list_some(items: list[str], limit: int = 5) -> str:
    """``"a, b, c and 7 more"``: the first ``limit`` items of a list an error message names."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def shard(items: Iterable, k: int, n: int) -> list:
    """Items of shard ``k`` of ``n`` (0-based, round-robin in the given order): each item in exactly one shard."""
    if not 0 <= k < n:
        raise ValueError(f"shard {k}/{n}: need 0 <= k < n")
    return [x for i, x in enumerate(items) if i % n == k]


def carve_val(index: VideoIndex, fraction: float) -> VideoIndex:
    """Move whole groups of the official training list to a validation split (in place; returns ``index``).

    Groups are the dataset's own (UCF101's gXX, a subject): a group is never in two splits, so validation videos
    share no source video or actor with training videos. With groups, the validation groups are the first
    ``round(fraction * G)`` (at least one) of the G training groups in sorted order (UCF101 split 1 trains on
    g08-g25: fraction 0.1 gives g08, g09); without groups every video is its own group and the order is the CRC-32
    of its id, so the choice spreads over classes. Deterministic: the same lists always give the same split.
    ``fraction`` 0 leaves the index as it is.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"val fraction must be in [0, 1), got {fraction}")
    train = index.split("train")
    if fraction == 0 or not train:
        return index
    grouped = all(v.group for v in train)
    key = (lambda v: v.group) if grouped else (lambda v: v.video_id)
    order = sorted({key(v) for v in train}, key=(lambda g: g) if grouped else (lambda g: (zlib.crc32(g.encode()), g)))
    val = set(order[:max(1, round(fraction * len(order)))])
    if len(val) == len(order):
        raise ValueError(f"{index.dataset}: val fraction {fraction} leaves no training group ({len(order)} groups)")
    index.videos = [dataclasses.replace(v, split="val") if v.split == "train" and key(v) in val else v
                    for v in index.videos]
    index.meta = {**index.meta, "val": {"fraction": fraction, "by": "group" if grouped else "video",
                                        "groups": sorted(val) if grouped else len(val)}}
    return index
