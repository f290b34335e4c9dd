"""Clips/s of the distilled RGB student vs a two-stream network that must compute TV-L1 flow first.

"During testing our model does not need optical flow, and runs at the same speed as the RGB network (about 100
times faster than a two stream network)" (Attention Distillation for Learning Video Representations, §4.3).

* **student**: :class:`~attdistill.models.TwoBranchStudent`, uint8 RGB clip in memory -> tensor -> forward ->
  predicted class.
* **two-stream**, *including the flow of the clip*: grey frames -> :func:`attdistill.flow.flow_tvl1` with
  ``flow.tvl1`` on the clip's ``T`` frame pairs -> :func:`attdistill.flow.quantize` -> RGB I3D + flow I3D forward
  -> averaged softmax -> class; the time spent in flow and in the networks is recorded apart.

The two are timed with their repeats alternated (:func:`~attdistill.benchmark.timing.time_interleaved`) after
one warm-up call each.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import Params, TVL1Config
from ..data.transforms import to_tensor
from ..flow import flow_tvl1, quantize, to_gray
from ..models import build_model
from ..models.files import load_frozen
from .timing import sync, time_interleaved

PAPER_RATIO = 100.0   # "about 100 times faster than a two stream network" (§4.3, citing MARS)


def load_or_build(path: Path | None, kind: str, attention: str, num_classes: int, params: Params,
                  device: torch.device) -> tuple[torch.nn.Module, str]:
    """The trained model at ``path`` if it exists (and is of ``kind``), else (or for ``None``) a random network;
    (model, source)."""
    if path is not None and path.exists():
        try:
            model, obj = load_frozen(path, device)
            if obj["arch"]["kind"] == kind:
                return model, f"trained: {path}"
            print(f"benchmark: {path} is a {obj['arch']['kind']} model, not {kind}; using random weights",
                  file=sys.stderr)
        except Exception as exc:  # an unreadable file: speed does not depend on weights
            print(f"benchmark: cannot load {path} ({exc}); using random weights", file=sys.stderr)
    torch.manual_seed(params.seed)
    model = build_model(kind, num_classes, attention, params.model)
    model.eval().requires_grad_(False)
    return model.to(device), f"random init ({kind}, attention {attention})"


@dataclass
class Networks:
    """The three networks timed, and where each one's weights came from."""

    student: torch.nn.Module
    rgb: torch.nn.Module
    flow: torch.nn.Module
    weights: dict[str, str]


def load_networks(student: Path | None, rgb: Path | None, flow: Path | None, num_classes: int, params: Params,
                  device: torch.device) -> Networks:
    """The student (main ``attention``) and the plain RGB and flow I3D of the two-stream network."""
    s, w_student = load_or_build(student, "student", params.attention, num_classes, params, device)
    r, w_rgb = load_or_build(rgb, "rgb", "none", num_classes, params, device)
    f, w_flow = load_or_build(flow, "flow", "none", num_classes, params, device)
    return Networks(s, r, f, {"student": w_student, "rgb": w_rgb, "flow": w_flow})


def rgb_net_call(net: torch.nn.Module, rgb_clip: np.ndarray, device: torch.device) -> Callable[[], int]:
    """One prediction of an RGB network (the student, or two-stream's RGB I3D) on the ``(T, H, W, 3)`` uint8 clip."""
    @torch.no_grad()
    def run() -> int:
        x = to_tensor(rgb_clip)[None].to(device)                          # (1, 3, T, H, W)
        return int(net(x).probs.argmax(1)[0])
    return run


def two_stream_call(nets: Networks, frames: np.ndarray, tv: TVL1Config, bound: float, device: torch.device,
                    split: dict[str, float], flow_fn: Callable | None = None) -> Callable[[], int]:
    """One two-stream prediction on the ``(T + 1, H, W, 3)`` frames, flow included; adds its seconds of flow and
    of networks to ``split["flow"]`` and ``split["nets"]``. ``flow_fn(frames)`` replaces OpenCV's TV-L1."""
    T = len(frames) - 1
    rgb_clip = np.ascontiguousarray(frames[:T])                           # (T, H, W, 3)

    def opencv_flow(frames: np.ndarray) -> np.ndarray:
        gray = [to_gray(f) for f in frames]
        return np.stack([quantize(flow_tvl1(gray[i], gray[i + 1], tv), bound) for i in range(T)])  # (T, H, W, 2)

    compute_flow = flow_fn or opencv_flow

    @torch.no_grad()
    def run() -> int:
        t0 = time.perf_counter()
        flow = compute_flow(frames)
        sync(device)
        t1 = time.perf_counter()
        p = (nets.rgb(to_tensor(rgb_clip)[None].to(device)).probs +
             nets.flow(to_tensor(flow)[None].to(device)).probs) / 2                               # late fusion
        c = int(p.argmax(1)[0])
        split["flow"] += t1 - t0
        split["nets"] += time.perf_counter() - t1
        return c
    return run


def time_inference(nets: Networks, frames: np.ndarray, params: Params, device: torch.device,
                   flow_fn: Callable | None = None, flow_desc: str = "", n: int | None = None,
                   repeats: int | None = None) -> dict:
    """Student vs RGB I3D vs two-stream on ``frames`` (``T + 1``): the report's ``student``, ``rgb``,
    ``two_stream``, ``ratio`` (student / two-stream), ``student_vs_rgb`` and ``paper_ratio`` entries
    (``benchmark.clips`` clips per repeat, ``benchmark.repeats`` repeats, unless ``n`` / ``repeats`` are given).
    ``flow_fn(frames) -> (T, H, W, 2) uint8`` replaces OpenCV's TV-L1 (the GPU path)."""
    T = params.clip.frames
    n = params.benchmark.clips if n is None else n
    repeats = params.benchmark.repeats if repeats is None else repeats
    split = {"flow": 0.0, "nets": 0.0}
    clip = np.ascontiguousarray(frames[:T])
    calls = {"student": rgb_net_call(nets.student, clip, device), "rgb": rgb_net_call(nets.rgb, clip, device),
             "two_stream": two_stream_call(nets, frames, params.flow.tvl1, params.flow.bound, device, split,
                                           flow_fn)}
    for call in calls.values():                                            # warm-ups, not counted below
        call()
    sync(device)
    split.update(flow=0.0, nets=0.0)
    t = time_interleaved(calls, n, repeats, device)
    med = {k: statistics.median(v) / n for k, v in t.items()}
    count = n * repeats
    student_cps, two_cps = 1.0 / med["student"], 1.0 / med["two_stream"]
    ts_med, ts_times = med["two_stream"], t["two_stream"]
    return {
        "student": {"clips_per_s": student_cps, "s_per_clip": med["student"], "repeats_s": t["student"]},
        "rgb": {"clips_per_s": 1.0 / med["rgb"], "s_per_clip": med["rgb"], "repeats_s": t["rgb"]},
        "student_vs_rgb": student_cps * med["rgb"],
        "two_stream": {"clips_per_s": two_cps, "s_per_clip": ts_med,
                       "flow_s_per_clip": split["flow"] / count, "networks_s_per_clip": split["nets"] / count,
                       "flow": (flow_desc or f"TV-L1 (flow.tvl1, OpenCV) on {T} pairs on the CPU")
                       + ", then RGB I3D + flow I3D (attention none)",
                       "repeats_s": ts_times},
        "ratio": student_cps / two_cps,
        "paper_ratio": PAPER_RATIO,
    }
