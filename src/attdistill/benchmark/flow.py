"""Flow benchmarks: the flow stage's code path vs bare OpenCV (in ``reports/speed.json``), and the table of
accuracy and time per flow setting in docs/flow.md (``python -m attdistill.benchmark.flow``).

* :func:`time_flow_code`: frames/s (flow fields per second) of the flow stage's own code path
  (:func:`attdistill.data.flow_packs.pair_flows`: grey conversion, the cached TV-L1 object, quantisation) versus a
  bare OpenCV loop (``cvtColor`` + ``cv2.optflow.DualTVL1OpticalFlow_create(...)`` with the same parameters,
  ``calc`` per pair) on the same frames, repeats alternated.
* :func:`flow_bench`: per setting of :func:`default_benchmark_settings`, ms per pair and endpoint error on the
  synthetic pairs of :data:`BENCH_CASES` (:func:`attdistill.benchmark.flow_pattern.synthetic_pair`).
"""

from __future__ import annotations

import dataclasses as dc
import statistics
import time

import cv2
import numpy as np
import torch

from ..config import DISConfig, FlowConfig, TVL1Config
from ..data.flow_packs import pair_flows
from ..flow import compute_flow, flow_tvl1, to_gray
from ..flow.opencv import opencv_tvl1_defaults
from .flow_pattern import endpoint_error, synthetic_pair
from .timing import time_interleaved

BENCH_CASES = {
    "smooth t(1.3,-0.6)": ("translate", (1.3, -0.6), (25.0, 150.0)),
    "smooth t(-7.5,3.0)": ("translate", (-7.5, 3.0), (25.0, 150.0)),
    "smooth rot 4deg": ("rotate", 4.0, (25.0, 150.0)),
    "fine t(1.3,-0.6)": ("translate", (1.3, -0.6), (6.0, 25.0)),
    "fine t(-7.5,3.0)": ("translate", (-7.5, 3.0), (6.0, 25.0)),
    "object (2.5,-1.5)": ("object", (2.5, -1.5), (8.0, 40.0)),
    "object (6.0,3.0)": ("object", (6.0, 3.0), (8.0, 40.0)),
}


# --------------------------------------------------------------------------------------------- speed.json
def bare_tvl1(cfg: TVL1Config):
    """``cv2.optflow.DualTVL1OpticalFlow_create`` with every parameter of ``cfg``."""
    return cv2.optflow.DualTVL1OpticalFlow_create(cfg.tau, cfg.lambda_, cfg.theta, cfg.nscales, cfg.warps, cfg.epsilon,
                                                  cfg.inner_iterations, cfg.outer_iterations, cfg.scale_step,
                                                  cfg.gamma, cfg.median_filtering)


def time_flow_code(frames: np.ndarray, cfg: FlowConfig, repeats: int,
                   device: torch.device) -> tuple[list[float], list[float]]:
    """Seconds per repeat for the flow of all ``frames`` (``(N, H, W, 3)`` uint8): (ours, bare OpenCV).

    TV-L1 with ``cfg.tvl1`` on both sides, whatever ``cfg.method`` says.
    """
    order = list(range(len(frames)))
    bare = bare_tvl1(cfg.tvl1)
    tvl1_cfg = dc.replace(cfg, method="tvl1")

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
    flow_tvl1(to_gray(frames[0]), to_gray(frames[1]), cfg.tvl1)
    t = time_interleaved({"ours": ours, "opencv": opencv}, 1, repeats, device)
    return t["ours"], t["opencv"]


def flow_report(ours_times: list[float], cv_times: list[float], pairs: int, cfg: FlowConfig) -> dict:
    """The ``flow`` entry of ``reports/speed.json``."""
    o_med, c_med = statistics.median(ours_times), statistics.median(cv_times)
    return {"method": "tvl1", "configured_method": cfg.method, "params": dict(vars(cfg.tvl1)), "bound": cfg.bound,
            "pairs": pairs,
            "ours_frames_per_s": pairs / o_med, "opencv_frames_per_s": pairs / c_med,
            "ratio": (pairs / o_med) / (pairs / c_med),
            "ours": "attdistill.data.flow_packs.pair_flows (grey, cached TV-L1, quantise to uint8)",
            "opencv": "cv2.cvtColor + DualTVL1OpticalFlow.calc per pair",
            "ours_repeats_s": ours_times, "opencv_repeats_s": cv_times}


# --------------------------------------------------------------------------------------------- docs/flow.md
def flow_bench(settings: dict[str, FlowConfig], size: tuple[int, int], repeats: int, threads: int) -> list[dict]:
    """Per setting: ms per pair (median and max over :data:`BENCH_CASES`, each the best of ``repeats``) and
    (median, mean) endpoint error per case, on ``size = (width, height)`` frames with ``threads`` OpenCV threads."""
    w, h = size
    pairs = {name: synthetic_pair(h, w, m, a, seed=1, periods=per) for name, (m, a, per) in BENCH_CASES.items()}
    old = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    rows = []
    try:
        for label, cfg in settings.items():
            compute_flow(*list(pairs.values())[0][:2], cfg)        # warm-up (creates the estimator)
            row, times = {"setting": label}, []
            for name, (prev, nxt, truth) in pairs.items():
                best = float("inf")
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    flow = compute_flow(prev, nxt, cfg)
                    best = min(best, time.perf_counter() - t0)
                times.append(1000 * best)
                row[name] = endpoint_error(flow, truth)
            row["ms"], row["ms_max"] = float(np.median(times)), float(np.max(times))
            rows.append(row)
    finally:
        cv2.setNumThreads(old)
    return rows


def default_benchmark_settings(base: FlowConfig) -> dict[str, FlowConfig]:
    """The settings compared in docs/flow.md: TV-L1 variants of OpenCV's defaults, DIS presets, ``base``'s
    Farneback (the rest of each setting is ``base``)."""
    opencv = opencv_tvl1_defaults()
    tv = lambda **kw: dc.replace(base, method="tvl1", tvl1=dc.replace(opencv, **kw))  # noqa: E731
    return {
        "tvl1 OpenCV defaults (s5 w5)": tv(),
        "tvl1 s3 w3": tv(nscales=3, warps=3),
        "tvl1 s4 w2": tv(nscales=4, warps=2),
        "tvl1 s3 w2": tv(nscales=3, warps=2),
        "tvl1 s3 w1": tv(nscales=3, warps=1),
        "tvl1 s2 w2": tv(nscales=2, warps=2),
        "tvl1 s3 w3 inner 10": tv(nscales=3, warps=3, inner_iterations=10),
        "dis ultrafast": dc.replace(base, method="dis", dis=DISConfig("ultrafast")),
        "dis fast": dc.replace(base, method="dis", dis=DISConfig("fast")),
        "dis medium": dc.replace(base, method="dis", dis=DISConfig("medium")),
        "farneback": dc.replace(base, method="farneback"),
    }


def format_bench_table(rows: list[dict], size: tuple[int, int], threads: int) -> str:
    """The Markdown table of docs/flow.md from :func:`flow_bench` rows."""
    cases = [k for k in rows[0] if k not in ("setting", "ms", "ms_max")]
    lines = [f"median / mean endpoint error (px); ms per pair at {size[0]}x{size[1]}, {threads} OpenCV thread(s): "
             "median (max) over the cases",
             "| setting | ms/pair | " + " | ".join(cases) + " |",
             "|---|---:|" + "---:|" * len(cases)]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['ms']:.1f} ({r['ms_max']:.0f}) | " +
                     " | ".join(f"{r[c][0]:.3f} / {r[c][1]:.3f}" for c in cases) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m attdistill.benchmark.flow [--params params.yaml] [--size 120x96] [--threads 1]``: the table of
    docs/flow.md (the parameters not varied, e.g. ``flow.farneback``, come from the params file)."""
    import argparse

    from ..config import add_params_arguments, params_from_cli

    ap = argparse.ArgumentParser(description=main.__doc__)
    add_params_arguments(ap)
    ap.add_argument("--size", default="120x96", help="WIDTHxHEIGHT")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (the stage's workers use 1)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    w, h = (int(v) for v in args.size.lower().split("x"))
    rows = flow_bench(default_benchmark_settings(params.flow), (w, h), args.repeats, args.threads)
    print(format_bench_table(rows, (w, h), args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
