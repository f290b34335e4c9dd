"""Losses: Eq. 3 prior, Eq. 6 distillation, Eq. 8 objective, MARS feature distillation, MFR; frozen teachers."""

from __future__ import annotations

import math

import pytest
import torch

from attdistill import losses as L
from attdistill.models import SingleStreamNet, TwoBranchStudent
from attdistill.models.attention import slice_log_softmax, slice_softmax
from attdistill.models.networks import NetOutput

SMALL = dict(width=0.125, final_stride=1)


@pytest.fixture(autouse=True)
def _seed():
    torch.set_num_threads(2)
    torch.manual_seed(0)


def random_log_map(*shape, scale=2.0):
    return slice_log_softmax(scale * torch.randn(*shape))


def test_kl_to_uniform_zero_for_uniform_positive_otherwise():
    uniform = slice_log_softmax(torch.zeros(4, 3, 7, 7))
    assert L.kl_to_uniform(uniform).abs() < 1e-6
    la = random_log_map(4, 3, 7, 7)
    kl = L.kl_to_uniform(la)
    assert kl.dim() == 0 and kl > 0.1
    # sum over time slices, mean over batch: a one-hot map has KL = log(HW) per slice
    onehot = torch.full((2, 3, 7, 7), -1e4)
    onehot[:, :, 0, 0] = 0.0
    assert torch.isclose(L.kl_to_uniform(slice_log_softmax(onehot)), torch.tensor(3 * math.log(49)), rtol=1e-5)


@pytest.mark.parametrize("direction", L.DIRECTIONS)
def test_attention_distillation_zero_iff_identical(direction):
    logits = torch.randn(3, 2, 6, 6)
    same = L.attention_distillation(slice_log_softmax(logits), slice_softmax(logits), direction)
    assert same.dim() == 0 and same.abs() < 1e-5
    other = L.attention_distillation(slice_log_softmax(logits), slice_softmax(torch.randn(3, 2, 6, 6)), direction)
    assert other > 1e-3


def test_distillation_directions_differ_and_match_definitions():
    ls, t = random_log_map(2, 3, 4, 4), slice_softmax(2 * torch.randn(2, 3, 4, 4))
    s = ls.exp()
    ts = (t * (t.log() - ls)).sum(dim=(2, 3)).sum(1).mean()          # KL[teacher || student]
    st = (s * (ls - t.log())).sum(dim=(2, 3)).sum(1).mean()          # KL[student || teacher]
    assert torch.isclose(L.attention_distillation(ls, t), ts, rtol=1e-5)             # default direction
    assert torch.isclose(L.attention_distillation(ls, t, "student-teacher"), st, rtol=1e-5)
    assert not torch.isclose(ts, st, rtol=1e-3)
    with pytest.raises(ValueError, match="teacher-student, student-teacher"):
        L.attention_distillation(ls, t, "sideways")
    with pytest.raises(ValueError, match="shape"):
        L.attention_distillation(ls, slice_softmax(torch.randn(2, 3, 5, 5)))


def test_lambda2_auto():
    assert L.lambda2_auto(torch.zeros(8, 3, 7, 7)) == pytest.approx(1 / 147)
    assert L.lambda2_auto(torch.zeros(8, 2, 6, 6)) == pytest.approx(1 / 72)


def test_teacher_receives_no_gradient_and_student_does():
    teacher = SingleStreamNet(5, "flow", "prob-atten", **SMALL)
    teacher.eval().requires_grad_(False)
    student = TwoBranchStudent(5, "prob-atten", **SMALL).train()
    rgb, flow = torch.randn(2, 3, 8, 48, 48), torch.randn(2, 2, 8, 48, 48)
    t_out = teacher(flow)                      # no torch.no_grad on purpose: requires_grad False must suffice
    out = student(rgb)
    loss = L.attention_distillation(out.log_maps["motion"], t_out.expected_maps["main"])
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.motion.attention.linear.conv3d.weight.grad.abs().sum() > 0
    # only the motion head and the shared trunk get gradient from L_A
    assert student.appearance.attention is not None and student.appearance.attention.linear.conv3d.weight.grad is None


def test_detached_teacher_map_even_if_it_requires_grad():
    t_logits = torch.randn(2, 2, 4, 4, requires_grad=True)
    s_logits = torch.randn(2, 2, 4, 4, requires_grad=True)
    L.attention_distillation(slice_log_softmax(s_logits), slice_softmax(t_logits)).backward()
    assert t_logits.grad is None and s_logits.grad is not None


def _fake_out(attention: str, branches=("motion", "appearance"), with_maps=True) -> NetOutput:
    logits = {b: torch.randn(4, 6, requires_grad=True) for b in branches}
    out = NetOutput(logits=logits, probs=torch.full((4, 6), 1 / 6), attention=attention)
    if with_maps:
        for b in branches:
            out.log_maps[b] = random_log_map(4, 2, 6, 6)
            out.expected_maps[b] = out.maps[b] = out.log_maps[b].exp()
    return out


def test_student_loss_eq8_terms():
    target = torch.tensor([0, 1, 2, 3])
    teacher = slice_softmax(torch.randn(4, 2, 6, 6))
    out = _fake_out("prob-atten")
    total, terms = L.student_loss(out, target, teacher)
    ce = L.classification_loss(out, target)
    la = L.attention_distillation(out.log_maps["motion"], teacher)
    lr = L.kl_to_uniform(out.log_maps["appearance"])
    assert torch.isclose(total, ce + la + lr / 72, rtol=1e-6)
    assert set(terms) == {"ce", "distill", "prior"} and all(isinstance(v, float) for v in terms.values())
    total2, _ = L.student_loss(out, target, teacher, lambda1=0.5, lambda2=0.1)
    assert torch.isclose(total2, ce + 0.5 * la + 0.1 * lr, rtol=1e-6)
    # soft attention: distillation but no prior; none: CE only
    _, soft_terms = L.student_loss(_fake_out("soft-atten"), target, teacher)
    assert set(soft_terms) == {"ce", "distill"}
    total_none, none_terms = L.student_loss(_fake_out("none", with_maps=False), target, None)
    assert set(none_terms) == {"ce"} and total_none.dim() == 0
    with pytest.raises(ValueError, match="teacher_map is None"):
        L.student_loss(out, target, None)


def test_classification_loss_averages_branch_ces():
    target = torch.tensor([0, 1, 2, 3])
    out = _fake_out("none", with_maps=False)
    ces = [torch.nn.functional.cross_entropy(v, target) for v in out.logits.values()]
    assert torch.isclose(L.classification_loss(out, target), (ces[0] + ces[1]) / 2)


def test_single_stream_loss_prior_only_for_prob():
    target = torch.tensor([0, 1, 2, 3])
    prob = _fake_out("prob-atten", branches=("main",))
    total, terms = L.single_stream_loss(prob, target)
    assert set(terms) == {"ce", "prior"}
    assert torch.isclose(total, L.classification_loss(prob, target) + L.kl_to_uniform(prob.log_maps["main"]) / 72)
    _, soft_terms = L.single_stream_loss(_fake_out("soft-res", branches=("main",)), target)
    assert set(soft_terms) == {"ce"}


def test_feature_distillation_and_mfr():
    s = torch.randn(4, 128, requires_grad=True)
    t = torch.randn(4, 128, requires_grad=True)
    fd = L.feature_distillation_loss(s, t)
    assert torch.isclose(fd, 50 * ((s - t) ** 2).mean())
    fd.backward()
    assert t.grad is None and s.grad is not None
    assert L.feature_distillation_loss(s, s.detach().clone()) == 0

    ys = torch.randn(2, 16, 3, 4, 4, requires_grad=True)
    yt = torch.randn(2, 16, 3, 4, 4)
    l2 = L.mfr_loss(ys, yt)
    per_frame = torch.stack([(ys[n, :, k] - yt[n, :, k]).norm() for n in range(2) for k in range(3)]).mean()
    assert torch.isclose(l2, per_frame, rtol=1e-5)
    assert torch.isclose(L.mfr_loss(ys, yt, norm="mse"), ((ys - yt) ** 2).mean())
    zero = L.mfr_loss(ys, ys.detach().clone())
    assert zero == 0
    zero.backward()
    assert torch.isfinite(ys.grad).all()                 # the L2 norm's gradient at 0 is defined (0)
    with pytest.raises(ValueError, match="l2, mse"):
        L.mfr_loss(ys, yt, norm="l1")
