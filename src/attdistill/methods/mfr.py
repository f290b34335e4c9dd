"""``distill-mfr``: feature self-distillation of the attention-distilled student, in the manner of W3's MFR second stage
(Perez-Rua et al., "Knowing What, Where and When to Look", Eq. 9).

A second student of the same architecture is trained with Eq. 8 of the main paper plus
``mfr.weight · ‖y_S − y_T‖`` per frame, where ``y_T`` is the Mixed_5c feature of the frozen stage-1 ``distill``
student (``stage1``). It is not W3's MFR, which refines a W3 model: that one is :mod:`.w3`'s ``w3`` and ``cbam-mfr``.
"""

from __future__ import annotations

import torch

from .. import losses as L
from ..config import Params
from ..models.networks import NetOutput
from .distillation import TEACHER, distill_loss
from .registry import ModelSpec, Row, Teacher, main_attention


def mfr_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Eq. 8 of the main paper + mfr.weight · Σ_branches ‖y_S − y_stage1‖ (per frame, W3 Eq. 9)."""
    total, terms = distill_loss(out, target, t_out, p)
    s1 = t_out["stage1"]
    mfr = sum(L.mfr_loss(out.final[b], s1.final[b], norm=p.mfr.norm) for b in out.final)
    terms["mfr"] = float(mfr.detach())
    return total + p.mfr.weight * mfr, terms


MFR = ModelSpec(
    id="distill-mfr",
    description="feature self-distillation of the attention-distilled student (W3's MFR applied to distill)",
    stage="distill_mfr", network="student", attention=main_attention, input="rgb", loss=mfr_loss,
    teachers=(TEACHER, Teacher("stage1", "distill", "rgb")), sections=("attention", "distill", "mfr"),
    rows=(Row("table2", "MFR-style second stage (after W3; not in this paper)"), Row("table5", "(ours only) MFR")),
    maps={"distill-mfr-appearance": "appearance", "distill-mfr-motion": "motion"})

MODELS = (MFR,)
