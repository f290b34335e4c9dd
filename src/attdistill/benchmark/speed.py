"""``reports/speed.json``: the distilled student vs a two-stream network with TV-L1 flow, and our flow code vs
bare OpenCV, measured in one run on one input clip (see :mod:`attdistill.benchmark`)."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Params
from .flow import flow_report, time_flow_code
from .inference import load_networks, time_inference
from .inputs import benchmark_input, num_classes
from .paper import paper_setting
from ..models.files import resolve_device
from .timing import environment, fixed_threads
from .training_report import training_report


def run_benchmark(params: Params, *, student: str | os.PathLike, rgb: str | os.PathLike, flow: str | os.PathLike,
                  frames_dir: str | os.PathLike, index_path: str | os.PathLike, threads: int, device: str,
                  paper: Params | None = None) -> dict:
    """Measure (a) student vs two-stream (with TV-L1) clips/s, (b) our flow code vs bare OpenCV; return the report.

    ``student`` / ``rgb`` / ``flow``: the model files of the distilled student and of the two-stream network's
    RGB and flow I3D (random networks of the configured architecture where a file is missing); ``frames_dir`` and
    ``index_path``: where the input clip comes from (a synthetic clip without them); ``threads``: torch and
    OpenCV threads; ``device``: cpu | cuda | auto (OpenCV's TV-L1 runs on the CPU). ``paper``: the params of the
    paper profile, to add ``paper_setting`` (:mod:`attdistill.benchmark.paper`).
    """
    frames_dir, index_path = Path(frames_dir), Path(index_path)
    dev = resolve_device(device)
    with fixed_threads(threads):
        frames, source = benchmark_input(params, index_path, frames_dir)      # (T + 1, H, W, 3) uint8
        k = num_classes(params, index_path)
        nets = load_networks(Path(student), Path(rgb), Path(flow), k, params, dev)
        inference = time_inference(nets, frames, params, dev)
        ours_times, cv_times = time_flow_code(frames, params.flow, params.benchmark.repeats, dev)
        extra = {} if paper is None or params.benchmark.paper_repeats == 0 else {
            "paper_setting": paper_setting(paper, dev, k, params.benchmark.paper_repeats)}
    extra["training"] = training_report(params, k, index_path, frames_dir, dev)   # at train.threads
    T = params.clip.frames
    return {
        **environment(dev, threads),
        "input": {"source": source, "clip_frames": T, "height": int(frames.shape[1]), "width": int(frames.shape[2]),
                  "flow_pairs_per_clip": T, "num_classes": k},
        "protocol": {"clips": params.benchmark.clips, "repeats": params.benchmark.repeats, "warmup_clips": 1,
                     "statistic": "median over repeats of (time for `clips` clips, one clip per forward)"},
        "architecture": {"model": dict(vars(params.model)), "attention": params.attention},
        "weights": nets.weights,
        **inference,
        "flow": flow_report(ours_times, cv_times, len(frames) - 1, params.flow),
        **extra,
    }


def format_report(r: dict) -> str:
    """A few human-readable lines of a :func:`run_benchmark` report."""
    i = r["input"]
    return "\n".join([
        f"device: {r['device']}, torch {r['versions']['torch']}, OpenCV {r['versions']['opencv']}, "
        f"{r['threads']['torch']} threads; input {i['clip_frames']}x{i['height']}x{i['width']} ({i['source']})",
        f"student     {r['student']['clips_per_s']:8.2f} clips/s  ({r['weights']['student']})",
        f"two-stream  {r['two_stream']['clips_per_s']:8.2f} clips/s  (TV-L1 {r['two_stream']['flow_s_per_clip']:.3f} s"
        f" + networks {r['two_stream']['networks_s_per_clip']:.3f} s per clip)",
        f"rgb I3D     {r['rgb']['clips_per_s']:8.2f} clips/s  (student / RGB = {r['student_vs_rgb']:.2f})",
        f"student / two-stream = {r['ratio']:.1f}x (paper: about {r['paper_ratio']:.0f}x)",
        *([] if "paper_setting" not in r else [
            f"paper setting {r['paper_setting']['input']['clip_frames']}x{r['paper_setting']['input']['height']}x"
            f"{r['paper_setting']['input']['width']}, full-width I3D: student {r['paper_setting']['student']['clips_per_s']:.3f}, "
            f"RGB {r['paper_setting']['rgb']['clips_per_s']:.3f}, two-stream {r['paper_setting']['two_stream']['clips_per_s']:.4f} "
            f"clips/s; student / two-stream = {r['paper_setting']['ratio']:.1f}x"]),
        f"flow: ours {r['flow']['ours_frames_per_s']:.1f} frames/s vs bare OpenCV "
        f"{r['flow']['opencv_frames_per_s']:.1f} frames/s (ratio {r['flow']['ratio']:.2f})",
        *[f"training {kind:8s} {row['clips_per_s']:7.1f} clips/s, {row['achieved_gflops']:6.1f} GFLOP/s = "
          f"{row['ratio_to_peak']['float32']:.2f} of the fp32 matmul peak ({row['matmul_peak_gflops']['float32']:.0f})"
          for kind, row in {**r["training"]["kinds"], "rgb bf16": r["training"]["rgb_bf16"]}.items()],
    ])
