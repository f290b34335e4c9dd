"""THUMOS'13 localisation boxes (UCF101-24) into the :mod:`attdistill.data.boxes` schema.

THUMOS'13 published per-video ViPER XML files whose parsing is error-prone (different class names, boxes
outside the frame, missing instances). We use the widely used *corrected* parse by Gurkirt Singh,
``pyannot.pkl`` of https://github.com/gurkirt/corrected-UCF101-Annots (added in commit 41d387e, unchanged
since; 3,194 videos, 4,458 tubes; the README evaluates on the 910 test videos of split 1). The file is
pinned by URL at that commit and by SHA-256 in ``profiles/ucf101.yaml``.

Structure of ``pyannot.pkl`` (a protocol-3 pickle of plain dicts and numpy arrays)::

    {"Basketball/v_Basketball_g01_c01":          # UCF101 video id (class folder / file stem)
        {"label": 0,                              # 0..23, index into the 24 sorted class names
         "numf": 164,                             # number of frames of the video
         "annotations": [                         # one tube per annotated actor
             {"label": 0, "sf": 0, "ef": 164,     # start frame (0-based), end frame (exclusive)
              "boxes": uint8/uint16 array (ef - sf, 4)}]},   # [x, y, width, height] in pixels, one per frame
     ...}

Conversion: frames ``sf .. ef - 1``; box ``[x, y, x + w, y + h]`` (x2/y2 exclusive); frame size 320 x 240 and
25 fps, the format of every UCF101 video (the pickle stores neither; boxes never exceed 320 x 240). A tube's
label becomes the UCF101 class index of its video's folder, checked against the pickle's own 24-class label.

Unpickling runs code chosen by the file's author, so :func:`load_pyannot` uses a restricted unpickler that
only rebuilds numpy arrays and scalars; anything else is refused (and the file is checksum-pinned anyway).
"""

from __future__ import annotations

import importlib
import os
import pickle

import numpy as np

from attdistill.data.boxes import Tube, VideoBoxes

UCF101_WIDTH, UCF101_HEIGHT, UCF101_FPS = 320, 240, 25.0
_ALLOWED = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.multiarray", "_reconstruct"),
}


class ThumosFormatError(ValueError):
    """The annotation file does not have the structure described in the module docstring."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an annotation pickle")
        if module.startswith("numpy.core"):          # numpy >= 2 moved numpy.core to numpy._core
            module = module.replace("numpy.core", "numpy._core", 1)
        return getattr(importlib.import_module(module), name)


def load_pyannot(path: str | os.PathLike) -> dict:
    """Load ``pyannot.pkl`` (numpy arrays and plain containers only)."""
    with open(path, "rb") as fh:
        try:
            data = _NumpyOnlyUnpickler(fh, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ThumosFormatError(f"{path}: not a readable annotation pickle ({exc})") from exc
    if isinstance(data, dict) and "db" in data:       # pyannot_with_class_names.pkl wraps the same dict
        data = data["db"]
    if not isinstance(data, dict):
        raise ThumosFormatError(f"{path}: expected a dict of videos, got {type(data).__name__}")
    return data


def parse_thumos(path: str | os.PathLike, classes: list[str], video_ids: set[str] | None = None,
                 ) -> dict[str, VideoBoxes]:
    """Convert ``pyannot.pkl`` into ``{video_id: VideoBoxes}`` with labels indexing ``classes`` (UCF101's).

    ``video_ids`` (optional) keeps only those videos (e.g. the ones of the index).
    """
    data = load_pyannot(path)
    class_pos = {c.lower(): i for i, c in enumerate(classes)}
    label_names: dict[int, str] = {}                  # the pickle's 24-class label -> folder name, checked
    out: dict[str, VideoBoxes] = {}
    for key, video in data.items():
        vid = str(key).replace("\\", "/")
        if not isinstance(video, dict) or "annotations" not in video or "numf" not in video:
            raise ThumosFormatError(f"{path}: video {vid!r} lacks 'annotations' or 'numf'")
        folder = vid.split("/")[0]
        if folder.lower() not in class_pos:
            raise ThumosFormatError(f"{path}: video {vid!r} has class folder {folder!r}, not a UCF101 class")
        if video_ids is not None and vid not in video_ids:
            continue
        label = class_pos[folder.lower()]
        numf = int(video["numf"])
        tubes = []
        for t, ann in enumerate(video["annotations"]):
            own = int(ann["label"])
            if label_names.setdefault(own, folder) != folder:
                raise ThumosFormatError(f"{path}: label {own} names both {label_names[own]!r} and {folder!r}")
            sf, ef = int(ann["sf"]), int(ann["ef"])
            boxes = np.asarray(ann["boxes"], dtype=np.float64).reshape(-1, 4)
            if boxes.shape[0] != ef - sf or not 0 <= sf < ef <= numf:
                raise ThumosFormatError(f"{path}: {vid} tube {t}: frames {sf}..{ef} of {numf} do not match "
                                        f"{boxes.shape[0]} boxes")
            x, y, w, h = boxes.T
            xyxy = np.stack([x, y, x + w, y + h], axis=1)
            tubes.append(Tube(label=label, frames=list(range(sf, ef)),
                              boxes=[tuple(map(float, b)) for b in xyxy]))
        out[vid] = VideoBoxes(width=UCF101_WIDTH, height=UCF101_HEIGHT, fps=UCF101_FPS, num_frames=numf, tubes=tubes)
    if not out:
        raise ThumosFormatError(f"{path}: no annotated video matches the index")
    return out
