"""Training losses: cross entropy, the attention prior (Eq. 3), attention distillation (Eq. 6), the full objective
(Eq. 8), and the two feature-distillation baselines (MARS, W3's MFR).

Every term is a 0-dim tensor. Attention maps are (N, T', H', W') with one distribution per time slice; KL terms
take *log* maps from the network (``NetOutput.log_maps``, log-softmax of the attention logits) for stability, are
summed over time slices as in the equations and averaged over the batch. Loss functions that combine terms return
``(total, {term: float})`` for logging (raw, unweighted term values).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .models.networks import NetOutput

DIRECTIONS: tuple[str, ...] = ("teacher-student", "student-teacher")


def _item(t: torch.Tensor) -> float:
    """A loss term as a plain float for logging."""
    return float(t.detach())


def classification_loss(out: NetOutput, target: torch.Tensor, mode: str = "per-branch") -> torch.Tensor:
    """The classification term of Eq. 8.

    ``per-branch`` (Table 6 rows 28 and 35: a cross entropy attached to each branch): the CE of each branch's
    logits, averaged over branches. ``fused`` (Eq. 8's text: one CE on the fused prediction ŷ of Eq. 7): the
    negative log-likelihood of ``out.probs``, the mean of the branch softmaxes. For a single-stream net both are
    the plain CE. Multi-hot targets (N, K) float (a multi-label dataset: Charades) get the per-class sigmoid / BCE
    of :func:`multilabel_loss` instead.
    """
    if target.is_floating_point() and target.dim() == 2:
        return multilabel_loss(out, target)
    if mode == "fused" and len(out.logits) > 1:
        return F.nll_loss(torch.log(out.probs.float().clamp_min(1e-12)), target)
    if mode not in ("per-branch", "fused"):
        raise ValueError(f"classification loss mode {mode!r}; valid values: per-branch, fused")
    losses = [F.cross_entropy(logits.float(), target) for logits in out.logits.values()]
    return torch.stack(losses).mean()


def _flat(m: torch.Tensor) -> torch.Tensor:
    if m.dim() != 4:
        raise ValueError(f"attention maps must be (N, T', H', W'), got shape {tuple(m.shape)}")
    return m.float().flatten(2)          # (N, T', H'W')


def kl_to_uniform(log_map: torch.Tensor) -> torch.Tensor:
    """Eq. 3: L_R = sum_t KL[A(t) || U], U uniform over the H' x W' grid; batch mean.

    ``log_map`` = log A, (N, T', H', W'). KL[A || U] = sum A log A + log(H'W') (>= 0, 0 for a uniform map).
    """
    la = _flat(log_map)
    kl = (la.exp() * la).sum(-1) + math.log(la.shape[-1])      # (N, T')
    return kl.sum(1).mean()


def attention_distillation(student_log_map: torch.Tensor, teacher_map: torch.Tensor,
                           direction: str = "teacher-student") -> torch.Tensor:
    """Eq. 6: L_A = sum_t KL between the teacher's motion map Â^M(t) and the student's A^M(t); batch mean.

    The extracted text of Eq. 6 and Eq. 8 lost the accents, so which map is the first argument of the KL cannot be
    read from it. The sentences around them say the student is the one that moves: "we match A^M to the attention
    map from the reference flow network", "the motion attention A^M should mimic the attention map from the
    reference flow network". Our default, ``"teacher-student"``, is KL[Â^M || A^M] = sum Â (log Â − log A): the
    usual distillation direction (Hinton et al.; MARS-style targets), equal up to a constant to the cross entropy
    of the student map under the teacher map, so the gradient with respect to the student's attention logits is
    simply A − Â per slice; it is mass-covering (the student must put weight wherever the teacher does) and stays
    finite when teacher cells underflow to 0. ``"student-teacher"`` is KL[A^M || Â^M], the form of Eq. 3 with the
    teacher map in place of U (and the direction of the authors' proxy code ``KLDiv``); it is mode-seeking.

    The teacher map is detached (the teacher is frozen); ``student_log_map`` is log A^M.
    """
    ls = _flat(student_log_map)
    t = _flat(teacher_map.detach())
    if ls.shape != t.shape:
        raise ValueError(f"student map {tuple(student_log_map.shape)} and teacher map {tuple(teacher_map.shape)} "
                         f"differ in shape: the student must predict maps on the teacher's (T', H', W') grid")
    if direction == "teacher-student":
        kl = torch.xlogy(t, t) - t * ls                        # Â log Â − Â log A
    elif direction == "student-teacher":
        s = ls.exp()
        kl = s * (ls - torch.log(t.clamp_min(1e-12)))
    else:
        raise ValueError(f"unknown KL direction {direction!r}; valid values: {', '.join(DIRECTIONS)}")
    return kl.sum(-1).sum(1).mean()


def lambda2_auto(attention_map: torch.Tensor) -> float:
    """Eq. 8's λ2 = 1 / (T_phi x W_phi x H_phi), the size of the (N, T', H', W') attention grid (§3.5)."""
    t, h, w = attention_map.shape[-3:]
    return 1.0 / (t * h * w)


def _lambda2(value: float | str, attention_map: torch.Tensor) -> float:
    if value == "auto":
        return lambda2_auto(attention_map)
    if isinstance(value, str):
        raise ValueError(f"lambda2 must be 'auto' or a number, got {value!r}")
    return float(value)


def single_stream_loss(out: NetOutput, target: torch.Tensor,
                       lambda2: float | str = "auto") -> tuple[torch.Tensor, dict[str, float]]:
    """Table-1 models and the teacher: CE, plus λ2 · Eq. 3 prior for ``prob-atten`` (as in Eq. 8's third term).

    Soft attentions (Eq. 1) are deterministic maps with no prior in the paper, so they get CE only.
    """
    ce = classification_loss(out, target)
    total, terms = ce, {"ce": _item(ce)}
    if out.attention == "prob-atten":
        log_a = out.log_maps["main"]
        prior = kl_to_uniform(log_a)
        total = total + _lambda2(lambda2, log_a) * prior
        terms["prior"] = _item(prior)
    return total, terms


def student_loss(out: NetOutput, target: torch.Tensor, teacher_map: torch.Tensor | None, lambda1: float = 1.0,
                 lambda2: float | str = "auto", direction: str = "teacher-student",
                 ce_mode: str = "per-branch") -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 8: L = CE + λ1 Σ_t KL(motion map, teacher map) + λ2 Σ_t KL[A^A(t) || U] (λ1 = 1, λ2 = 1/(T'H'W')).

    CE is :func:`classification_loss` (one CE per branch, averaged). Eq. 8 is written for the full Prob-Atten
    model; for the other attention modes we keep what is well defined:

    * ``prob-atten``: all three terms, on the noise-free maps (log-softmax of the attention logits);
    * ``soft-atten`` / ``soft-res``: CE + λ1 · distillation (Soft-Distill); no prior term, because Eq. 3 belongs to
      the probabilistic (variational) model of §3.2 and soft attention has none;
    * ``none``: no maps, CE only (the distillation term has nothing to act on).

    ``teacher_map`` is the frozen flow network's expected motion map (N, T', H', W'), detached here; it is required
    when the student has a motion attention head. ``ce_mode``: see :func:`classification_loss`.
    """
    ce = classification_loss(out, target, ce_mode)
    total, terms = ce, {"ce": _item(ce)}
    if "motion" in out.log_maps:
        if teacher_map is None:
            raise ValueError("student_loss: the student predicts a motion map but teacher_map is None — the teacher "
                             "must be an attention model (its expected map is the distillation target)")
        distill = attention_distillation(out.log_maps["motion"], teacher_map, direction)
        total = total + lambda1 * distill
        terms["distill"] = _item(distill)
    if out.attention == "prob-atten" and "appearance" in out.log_maps:
        log_a = out.log_maps["appearance"]
        prior = kl_to_uniform(log_a)
        total = total + _lambda2(lambda2, log_a) * prior
        terms["prior"] = _item(prior)
    return total, terms


def feature_distillation_loss(student_pooled: torch.Tensor, teacher_pooled: torch.Tensor,
                              weight: float = 50.0) -> torch.Tensor:
    """MARS (Crasto et al., CVPR 2019): ``weight`` · MSE between the RGB network's pooled features and the frozen flow
    network's (N, C) pooled features (MARS α = 50). The teacher features are detached."""
    if student_pooled.shape != teacher_pooled.shape:
        raise ValueError(f"pooled features differ in shape: student {tuple(student_pooled.shape)}, teacher "
                         f"{tuple(teacher_pooled.shape)} (the two networks must have the same width)")
    return weight * F.mse_loss(student_pooled.float(), teacher_pooled.detach().float())


def mfr_loss(student_final: torch.Tensor, teacher_final: torch.Tensor, norm: str = "l2") -> torch.Tensor:
    """W3's Mature Feature-guided Regularization (paper 001, Eq. 9): L_fm = ||y^Q − y^P||_2 per frame.

    ``student_final`` / ``teacher_final`` are the final feature maps (N, C, T', H', W') of the student Q and the frozen
    stage-1 model P (detached). ``"l2"``: the L2 norm over (C, H', W') of each time slice's difference, averaged over
    slices and batch (the literal reading; notes/seeds-digest.md §1.7); ``"mse"``: the mean squared difference.
    """
    if student_final.shape != teacher_final.shape:
        raise ValueError(f"feature maps differ in shape: student {tuple(student_final.shape)}, teacher "
                         f"{tuple(teacher_final.shape)}")
    d = student_final.float() - teacher_final.detach().float()
    if norm == "l2":
        return d.transpose(1, 2).flatten(2).norm(dim=-1).mean()     # (N, T') norms
    if norm == "mse":
        return d.pow(2).mean()
    raise ValueError(f"unknown MFR norm {norm!r}; valid values: l2, mse")


# --------------------------------------------------------------------------------------------- STAM
# "Where and When to Look? Spatio-temporal Attention for Action Recognition in Videos", Eq. 7-10. Masks M are
# (N, n, h, w) in [0, 1], temporal weights w are (N, T, n) with each row a softmax over the n frames. Each
# regulariser is a SUM over frames / steps and spatial positions, as Eq. 8-10 are written (the weights λ_TV = 1e-5
# and λ_contrast = 1e-4 are sized for sums over 50 frames of 7x7 masks), then a MEAN over the batch.

def total_variation(masks: torch.Tensor) -> torch.Tensor:
    """Eq. 8, L1 total variation: Σ_i Σ_{j,k} |M_i^{j+1,k} − M_i^{j,k}| + |M_i^{j,k+1} − M_i^{j,k}|; batch mean.

    Sum over the n frames and over all vertical and horizontal neighbour pairs; 0 for a constant mask.
    """
    m = masks.float()
    tv = (m[:, :, 1:, :] - m[:, :, :-1, :]).abs().sum(dim=(1, 2, 3)) + \
         (m[:, :, :, 1:] - m[:, :, :, :-1]).abs().sum(dim=(1, 2, 3))
    return tv.mean()


def mask_contrast(masks: torch.Tensor) -> torch.Tensor:
    """Eq. 9: Σ_i Σ_{j,k} (−½ M_i B_i + ½ M_i (1 − B_i)), B_i = 1{M_i > 0.5} (detached); batch mean.

    Rewards mask mass above 0.5 and penalises mass below it: −½ Σ M per pixel of a binary mask's foreground,
    0 for an all-zero mask.
    """
    m = masks.float()
    b = (m > 0.5).float().detach()
    return (0.5 * m * (1 - 2 * b)).sum(dim=(1, 2, 3)).mean()


def unimodality(weights: torch.Tensor) -> torch.Tensor:
    """Eq. 10 (log-concavity hinge): Σ_t Σ_{i=2}^{n−1} max{0, w_{t,i−1} w_{t,i+1} − w_{t,i}²}; batch mean.

    0 for any log-concave (hence unimodal) row, e.g. a discretised Gaussian; > 0 when a row dips between two
    modes. Rows with n < 3 frames have no term (0).
    """
    w = weights.float()
    return F.relu(w[..., :-2] * w[..., 2:] - w[..., 1:-1] ** 2).sum(dim=(1, 2)).mean()


def frame_classification_loss(out: NetOutput, target: torch.Tensor) -> torch.Tensor:
    """Per-frame cross entropy of the frame-CNN baseline (fine-tuning step): every frame of a clip is trained with
    the clip's label; mean over the N·n frames. ``out.frame_logits["main"]`` is (N, n, K)."""
    frame_logits = out.frame_logits["main"].float()                    # (N, n, K)
    n, t, k = frame_logits.shape
    return F.cross_entropy(frame_logits.reshape(n * t, k), target.repeat_interleave(t))


def stam_loss(out: NetOutput, target: torch.Tensor, lambda_tv: float, lambda_contrast: float,
              lambda_unimodal: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 7: L = CE + λ_TV L_TV + λ_contrast L_contrast + λ_unimodal L_unimodal (paper: 1e-5, 1e-4, 1).

    The mask terms need the importance masks (``out.maps["main"]``), the unimodal term the temporal weights
    (``out.temporal_weights["main"]``); a term whose input the network does not produce (the w/o-spatial or
    w/o-temporal ablation) is left out. A λ of 0 removes its term from the objective (the w/o-L ablations)
    but the raw value is still logged.
    """
    ce = classification_loss(out, target)
    total, terms = ce, {"ce": _item(ce)}
    masks = out.maps.get("main")
    weights = getattr(out, "temporal_weights", {}).get("main")
    parts = []
    if masks is not None:
        parts += [("tv", lambda_tv, total_variation(masks)), ("contrast", lambda_contrast, mask_contrast(masks))]
    if weights is not None:
        parts.append(("unimodal", lambda_unimodal, unimodality(weights)))
    for name, lam, value in parts:
        if lam:
            total = total + lam * value
        terms[name] = _item(value)
    return total, terms


def multilabel_loss(out: NetOutput, target: torch.Tensor) -> torch.Tensor:
    """Per-class sigmoid / binary cross entropy (Eq. 3 of "Focused Attention for Action Recognition", Charades).

    ``target`` (N, K) multi-hot in {0, 1}. The BCE with logits of each branch, averaged over classes and batch
    (``BCEWithLogitsLoss``'s mean), then over branches as :func:`classification_loss` does.
    """
    target = target.float()
    losses = [F.binary_cross_entropy_with_logits(logits.float(), target) for logits in out.logits.values()]
    return torch.stack(losses).mean()


def multilabel_scores(out: NetOutput) -> torch.Tensor:
    """(N, K) per-class probabilities of a multi-label prediction: the sigmoid of each branch's logits, averaged
    over branches (the multi-label counterpart of ``NetOutput.probs``)."""
    return torch.stack([torch.sigmoid(z.float()) for z in out.logits.values()]).mean(0)


def class_scores(out: NetOutput, multilabel: bool) -> torch.Tensor:
    """(N, K) the scores a prediction is judged by: ``out.probs`` (softmax), or :func:`multilabel_scores`."""
    return multilabel_scores(out) if multilabel else out.probs
