"""Input-gradient saliency (Eq. 3-5 and the temporal max of §4.2 of "Focused Attention for Action Recognition").

A frozen network scores a clip ``x`` (N, C, T, H, W); a scalar objective of its class predictions is
back-propagated to the input, giving the Jacobian ``J`` of the same shape (Eq. 5's J, channels first here). The
per-pixel saliency is the L2 norm over the colour channels (Eq. 5), reduced over time by a max (§4.2), giving one
(N, H, W) map per clip.

Objectives (both summed over classes and over the batch, so each clip's gradient is that of its own loss and does
not depend on the batch size; the network is in eval mode, so clips do not interact through batch norm):

* ``"entropy"`` — Eq. 4, negative entropy ``L_E = Σ_k ŷ_k log ŷ_k``, needs no label (usable at test time);
* ``"ce"`` — Eq. 3, the training loss: cross entropy with the label (``activation="softmax"``, ``target`` (N,)
  class indices) or per-class binary cross entropy (``activation="sigmoid"``, ``target`` (N, K) multi-hot).

``activation`` says how class predictions ŷ come from the logits: ``"softmax"`` (single-label datasets, the
project's I3D) or ``"sigmoid"`` (multi-label Charades, as in the paper). For the sigmoid, Eq. 4 is read literally:
only the ``ŷ log ŷ`` term, not the full Bernoulli entropy. The sign of a loss does not change a gradient norm, so
Eq. 3's missing minus sign is immaterial.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..models.networks import NetOutput

OBJECTIVES: tuple[str, ...] = ("entropy", "ce")
ACTIVATIONS: tuple[str, ...] = ("softmax", "sigmoid")


def class_logits(out: torch.Tensor | NetOutput) -> torch.Tensor:
    """(N, K) logits of a network output: the tensor itself, or ``NetOutput.logits["main"]``."""
    if isinstance(out, NetOutput):
        if "main" not in out.logits:
            raise ValueError(f"saliency needs a single-stream network (logits 'main'); got branches "
                             f"{sorted(out.logits)}")
        out = out.logits["main"]
    if out.dim() != 2:
        raise ValueError(f"saliency needs (N, K) clip logits, got shape {tuple(out.shape)}")
    return out


def objective(logits: torch.Tensor, kind: str, activation: str, target: torch.Tensor | None = None) -> torch.Tensor:
    """The scalar back-propagated for saliency: Eq. 4 (``"entropy"``) or Eq. 3 (``"ce"``), summed over the batch.

    logits: (N, K). target: (N,) class indices (softmax) or (N, K) multi-hot in {0, 1} (sigmoid); only for ``"ce"``.
    """
    if kind not in OBJECTIVES:
        raise ValueError(f"unknown saliency objective {kind!r}; valid values: {', '.join(OBJECTIVES)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid values: {', '.join(ACTIVATIONS)}")
    if kind == "entropy":
        log_p = F.log_softmax(logits, 1) if activation == "softmax" else F.logsigmoid(logits)
        return (log_p.exp() * log_p).sum()                       # Σ_n Σ_k ŷ log ŷ
    if target is None:
        raise ValueError("the 'ce' saliency objective needs the labels (target)")
    if activation == "softmax":
        return F.cross_entropy(logits, target, reduction="sum")
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="sum")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode for the block, then restore each module's own previous mode."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def input_gradient(model: nn.Module, x: torch.Tensor, kind: str, activation: str,
                   target: torch.Tensor | None = None) -> torch.Tensor:
    """J = d objective / d x, (N, C, T, H, W), with the network frozen.

    The network runs in eval mode (batch norm uses its running statistics and does not update them) and only the
    gradient with respect to the input is computed (``torch.autograd.grad``): no parameter's ``.grad`` is touched.
    Works inside ``torch.no_grad()`` too.
    """
    if x.dim() != 5:
        raise ValueError(f"saliency needs an (N, C, T, H, W) input, got shape {tuple(x.shape)}")
    with eval_mode(model), torch.enable_grad():
        v = x.detach().requires_grad_(True)
        loss = objective(class_logits(model(v)), kind, activation, target)
        (grad,) = torch.autograd.grad(loss, v)
    return grad


def reduce_saliency(jacobian: torch.Tensor) -> torch.Tensor:
    """Eq. 5 then §4.2: L2 norm over the colour channels, then the max over time. (N, C, T, H, W) -> (N, H, W)."""
    if jacobian.dim() != 5:
        raise ValueError(f"expected an (N, C, T, H, W) Jacobian, got shape {tuple(jacobian.shape)}")
    return jacobian.norm(dim=1).amax(dim=1)


def saliency(model: nn.Module, x: torch.Tensor, kind: str, activation: str,
             target: torch.Tensor | None = None) -> torch.Tensor:
    """The (N, H, W) saliency map of clips ``x`` (N, C, T, H, W) under a frozen ``model`` (Eq. 3-5, temporal max)."""
    return reduce_saliency(input_gradient(model, x, kind, activation, target))
