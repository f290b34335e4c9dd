"""Knowing What, Where and When to Look (Pérez-Rúa, Martinez, Zhu, Toisoul, Escorcia, Xiang; papers/001): W3
attention with AFR and two-stage MFR on the project's RGB Inception-I3D (:mod:`attdistill.models.w3_i3d`).

==============  ===============================================  =====================================
id              network (``w3`` kind, :data:`~attdistill.models.w3_i3d.VARIANTS`)  loss
==============  ===============================================  =====================================
``w3-no-mfr``   W3 + AFR on every Inception module (stage 1)      CE on the refined features y (Eq. 8)
``w3``          the same architecture, stage 2                    CE + mfr.weight · L_fm (Eq. 9)
``w3-no-afr``   W3 without AFR (stage 1)                          CE
``w3-no-sa``    W3 without spatial attention (hence no AFR)       CE
``w3-no-ta``    W3 without temporal reasoning, with AFR           CE
``cbam``        CBAM: no temporal reasoning, no AFR (stage 1)     CE
``cbam-mfr``    CBAM, stage 2                                     CE + mfr.weight · L_fm
==============  ===============================================  =====================================

Stage 2 trains a fresh network of the stage-1 model's architecture (born-again style, seeds digest §1.7) while
the stage-1 model (teacher role ``stage1``) runs frozen in eval mode; L_fm compares the two refined Mixed_5c
features y per frame. "AFR loss" (undefined in the paper) is read as no separate term: CE through y.

Reading of Table 5 (docs/equations.md, "W3 reading choices"): its ablations remove one component at a time from
the *stage-1* model. "w/o MFR" is the stage-1 W3; "w/o AFR", "w/o SA" and "w/o TA" are stage-1 models compared
with it, not second stages of their own. Table 8's "I3D+W3 w/o MFR" is ``w3-no-mfr``, and the I3D rows are the
main paper's ``rgb-none`` (the same backbone, head and schedule).
"""

from __future__ import annotations

import torch

from .. import losses as L
from ..config import Params
from ..models.networks import NetOutput
from .registry import Claim, ModelSpec, Quantity, Row, Teacher, fixed_attention

#: The main paper's plain RGB I3D: the "I3D" row of the W3 tables (its declaration stays in .distillation).
BASELINE = "rgb-none"
#: The stage masks scored for localisation: the last one (Mixed_5c, the main paper's map grid) and the finest.
MASKS = {"mixed5c": "Mixed_5c", "mixed3c": "Mixed_3c"}


def w3_options(p: Params) -> dict:
    """build_model options of the ``w3`` kind, from params ``w3``."""
    return {"reduction": p.w3.reduction, "depthwise": p.w3.depthwise}


def stage1_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Stage 1: CE of the prediction from the (AFR-refined) features; AFR adds no loss term of its own."""
    ce = L.classification_loss(out, target)
    return ce, {"ce": float(ce.detach())}


def stage2_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Stage 2 (MFR): CE + mfr.weight · L_fm, L_fm = ‖y^Q − y^P‖_2 per frame against the frozen stage 1 (Eq. 9)."""
    ce = L.classification_loss(out, target)
    fm = L.mfr_loss(out.final["main"], t_out["stage1"].final["main"], norm=p.mfr.norm)
    return ce + p.mfr.weight * fm, {"ce": float(ce.detach()), "mfr": float(fm.detach())}


def _spec(model_id: str, variant: str, description: str, rows: tuple[Row, ...], stage1: str | None = None,
          maps: bool = False) -> ModelSpec:
    """A stage-1 model (stage ``w3_stage1``) or, with ``stage1``, the MFR stage 2 of that model (its own stage,
    ``w3_mfr`` / ``cbam_mfr``, as each has its own teacher)."""
    prefix = "cbam" if variant == "cbam" else "w3"
    return ModelSpec(
        id=model_id, description=description, stage=f"{prefix}_mfr" if stage1 else "w3_stage1",
        network="w3",
        attention=fixed_attention(variant), input="rgb", loss=stage2_loss if stage1 else stage1_loss,
        teachers=(Teacher("stage1", stage1, "rgb"),) if stage1 else (),
        sections=("w3", "mfr") if stage1 else ("w3",), rows=rows, options=w3_options,
        maps={f"{prefix}-{k}": ep for k, ep in MASKS.items()} if maps else {})


MODELS = (
    _spec("w3-no-mfr", "w3", "W3 stage 1: W3 on every Inception module + AFR, trained with CE",
          (Row("w3_table5", "w/o MFR"), Row("w3_table7", "+W3 w/o MFR"), Row("w3_table8", "I3D+W3 w/o MFR"))),
    _spec("w3", "w3", "W3 stage 2 (the full model): a fresh W3 + AFR net mimicking the frozen stage 1 (MFR)",
          (Row("w3_table5", "Full"), Row("w3_table6", "+W3"), Row("w3_table7", "+W3")), stage1="w3-no-mfr",
          maps=True),
    _spec("w3-no-afr", "w3-no-afr", "W3 stage 1 without AFR", (Row("w3_table5", "w/o AFR"),)),
    _spec("w3-no-sa", "w3-no-sa", "W3 stage 1 without spatial attention (and so without AFR)",
          (Row("w3_table5", "w/o SA"),)),
    _spec("w3-no-ta", "w3-no-ta", "W3 stage 1 without temporal reasoning (CBAM masks + AFR)",
          (Row("w3_table5", "w/o TA"),)),
    _spec("cbam", "cbam", "CBAM on every Inception module (W3 without temporal reasoning or AFR), CE",
          (Row("w3_table6", "+CBAM"), Row("w3_table7", "+CBAM")), maps=True),
    _spec("cbam-mfr", "cbam", "CBAM stage 2: a fresh CBAM net mimicking the frozen cbam model (MFR)",
          (Row("w3_table7", "+CBAM w/ MFR"),), stage1="cbam"),
)

#: Rows of this paper's tables for a model declared by another method.
EXTRA_ROWS: tuple[tuple[str, Row], ...] = (
    (BASELINE, Row("w3_table6", "I3D", "our plain RGB I3D (`rgb-none`, the main paper's Table 1)")),
    (BASELINE, Row("w3_table7", "I3D", "our plain RGB I3D (`rgb-none`)")),
    (BASELINE, Row("w3_table8", "I3D", "our plain RGB I3D (`rgb-none`)")),
)


def _top1(model_id: str) -> Quantity:
    return Quantity("model", model_id, "top1")


_SS = "Something-Something V1, TSM-R50 16 frames"
CLAIMS = (
    Claim("W3 Table 5", "MFR (stage 2) improves W3", _top1("w3"), _top1("w3-no-mfr"), (52.6, 50.3), _SS),
    Claim("W3 Table 5", "AFR helps W3 (stage 1)", _top1("w3-no-mfr"), _top1("w3-no-afr"), (50.3, 50.1), _SS),
    Claim("W3 Table 5", "spatial attention helps W3 (stage 1)", _top1("w3-no-mfr"), _top1("w3-no-sa"),
          (50.3, 49.8), _SS),
    Claim("W3 Table 5", "temporal reasoning helps W3 (stage 1)", _top1("w3-no-mfr"), _top1("w3-no-ta"),
          (50.3, 47.2), _SS),
    Claim("W3 Table 6", "CBAM improves the plain network", _top1("cbam"), _top1(BASELINE), (49.1, 47.2), _SS),
    Claim("W3 Table 6", "W3 beats CBAM", _top1("w3"), _top1("cbam"), (52.6, 49.1), _SS),
    Claim("W3 Table 7", "MFR improves CBAM", _top1("cbam-mfr"), _top1("cbam"), (50.5, 49.1), _SS),
    Claim("W3 Table 8", "W3 without MFR improves I3D", _top1("w3-no-mfr"), _top1(BASELINE), (35.3, 34.9),
          "Something-Something V1, 3D-ResNet-18 I3D 32 frames"),
)
