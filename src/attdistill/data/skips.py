"""The skip reports of the frames and flow stages, read back: which videos every later stage leaves out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable


def skipped_ids(reports: Iterable[str | os.PathLike]) -> set[str]:
    """Video ids listed in the frames/flow skip reports (``{"skipped": [{"video_id": ...}, ...]}`` or a bare
    list); a report that does not exist counts as empty."""
    ids: set[str] = set()
    for r in reports:
        r = Path(r)
        if r.exists():
            data = json.loads(r.read_text())
            items = data.get("skipped", data) if isinstance(data, dict) else data
            ids.update(x["video_id"] for x in items)
    return ids
