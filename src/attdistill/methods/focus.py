"""Focused Attention for Action Recognition (Sydorov, Alahari and Schmid, BMVC 2019; papers/004): its Table 2 on
the focus variant of the embedded benchmark (small actors in larger frames; docs/synthetic.md).

Every model but Base is fine-tuned from Base (``focus-base``, the project's RGB I3D; the paper's is a ResNet-50
I3D) on a second view of each clip, the *focused view* V_in^s (Eq. 2): the fixed-size box of largest input-gradient
saliency of the frozen Base on the standard view V_in (Eq. 3-6, :mod:`attdistill.focus`), mapped back through
the crop / resize / flip of V_in and re-cut from the stored original frames at their full resolution.

=====================================  ==================  ===================================================
id (``<f>`` = ``concat`` | ``late``)   Table 2 row         second view
=====================================  ==================  ===================================================
``focus-base``                         Charades-Base       — (trained from scratch on the standard view)
``focus-<f>-repeat``                   Repeat              V_in itself
``focus-<f>-random`` / ``-center``     Random / Center     a random / the centred box, re-cut from the originals
``focus-<f>-ce-e``                     Attention L_CE/E    saliency of the CE loss at training, of L_E at test
``focus-<f>-ce-ce``                    Attention L_CE/CE   the ``-ce-e`` model scored with the CE saliency
``focus-<f>-ce-e-upscaled`` …          … (upscaled)        the box cut from V_in and resized, not re-cut
``focus-<f>``                          Attention L_E/E     saliency of L_E (negative entropy) throughout
=====================================  ==================  ===================================================

Fusions (§4.3): ``concat`` fine-tunes one network, started from Base, on [V_in ; V_in^s] stacked along time (2 T
frames); ``late`` fine-tunes a second network, started from Base, on V_in^s, and averages its softmax scores with
those of the frozen Base on V_in (the loss is the cross entropy of the averaged prediction). L_CE/CE needs the
label at test time: the paper reports it as a reference only, as we do. Readings: docs/equations.md "Focus".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .. import losses as L
from ..config import Params
from ..focus import box as FB
from ..focus import saliency as FS
from ..models.networks import NetOutput
from .registry import Claim, ModelSpec, Quantity, Row, Teacher, fixed_attention

SECTIONS = ("focus",)
FUSIONS = {"concat": "Temp. concat.", "late": "Late fusion"}
CROPS = ("attention", "center", "random", "repeat")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One Table-2 row: how the second view is made."""

    suffix: str                 # id suffix
    label: str                  # Table 2 row label (the paper's)
    crop: str                   # attention | center | random | repeat
    train_objective: str = "entropy"   # saliency objective while training (attention only)
    test_objective: str = "entropy"    # ... at validation and test
    upscaled: bool = False      # cut the box from V_in itself instead of the original frames
    weights_of: str = ""        # suffix of the trained variant whose model file it scores


VARIANTS: tuple[Variant, ...] = (
    Variant("-repeat", "Repeat", "repeat"),
    Variant("-random", "Random crop", "random"),
    Variant("-center", "Center crop", "center"),
    Variant("-ce-ce", "Attention L_CE/CE", "attention", "ce", "ce", weights_of="-ce-e"),
    Variant("-ce-ce-upscaled", "Attention L_CE/CE (upscaled)", "attention", "ce", "ce", True,
            weights_of="-ce-e-upscaled"),
    Variant("-ce-e", "Attention L_CE/E", "attention", "ce", "entropy"),
    Variant("-ce-e-upscaled", "Attention L_CE/E (upscaled)", "attention", "ce", "entropy", True),
    Variant("", "Attention L_E/E", "attention"),
)


# ------------------------------------------------------------------------------------------------ the second view
def corners(v: Variant, batch: dict, base: nn.Module, side: int, training: bool) -> torch.Tensor:
    """(N, 2) (top, left) in V_in pixels of each clip's ``side x side`` box (Eq. 6, or a control's box)."""
    x = batch["rgb"]                                             # (N, C, T, H, W)
    n, h, w = x.shape[0], x.shape[3], x.shape[4]
    if v.crop == "attention":
        kind = v.train_objective if training else v.test_objective
        s = FS.saliency(base, x.float(), kind, "softmax", batch.get("label"))   # (N, H, W), Eq. 3-5 + max over T
        return FB.best_box(s, side)
    if v.crop == "center":
        return torch.tensor([FB.center_box(h, w, side)] * n, dtype=torch.long)
    u = batch["focus_u"].reshape(n, 2).double()                  # the dataset's uniform draws: a random box
    span = torch.tensor([h - side + 1, w - side + 1], dtype=torch.float64)
    return torch.minimum((u * span).floor().long(), (span - 1).long())


def make_views(v: Variant):
    def views(batch: dict, teachers: dict, p: Params, training: bool) -> dict:
        """Adds ``"focus"``, the second view (N, C, T, H, W), and ``"focus_box"``, its (N, 2) box corners."""
        x = batch["rgb"]
        if v.crop == "repeat":
            return {**batch, "focus": x}
        side = FB.box_side(p.focus.box, x.shape[3], x.shape[4])
        c = corners(v, batch, teachers["base"], side, training)
        if v.upscaled:
            view = FB.upscaled_view(x.float(), c, side)
        else:
            colors = batch["color"] if training and p.augment.color_jitter > 0 else None
            view = FB.focused_batch(batch["raw"].cpu(), batch["geometry"].cpu(), c, side, colors)
        view = view.to(x.device, x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last_3d):          # the input's memory format
            view = view.contiguous(memory_format=torch.channels_last_3d)
        return {**batch, "focus": view, "focus_box": c}
    views.__doc__ = f"The second view of {v.label!r}: {views.__doc__}"
    return views


def concat_forward(model: nn.Module, batch: dict, t_out: dict) -> NetOutput:
    """Temporal concatenation: one network on [V_in ; V_in^s] along time, (N, C, 2T, H, W)."""
    return model(torch.cat([batch["rgb"], batch["focus"]], dim=2))


def late_forward(model: nn.Module, batch: dict, t_out: dict) -> NetOutput:
    """Late fusion: the mean of the frozen Base's softmax on V_in and the second network's on V_in^s. The fused
    prediction's log is the ``"main"`` logit, so the cross entropy is that of the averaged prediction."""
    second = model(batch["focus"])
    probs = (t_out["base"].probs + second.probs) / 2                 # (N, K)
    return dataclasses.replace(second, logits={"main": torch.log(probs.clamp_min(1e-12))}, probs=probs)


def ce_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Cross entropy of the prediction (Base, and every fine-tune: the paper's single-label analogue of its BCE)."""
    ce = L.classification_loss(out, target)
    return ce, {"ce": float(ce.detach())}


def init_from_base(model: nn.Module, teachers: dict[str, nn.Module], p: Params) -> None:
    """Every fine-tune starts from Base: its weights and BatchNorm statistics (trainable; BN is fine-tuned too)."""
    model.load_state_dict(teachers["base"].state_dict())


def fine_tune(p: Params) -> Params:
    """The fine-tunes' own schedule: params ``focus.epochs`` at ``focus.lr`` (every other train setting shared)."""
    return dataclasses.replace(p, train=dataclasses.replace(p.train, epochs=p.focus.epochs, lr=p.focus.lr))


# ------------------------------------------------------------------------------------------------ declarations
BASE_ID = "focus-base"
BASE = ModelSpec(
    id=BASE_ID, description="Base: the RGB I3D trained on the focus benchmark; the frozen saliency network",
    stage="focus_base", network="rgb", attention=fixed_attention("none"), input="rgb", loss=ce_loss,
    rows=tuple(Row(f"focus_{f}", "Charades-Base", "our RGB I3D on the focus benchmark") for f in FUSIONS))


def model_id(fusion: str, v: Variant) -> str:
    return f"focus-{fusion}{v.suffix}"


def _spec(fusion: str, v: Variant) -> ModelSpec:
    trained = f"focus-{fusion}{v.weights_of}" if v.weights_of else ""
    note = f"the `{trained}` model, CE saliency at test" if trained else ""
    return ModelSpec(
        id=model_id(fusion, v), description=f"focused crops, {FUSIONS[fusion]}: {v.label}",
        stage="evaluate_focus" if trained else "focus", network="rgb", attention=fixed_attention("none"),
        input="rgb", loss=ce_loss, teachers=(Teacher("base", BASE_ID, "rgb", at_test=True, scores=fusion == "late"),),
        sections=SECTIONS, rows=(Row(f"focus_{fusion}", v.label, note),), views=make_views(v),
        forward=concat_forward if fusion == "concat" else late_forward, init=init_from_base,
        train_params=fine_tune, weights_of=trained)


MODELS: tuple[ModelSpec, ...] = (BASE, *(_spec(f, v) for f in FUSIONS for v in VARIANTS))
VARIANT_OF: dict[str, Variant] = {model_id(f, v): v for f in FUSIONS for v in VARIANTS}


def _m(mid: str) -> Quantity:
    return Quantity("model", mid, "top1")


CLAIMS: tuple[Claim, ...] = tuple(
    claim for f, col in FUSIONS.items() for claim in (
        Claim("Focus Table 2", f"attention (L_E/E) beats Base ({col})", _m(f"focus-{f}"), _m(BASE_ID),
              (33.3, 31.6) if f == "concat" else (33.1, 31.6), "Charades (mAP)"),
        Claim("Focus Table 2", f"attention beats the random crop ({col})", _m(f"focus-{f}"), _m(f"focus-{f}-random"),
              (33.3, 31.4) if f == "concat" else (33.1, 30.6), "Charades (mAP)"),
        Claim("Focus Table 2", f"attention beats the centre crop ({col})", _m(f"focus-{f}"), _m(f"focus-{f}-center"),
              (33.3, 31.6) if f == "concat" else (33.1, 31.0), "Charades (mAP)"),
        Claim("Focus Table 2", f"attention beats repeating the clip ({col})", _m(f"focus-{f}"),
              _m(f"focus-{f}-repeat"), (33.3, 31.7) if f == "concat" else (33.1, 31.6), "Charades (mAP)"),
        Claim("Focus Table 2", f"re-querying the original beats upscaling, L_CE/E ({col})", _m(f"focus-{f}-ce-e"),
              _m(f"focus-{f}-ce-e-upscaled"), (33.2, 33.1) if f == "concat" else (33.0, 32.8), "Charades (mAP)"),
    ))
