"""``flow.method`` -> its estimator: :func:`compute_flow`, the one dispatch every caller of a flow method uses."""

from __future__ import annotations

import numpy as np

from attdistill.config import FlowConfig

from .opencv import flow_dis, flow_farneback, flow_tvl1
from .tvl1_torch import flow_tvl1_torch

METHODS = ("tvl1", "tvl1-torch", "dis", "farneback")


def compute_flow(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: FlowConfig) -> np.ndarray:
    """Flow from ``prev_gray`` to ``next_gray`` with ``cfg.method``: ``(H, W, 2)`` float32 (dx, dy) pixels."""
    if cfg.method == "tvl1":
        return flow_tvl1(prev_gray, next_gray, cfg.tvl1)
    if cfg.method == "tvl1-torch":
        return flow_tvl1_torch(prev_gray, next_gray, cfg.tvl1)
    if cfg.method == "dis":
        return flow_dis(prev_gray, next_gray, cfg.dis)
    if cfg.method == "farneback":
        return flow_farneback(prev_gray, next_gray, cfg.farneback)
    raise ValueError(f"unknown flow method {cfg.method!r}; valid values: {', '.join(METHODS)}")
