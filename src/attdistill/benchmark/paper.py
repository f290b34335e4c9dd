"""The speed claim at the paper's settings: "our model ... runs at the same speed as the RGB network (about 100
times faster than a two stream network)" (Attention Distillation for Learning Video Representations, §4.3).

Full-width Inception-I3D (random weights: speed does not depend on them), 24-frame clips of 320 x 256 frames (the
paper's test input: full-resolution clips), the paper profile's TV-L1 (OpenCV's defaults). Timed: the student, the
RGB I3D and two-stream including the flow of the clip — OpenCV's TV-L1 on the CPU, or, on a GPU, ``tvl1-torch``
on the GPU (the 24 pairs of a clip as one batch). One clip per call, ``repeats`` repeats alternated.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import Params
from ..flow import quantize, to_gray
from ..flow.tvl1_torch import tvl1_torch
from .flow_pattern import synthetic_frames
from .inference import PAPER_RATIO, load_networks, time_inference


def gpu_flow(tv, bound: float, device: torch.device):
    """``frames (T + 1, H, W, 3) -> (T, H, W, 2)`` uint8 flow with ``tvl1-torch`` on ``device``, all pairs batched."""
    def flow(frames: np.ndarray) -> np.ndarray:
        gray = torch.from_numpy(np.stack([to_gray(f) for f in frames]).astype(np.float32)).to(device)
        uv = tvl1_torch(gray[:-1], gray[1:], tv)                           # (T, H, W, 2)
        return quantize(uv.cpu().numpy(), bound)
    return flow


def paper_setting(paper: Params, device: torch.device, num_classes: int, repeats: int) -> dict:
    """Clips/s of the student, the RGB I3D and two-stream (with TV-L1) at the paper profile's shapes."""
    f, T = paper.frames, paper.clip.frames
    frames = synthetic_frames(T + 1, f.height, f.width, paper.seed)      # (T + 1, 256, 320, 3) uint8
    nets = load_networks(None, None, None, num_classes, paper, device)   # random networks of the paper profile
    on_gpu = device.type == "cuda"
    flow_fn = gpu_flow(paper.flow.tvl1, paper.flow.bound, device) if on_gpu else None
    desc = f"tvl1-torch on {device} ({T} pairs as one batch)" if on_gpu else None
    r = time_inference(nets, frames, paper, device, flow_fn=flow_fn, flow_desc=desc or "", n=1, repeats=repeats)
    r.pop("paper_ratio")
    m = paper.model
    return {"input": {"clip_frames": T, "height": f.height, "width": f.width, "num_classes": num_classes},
            "architecture": {"width": m.width, "final_stride": m.final_stride, "attention": paper.attention,
                             "weights": "random init (pytorch-i3d's layout; speed does not depend on weights)"},
            "tvl1": dict(vars(paper.flow.tvl1)), "repeats": repeats, **r, "paper_ratio": PAPER_RATIO}
