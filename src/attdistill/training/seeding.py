"""Seeds and deterministic algorithms: the same machine must give the same weights twice."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; on request make torch pick deterministic algorithms.

    On CPU every op we use has a deterministic implementation, so training twice gives bit-identical weights.
    On GPU ``deterministic`` also sets the cuBLAS workspace config that deterministic matmuls need; ops without
    a deterministic CUDA kernel only warn (``warn_only``) rather than stop a long run.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())
        # Deterministic mode also fills every torch.empty with NaN, to expose reads of uninitialised memory; no op
        # we use reads it (the same weights come out either way, tests/test_training.py), and the fill costs
        # 1-8 % of a CPU training step (docs/speed.md).
        torch.utils.deterministic.fill_uninitialized_memory = False
        torch.backends.cudnn.benchmark = False


def rng_state() -> dict:
    """Every global RNG state that training consumes (dropout and Gumbel noise use torch's)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def thread_count(n: int | None = None) -> int:
    """``n`` intra-op threads per process (``train.threads``); ``None`` or 0: this machine's cores split between
    local processes. A fixed count keeps the arithmetic (and so the weights) independent of the core count."""
    if n:
        return n
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // local)


def set_threads(n: int | None = None) -> None:
    """Use :func:`thread_count` ``(n)`` threads for intra-op parallelism."""
    torch.set_num_threads(thread_count(n))
