"""Where the ``plots`` and ``figures`` stages read their inputs: every folder is given on the stage's command line.

Per-model outputs lie one folder per training seed below the model's folder (``<eval reports>/<id>/s<seed>/``), as
the seed matrices of dvc.yaml write them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def write_json(obj: dict, out: str | os.PathLike) -> None:
    """Write a JSON report atomically (a reader never sees half a file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, out)


@dataclass(frozen=True)
class ReportPaths:
    index: Path              # the dataset index (index.json)
    eval_reports: Path       # <id>/s<seed>/metrics.json and confusion.json of the evaluate stages
    localize: Path           # s<seed>/metrics.json and s<seed>/pr/*.csv of the localize stages
    train_logs: Path         # <id>/s<seed>/ dvclive folders of the training stages
    frames: Path | None = None      # frame packs (for the attention overlays; the figures stage)
    eval_data: Path | None = None   # <id>/s<seed>/scores.npz and maps.npz of the evaluate stages (figures)
    seed: int = 0            # the seed whose single-run figures (maps, confusion, PR curves) are drawn
    flops: Path | None = None   # the flops stage's report (GFLOPs of I3D / +CBAM / +W3), when there is one
    detect: Path | None = None  # s<seed>/metrics.json of the detect stages (STAM Table 3), when there are some
    temporal: Path | None = None  # s<seed>/metrics.json of the temporal stages (STAM Table 4)
    focus: Path | None = None   # s<seed>/metrics.json of the focus_boxes stages (focused box vs actor box)

    @classmethod
    def from_strings(cls, seed: int, **kw: str | None) -> "ReportPaths":
        return cls(**{k: Path(v) for k, v in kw.items() if v is not None}, seed=seed)

    def eval_dir(self, model_id: str, seed: int | None = None) -> Path:
        return self.eval_data / model_id / f"s{self.seed if seed is None else seed}"

    def report_dir(self, model_id: str, seed: int | None = None) -> Path:
        return self.eval_reports / model_id / f"s{self.seed if seed is None else seed}"

    def train_dir(self, model_id: str, seed: int | None = None) -> Path:
        return self.train_logs / model_id / f"s{self.seed if seed is None else seed}"

    def localize_dir(self, seed: int | None = None) -> Path:
        return self.localize / f"s{self.seed if seed is None else seed}"
