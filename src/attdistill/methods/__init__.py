"""Every model id, declared once in the module of its method (:mod:`.registry` says what a declaration holds).

* :mod:`.distillation` — Attention Distillation for Learning Video Representations (BMVC 2020): Table 1's
  baselines, the student, the MARS-style and reference-attention controls, the two late fusions;
* :mod:`.mfr` — ``distill-mfr``, W3's MFR second stage applied to the student;
* :mod:`.w3` — Knowing What, Where and When to Look (papers/001): W3, AFR, MFR, CBAM and the ablations;
* :mod:`.stam` — Where and When to Look? (STAM, papers/003): the frame CNN, STAM and its ablations;
* :mod:`.focus` — Focused Attention for Action Recognition (papers/004): Base, both fusions, the controls.

The lists below are the only lists of ids: stage CLIs, summary.json, the tables, localisation and the dvc.yaml
consistency test read them.
"""

from __future__ import annotations

from . import distillation, focus, mfr, stam, w3
from .registry import Claim, FusionSpec, ModelSpec, Quantity, Row, Teacher

MODELS: tuple[ModelSpec, ...] = (*distillation.MODELS, *mfr.MODELS, *w3.MODELS, *stam.MODELS, *focus.MODELS)
FUSIONS: tuple[FusionSpec, ...] = distillation.FUSIONS
CLAIMS: tuple[Claim, ...] = (*distillation.CLAIMS, *w3.CLAIMS, *stam.CLAIMS, *focus.CLAIMS)
# (model id, row) of a method's table for a model another method declares (the W3 tables' plain I3D)
EXTRA_ROWS: tuple[tuple[str, Row], ...] = w3.EXTRA_ROWS
teacher_model_id = distillation.teacher_model_id        # params -> the Table-1 flow model used as the teacher

TRAINED_IDS: tuple[str, ...] = tuple(m.id for m in MODELS if not m.weights_of)   # one training stage each
EVALUATED_IDS: tuple[str, ...] = tuple(m.id for m in MODELS if m.evaluated)   # scored on the test split
FUSION_IDS: tuple[str, ...] = tuple(f.id for f in FUSIONS)
MODEL_IDS: tuple[str, ...] = EVALUATED_IDS + FUSION_IDS                       # the ids of summary.json models


def _check_unique() -> None:
    known = {s.id for s in (*MODELS, *FUSIONS)}
    if any(mid not in known for mid, _ in EXTRA_ROWS):
        raise ValueError(f"EXTRA_ROWS names undeclared ids: {sorted({m for m, _ in EXTRA_ROWS} - known)}")
    seen: set[str] = set()
    for spec in (*MODELS, *FUSIONS):
        if spec.id in seen:
            raise ValueError(f"model id {spec.id!r} is declared twice")
        seen.add(spec.id)
    for table in {r.table for s in (*MODELS, *FUSIONS) for r in s.rows} | {r.table for _, r in EXTRA_ROWS}:
        labels = [r.label for _, r in table_rows(table)]
        dup = {x for x in labels if labels.count(x) > 1}
        if dup:
            raise ValueError(f"{table}: row labels declared twice: {', '.join(sorted(dup))}")


def get(model_id: str) -> ModelSpec:
    """The declaration of a model id (trained, or a test-time variant); a clear error listing them otherwise."""
    for spec in MODELS:
        if spec.id == model_id:
            return spec
    raise ValueError(f"unknown model id {model_id!r}; valid ids: {', '.join(m.id for m in MODELS)}")


def get_fusion(fusion_id: str) -> FusionSpec:
    for spec in FUSIONS:
        if spec.id == fusion_id:
            return spec
    raise ValueError(f"unknown fusion {fusion_id!r}; valid ids: {', '.join(FUSION_IDS)}")


def table_rows(table: str) -> list[tuple[str, Row]]:
    """(model id, row) of every declared row of ``table``, in registry order."""
    rows = [(s.id, r) for s in (*MODELS, *FUSIONS) for r in s.rows] + list(EXTRA_ROWS)
    return [(mid, r) for mid, r in rows if r.table == table]


def localization_maps() -> dict[str, tuple[str, str]]:
    """Localisation id -> (model id, branch) of every attention map a model contributes."""
    return {map_id: (s.id, branch) for s in MODELS for map_id, branch in s.maps.items()}


_check_unique()

__all__ = ["CLAIMS", "Claim", "EVALUATED_IDS", "EXTRA_ROWS", "Quantity", "FUSIONS", "FUSION_IDS", "FusionSpec", "MODELS",
           "MODEL_IDS", "ModelSpec", "Row", "TRAINED_IDS", "Teacher", "get", "get_fusion", "localization_maps",
           "table_rows", "teacher_model_id"]
