"""Per-frame actor bounding boxes: the one schema shared by the synthetic benchmark and THUMOS'13.

The synthetic generator writes it; the THUMOS'13 / UCF101-24 parser converts its annotation file into it;
the ``localize`` stage reads it. A boxes file is JSON::

    {"schema": "attdistill.boxes/v1",
     "videos": {
        "<video_id>": {
            "width": 320, "height": 240,          # frame size the coordinates refer to (the source video)
            "fps": 25.0, "num_frames": 150,        # source frame rate and length
            "tubes": [                             # one tube per annotated actor
                {"label": 3,                       # class index, or -1 when unknown
                 "frames": [0, 1, 2, ...],         # 0-based source frame numbers, increasing
                 "boxes": [[x1, y1, x2, y2], ...]} # pixels, x2/y2 exclusive, one box per listed frame
            ]}}}

Coordinates are floats in source-video pixels; stages that resize or resample frames map them with
:func:`boxes_at_time` and :func:`scale_box`.
"""

from __future__ import annotations

import json
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = "attdistill.boxes/v1"
Box = tuple[float, float, float, float]


@dataclass
class Tube:
    label: int
    frames: list[int]
    boxes: list[Box]

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.boxes):
            raise ValueError("a tube needs one box per frame")
        if any(b <= a for a, b in zip(self.frames, self.frames[1:])):
            raise ValueError("tube frames must be strictly increasing")
        for x1, y1, x2, y2 in self.boxes:
            if not (x2 >= x1 and y2 >= y1):
                raise ValueError(f"box {(x1, y1, x2, y2)} has x2 < x1 or y2 < y1")


@dataclass
class VideoBoxes:
    width: int
    height: int
    fps: float
    num_frames: int
    tubes: list[Tube] = field(default_factory=list)

    def boxes_at_frame(self, frame: int) -> list[Box]:
        """Boxes of every tube annotated at source frame ``frame`` (exact frame number)."""
        out = []
        for t in self.tubes:
            i = bisect_right(t.frames, frame) - 1
            if i >= 0 and t.frames[i] == frame:
                out.append(t.boxes[i])
        return out

    def boxes_at_time(self, seconds: float) -> list[Box]:
        """Boxes at time ``seconds``: the source frame shown at that time (nearest-earlier frame)."""
        frame = int(seconds * self.fps + 1e-6)
        return self.boxes_at_frame(min(max(frame, 0), self.num_frames - 1))


def scale_box(box: Box, sx: float, sy: float) -> Box:
    x1, y1, x2, y2 = box
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def to_dict(videos: dict[str, VideoBoxes]) -> dict:
    return {
        "schema": SCHEMA,
        "videos": {
            vid: {
                "width": vb.width, "height": vb.height, "fps": vb.fps, "num_frames": vb.num_frames,
                "tubes": [{"label": t.label, "frames": list(t.frames),
                           "boxes": [[round(float(c), 3) for c in b] for b in t.boxes]} for t in vb.tubes],
            }
            for vid, vb in videos.items()
        },
    }


def from_dict(d: dict) -> dict[str, VideoBoxes]:
    if d.get("schema") != SCHEMA:
        raise ValueError(f"boxes file schema is {d.get('schema')!r}, expected {SCHEMA!r}")
    out = {}
    for vid, v in d["videos"].items():
        tubes = [Tube(int(t["label"]), [int(f) for f in t["frames"]], [tuple(map(float, b)) for b in t["boxes"]])
                 for t in v["tubes"]]
        out[vid] = VideoBoxes(int(v["width"]), int(v["height"]), float(v["fps"]), int(v["num_frames"]), tubes)
    return out


def save(videos: dict[str, VideoBoxes], path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_dict(videos)))
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> dict[str, VideoBoxes]:
    with open(path) as fh:
        return from_dict(json.load(fh))
