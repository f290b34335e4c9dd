"""Timing helpers of the benchmarks: repeated and interleaved timing, fixed thread counts, the device's name."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from typing import Callable, Iterator

import cv2
import numpy as np
import torch


def sync(device: torch.device) -> None:
    """Wait for queued GPU work (a no-op on the CPU), so that a timer stops after the work it times."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def fixed_threads(threads: int) -> Iterator[None]:
    """torch and OpenCV both use ``threads`` threads inside the block; the previous counts are restored after."""
    old_torch, old_cv = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        cv2.setNumThreads(old_cv)


def time_repeats(fn: Callable[[], object], n: int, repeats: int, device: torch.device, warmup: int = 1) -> list[float]:
    """Seconds for ``n`` calls of ``fn``, for each of ``repeats`` repeats, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync(device)
        out.append(time.perf_counter() - t0)
    return out


def time_interleaved(fns: dict[str, Callable[[], object]], n: int, repeats: int,
                     device: torch.device) -> dict[str, list[float]]:
    """:func:`time_repeats` of several functions with their repeats alternated (A, B, A, B, ...), so that a change
    of machine load during the run affects each of them alike. No warm-up here: warm up before."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            out[k] += time_repeats(fn, n, 1, device, warmup=0)
    return out


def device_name(device: torch.device) -> str:
    """The GPU's name, or ``cpu: <model name> (<cores> cores)``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu: {name} ({os.cpu_count()} cores)"


def environment(device: torch.device, threads: int) -> dict:
    """What a timing depends on besides the code: device, library versions, threads, OpenMP's wait policy."""
    return {
        "device": device_name(device),
        "torch_device": str(device),
        "versions": {"torch": torch.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "threads": {"torch": threads, "opencv": threads},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset (libgomp spins before sleeping)"),
    }
