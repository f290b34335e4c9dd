"""STAM ("Where and When to Look?"): ConvLSTM gates, Eq. 1-6 of the network, the frame baseline, Eq. 7-10 losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attdistill import losses as L
from attdistill.models import (STAM, ConvLSTMCell, FrameAverageNet, ResNet50Frames, SmallFrameCNN, TemporalAttention,
                               frame_features, load_resnet50_state)
from attdistill.models.networks import NetOutput

K, N, FRAMES, SIZE = 4, 2, 5, 32          # SmallFrameCNN(width=4): (N, 5, 32, 2, 2) features


@pytest.fixture(autouse=True)
def _seed():
    torch.set_num_threads(2)
    torch.manual_seed(0)


def make_stam(spatial=True, temporal=True, steps=None, mean_input=True, width=4):
    return STAM(K, SmallFrameCNN(width), mask_hidden=(8, 4), attention_dim=6, hidden_channels=5, kernel_size=3,
                steps=steps, dropout=0.5, spatial=spatial, temporal=temporal, mean_input=mean_input)


def clip():
    return torch.randn(N, 3, FRAMES, SIZE, SIZE)


def capture_cell_inputs(model):
    seen = []
    model.cell.register_forward_pre_hook(lambda mod, args: seen.append((args[0].detach(), args[1])))
    return seen


# --------------------------------------------------------------------------------------------- ConvLSTM
def test_convlstm_cell_matches_a_hand_written_step():
    cell = ConvLSTMCell(3, 2, 3)
    for p in cell.parameters():                # non-trivial biases and weights
        torch.nn.init.normal_(p, std=0.5)
    y, h, c = torch.randn(2, 3, 4, 5), torch.randn(2, 2, 4, 5), torch.randn(2, 2, 4, 5)
    wx, bx, wh = cell.conv_x.weight, cell.conv_x.bias, cell.conv_h.weight

    def gate(k):                               # W_xk * Y + W_hk * H + b_k, gate k of (i, f, c, o)
        sl = slice(2 * k, 2 * k + 2)
        return F.conv2d(y, wx[sl], bx[sl], padding=1) + F.conv2d(h, wh[sl], padding=1)

    i, f, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.sigmoid(gate(3))
    c_exp = f * c + i * torch.tanh(gate(2))
    h_exp = o * torch.tanh(c_exp)
    h_new, c_new = cell(y, (h, c))
    assert torch.allclose(c_new, c_exp, atol=1e-6) and torch.allclose(h_new, h_exp, atol=1e-6)


def test_convlstm_rejects_even_kernel():
    with pytest.raises(ValueError, match="odd"):
        ConvLSTMCell(3, 2, 2)


# --------------------------------------------------------------------------------------------- network
def test_stam_shapes_and_distributions():
    model = make_stam().eval()
    out = model(clip())
    assert out.logits["main"].shape == (N, K)
    assert torch.allclose(out.probs.sum(1), torch.ones(N))
    m = out.maps["main"]
    assert m.shape == (N, FRAMES, 2, 2) and ((m > 0) & (m < 1)).all()
    assert out.expected_maps["main"] is m
    w = out.temporal_weights["main"]
    assert w.shape == (N, FRAMES, FRAMES)                       # steps=None: T = n
    assert torch.allclose(w.sum(-1), torch.ones(N, FRAMES), atol=1e-6)
    assert out.final["main"].shape == (N, 5, FRAMES, 2, 2) and out.pooled["main"].shape == (N, 5)
    assert isinstance(out, NetOutput) and out.attention == "stam"
    assert make_stam(steps=3).eval()(clip()).temporal_weights["main"].shape == (N, 3, FRAMES)


def test_temporal_attention_by_hand_and_state_dependent():
    """Eq. 2-3 in Bahdanau form; Φ_H enters through tanh, so w_t changes with H_{t-1} (a plain sum of scalars
    Φ_H + Φ_X would give the same softmax for every state)."""
    att = TemporalAttention(feat_channels=3, hidden_channels=4, dim=5)
    for p in att.parameters():
        torch.nn.init.normal_(p, std=1.0)
    xt = torch.randn(2, 6, 3, 2, 2)                                  # (N, n, C, h, w)
    keys = att.keys(xt)
    h1, h2 = torch.randn(2, 4, 2, 2), torch.randn(2, 4, 2, 2)
    w1 = att(keys, h1)
    e = torch.tanh(xt.mean(dim=(3, 4)) @ att.phi_x.weight.T + att.phi_x.bias
                   + (h1.mean(dim=(2, 3)) @ att.phi_h.weight.T)[:, None]) @ att.v.weight.T
    assert torch.allclose(w1, torch.softmax(e.squeeze(-1), dim=1), atol=1e-6)
    assert (w1 - att(keys, h2)).abs().max() > 1e-2


def test_eq1_eq4_eq5_eq6_by_hand():
    model = make_stam().eval()
    x = clip()
    seen = capture_cell_inputs(model)
    out = model(x)
    feats = frame_features(model.backbone, x)                                   # (N, n, C, h, w)
    xt = feats * out.maps["main"][:, :, None]                                   # Eq. 1
    w = out.temporal_weights["main"]
    for t, (y, _) in enumerate(seen):                                           # Eq. 4, with its 1/n
        assert torch.allclose(y, torch.einsum("ni,nichw->nchw", w[:, t], xt) / FRAMES, atol=1e-5)
    h0, c0 = seen[0][1]                                                          # Eq. 5
    assert torch.allclose(h0, model.init_h(xt.mean(1)), atol=1e-5)
    assert torch.allclose(c0, model.init_c(xt.mean(1)), atol=1e-5)
    hbar = out.final["main"].mean(dim=2)                                         # Eq. 6
    assert torch.allclose(out.logits["main"], model.fc(hbar.mean(dim=(2, 3))), atol=1e-5)


def test_mean_input_false_drops_the_1_over_n():
    model = make_stam(mean_input=False).eval()
    x = clip()
    seen = capture_cell_inputs(model)
    out = model(x)
    xt = frame_features(model.backbone, x) * out.maps["main"][:, :, None]
    assert torch.allclose(seen[0][0], torch.einsum("ni,nichw->nchw", out.temporal_weights["main"][:, 0], xt),
                          atol=1e-5)


def test_mask_gates_the_features():
    """A mask forced to 1 gives the w/o-spatial network's output (same remaining weights)."""
    full, plain = make_stam().eval(), make_stam(spatial=False).eval()
    plain.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("mask.")})
    last = full.mask.net[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, 30.0)
    x = clip()
    a, b = full(x), plain(x)
    assert "main" not in b.maps and torch.allclose(a.logits["main"], b.logits["main"], atol=1e-5)


def test_without_temporal_attention_the_input_is_the_mean():
    model = make_stam(temporal=False).eval()
    x = clip()
    seen = capture_cell_inputs(model)
    out = model(x)
    assert "main" not in out.temporal_weights and model.attention is None
    xt = frame_features(model.backbone, x) * out.maps["main"][:, :, None]
    for y, _ in seen:
        assert torch.allclose(y, xt.mean(1) / FRAMES, atol=1e-6)


def test_stam_trains_every_part():
    model = make_stam().train()
    out = model(clip())
    total, terms = L.stam_loss(out, torch.tensor([0, 3]), 1e-5, 1e-4, 1.0)
    total.backward()
    for name in ("backbone.features.0.weight", "mask.net.0.weight", "attention.phi_x.weight",
                 "attention.phi_h.weight", "attention.v.weight", "init_h.0.weight", "cell.conv_x.weight", "fc.weight"):
        g = dict(model.named_parameters())[name].grad
        assert g is not None and g.abs().sum() > 0, name
    assert set(terms) == {"ce", "tv", "contrast", "unimodal"}


def test_frame_average_net():
    model = FrameAverageNet(K, SmallFrameCNN(4), dropout=0.0).eval()
    out = model(clip())
    fl = out.frame_logits["main"]
    assert fl.shape == (N, FRAMES, K)
    assert torch.allclose(out.probs, F.softmax(fl, dim=2).mean(1), atol=1e-6)
    assert torch.allclose(out.logits["main"], fl.mean(1), atol=1e-6)
    target = torch.tensor([1, 2])
    manual = torch.stack([F.cross_entropy(fl[:, t], target) for t in range(FRAMES)]).mean()
    assert torch.allclose(L.frame_classification_loss(out, target), manual, atol=1e-6)


def test_backbone_is_shared_between_baseline_and_stam():
    """Step 1 fine-tunes the frame CNN; step 2 puts the same weights under the attention head."""
    base, stam = FrameAverageNet(K, SmallFrameCNN(4), 0.0), make_stam()
    stam.backbone.load_state_dict(base.backbone.state_dict())
    x = clip()
    assert torch.equal(frame_features(base.backbone.eval(), x), frame_features(stam.backbone.eval(), x))


def test_resnet50_frames_shape_and_weights(tmp_path):
    from torchvision.models import resnet50

    ref = resnet50(weights=None)
    torch.save(ref.state_dict(), tmp_path / "r50.pth")           # includes fc.*, dropped on load
    net = ResNet50Frames()
    load_resnet50_state(net, tmp_path / "r50.pth")
    assert torch.equal(net.layer4[2].conv3.weight, ref.layer4[2].conv3.weight)
    net.eval()
    ref.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 2048, 7, 7)      # the paper's 2048 x 7 x 7
        x = torch.randn(1, 3, 64, 64)
        assert torch.allclose(ref.fc(net(x).mean(dim=(2, 3))), ref(x), atol=1e-4)


# --------------------------------------------------------------------------------------------- losses
def test_total_variation_by_hand():
    m = torch.zeros(2, 2, 2, 3)
    m[0, 0] = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])     # vertical 1, horizontal 2
    m[0, 1] = torch.tensor([[0.5, 0.5, 0.5], [0.0, 0.0, 0.0]])     # vertical 1.5, horizontal 0
    m[1] = 0.7                                                      # constant: 0
    assert L.total_variation(m).item() == pytest.approx((3.0 + 1.5 + 0.0) / 2)


def test_contrast_by_hand():
    m = torch.tensor([0.9, 0.2, 0.6, 0.0, 0.5]).reshape(1, 1, 1, 5).requires_grad_()
    value = L.mask_contrast(m)
    assert value.item() == pytest.approx(-0.45 + 0.1 - 0.3 + 0.0 + 0.25)     # 0.5 is background (B = M > 0.5)
    value.backward()
    assert torch.allclose(m.grad.flatten(), torch.tensor([-0.5, 0.5, -0.5, 0.5, 0.5]))
    assert L.mask_contrast(torch.ones(1, 2, 2, 2)).item() == pytest.approx(-0.5 * 8)
    assert L.mask_contrast(torch.zeros(3, 2, 2, 2)).item() == 0.0


def test_unimodality_zero_for_log_concave_positive_for_bimodal():
    i = torch.arange(7.0)
    gauss = F.softmax(-0.5 * (i - 2.5) ** 2, dim=0)                          # log-concave
    w = gauss.expand(2, 3, 7)
    assert L.unimodality(w).item() == pytest.approx(0.0, abs=1e-9)
    bimodal = torch.tensor([[[0.3, 0.1, 0.2, 0.4]]])                        # i=1: 0.3*0.2 - 0.01; i=2: 0.04 - 0.04
    assert L.unimodality(bimodal).item() == pytest.approx(0.05)
    two = torch.tensor([[[0.4, 0.1, 0.4], [0.2, 0.2, 0.2]]])                # summed over steps: 0.15 + 0
    assert L.unimodality(two).item() == pytest.approx(0.15)
    assert L.unimodality(torch.ones(1, 1, 2)).item() == 0.0                  # n < 3: no term


def test_stam_loss_weights_and_ablations():
    model = make_stam().eval()
    out = model(clip())
    target = torch.tensor([1, 0])
    total, terms = L.stam_loss(out, target, 1e-5, 1e-4, 1.0)
    tv, ct, uni = (L.total_variation(out.maps["main"]), L.mask_contrast(out.maps["main"]),
                   L.unimodality(out.temporal_weights["main"]))
    ce = F.cross_entropy(out.logits["main"], target)
    assert total.item() == pytest.approx((ce + 1e-5 * tv + 1e-4 * ct + uni).item(), rel=1e-6)
    assert terms["tv"] == pytest.approx(tv.item()) and terms["unimodal"] == pytest.approx(uni.item())
    no_reg, terms0 = L.stam_loss(out, target, 0.0, 0.0, 0.0)
    assert no_reg.item() == pytest.approx(ce.item()) and math.isfinite(terms0["contrast"])
    _, t_plain = L.stam_loss(make_stam(spatial=False, temporal=False).eval()(clip()), target, 1e-5, 1e-4, 1.0)
    assert set(t_plain) == {"ce"}
