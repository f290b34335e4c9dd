"""Speed: the distilled RGB student vs a two-stream network that must compute TV-L1 flow first (paper §4.3).

"During testing our model does not need optical flow, and runs at the same speed as the RGB network (about 100 times
faster than a two stream network [5])" (papers/000 §4.3). :func:`run_benchmark` measures, in one run and on one input
clip (the first test video of the current dataset that has a frame pack, else a synthetic clip):

(a) **student** clips/s: :class:`~attdistill.models.TwoBranchStudent` at the configured size, uint8 RGB clip in
    memory -> tensor -> forward -> predicted class; versus **two-stream** clips/s *including the flow of the clip*:
    grey frames -> :func:`attdistill.flow.flow_tvl1` with ``flow.tvl1`` on the clip's ``T`` frame pairs ->
    :func:`~attdistill.flow.quantize` -> RGB I3D + flow I3D forward -> averaged softmax -> class. ``ratio`` is
    student clips/s / two-stream clips/s.
(b) **flow** frames/s (flow fields per second) of the flow stage's own code path (:func:`attdistill.flow.pair_flows`:
    grey conversion, the cached TV-L1 object, quantisation) versus a bare OpenCV loop (``cvtColor`` +
    ``cv2.optflow.DualTVL1OpticalFlow_create(...)`` with the same parameters, ``calc`` per pair) on the same frames.

Protocol: ``benchmark.clips`` clips per repeat, ``benchmark.repeats`` repeats, one warm-up first, the repeats of the
two sides of a comparison alternated (so a change of machine load hits both alike), the median repeat reported (and
every repeat recorded); torch and OpenCV threads fixed (2 on this project's machine). The stage sets
``OMP_WAIT_POLICY=PASSIVE`` before torch loads: with spinning OpenMP threads, torch and OpenCV's TV-L1 threads fight
over the 2 cores in the two-stream loop and the two-stream rate halves (the ratio would be inflated). Trained weights
are used where ``models/distill``, ``models/rgb-none`` and ``models/flow-none`` exist, randomly initialised networks of
the configured architecture otherwise (speed does not depend on the weights); ``weights`` records which.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from ..config import Params

PAPER_RATIO = 100.0   # "about 100 times faster than a two stream network" (papers/000 §4.3, citing MARS [5])


# --------------------------------------------------------------------------------------------- input
def synthetic_frames(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(frames, H, W, 3) uint8: a textured disc moving 2 px/frame right over a static smooth texture."""
    from ..flow import smooth_texture

    bg_tex, obj_tex = smooth_texture(seed), smooth_texture(seed + 1, periods=(8.0, 40.0))
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    bg = bg_tex(x, y)
    r = max(height / 6, 3.0)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        cx, cy = width / 2 + 2.0 * (t - frames / 2), height / 2
        inside = np.hypot(x - cx, y - cy) < r
        g = np.where(inside, 255 - obj_tex(x - cx, y - cy), bg)
        g = np.clip(np.round(g), 0, 255).astype(np.uint8)
        out[t] = np.stack([g, (g * 0.8).astype(np.uint8), 255 - g], -1)
    return out


def benchmark_input(params: Params, index_path: Path, frames_dir: Path) -> tuple[np.ndarray, str]:
    """``T + 1`` frames (T = clip.frames; the flow of a clip needs one frame more) and where they came from."""
    from ..data.dataset import clip_indices
    from ..data.index import VideoIndex
    from ..data.packs import Pack, PackError

    n_frames = params.clip.frames + 1
    if index_path.exists():
        try:
            index = VideoIndex.load(index_path)
            for rec in sorted(index.split("test"), key=lambda r: r.video_id):
                path = frames_dir / f"{rec.video_id}.pack"
                if not path.exists():
                    continue
                with Pack(path) as pk:
                    idx = clip_indices(0, n_frames, len(pk))[0]
                    return pk.read(idx.tolist()), str(path)
        except (OSError, ValueError, PackError) as exc:
            print(f"benchmark: cannot read the dataset ({exc}); using a synthetic clip", file=sys.stderr)
    f = params.frames
    return synthetic_frames(n_frames, f.height, f.width, params.seed), "synthetic"


# --------------------------------------------------------------------------------------------- models
def _num_classes(params: Params, index_path: Path) -> int:
    from ..data.index import VideoIndex

    try:
        return VideoIndex.load(index_path).num_classes
    except (OSError, ValueError, KeyError):
        return len(params.synthetic.kinds) * len(params.synthetic.motions)


def load_or_build(path: Path, kind: str, attention: str, num_classes: int, params: Params,
                  device: torch.device) -> tuple[torch.nn.Module, str]:
    """The trained model at ``path`` if it exists (and is of ``kind``), else a random network; (model, source)."""
    from ..models import build_model
    from ..training.recipes import load_frozen

    if path.exists():
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


# --------------------------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_repeats(fn: Callable[[], object], n: int, repeats: int, device: torch.device, warmup: int = 1) -> list[float]:
    """Seconds for ``n`` calls of ``fn``, for each of ``repeats`` repeats, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(device)
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


def bare_tvl1(cfg):
    """``cv2.optflow.DualTVL1OpticalFlow_create`` with every parameter of ``cfg`` (a TVL1Config)."""
    return cv2.optflow.DualTVL1OpticalFlow_create(cfg.tau, cfg.lambda_, cfg.theta, cfg.nscales, cfg.warps, cfg.epsilon,
                                                  cfg.inner_iterations, cfg.outer_iterations, cfg.scale_step,
                                                  cfg.gamma, cfg.median_filtering)


def _device_name(device: torch.device) -> str:
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


# --------------------------------------------------------------------------------------------- benchmark
def run_benchmark(params: Params, models_dir: str | Path = "models", frames_dir: str | Path = "data/frames",
                  index_path: str | Path = "data/raw/index.json", threads: int = 2, device: str = "cpu") -> dict:
    """Measure (a) student vs two-stream (with TV-L1) clips/s, (b) our flow code vs bare OpenCV; return the report."""
    from ..data.transforms import to_tensor
    from ..flow import flow_tvl1, pair_flows, quantize, to_gray

    models_dir, frames_dir, index_path = Path(models_dir), Path(frames_dir), Path(index_path)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    old_torch, old_cv = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    try:
        frames, source = benchmark_input(params, index_path, frames_dir)      # (T + 1, H, W, 3) uint8
        T = params.clip.frames
        rgb_clip = np.ascontiguousarray(frames[:T])                           # (T, H, W, 3)
        k = _num_classes(params, index_path)
        student, w_student = load_or_build(models_dir / "distill" / "model.pt", "student", params.attention, k,
                                           params, dev)
        rgb_net, w_rgb = load_or_build(models_dir / "rgb-none" / "model.pt", "rgb", "none", k, params, dev)
        flow_net, w_flow = load_or_build(models_dir / "flow-none" / "model.pt", "flow", "none", k, params, dev)
        tv = params.flow.tvl1
        bound = params.flow.bound
        n, repeats = params.benchmark.clips, params.benchmark.repeats

        @torch.no_grad()
        def run_student() -> int:
            x = to_tensor(rgb_clip)[None].to(dev)                             # (1, 3, T, H, W)
            return int(student(x).probs.argmax(1)[0])

        split = {"flow": 0.0, "nets": 0.0}

        @torch.no_grad()
        def run_two_stream() -> int:
            t0 = time.perf_counter()
            gray = [to_gray(f) for f in frames]
            flow = np.stack([quantize(flow_tvl1(gray[i], gray[i + 1], tv), bound) for i in range(T)])  # (T, H, W, 2)
            t1 = time.perf_counter()
            p = (rgb_net(to_tensor(rgb_clip)[None].to(dev)).probs +
                 flow_net(to_tensor(flow)[None].to(dev)).probs) / 2                                   # late fusion
            c = int(p.argmax(1)[0])
            split["flow"] += t1 - t0
            split["nets"] += time.perf_counter() - t1
            return c

        run_student()                                                          # warm-ups, not counted below
        run_two_stream()
        _sync(dev)
        split.update(flow=0.0, nets=0.0)
        t = time_interleaved({"student": run_student, "two_stream": run_two_stream}, n, repeats, dev)
        s_times, ts_times = t["student"], t["two_stream"]

        # (b) the flow stage's code path vs a bare OpenCV loop, on the same T + 1 frames
        order = list(range(len(frames)))
        bare = bare_tvl1(tv)
        tvl1_cfg = dataclasses.replace(params.flow, method="tvl1")   # TV-L1 vs TV-L1, whatever flow.method says

        def ours() -> None:
            for _ in pair_flows(frames, order, tvl1_cfg):
                pass

        def opencv() -> None:
            prev = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
            for f in frames[1:]:
                nxt = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
                bare.calc(prev, nxt, None)
                prev = nxt

        bare.calc(to_gray(frames[0]), to_gray(frames[1]), None)                # warm-up of both estimators
        flow_tvl1(to_gray(frames[0]), to_gray(frames[1]), tv)
        t = time_interleaved({"ours": ours, "opencv": opencv}, 1, repeats, dev)
        ours_times, cv_times = t["ours"], t["opencv"]
    finally:
        torch.set_num_threads(old_torch)
        cv2.setNumThreads(old_cv)

    s_med, ts_med = statistics.median(s_times) / n, statistics.median(ts_times) / n
    pairs = len(frames) - 1
    o_med, c_med = statistics.median(ours_times), statistics.median(cv_times)
    count = n * repeats
    student_cps, two_cps = 1.0 / s_med, 1.0 / ts_med
    return {
        "device": _device_name(dev),
        "torch_device": str(dev),
        "versions": {"torch": torch.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "threads": {"torch": threads, "opencv": threads},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset (libgomp spins before sleeping)"),
        "input": {"source": source, "clip_frames": T, "height": int(frames.shape[1]), "width": int(frames.shape[2]),
                  "flow_pairs_per_clip": T, "num_classes": k},
        "protocol": {"clips": n, "repeats": repeats, "warmup_clips": 1,
                     "statistic": "median over repeats of (time for `clips` clips, one clip per forward)"},
        "architecture": {"model": dict(vars(params.model)), "attention": params.attention},
        "weights": {"student": w_student, "rgb": w_rgb, "flow": w_flow},
        "student": {"clips_per_s": student_cps, "s_per_clip": s_med, "repeats_s": s_times},
        "two_stream": {"clips_per_s": two_cps, "s_per_clip": ts_med,
                       "flow_s_per_clip": split["flow"] / count, "networks_s_per_clip": split["nets"] / count,
                       "flow": f"TV-L1 (flow.tvl1) on {T} pairs on the CPU, then RGB I3D + flow I3D (attention none)",
                       "repeats_s": ts_times},
        "ratio": student_cps / two_cps,
        "paper_ratio": PAPER_RATIO,
        "flow": {"method": "tvl1", "configured_method": params.flow.method, "params": dict(vars(tv)), "bound": bound,
                 "pairs": pairs,
                 "ours_frames_per_s": pairs / o_med, "opencv_frames_per_s": pairs / c_med,
                 "ratio": (pairs / o_med) / (pairs / c_med),
                 "ours": "attdistill.flow.pair_flows (grey, cached TV-L1, quantise to uint8)",
                 "opencv": "cv2.cvtColor + DualTVL1OpticalFlow.calc per pair",
                 "ours_repeats_s": ours_times, "opencv_repeats_s": cv_times},
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
        f"student / two-stream = {r['ratio']:.1f}x (paper: about {r['paper_ratio']:.0f}x)",
        f"flow: ours {r['flow']['ours_frames_per_s']:.1f} frames/s vs bare OpenCV "
        f"{r['flow']['opencv_frames_per_s']:.1f} frames/s (ratio {r['flow']['ratio']:.2f})",
    ])
