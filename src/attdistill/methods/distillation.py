"""Attention Distillation for Learning Video Representations (Liu, Chen, Zhang, Li, Rehg, BMVC 2020): its models.

============================  ==========================  =====  ================================================
id                            network                     input  loss
============================  ==========================  =====  ================================================
``rgb-<att>``, ``flow-<att>``  SingleStreamNet (Table 1)   own    CE (+ λ2 Σ_t KL[A(t)‖U] for prob-atten, Eq. 3)
``distill``                   TwoBranchStudent (Table 6)  rgb    Eq. 8: CE + λ1 L_A(motion, teacher) + λ2 L_R
``feature-distill``           SingleStreamNet rgb none    rgb    CE + w·MSE(pooled RGB, pooled frozen flow) (MARS)
``reference-attention``       TwoBranchStudent, given     rgb    CE + λ2 L_R(appearance); motion map = teacher's
``two-stream``                late fusion                 —      rgb-none + flow-none
``distill+flow``              late fusion                 —      distill + the teacher (flow-<attention>)
``distill+flow-none``         late fusion                 —      distill + flow-none (two-stream's flow network)
============================  ==========================  =====  ================================================

``<att>`` ∈ {none, soft-atten, soft-res, prob-atten}. The teacher (model id ``teacher``) is the Table-1 flow model
with the main ``attention``: the ``teacher`` stage selects ``flow-<attention>`` and never retrains it.
``feature-distill`` distils from the plain flow I3D (``flow-none``), as MARS does from its flow network. Teachers
run frozen in eval mode under ``torch.no_grad`` (MARS's pattern: eval-mode BN, detached targets).
"""

from __future__ import annotations

import dataclasses

import torch

from .. import losses as L
from ..config import ATTENTIONS, STREAMS, Params
from ..models.networks import NetOutput
from .registry import Claim, FusionSpec, ModelSpec, Quantity, Row, Teacher, fixed_attention, main_attention

TEACHER = Teacher("teacher", "teacher", "flow")
ATTENTION_NAMES = {"none": "I3D", "soft-atten": "Soft-Atten", "soft-res": "Soft-Res", "prob-atten": "Prob-Atten"}


def teacher_map(t: NetOutput) -> torch.Tensor | None:
    """The flow teacher's motion map Â^M: its expected (noise-free) map; None when it has no attention."""
    return t.expected_maps.get("main") if t.expected_maps else None


# ------------------------------------------------------------------------------------------------ losses
def table1_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Table 1 models: CE, plus λ2 · Eq. 3's prior for prob-atten."""
    return L.single_stream_loss(out, target, lambda2=p.distill.lambda2)


def distill_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Eq. 8: CE + λ1 · KL(student motion map, teacher map) (Eq. 6) + λ2 · Eq. 3's prior on the appearance map."""
    return L.student_loss(out, target, teacher_map(t_out["teacher"]), lambda1=p.distill.lambda1,
                          lambda2=p.distill.lambda2, direction=p.distill.kl_direction, ce_mode=p.distill.ce)


def feature_distill_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """MARS: CE + w · MSE between the pooled RGB features and the frozen flow network's."""
    ce = L.classification_loss(out, target)
    fd = L.feature_distillation_loss(out.pooled["main"], t_out["teacher"].pooled["main"], p.feature_distill.weight)
    return ce + fd, {"ce": float(ce.detach()), "feature_distill": float(fd.detach())}


def reference_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Supplement control: CE (+ λ2 · Eq. 3's prior on its own appearance map for prob-atten). It is the student's
    Eq. 8 without the distillation term: the motion branch pools with the given map and predicts none."""
    return L.student_loss(out, target, None, lambda2=p.distill.lambda2, ce_mode=p.distill.ce)


def reference_forward(model, batch: dict, t_out: dict) -> NetOutput:
    """The reference-attention control pools its motion branch with the teacher's map (a uniform one when the
    teacher has no attention), at training and at test time."""
    t = t_out["teacher"]
    given = teacher_map(t)
    if given is None:
        n, _, tt, h, w = t.final["main"].shape   # (N, C, T', H', W')
        given = torch.full((n, tt, h, w), 1.0 / (h * w), device=t.final["main"].device)
    return model(batch["rgb"], motion_map=given)


# ------------------------------------------------------------------------------------------------ declarations
def _table1_spec(stream: str, att: str) -> ModelSpec:
    rows = [Row("table1", f"{stream.upper() if stream == 'rgb' else stream.capitalize()} {ATTENTION_NAMES[att]}")]
    if att == "none":
        label = "I3D RGB" if stream == "rgb" else "I3D flow"
        rows += [Row("table2", "I3D RGB*")] if stream == "rgb" else []
        rows += [Row("table3", f"I3D {stream.upper() if stream == 'rgb' else 'Flow'}"), Row("table5", label)]
    maps = {} if att == "none" else {f"{att}-{stream}": "main"}
    if att == "soft-atten":
        rows.append(Row("table4", f"Soft-Atten ({stream.upper() if stream == 'rgb' else 'Flow'})",
                        key=f"{att}-{stream}"))
    return ModelSpec(
        id=f"{stream}-{att}", description=f"Table 1: {stream} I3D with {ATTENTION_NAMES[att]} attention",
        stage="baselines", network=stream, attention=fixed_attention(att), input=stream, loss=table1_loss,
        sections=("distill.lambda2",), rows=tuple(rows), maps=maps)


TABLE1 = tuple(_table1_spec(stream, att) for stream in STREAMS for att in ATTENTIONS)

DISTILL = ModelSpec(
    id="distill", description="the attention-distilled RGB student (Prob-Distill when attention = prob-atten)",
    stage="distill", network="student", attention=main_attention, input="rgb", loss=distill_loss,
    teachers=(TEACHER,), sections=("attention", "distill"),
    rows=(Row("table2", "Ours (Prob-Distill)"), Row("table3", "Ours (Prob-Distill)"), Row("table5", "Ours"),
          Row("readings", "the default readings (params distill.kl_direction, distill.ce, model.attention_bn_relu)"),
          Row("table4", "Our Appearance", key="distill-appearance"),
          Row("table4", "Our Motion", key="distill-motion")),
    maps={"distill-appearance": "appearance", "distill-motion": "motion"})

FEATURE_DISTILL = ModelSpec(
    id="feature-distill", description="MARS-style feature distillation from the frozen flow-none network",
    stage="feature_distill", network="rgb", attention=fixed_attention("none"), input="rgb",
    loss=feature_distill_loss, teachers=(Teacher("teacher", "flow-none", "flow"),),
    sections=("feature_distill",),
    rows=(Row("table2", "MARS", "MARS-style feature distillation on our I3D"),
          Row("table5", "(ours only) feature distillation")))

REFERENCE_ATTENTION = ModelSpec(
    id="reference-attention", description="supplement control: the flow teacher's motion map given at train and test",
    stage="reference_attention", network="reference", attention=main_attention, input="rgb", loss=reference_loss,
    teachers=(Teacher("teacher", "teacher", "flow", at_test=True),),
    sections=("attention", "distill.lambda2", "distill.ce"),
    rows=(Row("table2", "Reference attention (supplement control)",
              "the flow teacher's map, also at test"),
          Row("table5", "(ours only) reference attention")),
    forward=reference_forward)


def _two_stream(p: Params) -> tuple[str, ...]:
    return ("rgb-none", "flow-none")


def teacher_model_id(p: Params) -> str:
    """The Table-1 flow model the ``teacher`` stage selects: the flow network with the main ``attention``."""
    return f"flow-{p.attention}"


def _distill_flow(p: Params) -> tuple[str, ...]:
    return ("distill", teacher_model_id(p))


TWO_STREAM = FusionSpec(
    id="two-stream", description="late fusion of rgb-none and flow-none", members=_two_stream,
    rows=(Row("table2", "Two Stream I3D*", "rgb-none + flow-none"), Row("table3", "Two Stream I3D"),
          Row("table5", "(ours only) two-stream")))

DISTILL_FLOW = FusionSpec(
    id="distill+flow", description="late fusion of the student and its teacher (flow-<attention>)",
    members=_distill_flow, sections=("attention",),
    rows=(Row("table2", "Prob-Distill+Flow I3D*", "student + teacher"), Row("table3", "Prob-Distill+Flow I3D"),
          Row("table5", "(ours only) distill+flow")))

def _distill_flow_none(p: Params) -> tuple[str, ...]:
    return ("distill", "flow-none")


DISTILL_FLOW_NONE = FusionSpec(
    id="distill+flow-none", description="late fusion of the student and flow-none (the flow network of two-stream)",
    members=_distill_flow_none,
    rows=(Row("table2", "(ours) student + flow-none", "same flow network as two-stream"),
          Row("table5", "(ours only) distill+flow-none")))

# ------------------------------------------------------------------------------------------------ readings
# Each ambiguous passage read the other way (docs/equations.md), trained like `distill` and compared on the
# validation split only (never scored on test): reports/tables/readings.md.
def _distill_reading(**changes):
    def loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
        return distill_loss(out, target, t_out, dataclasses.replace(p, distill=dataclasses.replace(p.distill,
                                                                                                  **changes)))
    loss.__doc__ = f"Eq. 8 with distill {changes} (a reading ablation)."
    return loss


def _reading(model_id: str, label: str, loss=distill_loss, **model_overrides) -> ModelSpec:
    return ModelSpec(
        id=model_id, description=f"reading ablation of the student: {label}", stage="readings", network="student",
        attention=main_attention, input="rgb", loss=loss, teachers=(TEACHER,), sections=("attention", "distill"),
        rows=(Row("readings", label),), model_overrides=model_overrides, evaluated=False)


READINGS = (
    _reading("distill-kl-st", "Eq. 6 as KL[A^M ‖ Â^M], the student's map first as in Eq. 3",
             _distill_reading(kl_direction="student-teacher")),
    _reading("distill-fused-ce", "one CE on the fused prediction ŷ (Eq. 8's text)", _distill_reading(ce="fused")),
    _reading("distill-linear-head", "φ without BN + ReLU: the whole head one linear map (§3.2)",
             attention_bn_relu=False),
)

MODELS = (*TABLE1, DISTILL, FEATURE_DISTILL, REFERENCE_ATTENTION, *READINGS)
FUSIONS = (TWO_STREAM, DISTILL_FLOW, DISTILL_FLOW_NONE)


# ------------------------------------------------------------------------------------------------ claims
def _m(model_id: str, metric: str = "mean_class") -> Quantity:
    return Quantity("model", model_id, metric)


def _loc(map_id: str) -> Quantity:
    return Quantity("localization", map_id, "f1")


def _rev(model_id: str) -> Quantity:
    return Quantity("reversal", model_id)


CLAIMS = (
    Claim("Table 1", "Prob-Atten improves the RGB stream", _m("rgb-prob-atten"), _m("rgb-none"), (95.1, 94.8),
          "UCF101"),
    Claim("Table 1", "Prob-Atten improves the flow stream", _m("flow-prob-atten"), _m("flow-none"), (94.9, 94.0),
          "UCF101"),
    Claim("Table 2", "Prob-Distill beats RGB I3D", _m("distill"), _m("rgb-none"), (95.7, 94.8), "UCF101"),
    Claim("Table 2", "Prob-Distill beats RGB Prob-Atten", _m("distill"), _m("rgb-prob-atten"), (95.7, 95.1),
          "UCF101 (Tables 1, 2)"),
    Claim("Table 2", "Prob-Distill beats MARS (feature distillation)", _m("distill"), _m("feature-distill"),
          (95.7, 94.6), "UCF101"),
    Claim("Table 2", "Prob-Distill + Flow beats two-stream I3D", _m("distill+flow"), _m("two-stream"),
          (97.4, 96.7), "UCF101"),
    Claim("Table 4", "the motion map localises better than the centre prior", _loc("distill-motion"),
          _loc("center-prior"), (46.0, 29.6), "THUMOS'13"),
    Claim("Table 4", "the motion map localises better than RGB Soft-Atten", _loc("distill-motion"),
          _loc("soft-atten-rgb"), (46.0, 36.9), "THUMOS'13"),
    Claim("Table 4", "the motion map localises better than the appearance map", _loc("distill-motion"),
          _loc("distill-appearance"), (46.0, 39.2), "THUMOS'13"),
    Claim("Table 5", "reversing time hurts flow I3D more than Prob-Distill", _rev("flow-none"), _rev("distill"),
          (4.1, 0.6), "UCF101"),
    Claim("Table 5", "reversing time hurts Prob-Distill more than RGB I3D", _rev("distill"), _rev("rgb-none"),
          (0.6, 0.1), "UCF101"),
    Claim("Supplement", "the reference-attention control stays below the student", _m("distill"),
          _m("reference-attention"), (95.7, 95.1), "UCF101"),
)
