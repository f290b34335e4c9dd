"""What every dataset parser ends with: fail on missing videos or an empty split, else the validated index."""

from __future__ import annotations

import os

from attdistill.data.index import VideoIndex, VideoRecord, list_some


def finish_index(dataset: str, videos_dir: str | os.PathLike, classes: list[str], records: list[VideoRecord], *,
                 missing: list[str], missing_what: str, empty: Exception, flip_invariant: bool) -> VideoIndex:
    """The index of ``records``; FileNotFoundError listing some of ``missing`` ("N <missing_what>: a, b, ...") when
    any listed video is absent, ``empty`` when the split lists none."""
    if missing:
        raise FileNotFoundError(f"{len(missing)} {missing_what}: {list_some(missing)}")
    if not records:
        raise empty
    index = VideoIndex(dataset=dataset, root=str(videos_dir), classes=classes, videos=records,
                       flip_invariant=flip_invariant, metric="mean_class")
    index.validate()
    return index
