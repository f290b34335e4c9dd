"""Where the ``plots`` stage reads its inputs: every folder is given on the stage's command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReportPaths:
    index: Path              # the dataset index (index.json)
    frames: Path             # frame packs (for the attention overlays)
    eval_data: Path          # <id>/scores.npz and <id>/maps.npz of the evaluate stages
    eval_reports: Path       # <id>/metrics.json and <id>/confusion.json of the evaluate stages
    localize: Path           # metrics.json and pr/*.csv of the localize stage
    train_logs: Path         # <id>/ dvclive folders of the training stages
    long_budget: Path        # <id>/ dvclive folders of the long-budget runs (README)
    teacher: Path            # the selected teacher's model.pt (which Table-1 model it is)

    @classmethod
    def from_strings(cls, **kw: str) -> "ReportPaths":
        return cls(**{k: Path(v) for k, v in kw.items()})
