"""The training-throughput benchmark (attdistill.benchmark.training) on a tiny network. No timing assertions."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from attdistill.benchmark import training
from attdistill.benchmark.training import (benchmark_training, count_flops, make_step, matmul_gflops,
                                           peak_matmul_size)

SHAPE = (2, 3, 4, 8, 8)          # (N, C, T, H, W)


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    # conv 3 -> 4, kernel 3: output (2, 4, 2, 6, 6); pooled (2, 4) -> linear 4 -> 3
    return nn.Sequential(nn.Conv3d(3, 4, 3, bias=False), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                         nn.Linear(4, 3))


def ce_loss(out: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, torch.tensor([0, 2]))


# Hand count (a multiply-add = 2 FLOPs): conv forward 2 * (2*4*2*6*6 outputs) * (3*27 taps) = 93312; conv backward
# computes only the weight gradient (the input needs none): 93312 again; linear forward 2*2*4*3 = 48, backward
# grad-input + grad-weight 2 * 48 = 96.
TINY_FLOPS = 93312 + 93312 + 48 + 96


def test_flop_count_matches_hand_count():
    net = tiny_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    step = make_step(net, torch.rand(*SHAPE), ce_loss, opt)
    assert count_flops(step) == TINY_FLOPS


def test_matmul_peak_is_positive_and_bf16_runs():
    assert matmul_gflops(torch.float32, 128, 2) > 0
    assert matmul_gflops(torch.bfloat16, 128, 2) > 0


def test_peak_size_stops_doubling_where_a_product_would_exceed_the_budget(monkeypatch):
    """A product of size n costs n³ / rate seconds: a fast dtype (70 GFLOP/s) reaches the requested 2048, an emulated
    bf16 (1 GFLOP/s, as on CPUs without AVX512_BF16) stops at 512, whose doubling would take 2.1 s."""
    rate = {torch.float32: 70e9, torch.bfloat16: 1e9}
    timed = []

    def seconds(dtype, size, repeats, device):
        timed.append(size)
        return 2.0 * size ** 3 / rate[dtype]

    monkeypatch.setattr(training, "_matmul_seconds", seconds)
    assert peak_matmul_size(torch.float32, 2048) == 2048 and timed == [256, 512, 1024]
    assert peak_matmul_size(torch.bfloat16, 2048, budget_s=0.5) == 512
    assert peak_matmul_size(torch.bfloat16, 2048, budget_s=5.0) == 1024
    assert peak_matmul_size(torch.float32, 128) == 128                  # never above the requested size


def test_report_structure_and_sanity():
    net = tiny_net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    before = net[0].weight.detach().clone()
    data = DataLoader(TensorDataset(torch.rand(8, *SHAPE[1:]), torch.zeros(8, dtype=torch.long)), batch_size=2)
    r = benchmark_training(net, SHAPE, ce_loss, opt, steps=2, repeats=2, warmup=1, threads=1, matmul_size=256,
                           matmul_repeats=2, loader=data, data_batches=2)
    json.dumps(r)                                                       # JSON-able
    assert not torch.equal(before, net[0].weight)                       # real optimizer steps ran
    assert r["input_shape"] == list(SHAPE) and r["threads"] == 1 and r["autocast"] is None
    assert r["gflop_per_step"] * 1e9 == TINY_FLOPS
    assert len(r["clips_per_s_repeats"]) == 2 and r["clips_per_s"] == max(r["clips_per_s_repeats"])
    assert abs(r["clips_per_s"] - SHAPE[0] / r["step_s"]) < 1e-6 * r["clips_per_s"]
    assert abs(r["achieved_gflops"] - r["gflop_per_step"] / r["step_s"]) < 1e-9 * r["achieved_gflops"]
    for k in ("float32", "bfloat16"):
        assert r["matmul_peak_gflops"][k] == max(r["matmul_peak_gflops"]["repeats"][k]) > 0
        assert r["ratio_to_peak"][k] > 0 and 128 <= r["matmul_peak_gflops"]["sizes"][k] <= 256
    assert r["ratio_to_peak"]["float32"] <= 1.5        # an fp32 step cannot beat fp32 products (bf16 may be emulated)
    d = r["data"]
    assert d["batches"] == 2 and d["compute_s_per_step"] == r["step_s"]
    assert 0 < d["data_fraction"] < 1


def test_bf16_autocast_and_channels_last_run():
    net = tiny_net().to(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    r = benchmark_training(net, SHAPE, ce_loss, opt, steps=1, repeats=1, warmup=1, threads=1,
                           autocast_dtype=torch.bfloat16, channels_last=True, matmul_size=128, matmul_repeats=1)
    assert r["autocast"] == "bfloat16" and r["channels_last"] and r["data"] is None
    assert r["gflop_per_step"] * 1e9 == TINY_FLOPS                      # autocast changes dtypes, not the count
