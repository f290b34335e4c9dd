"""Where and When to Look? Spatio-temporal Attention for Action Recognition in Videos (STAM; papers/003): its
models on the RGB stream, on the project's 2-D frame CNN (:mod:`attdistill.models.stam`).

====================  =====================================================  ===========================================
id                    network (``stam`` kind)                                loss
====================  =====================================================  ===========================================
``stam-frames``       the frame CNN; prediction = mean of frame predictions  per-frame CE (step 1: fine-tune the CNN)
``stam``              STAM: mask + temporal attention + ConvLSTM (Eq. 1-6)    Eq. 7: CE + λ_TV L_TV + λ_c L_contrast + λ_u L_unimodal
``stam-no-spatial``   STAM without the importance mask                       CE + λ_u L_unimodal
``stam-no-temporal``  STAM with uniform temporal weights                     CE + λ_TV L_TV + λ_c L_contrast
``stam-no-tv`` …      STAM; one λ set to 0 (``-no-contrast``, ``-no-unimodal``)  Eq. 7 without that term
====================  =====================================================  ===========================================

Two steps (params ``stam.two_step``, the paper's implied protocol): ``stam-frames`` fine-tunes the frame CNN; every
STAM model then starts from its backbone (copied, frozen) and trains the attention head on its frozen features
(:func:`stam_forward`: the teacher's eval-mode features, so BatchNorm statistics stay the fine-tuned ones). At test
time the STAM model runs its own copy of that backbone, so its file is self-contained. With ``two_step: false``
STAM trains end to end from scratch (the teacher file is then read but unused).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .. import losses as L
from ..config import Params
from ..models.networks import NetOutput
from .registry import Claim, ModelSpec, Quantity, Row, Teacher, fixed_attention

FRAMES = Teacher("frames", "stam-frames", "rgb")
SECTIONS = ("stam",)


def stam_options(p: Params) -> dict:
    """build_model options of the ``stam`` kind (network sizes), from params ``stam``."""
    s = p.stam
    return {"backbone": s.backbone, "width": s.width, "mask_hidden": list(s.mask_hidden),
            "attention_dim": s.attention_dim, "hidden": s.hidden, "kernel": s.kernel, "steps": s.steps,
            "mean_input": s.mean_input, "dropout": s.dropout}


def load_weights(model: nn.Module, p: Params) -> None:
    """ImageNet weights for the ResNet-50 frame CNN when params ``stam.pretrained`` gives a path or URL."""
    if not p.stam.pretrained:
        return
    from ..models.pretrained import load_i3d_state      # a state_dict from a file or URL (cached, SHA-checked)
    from ..models.stam import load_resnet50_state

    dl = p.download
    state = load_i3d_state(p.stam.pretrained, p.stam.pretrained_sha256, cache_dir=dl.cache_dir, retries=dl.retries,
                           timeout=dl.timeout)
    load_resnet50_state(model.backbone, state)


def frames_loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
    """Step 1: the per-frame cross entropy of the frame CNN (every frame carries the clip's label)."""
    ce = L.frame_classification_loss(out, target)
    return ce, {"ce": float(ce.detach())}


def _stam_loss(**zeroed: float):
    def loss(out: NetOutput, target: torch.Tensor, t_out: dict, p: Params):
        s = dataclasses.replace(p.stam, **zeroed)
        return L.stam_loss(out, target, s.lambda_tv, s.lambda_contrast, s.lambda_unimodal)
    loss.__doc__ = f"Eq. 7 (STAM's CE + weighted regularisers){' with ' + str(zeroed) if zeroed else ''}."
    return loss


def init_from_frames(model: nn.Module, teachers: dict[str, nn.Module], p: Params) -> None:
    """Step 2 starts from step 1: the fine-tuned frame CNN's weights and BatchNorm statistics, frozen. The flag
    ``model.frozen_backbone`` (a plain attribute, not in the state_dict) tells :func:`stam_forward`."""
    model.frozen_backbone = p.stam.two_step
    if p.stam.two_step:
        model.backbone.load_state_dict(teachers["frames"].backbone.state_dict())
        model.backbone.requires_grad_(False)


def stam_forward(model: nn.Module, batch: dict, t_out: dict) -> NetOutput:
    """With a frozen backbone (two steps): the head on the frame CNN's features, which the teacher computes in eval
    mode (equal to the model's own frozen copy, which runs at test time); otherwise the model end to end."""
    net = getattr(model, "module", model)                   # under DDP the flag is on the wrapped module
    frames = t_out.get("frames")
    if getattr(net, "frozen_backbone", False) and frames is not None:
        return model(batch["rgb"], features=frames.final["main"])
    return model(batch["rgb"])


def _stam(model_id: str, variant: str, description: str, label: str, loss, maps: bool = False) -> ModelSpec:
    return ModelSpec(
        id=model_id, description=description, stage="stam", network="stam", attention=fixed_attention(variant),
        input="rgb", loss=loss, teachers=(FRAMES,), sections=SECTIONS, options=stam_options,
        rows=(Row("stam_table1", label),), maps={"stam": "main"} if maps else {}, forward=stam_forward,
        init=init_from_frames, load_weights=load_weights)


MODELS = (
    ModelSpec(id="stam-frames", description="STAM's baseline: the frame CNN, frame predictions averaged (step 1)",
              stage="stam_frames", network="stam", attention=fixed_attention("frames"), input="rgb",
              loss=frames_loss, sections=SECTIONS, options=stam_options, load_weights=load_weights,
              rows=(Row("stam_table1", "ResNet50-ImageNet", "our frame CNN, frame predictions averaged"),)),
    _stam("stam", "stam", "STAM: importance mask, temporal attention, ConvLSTM (Eq. 1-7)", "Ours", _stam_loss(),
          maps=True),
    _stam("stam-no-spatial", "stam-no-spatial", "STAM without spatial attention (no mask)",
          "Ours w/o spatial attention", _stam_loss()),
    _stam("stam-no-temporal", "stam-no-temporal", "STAM without temporal attention (uniform weights)",
          "Ours w/o temporal attention", _stam_loss()),
    _stam("stam-no-tv", "stam", "STAM trained without L_TV", "Ours w/o L_TV", _stam_loss(lambda_tv=0.0)),
    _stam("stam-no-contrast", "stam", "STAM trained without L_contrast", "Ours w/o L_contrast",
          _stam_loss(lambda_contrast=0.0)),
    _stam("stam-no-unimodal", "stam", "STAM trained without L_unimodal", "Ours w/o L_unimodal",
          _stam_loss(lambda_unimodal=0.0)),
)


def _top1(model_id: str) -> Quantity:
    return Quantity("model", model_id, "top1")


_U = "UCF101"
CLAIMS = (
    Claim("STAM Table 1", "STAM beats the averaged frame CNN", _top1("stam"), _top1("stam-frames"), (86.02, 82.30),
          _U),
    Claim("STAM Table 1", "spatial attention helps STAM", _top1("stam"), _top1("stam-no-spatial"), (86.02, 84.83),
          _U),
    Claim("STAM Table 1", "temporal attention helps STAM", _top1("stam"), _top1("stam-no-temporal"),
          (86.02, 85.06), _U),
    Claim("STAM Table 1", "L_TV helps STAM", _top1("stam"), _top1("stam-no-tv"), (86.02, 85.05), _U),
    Claim("STAM Table 1", "L_contrast helps STAM", _top1("stam"), _top1("stam-no-contrast"), (86.02, 85.15), _U),
    Claim("STAM Table 1", "L_unimodal helps STAM", _top1("stam"), _top1("stam-no-unimodal"), (86.02, 85.57), _U),
)
