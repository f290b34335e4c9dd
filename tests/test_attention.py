"""Attention generation (Eq. 1-2) and attention pooling (Eq. 4-5)."""

from __future__ import annotations

import pytest
import torch

from attdistill.config import ATTENTIONS
from attdistill.models.attention import (AttentionHead, attention_pool, average_pool,
                                         gumbel_sample, make_attention_head, parse_attention, slice_log_softmax,
                                         slice_softmax)


@pytest.fixture(autouse=True)
def _seed():
    torch.set_num_threads(2)
    torch.manual_seed(0)


def test_maps_sum_to_one_per_slice_soft_and_prob():
    phi4 = torch.randn(3, 104, 4, 6, 6).relu()
    for generation in ("soft", "prob"):
        head = AttentionHead(104, 16, spatial_stride=1, generation=generation)
        for train in (True, False):
            head.train(train)
            maps = head(phi4)
            for m in (maps.map, maps.expected):
                assert m.shape == (3, 2, 6, 6)
                assert torch.allclose(m.sum(dim=(2, 3)), torch.ones(3, 2), atol=1e-5)
                assert (m >= 0).all()
            assert torch.allclose(maps.log.exp(), maps.expected, atol=1e-6)


def test_head_resolution_matches_mixed_5c_at_paper_size():
    head = AttentionHead(832, 128, spatial_stride=2)
    assert head(torch.randn(1, 832, 6, 14, 14).relu()).map.shape == (1, 3, 7, 7)   # Table 6 rows 14-17


def test_initial_maps_near_uniform_but_not_exactly():
    head = AttentionHead(104, 16, spatial_stride=1, generation="soft").eval()
    m = head(torch.randn(2, 104, 4, 6, 6).relu()).expected
    assert (m - 1 / 36).abs().max() < 0.5 / 36         # near uniform at initialisation
    assert (m - 1 / 36).abs().max() > 1e-6             # but not the trivial uniform map
    assert head.linear.conv3d.bias is None             # Eq. 1: a linear map without bias


def test_prob_samples_in_training_expected_map_at_eval():
    head = AttentionHead(104, 16, spatial_stride=1, generation="prob")
    phi4 = torch.randn(2, 104, 4, 6, 6).relu()
    head.train()
    a, b = head(phi4), head(phi4)
    assert not torch.allclose(a.map, b.map)             # fresh Gumbel noise per forward
    assert not torch.allclose(a.map, a.expected)
    head.eval()
    e = head(phi4)
    assert torch.equal(e.map, e.expected)               # §3.2: plug in p(A) at test time
    soft = AttentionHead(104, 16, spatial_stride=1, generation="soft").train()
    s = soft(phi4)
    assert torch.equal(s.map, s.expected)               # soft attention never samples


def test_gumbel_sample_mean_approaches_expected_map_at_low_temperature():
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, 0.3, 0.8, -2.0]).view(1, 1, 3, 3)
    expected = slice_softmax(logits)[0, 0]
    draws = logits.expand(40000, 1, 3, 3)
    cold = gumbel_sample(draws, tau=0.05)
    assert torch.allclose(cold.sum(dim=(2, 3)), torch.ones(40000, 1), atol=1e-5)
    assert (cold.mean(0)[0] - expected).abs().max() < 0.015
    # tau = 1: the argmax of a sample is distributed exactly as softmax(logits) (Gumbel-max trick) ...
    warm = gumbel_sample(draws, tau=1.0)
    freq = torch.bincount(warm.flatten(1).argmax(1), minlength=9).float() / 40000
    assert (freq - expected.flatten()).abs().max() < 0.015
    # ... while the mean of the relaxed samples is flatter than softmax(logits) (so it is not the expected map)
    mean_warm = warm.mean(0)[0]
    assert mean_warm.max() < expected.max() - 0.05 and mean_warm.min() > expected.min()


def test_attention_pooling_eq4_and_residual_eq5():
    feats = torch.randn(2, 5, 3, 4, 4)
    uniform = torch.full((2, 3, 4, 4), 1 / 16)
    assert torch.allclose(attention_pool(feats, uniform), average_pool(feats), atol=1e-6)
    onehot = torch.zeros(2, 3, 4, 4)
    onehot[:, :, 1, 2] = 1
    assert torch.allclose(attention_pool(feats, onehot), feats[:, :, :, 1, 2])
    # Eq. 5 as the text reads it: attention pooling + average pooling
    res = attention_pool(feats, onehot, residual=True)
    assert torch.allclose(res, feats[:, :, :, 1, 2] + feats.mean(dim=(3, 4)), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        attention_pool(feats, torch.rand(2, 3, 5, 5))


def test_parse_attention_and_prob_res_rejected():
    assert [parse_attention(a).generation for a in ATTENTIONS] == [None, "soft", "soft", "prob"]
    assert parse_attention("soft-res").residual and not parse_attention("soft-atten").residual
    for bad in ("prob-res", "prob+res", "Prob-Residual"):
        with pytest.raises(ValueError, match="violates the probabilistic modeling"):
            parse_attention(bad)
    with pytest.raises(ValueError, match="valid values: none, soft-atten, soft-res, prob-atten"):
        parse_attention("hard-atten")
    assert make_attention_head("none", 104) is None
    head = make_attention_head("soft-res", 104, attention_channels=128, width=0.125, final_stride=1)
    assert head.conv.conv3d.out_channels == 16 and head.generation == "soft"


def test_log_softmax_stable_for_peaked_logits():
    logits = torch.zeros(1, 1, 2, 2)
    logits[0, 0, 0, 0] = 200.0
    la = slice_log_softmax(logits)
    assert torch.isfinite(la).all() and la[0, 0, 1, 1] < -150
