"""What each trained model id is: its network, its input modality, its frozen teachers and its loss.

Model ids (DESIGN.md):

============================  ==========================  ===========  ===========================================
id                            network                     input        loss
============================  ==========================  ===========  ===========================================
``rgb-<att>``, ``flow-<att>``  SingleStreamNet (Table 1)   rgb / flow   CE (+ λ2 Σ_t KL[A(t)‖U] for prob-atten, Eq. 3)
``distill``                   TwoBranchStudent (Table 6)  rgb (+flow)  Eq. 8: CE + λ1 L_A(motion, teacher) + λ2 L_R(appearance)
``feature-distill``           SingleStreamNet rgb none    rgb (+flow)  CE + 50·MSE(pooled RGB, pooled frozen flow) (MARS)
``reference-attention``       TwoBranchStudent, given     rgb + flow   CE + λ2 L_R(appearance); motion map = teacher's
``mfr``                       TwoBranchStudent (Table 6)  rgb (+flow)  Eq. 8 + w·‖y_S − y_T‖ per frame (W3 MFR, Eq. 9)
============================  ==========================  ===========  ===========================================

``<att>`` ∈ {none, soft-atten, soft-res, prob-atten}. The teacher of ``distill`` / ``reference-attention`` / ``mfr``
is the Table-1 flow model with the main ``attention`` (``models/teacher`` is that model, selected, never retrained);
``feature-distill`` distils from the plain flow I3D (``flow-none``) as MARS does from its flow network; the MFR
teacher is the frozen stage-1 ``distill`` student. "(+flow)" means flow is loaded only to run a frozen teacher.
Teachers run in eval mode under ``torch.no_grad`` (MARS's pattern: frozen, eval-mode BN, detached targets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import ATTENTIONS, STREAMS, ModelConfig, Params
from .. import losses as L
from ..models import build_model
from ..models.networks import NetOutput
from .checkpoint import load_model_file

TABLE1_IDS: tuple[str, ...] = tuple(f"{s}-{a}" for s in STREAMS for a in ATTENTIONS)
TRAINED_IDS: tuple[str, ...] = TABLE1_IDS + ("distill", "feature-distill", "reference-attention", "mfr")


def parse_table1_id(model_id: str) -> tuple[str, str]:
    stream, _, att = model_id.partition("-")
    if stream not in STREAMS or att not in ATTENTIONS:
        raise ValueError(f"{model_id!r} is not a Table-1 id; valid ids: {', '.join(TABLE1_IDS)}")
    return stream, att


@dataclass
class Recipe:
    """Everything about one model id that the shared training engine does not know."""

    model_id: str
    kind: str                      # build_model kind: rgb | flow | student | reference
    attention: str
    modality: str                  # ClipDataset modality: rgb | flow | rgb+flow
    teachers: dict[str, str] = field(default_factory=dict)   # role -> default model file
    params: Params | None = None

    # ----------------------------------------------------------------- construction
    @property
    def arch(self) -> dict:
        return {"kind": self.kind, "attention": self.attention, "model": self.params.model.__dict__.copy()}

    def build(self, num_classes: int) -> nn.Module:
        return build_model(self.kind, num_classes, self.attention, self.params.model)

    @property
    def test_modality(self) -> str:
        """What the model needs at test time: only the reference-attention control still reads flow."""
        if self.kind == "reference":
            return "rgb+flow"
        return "flow" if self.kind == "flow" else "rgb"

    def test_teachers(self, teachers: dict) -> dict:
        """The entries of a role -> teacher dict (modules, or files as in ``self.teachers``) that a forward pass
        still needs at test time: only the reference-attention control's (the paper's student runs alone)."""
        return {k: v for k, v in teachers.items() if self.kind == "reference" and k == "teacher"}

    @property
    def pretrained_stream(self) -> str:
        return "flow" if self.kind == "flow" else "rgb"

    # ----------------------------------------------------------------- forward / loss
    def forward(self, model: nn.Module, batch: dict, teachers: dict[str, nn.Module]) -> tuple[NetOutput, dict]:
        """Run the model (and its frozen teachers) on a batch; returns (output, teacher outputs)."""
        t_out: dict[str, NetOutput] = {}
        with torch.no_grad():
            for role, teacher in teachers.items():
                t_out[role] = teacher(batch["rgb"] if role == "stage1" else batch["flow"])
        if self.kind == "flow":
            return model(batch["flow"]), t_out
        if self.kind == "reference":
            t = t_out["teacher"]
            given = teacher_map(t)
            if given is None:  # attention "none": the teacher has no map; the control pools uniformly
                n, _, tt, h, w = t.final["main"].shape
                given = torch.full((n, tt, h, w), 1.0 / (h * w), device=t.final["main"].device)
            return model(batch["rgb"], motion_map=given), t_out
        return model(batch["rgb"]), t_out

    def loss(self, out: NetOutput, target: torch.Tensor, t_out: dict) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        if self.kind in ("rgb", "flow") and self.model_id != "feature-distill":
            return L.single_stream_loss(out, target, lambda2=p.distill.lambda2)
        if self.model_id == "feature-distill":
            ce = L.classification_loss(out, target)
            fd = L.feature_distillation_loss(out.pooled["main"], t_out["teacher"].pooled["main"], p.feature_distill.weight)
            return ce + fd, {"ce": float(ce.detach()), "feature_distill": float(fd.detach())}
        if self.kind == "reference":
            ce = L.classification_loss(out, target)
            total, terms = ce, {"ce": float(ce.detach())}
            if self.attention == "prob-atten":
                log_a = out.log_maps["appearance"]
                lam2 = L.lambda2_auto(log_a) if p.distill.lambda2 == "auto" else float(p.distill.lambda2)
                prior = L.kl_to_uniform(log_a)
                total = total + lam2 * prior
                terms["prior"] = float(prior.detach())
            return total, terms
        # distill and mfr: Eq. 8 (+ MFR feature mimicking for mfr)
        total, terms = L.student_loss(out, target, teacher_map(t_out["teacher"]), lambda1=p.distill.lambda1,
                                      lambda2=p.distill.lambda2, direction=p.distill.kl_direction)
        if self.model_id == "mfr":
            s1 = t_out["stage1"]
            mfr = sum(L.mfr_loss(out.final[b], s1.final[b], norm=p.mfr.norm) for b in out.final)
            total = total + p.mfr.weight * mfr
            terms["mfr"] = float(mfr.detach())
        return total, terms


def teacher_map(t: NetOutput) -> torch.Tensor | None:
    """The flow teacher's motion map Â^M: its expected (noise-free) map; None when it has no attention."""
    return t.expected_maps.get("main") if t.expected_maps else None


def make_recipe(model_id: str, params: Params) -> Recipe:
    att = params.attention
    if model_id in TABLE1_IDS:
        stream, a = parse_table1_id(model_id)
        return Recipe(model_id, stream, a, stream, params=params)
    if model_id == "distill":
        return Recipe(model_id, "student", att, "rgb+flow", {"teacher": "models/teacher/model.pt"}, params)
    if model_id == "feature-distill":
        return Recipe(model_id, "rgb", "none", "rgb+flow", {"teacher": "models/flow-none/model.pt"}, params)
    if model_id == "reference-attention":
        return Recipe(model_id, "reference", att, "rgb+flow", {"teacher": "models/teacher/model.pt"}, params)
    if model_id == "mfr":
        return Recipe(model_id, "student", att, "rgb+flow",
                      {"teacher": "models/teacher/model.pt", "stage1": "models/distill/model.pt"}, params)
    raise ValueError(f"unknown model id {model_id!r}; valid ids: {', '.join(TRAINED_IDS)}")


def load_frozen(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """A trained model file as a frozen module in eval mode (no parameter requires grad)."""
    obj = load_model_file(path)
    model = model_from_file(obj)
    model.eval().requires_grad_(False)
    return model.to(device), obj


def model_from_file(obj: dict) -> nn.Module:
    """Rebuild the network described by a model file's ``arch`` and load its weights."""
    arch = obj["arch"]
    model = build_model(arch["kind"], len(obj["classes"]), arch["attention"], ModelConfig(**arch["model"]))
    model.load_state_dict(obj["state_dict"])
    return model
