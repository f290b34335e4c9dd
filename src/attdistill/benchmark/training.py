"""Training throughput measured against the machine's own peak: clips/s, achieved GFLOP/s, matmul peaks, data time.

:func:`benchmark_training` times full training steps (forward, loss, backward, optimizer step) of a network on
synthetic input of a given shape (N, C, T, H, W), counts the step's floating-point operations with
``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products, forward and backward; elementwise
work such as batch norm, ReLU and pooling is not counted, so "achieved GFLOP/s" is the useful-arithmetic rate), and
measures in the same run, interleaved with the step repeats so that a change of machine load hits both alike, the
best rate of a ``size x size`` matrix product in fp32 and in bf16 (:func:`matmul_gflops`). The ratios
achieved / peak say how far the step is from what this machine's dense kernels reach. Given a DataLoader it also
times fetching batches (:func:`loader_seconds`), to compare with the compute time of a step.

Protocol: ``warmup`` steps first (their wall time, which includes any ``torch.compile`` compilation, is reported),
then ``repeats`` blocks of ``steps`` steps; the best block gives clips/s, every block is recorded (the spread).
The steps update the model's weights (they are real optimizer steps on synthetic data).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .timing import device_name, fixed_threads, sync, time_repeats

LossFn = Callable[[Any], torch.Tensor]


def synthetic_input(shape: tuple[int, ...], seed: int, channels_last: bool = False,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, C, T, H, W) values uniform in [-1, 1) (the range of the project's clips), from a seeded generator."""
    g = torch.Generator().manual_seed(int(seed))
    x = (torch.rand(*shape, generator=g) * 2 - 1).to(device)
    return x.contiguous(memory_format=torch.channels_last_3d) if channels_last else x


def make_step(model: nn.Module, x: torch.Tensor, loss_fn: LossFn, optimizer: torch.optim.Optimizer,
              autocast_dtype: torch.dtype | None = None) -> Callable[[], float]:
    """One training step on ``x``: forward (under CPU autocast to ``autocast_dtype`` if given), ``loss_fn(output)``,
    backward, optimizer step; returns the loss as a float (the per-step sync a training loop does for logging)."""
    def step() -> float:
        ctx = (torch.autocast(x.device.type, dtype=autocast_dtype) if autocast_dtype is not None
               else contextlib.nullcontext())
        with ctx:
            loss = loss_fn(model(x))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())
    return step


def count_flops(step: Callable[[], object]) -> int:
    """Floating-point operations of one call of ``step`` (FlopCounterMode: a multiply-add counts 2)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return int(counter.get_total_flops())


def _matmul_seconds(dtype: torch.dtype, size: int, repeats: int, device: torch.device | str) -> float:
    """Best seconds of one ``size x size`` @ ``size x size`` product in ``dtype`` over ``repeats`` (one warm-up)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device, dtype)
    b = torch.randn(size, size, generator=g).to(device, dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        sync(a.device)
        t0 = time.perf_counter()
        a @ b
        sync(a.device)
        best = min(best, time.perf_counter() - t0)
    return best


def peak_matmul_size(dtype: torch.dtype, size: int, device: torch.device | str = "cpu", budget_s: float = 0.5,
                start: int = 256) -> int:
    """The product size at which to measure ``dtype``'s peak: ``size``, or the largest power-of-two multiple of
    ``start`` below it whose next doubling (8x the work) would take over ``budget_s``. A CPU without native bf16
    (no AVX512_BF16 / AMX) runs bf16 products at ~1 GFLOP/s, where one 2048² product takes ~17 s; a fast path
    reaches ``size`` as before."""
    n = min(start, size)
    while n < size and 8 * _matmul_seconds(dtype, n, 1, device) <= budget_s:
        n *= 2
    return min(n, size)


def matmul_gflops(dtype: torch.dtype, size: int, repeats: int, device: torch.device | str = "cpu") -> float:
    """Best GFLOP/s of a ``size x size`` @ ``size x size`` product in ``dtype`` over ``repeats`` calls (one warm-up),
    at the current torch thread count."""
    return 2.0 * size ** 3 / _matmul_seconds(dtype, size, repeats, device) / 1e9


def loader_seconds(loader: Iterable, batches: int) -> list[float]:
    """Seconds to fetch each of the first ``batches`` batches of ``loader`` (the first includes starting workers)."""
    out: list[float] = []
    it = iter(loader)
    for _ in range(batches):
        t0 = time.perf_counter()
        try:
            next(it)
        except StopIteration:
            break
        out.append(time.perf_counter() - t0)
    return out


def _interleaved(step: Callable[[], object], steps: int, repeats: int, size: int, matmul_repeats: int,
                 device: torch.device) -> tuple[list[float], dict[str, list[float]], dict[str, int]]:
    """Seconds per step of each block, the fp32 / bf16 matmul peaks measured right after each block, and the
    product size of each dtype (:func:`peak_matmul_size`, at most ``size``)."""
    step_s: list[float] = []
    peaks: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    sizes = {name: peak_matmul_size(getattr(torch, name), size, device) for name in peaks}
    for _ in range(repeats):
        step_s.append(time_repeats(step, steps, 1, device, warmup=0)[0] / steps)
        for name in peaks:
            peaks[name].append(matmul_gflops(getattr(torch, name), sizes[name], matmul_repeats, device))
    return step_s, peaks, sizes


def _data_report(loader: Iterable | None, batches: int, compute_s: float) -> dict | None:
    if loader is None:
        return None
    fetch = loader_seconds(loader, batches + 1)[1:] or loader_seconds(loader, 1)   # first batch: worker start-up
    data_s = sum(fetch) / len(fetch)
    return {"batches": len(fetch), "data_s_per_step": data_s, "compute_s_per_step": compute_s,
            "data_fraction": data_s / (data_s + compute_s), "fetch_s": fetch}


def benchmark_training(model: nn.Module, input_shape: tuple[int, ...], loss_fn: LossFn,
                       optimizer: torch.optim.Optimizer, *, steps: int, repeats: int, warmup: int, threads: int,
                       autocast_dtype: torch.dtype | None = None, channels_last: bool = False,
                       matmul_size: int = 2048, matmul_repeats: int = 3, loader: Iterable | None = None,
                       data_batches: int = 4, seed: int = 0) -> dict:
    """Measure training steps of ``model`` on synthetic (N, C, T, H, W) = ``input_shape`` input; a JSON-able dict.

    ``loss_fn(output)`` returns the scalar loss (close over the targets); ``optimizer`` holds ``model``'s
    parameters. ``model`` may be ``torch.compile``-d (compilation happens in the warm-up steps). ``channels_last``
    only lays out the input as channels_last_3d: convert the model yourself. With ``loader``, ``data`` compares the
    mean time to fetch one of ``data_batches`` batches (after the first) with the best compute time of a step.
    """
    with fixed_threads(threads):
        device = next(model.parameters()).device
        x = synthetic_input(tuple(input_shape), seed, channels_last, device)
        model.train()
        step = make_step(model, x, loss_fn, optimizer, autocast_dtype)
        t0 = time.perf_counter()
        for _ in range(warmup):
            step()
        warmup_s = time.perf_counter() - t0
        flops = count_flops(step)
        step_s, peaks, sizes = _interleaved(step, steps, repeats, matmul_size, matmul_repeats, device)
        data = _data_report(loader, data_batches, min(step_s))
    n, best = int(input_shape[0]), min(step_s)
    gflops = flops / best / 1e9
    peak = {k: max(v) for k, v in peaks.items()}
    return {
        "device": device_name(x.device), "threads": threads, "input_shape": [int(s) for s in input_shape],
        "autocast": str(autocast_dtype).replace("torch.", "") if autocast_dtype is not None else None,
        "channels_last": channels_last, "protocol": {"warmup_steps": warmup, "steps": steps, "repeats": repeats,
                                                     "statistic": "best block of `steps` steps"},
        "warmup_s": warmup_s,
        "clips_per_s": n / best, "clips_per_s_repeats": [n / s for s in step_s], "step_s": best,
        "gflop_per_step": flops / 1e9, "achieved_gflops": gflops,
        "matmul_peak_gflops": {**peak, "size": matmul_size, "sizes": sizes, "repeats": peaks},
        "ratio_to_peak": {k: gflops / v for k, v in peak.items()},
        "data": data,
    }
