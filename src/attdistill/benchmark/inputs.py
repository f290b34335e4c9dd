"""What the speed benchmark runs on: one clip of the dataset (else a synthetic one) and the dataset's class count."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..config import Params
from ..data.dataset import clip_indices
from ..data.index import VideoIndex
from ..data.packs import Pack, PackError, pack_path
from .flow_pattern import synthetic_frames


def benchmark_input(params: Params, index_path: Path, frames_dir: Path) -> tuple[np.ndarray, str]:
    """``T + 1`` frames (T = clip.frames; the flow of a clip needs one frame more) and where they came from.

    The first test video (by id) of the index that has a frame pack, else :func:`synthetic_frames`.
    """
    n_frames = params.clip.frames + 1
    if index_path.exists():
        try:
            index = VideoIndex.load(index_path)
            for rec in sorted(index.split("test"), key=lambda r: r.video_id):
                path = pack_path(frames_dir, rec.video_id)
                if not path.exists():
                    continue
                with Pack(path) as pk:
                    idx = clip_indices(0, n_frames, len(pk))[0]
                    return pk.read(idx.tolist()), str(path)
        except (OSError, ValueError, PackError) as exc:
            print(f"benchmark: cannot read the dataset ({exc}); using a synthetic clip", file=sys.stderr)
    f = params.frames
    return synthetic_frames(n_frames, f.height, f.width, params.seed), "synthetic"


def num_classes(params: Params, index_path: Path) -> int:
    """The index's class count; without an index, that of the synthetic benchmark the params describe."""
    try:
        return VideoIndex.load(index_path).num_classes
    except (OSError, ValueError, KeyError):
        return len(params.synthetic.kinds) * len(params.synthetic.motions)
