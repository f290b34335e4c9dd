"""W3 attention (Eq. 1-6), AFR (Eq. 7-8), the W3 / CBAM I3D network, the MFR loss (Eq. 9) and the FLOPs profile."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from attdistill import losses as L
from attdistill.config import ModelConfig
from attdistill.models import (STAGE_ENDPOINTS, W3_ENDPOINTS, AttentionFeatureRefinement, NetOutput, W3Attention,
                               W3I3D, attention_gflops, build_w3, cbam)
from attdistill.models.afr import pool_masks

CPU = dict(width=0.125, final_stride=1, dropout=0.5)          # the CPU default of params.yaml
W3 = dict(spatial=True, temporal=True, afr=True, reduction=16, depthwise=True)


@pytest.fixture(autouse=True)
def _seed():
    torch.set_num_threads(2)
    torch.manual_seed(0)


def _randomise_temporal(m: W3Attention) -> None:
    """Replace the identity initialisation of the temporal convolutions by random weights."""
    for net in (m.channel.temporal, m.spatial.temporal):
        for p in net.parameters():
            torch.nn.init.normal_(p, std=0.5)


# ------------------------------------------------------------------------------------------------ the module
def test_channel_mask_broadcasts_over_space():
    m = W3Attention(8, 4, spatial=False, temporal=True, depthwise=True)
    x = torch.randn(2, 8, 5, 6, 7)
    out = m(x)
    assert out.spatial is None and out.channel.shape == (2, 8, 5)
    ratio = out.features / x                                          # one value per (n, c, t)
    torch.testing.assert_close(ratio, out.channel[..., None, None].expand_as(x), rtol=1e-5, atol=1e-6)
    assert out.channel.std(dim=1).min() > 0                           # ... and it differs between channels


def test_spatial_mask_broadcasts_over_channels_and_is_computed_on_fc():
    m = W3Attention(8, 4, spatial=True, temporal=True, depthwise=True)
    _randomise_temporal(m)
    x = torch.randn(2, 8, 5, 6, 7)
    out = m(x)
    assert out.spatial.shape == (2, 5, 6, 7)
    f_c = x * out.channel[..., None, None]
    ratio = out.features / f_c                                        # one value per (n, t, h, w)
    torch.testing.assert_close(ratio, out.spatial[:, None].expand_as(x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m.spatial(f_c)[0], out.spatial)        # Eq. 2: M^s = f^s(F^c), not f^s(F)
    assert not torch.allclose(m.spatial(x)[0], out.spatial)


def test_double_sigmoid_by_hand():
    c, r = 6, 3
    m = W3Attention(c, r, spatial=True, temporal=True, depthwise=True)
    _randomise_temporal(m)
    x = torch.randn(2, c, 4, 5, 5)
    # Eq. 3 by hand: shared MLP on the spatial avg and max descriptors, one sigmoid.
    w1, b1 = m.channel.mlp[0].weight[:, :, 0], m.channel.mlp[0].bias
    w2, b2 = m.channel.mlp[2].weight[:, :, 0], m.channel.mlp[2].bias
    mlp = lambda d: F.linear(F.relu(F.linear(d, w1, b1)), w2, b2)       # noqa: E731  (N, T, C) -> (N, T, C)
    frame = torch.sigmoid(mlp(x.mean((3, 4)).transpose(1, 2)) + mlp(x.amax((3, 4)).transpose(1, 2))).transpose(1, 2)
    assert w1.shape == (c // r, c)
    # Eq. 4 by hand: two depthwise k=3 temporal convolutions, then the second sigmoid.
    t1, t2 = m.channel.temporal[0], m.channel.temporal[2]
    h = F.relu(F.conv1d(frame, t1.weight, t1.bias, padding=1, groups=c))
    want_c = torch.sigmoid(F.conv1d(h, t2.weight, t2.bias, padding=1, groups=c))
    got_c, got_frame = m.channel(x)
    torch.testing.assert_close(got_frame, frame)
    torch.testing.assert_close(got_c, want_c)
    # Eq. 5-6 by hand on F^c.
    f_c = x * want_c[..., None, None]
    d = torch.cat([f_c.mean(1, keepdim=True), f_c.amax(1, keepdim=True)], 1)
    s_frame = torch.sigmoid(F.conv3d(d, m.spatial.frame.weight, m.spatial.frame.bias, padding=(0, 3, 3)))
    s1, s2 = m.spatial.temporal[0], m.spatial.temporal[2]
    want_s = torch.sigmoid(F.conv3d(F.relu(F.conv3d(s_frame, s1.weight, s1.bias, padding=1)), s2.weight, s2.bias,
                                    padding=1))[:, 0]
    torch.testing.assert_close(m(x).spatial, want_s)


def test_identity_initialised_temporal_reasoning_is_sigmoid_of_the_frame_mask():
    m = W3Attention(6, 2, spatial=True, temporal=True, depthwise=True)
    x = torch.randn(2, 6, 4, 5, 5)
    m_c, frame = m.channel(x)
    torch.testing.assert_close(m_c, torch.sigmoid(frame))            # sigma(sigma(.)): values in (0.5, 0.731)
    assert 0.5 < m_c.min() and m_c.max() < torch.sigmoid(torch.tensor(1.0))
    m_s, s_frame = m.spatial(x * m_c[..., None, None])
    torch.testing.assert_close(m_s, torch.sigmoid(s_frame))


def test_dense_temporal_convolutions_mix_channels():
    dw = W3Attention(8, 4, spatial=False, temporal=True, depthwise=True)
    dense = W3Attention(8, 4, spatial=False, temporal=True, depthwise=False)
    assert dw.channel.temporal[0].weight.shape == (8, 1, 3)
    assert dense.channel.temporal[0].weight.shape == (8, 8, 3)
    x = torch.randn(1, 8, 4, 3, 3)
    dense.channel.mlp.load_state_dict(dw.channel.mlp.state_dict())
    torch.testing.assert_close(dense(x).channel, dw(x).channel)      # both start as the identity


def test_switches_remove_exactly_their_parameters():
    full = W3Attention(16, 4, spatial=True, temporal=True, depthwise=True)
    no_ta = W3Attention(16, 4, spatial=True, temporal=False, depthwise=True)
    no_sa = W3Attention(16, 4, spatial=False, temporal=True, depthwise=True)
    keys = set(full.state_dict())
    assert keys - set(no_ta.state_dict()) == {k for k in keys if ".temporal." in k}
    assert keys - set(no_sa.state_dict()) == {k for k in keys if k.startswith("spatial.")}
    with pytest.raises(ValueError, match="reduction"):
        W3Attention(16, 0, spatial=True, temporal=True, depthwise=True)


def _cbam_reference(x: torch.Tensor, m: W3Attention) -> torch.Tensor:
    """CBAM (Woo et al.) written out with 2-D operations, frame by frame: (N, C, T, H, W) -> same shape."""
    n, c, t, h, w = x.shape
    f = x.transpose(1, 2).reshape(n * t, c, h, w)                     # frames as images
    w1, b1 = m.channel.mlp[0].weight[:, :, 0], m.channel.mlp[0].bias
    w2, b2 = m.channel.mlp[2].weight[:, :, 0], m.channel.mlp[2].bias
    mlp = lambda d: F.linear(F.relu(F.linear(d, w1, b1)), w2, b2)       # noqa: E731
    f = f * torch.sigmoid(mlp(F.adaptive_avg_pool2d(f, 1).flatten(1)) + mlp(F.adaptive_max_pool2d(f, 1).flatten(1)))[
        :, :, None, None]
    d = torch.cat([f.mean(1, keepdim=True), f.max(1, keepdim=True).values], 1)
    f = f * torch.sigmoid(F.conv2d(d, m.spatial.frame.weight[:, :, 0], m.spatial.frame.bias, padding=3))
    return f.reshape(n, t, c, h, w).transpose(1, 2)


def test_cbam_is_w3_without_temporal_reasoning():
    w3 = W3Attention(12, 4, spatial=True, temporal=True, depthwise=True)
    cb = cbam(12, 4)
    assert not cb.temporal and cb.channel.temporal is None and cb.spatial.temporal is None
    missing, unexpected = cb.load_state_dict(w3.state_dict(), strict=False)
    assert not missing and set(unexpected) == {k for k in w3.state_dict() if ".temporal." in k}
    x = torch.randn(2, 12, 4, 9, 9)
    torch.testing.assert_close(cb(x).features, _cbam_reference(x, cb), rtol=1e-5, atol=1e-6)
    # the same per-frame channel mask, with and without W3's temporal reasoning on top
    torch.testing.assert_close(cb(x).channel, w3.channel(x)[1])
    torch.testing.assert_close(cb(x).spatial, cb.spatial(x * cb(x).channel[..., None, None])[1])


# ------------------------------------------------------------------------------------------------ AFR
def test_afr_pools_concatenates_and_adds_by_hand():
    a = torch.full((1, 2, 4, 4), 0.2)
    a[0, 0, :2, :2] = 1.0
    a[0, 1] = 0.6
    b = torch.tensor([[[[0.1, 0.2], [0.3, 0.4]]]])                   # (1, 1, 2, 2): already at the last grid
    pooled = pool_masks([a, b], (1, 2, 2))
    assert pooled.shape == (1, 2, 1, 2, 2)
    torch.testing.assert_close(pooled[0, 0, 0], torch.tensor([[0.8, 0.4], [0.4, 0.4]]))   # mean over t and 2x2
    torch.testing.assert_close(pooled[0, 1], b[0])
    afr = AttentionFeatureRefinement(2, 2)
    with torch.no_grad():
        afr.conv.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, 0.0]])[:, :, None, None, None])
        afr.conv.bias.copy_(torch.tensor([-0.65, 0.0]))
    x = torch.randn(1, 2, 1, 2, 2)
    y = afr(x, [a, b])
    torch.testing.assert_close(y[0, 0, 0] - x[0, 0, 0], torch.tensor([[0.25, 0.0], [0.05, 0.15]]))   # ReLU clips
    torch.testing.assert_close(y[0, 1], x[0, 1])                      # relu(-mask) = 0: channel 1 unchanged
    with pytest.raises(ValueError, match="2 stage masks"):
        afr(x, [a])


# ------------------------------------------------------------------------------------------------ the network
def test_cpu_default_forward_backward():
    used = dict(width=0.125, final_stride=1, dropout=0.5, bn_momentum=0.1)   # the ModelConfig fields build_w3 reads
    assert set(used) <= {f.name for f in dataclasses.fields(ModelConfig)}
    net = build_w3(6, SimpleNamespace(**used), **W3).train()
    assert net.backbone.Mixed_3b.b0.bn.momentum == 0.1 and net.backbone.dropout.p == 0.5
    out = net(torch.randn(2, 3, 12, 80, 80))
    assert isinstance(out, NetOutput) and out.attention == "w3"
    assert out.logits["main"].shape == (2, 6) and torch.allclose(out.probs.sum(1), torch.ones(2))
    assert out.final["main"].shape == (2, 128, 2, 5, 5) and out.pooled["main"].shape == (2, 128)
    want = {"Mixed_3c": (2, 6, 10, 10), "Mixed_4f": (2, 3, 5, 5), "Mixed_5c": (2, 2, 5, 5)}
    assert {k: tuple(v.shape) for k, v in out.maps.items()} == want
    assert out.expected_maps.keys() == out.maps.keys() and not out.log_maps
    assert all(0 < v.min() and v.max() < 1 for v in out.maps.values())
    L.classification_loss(out, torch.tensor([1, 4])).backward()
    for name, p in net.named_parameters():                            # every W3 / AFR weight learns
        if name.startswith(("w3.", "afr.")):
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert not any(".attention." in f".{n}" for n, _ in net.named_parameters())   # not in the 10x lr group


def test_ablation_networks():
    x = torch.randn(1, 3, 8, 48, 48)                                  # a small clip: Mixed_5c 1 x 3 x 3
    no_sa = W3I3D(6, **CPU, **{**W3, "spatial": False, "afr": False})
    out = no_sa(x)
    assert not out.maps and out.final["main"].shape == (1, 128, 1, 3, 3)
    assert no_sa.afr is None and all(m.spatial is None for m in no_sa.w3.values())
    cb = W3I3D(6, **CPU, **{**W3, "temporal": False, "afr": False})
    assert cb(x).attention == "cbam" and set(cb(x).maps) == set(STAGE_ENDPOINTS)
    with pytest.raises(ValueError, match="spatial"):
        W3I3D(6, **CPU, **{**W3, "spatial": False})
    # AFR changes only the final features: without it, final = the W3-attended Mixed_5c
    full = W3I3D(6, **CPU, **W3).eval()
    no_afr = W3I3D(6, **CPU, **{**W3, "afr": False}).eval()
    no_afr.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("afr.")})
    with torch.no_grad():
        a, b = full(x), no_afr(x)
        for k in a.maps:
            torch.testing.assert_close(a.maps[k], b.maps[k])
        masks = [a.maps[k] for k in STAGE_ENDPOINTS]
        torch.testing.assert_close(a.final["main"], full.afr(b.final["main"], masks))


def test_paper_profile_shapes_on_meta():
    with torch.device("meta"):
        net = W3I3D(400, width=1.0, final_stride=2, dropout=0.5, **W3)
        y, masks = net.features(torch.empty(1, 3, 24, 224, 224))
    assert y.shape == (1, 1024, 3, 7, 7)
    grids = {"Mixed_3": (12, 28, 28), "Mixed_4": (6, 14, 14), "Mixed_5": (3, 7, 7)}
    assert set(masks) == set(W3_ENDPOINTS)
    assert all(tuple(m.shape) == (1, *grids[ep[:7]]) for ep, m in masks.items())
    assert net.w3["Mixed_5c"].channel.mlp[0].out_channels == 1024 // 16


def _extra_multiply_adds(net: W3I3D, masks: dict) -> tuple[int, int]:
    """Multiply-adds CBAM adds to I3D, and W3 (depthwise, + AFR) adds to CBAM, counted by hand."""
    cbam_macs = w3_macs = 0
    for ep in W3_ENDPOINTS:
        c, (t, h, w) = net.backbone.channels[ep], masks[ep].shape[1:]
        hidden = c // net.w3[ep].reduction
        cbam_macs += 2 * (c * hidden + hidden * c) * t + 2 * 7 * 7 * t * h * w    # MLP on avg + max; 7x7 conv
        w3_macs += 2 * 3 * c * t + 2 * 27 * t * h * w                     # 2 depthwise k=3; 2 x 3x3x3, 1 channel
    y = net.afr.conv(torch.empty(1, 3, *masks["Mixed_5c"].shape[1:], device="meta"))
    return cbam_macs, w3_macs + 3 * y[0].numel()                            # AFR: 3 -> C_l 1x1x1 conv


def test_flops_overhead_is_a_few_percent():
    # paper profile: 24 x 224 x 224, full width, W3 on every Inception module (+ AFR)
    i3d, cb, w3 = attention_gflops(400, 24, 224, width=1.0, final_stride=2, reduction=16, depthwise=True, afr=True)
    assert 80 < i3d < 87                                              # 2 x 41.7 G multiply-adds
    assert i3d < cb < w3 < i3d * 1.032                                # the paper: +1.5 % .. +3.2 %
    with torch.device("meta"):
        net = W3I3D(400, width=1.0, final_stride=2, dropout=0.5, **W3)
        _, masks = net.features(torch.empty(1, 3, 24, 224, 224))
    cbam_macs, w3_macs = _extra_multiply_adds(net, masks)
    assert round((cb - i3d) * 1e9) == 2 * cbam_macs and round((w3 - cb) * 1e9) == 2 * w3_macs
    # CPU default: 12 x 80 x 80, width 0.125, final_stride 1
    i3d, cb, w3 = attention_gflops(6, 12, 80, width=0.125, final_stride=1, reduction=16, depthwise=True, afr=True)
    assert i3d < cb < w3 < i3d * 1.032


# ------------------------------------------------------------------------------------------------ MFR (Eq. 9)
def test_mfr_loss_value_by_hand():
    s = torch.zeros(2, 2, 2, 1, 1)                                    # (N, C, T', H', W')
    t = torch.zeros(2, 2, 2, 1, 1)
    s[0, :, 0, 0, 0] = torch.tensor([3.0, 4.0])                      # frame norms: 5, 0 | 1, 10
    s[1, :, 0, 0, 0] = torch.tensor([1.0, 0.0])
    t[1, :, 1, 0, 0] = torch.tensor([-6.0, 8.0])
    assert L.mfr_loss(s, t).item() == pytest.approx((5 + 0 + 1 + 10) / 4)
    assert L.mfr_loss(s, t, norm="mse").item() == pytest.approx((25 + 1 + 100) / 8)
    # identical features (a student initialised from its teacher): zero loss, finite zero gradient
    q = t.clone().requires_grad_(True)
    L.mfr_loss(q, t).backward()
    assert torch.equal(q.grad, torch.zeros_like(q))


def test_mfr_gradient_reaches_only_the_student():
    teacher = W3I3D(6, **CPU, **W3)
    student = W3I3D(6, **CPU, **W3).train()
    teacher.eval().requires_grad_(False)                              # the frozen stage-1 model P
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        y_p = teacher(x).final["main"]
    out = student(x)
    loss = L.classification_loss(out, torch.tensor([0, 3])) + L.mfr_loss(out.final["main"], y_p)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.afr.conv.weight.grad.abs().sum() > 0
    assert student.backbone.Conv3d_1a_7x7.conv3d.weight.grad.abs().sum() > 0
    # mfr_loss detaches the teacher's features even if they were computed with gradients
    teacher.requires_grad_(True)
    L.mfr_loss(student(x).final["main"], teacher(x).final["main"]).backward()
    assert all(p.grad is None for p in teacher.parameters())
