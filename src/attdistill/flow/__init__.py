"""Optical flow: TV-L1 (the paper's flow, as in I3D / MARS / MMAction2) and two fast alternatives; the ``flow`` stage.

* :func:`flow_tvl1` -- ``cv2.optflow.DualTVL1OpticalFlow`` (Zach et al. 2007; the dual TV-L1 of I3D's two-stream
  input) with every parameter from ``flow.tvl1``. :func:`flow_dis` (``cv2.DISOpticalFlow``, Kroeger et al. 2016)
  and :func:`flow_farneback` are the documented fast alternatives; :func:`compute_flow` dispatches on
  ``flow.method``. The OpenCV objects are created once per process and reused for every pair.
* Flow fields are ``(H, W, 2)`` float32 ``(dx, dy)`` in pixels with OpenCV's convention
  ``prev[y, x] ~ next[y + dy, x + dx]``; they are stored as uint8 with :func:`quantize` (clip to +-bound,
  ``(f + bound) * 255 / (2 * bound)``: the DeepMind / denseflow / MMAction2 convention, bound 20).
* :func:`compute_flow_packs` (the stage): a frame pack of N frames -> a flow pack of N - 1 two-channel fields
  (x, y), field k = flow(frame k -> frame k + 1). For time-reversed evaluation (Table 5) with
  ``flow.reverse: backward`` it also writes, for *test* videos only, the flow of the reversed video
  ``R_j = F_{N-1-j}``: field j = flow(F_{N-1-j} -> F_{N-2-j}), i.e. the backward pairs frame[k+1] -> frame[k]
  stored in reversed-video order. With ``negate`` nothing is computed and readers use :func:`reverse_by_negation`
  (``q -> 255 - q`` in reversed order), an approximation: backward flow is the negated forward flow only where
  nothing is occluded or revealed, and it lives on the other frame's pixel grid.

See docs/flow.md for the parameters, the measurements behind the defaults and the benchmark command
(``python -m attdistill.flow bench``).
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from attdistill.config import DISConfig, FarnebackConfig, FlowConfig, TVL1Config
from attdistill.data.decode import VideoError
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.jobs import JobSummary, pack_complete, run_jobs
from attdistill.data.packs import Pack, write_pack

METHODS = ("tvl1", "dis", "farneback")
DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


# --------------------------------------------------------------------------------------------- estimators
@functools.lru_cache(maxsize=None)
def _tvl1(cfg: TVL1Config):
    """One DualTVL1OpticalFlow per process and config (configs are frozen, hence hashable)."""
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    tvl1.setTau(cfg.tau)
    tvl1.setLambda(cfg.lambda_)
    tvl1.setTheta(cfg.theta)
    tvl1.setScalesNumber(cfg.nscales)
    tvl1.setWarpingsNumber(cfg.warps)
    tvl1.setEpsilon(cfg.epsilon)
    tvl1.setInnerIterations(cfg.inner_iterations)
    tvl1.setOuterIterations(cfg.outer_iterations)
    tvl1.setScaleStep(cfg.scale_step)
    tvl1.setGamma(cfg.gamma)
    tvl1.setMedianFiltering(cfg.median_filtering)
    tvl1.setUseInitialFlow(False)
    return tvl1


@functools.lru_cache(maxsize=None)
def _dis(preset: str):
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; valid values: {', '.join(DIS_PRESETS)}")
    return cv2.DISOpticalFlow_create(DIS_PRESETS[preset])


def _check_pair(prev: np.ndarray, nxt: np.ndarray) -> None:
    if prev.ndim != 2 or prev.shape != nxt.shape or prev.dtype != np.uint8 or nxt.dtype != np.uint8:
        raise ValueError(f"flow needs two (H, W) uint8 grayscale frames of one size, got "
                         f"{prev.shape} {prev.dtype} and {nxt.shape} {nxt.dtype}")


def flow_tvl1(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: TVL1Config) -> np.ndarray:
    """Dual TV-L1 flow ``(H, W, 2)`` float32 from two ``(H, W)`` uint8 grayscale frames."""
    _check_pair(prev_gray, next_gray)
    return _tvl1(cfg).calc(prev_gray, next_gray, None)


def flow_dis(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: DISConfig) -> np.ndarray:
    """DIS flow (``cv2.DISOpticalFlow`` preset ``cfg.preset``), ``(H, W, 2)`` float32."""
    _check_pair(prev_gray, next_gray)
    return _dis(cfg.preset).calc(prev_gray, next_gray, None)


def flow_farneback(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: FarnebackConfig) -> np.ndarray:
    """Farneback polynomial-expansion flow, ``(H, W, 2)`` float32."""
    _check_pair(prev_gray, next_gray)
    return cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, cfg.pyr_scale, cfg.levels, cfg.winsize,
                                        cfg.iterations, cfg.poly_n, cfg.poly_sigma, 0)


def compute_flow(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: FlowConfig) -> np.ndarray:
    """Flow from ``prev_gray`` to ``next_gray`` with ``cfg.method``: ``(H, W, 2)`` float32 (dx, dy) pixels."""
    if cfg.method == "tvl1":
        return flow_tvl1(prev_gray, next_gray, cfg.tvl1)
    if cfg.method == "dis":
        return flow_dis(prev_gray, next_gray, cfg.dis)
    if cfg.method == "farneback":
        return flow_farneback(prev_gray, next_gray, cfg.farneback)
    raise ValueError(f"unknown flow method {cfg.method!r}; valid values: {', '.join(METHODS)}")


# --------------------------------------------------------------------------------------------- quantisation
def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """uint8 ``round((clip(f, -bound, bound) + bound) * 255 / (2 * bound))``; 0 px -> 127.5 -> 128."""
    q = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2.0 * bound))
    return np.round(q).astype(np.uint8)


def dequantize(q: np.ndarray, bound: float) -> np.ndarray:
    """float32 ``q * 2 * bound / 255 - bound``: the inverse of :func:`quantize` within ``bound / 255`` px."""
    return (q.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)).astype(np.float32)


def reverse_by_negation(forward: np.ndarray) -> np.ndarray:
    """``flow.reverse: negate``: reversed-video fields from forward ones, ``(N-1, H, W, 2)`` uint8 both.

    Field j of the reversed video ~ -(forward field N-2-j); on quantised data ``-f`` is exactly ``255 - q``.
    """
    return 255 - forward[::-1]


# --------------------------------------------------------------------------------------------- videos
def to_gray(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` uint8 luma (BT.601, as cv2)."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def pair_flows(pack: Pack, order: list[int], cfg: FlowConfig) -> Iterator[np.ndarray]:
    """Quantised flow between consecutive frames of ``pack`` taken in ``order``: yields ``(H, W, 2)`` uint8.

    Frames are decoded one at a time, so memory does not grow with the video's length.
    """
    prev = to_gray(pack[order[0]])
    for i in order[1:]:
        nxt = to_gray(pack[i])
        yield quantize(compute_flow(prev, nxt, cfg), cfg.bound)
        prev = nxt


def flow_meta(cfg: FlowConfig, direction: str, frames: int) -> dict:
    """Pack meta: how the flow was made (a resumed run reuses only packs whose meta matches).

    ``direction`` is "forward" or "reversed"; ``frames`` is the frame count N of the source frame pack.
    """
    params = {"tvl1": cfg.tvl1, "dis": cfg.dis, "farneback": cfg.farneback}[cfg.method]
    return {"method": cfg.method, "bound": float(cfg.bound), "params": dict(vars(params)),
            "direction": direction, "frames": frames, "encoding": cfg.encoding,
            "quality": cfg.quality if cfg.encoding == "jpg" else None}


def pack_path(out_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(out_dir) / f"{video_id}.pack"


def wants_reversed(record: VideoRecord, cfg: FlowConfig) -> bool:
    """Reversed-video flow is computed for test videos only, and only with ``flow.reverse: backward``."""
    return cfg.reverse == "backward" and record.split == "test"


def _frame_count(frames_dir: Path, record: VideoRecord) -> int | None:
    try:
        with Pack(pack_path(frames_dir, record.video_id)) as p:
            return len(p)
    except (OSError, ValueError):      # PackError is an OSError
        return None


def _outputs(record: VideoRecord, *, out_dir: Path, reversed_dir: Path, cfg: FlowConfig) -> list[tuple[Path, str]]:
    outs = [(pack_path(out_dir, record.video_id), "forward")]
    if wants_reversed(record, cfg):
        outs.append((pack_path(reversed_dir, record.video_id), "reversed"))
    return outs


def _flow_job(record: VideoRecord, *, frames_dir: Path, out_dir: Path, reversed_dir: Path, cfg: FlowConfig) -> None:
    """Write the forward (and, for test videos, reversed) flow pack of one video; only the missing ones."""
    with Pack(pack_path(frames_dir, record.video_id)) as pack:   # PackError if missing/corrupt -> skipped
        n = len(pack)
        if n < 2:
            raise VideoError(f"{record.video_id}: {n} frame(s), flow needs at least 2")
        for path, direction in _outputs(record, out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg):
            meta = flow_meta(cfg, direction, n)
            if pack_complete(path, meta, n - 1):
                continue
            order = list(range(n)) if direction == "forward" else list(range(n - 1, -1, -1))
            write_pack(path, pair_flows(pack, order, cfg), cfg.encoding, cfg.quality, meta)


def _is_complete(record: VideoRecord, *, frames_dir: Path, out_dir: Path, reversed_dir: Path,
                 cfg: FlowConfig) -> bool:
    n = _frame_count(frames_dir, record)
    if n is None or n < 2:
        return False
    return all(pack_complete(path, flow_meta(cfg, direction, n), n - 1)
               for path, direction in _outputs(record, out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg))


def _output_paths(record: VideoRecord, *, out_dir: Path, reversed_dir: Path, cfg: FlowConfig) -> list[Path]:
    return [p for p, _ in _outputs(record, out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg)]


def compute_flow_packs(index: VideoIndex, frames_dir: str | os.PathLike, out_dir: str | os.PathLike,
                       cfg: FlowConfig, *, reversed_dir: str | os.PathLike | None = None,
                       shard: tuple[int, int] = (0, 1), report: str | os.PathLike | None = None,
                       progress: bool | None = None) -> JobSummary:
    """Flow packs for every video of this shard: ``out_dir/<video_id>.pack`` (N - 1 fields, channels x, y).

    With ``cfg.reverse == "backward"`` test videos also get ``reversed_dir/<video_id>.pack`` (field j = flow
    between frames j and j + 1 of the reversed video). ``reversed_dir`` is always created, with a README.txt
    saying what it holds (only that with ``negate``); ``None`` means ``<out_dir>_reversed``. A missing or
    corrupt frame pack is skipped and reported.
    ``cfg.encoding`` / ``cfg.quality``: per-component image encoding in the packs. PNG is lossless, so a stored
    field dequantises to within bound / 255 px of the computed one; JPEG (the denseflow habit) is ~2.4x smaller at
    quality 95 but adds ringing at motion boundaries (docs/flow.md).
    """
    frames_dir, out_dir = Path(frames_dir), Path(out_dir)
    reversed_dir = Path(reversed_dir) if reversed_dir is not None else out_dir.with_name(out_dir.name + "_reversed")
    out_dir.mkdir(parents=True, exist_ok=True)
    reversed_dir.mkdir(parents=True, exist_ok=True)
    # a note in the folder says what it holds (and keeps it non-empty: DVC warns on empty outputs)
    note = (f"flow.reverse: {cfg.reverse}. " + ("Test videos' time-reversed flow packs, <video_id>.pack.\n"
            if cfg.reverse == "backward" else "Nothing computed: readers negate the forward flow "
            "(attdistill.flow.reverse_by_negation).\n"))
    if not (reversed_dir / "README.txt").is_file() or (reversed_dir / "README.txt").read_text() != note:
        (reversed_dir / "README.txt").write_text(note)
    dirs = dict(out_dir=out_dir, reversed_dir=reversed_dir, cfg=cfg)
    return run_jobs(index.videos, functools.partial(_flow_job, frames_dir=frames_dir, **dirs),
                    is_complete=functools.partial(_is_complete, frames_dir=frames_dir, **dirs),
                    outputs=functools.partial(_output_paths, **dirs), workers=cfg.workers, shard=shard,
                    report=report, progress=progress, desc=f"flow ({cfg.method})")


# --------------------------------------------------------------------------------------------- benchmark
def smooth_texture(seed: int = 0, waves: int = 12, periods: tuple[float, float] = (25.0, 150.0)):
    """A random texture as a function ``I(x, y)`` -> grey level (sum of plane waves, std 45 around 127.5).

    ``periods`` bounds the wavelengths in px (the default is smooth; (6, 25) is a fine texture). Being analytic,
    it can be sampled exactly at sub-pixel translations and rotations.
    """
    rng = np.random.default_rng(seed)
    freq = 2 * np.pi / rng.uniform(periods[0], periods[1], waves)     # radians per pixel
    angle = rng.uniform(0, np.pi, waves)
    phase = rng.uniform(0, 2 * np.pi, waves)
    amp = rng.uniform(0.5, 1.0, waves)
    kx, ky = freq * np.cos(angle), freq * np.sin(angle)

    def texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        v = sum(a * np.sin(fx * x + fy * y + p) for a, fx, fy, p in zip(amp, kx, ky, phase))
        return 127.5 + 45.0 * v / np.sqrt((amp ** 2).sum() / 2)

    return texture


def synthetic_pair(height: int, width: int, motion: str, amount, seed: int = 0,
                   periods: tuple[float, float] = (25.0, 150.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(prev, next, true_flow)``: uint8 frames and the exact ``(H, W, 2)`` flow (NaN where not scored).

    * ``"translate"``, ``amount=(dx, dy)``: next(x, y) = prev(x - dx, y - dy); flow = (dx, dy) everywhere.
    * ``"rotate"``, ``amount=degrees``: next is prev rotated by R(degrees) about the centre c (clockwise on
      screen for positive degrees, y pointing down); flow(p) = R (p - c) + c - p.
    * ``"object"``, ``amount=(dx, dy)``: a textured disc (radius height / 6) moves by (dx, dy) over a static
      textured background; flow is scored inside the disc only (2 px from its edge).
    """
    tex = smooth_texture(seed, periods=periods)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    prev = tex(x, y)
    flow = np.zeros((height, width, 2))
    if motion == "translate":
        nxt = tex(x - amount[0], y - amount[1])
        flow[:] = amount
    elif motion == "rotate":
        th = np.deg2rad(float(amount))
        cx, cy = (width - 1) / 2, (height - 1) / 2
        c, s = np.cos(th), np.sin(th)
        nxt = tex(c * (x - cx) + s * (y - cy) + cx, -s * (x - cx) + c * (y - cy) + cy)   # prev(R^-1 (q - c) + c)
        flow = np.stack([c * (x - cx) - s * (y - cy) + cx - x, s * (x - cx) + c * (y - cy) + cy - y], -1)
    elif motion == "object":
        dx, dy = amount
        obj = smooth_texture(seed + 1, periods=periods)
        r, cx, cy = height / 6, width / 2 - dx / 2, height / 2 - dy / 2
        inside0 = np.hypot(x - cx, y - cy) < r
        inside1 = np.hypot(x - cx - dx, y - cy - dy) < r
        prev = np.where(inside0, 255 - obj(x, y), prev)
        nxt = np.where(inside1, 255 - obj(x - dx, y - dy), prev * ~inside0 + tex(x, y) * inside0)
        flow[:] = np.nan
        flow[np.hypot(x - cx, y - cy) < r - 2] = (dx, dy)
    else:
        raise ValueError(f"unknown motion {motion!r}; valid values: translate, rotate, object")
    to8 = lambda a: np.clip(np.round(a), 0, 255).astype(np.uint8)  # noqa: E731
    return to8(prev), to8(nxt), flow.astype(np.float32)


def endpoint_error(flow: np.ndarray, truth: np.ndarray, margin: int = 8) -> tuple[float, float]:
    """(median, mean) endpoint error in px over the interior (``margin`` px from each border; NaN truth ignored)."""
    err = np.linalg.norm(flow - truth, axis=-1)[margin:-margin, margin:-margin]
    return float(np.nanmedian(err)), float(np.nanmean(err))


BENCH_CASES = {
    "smooth t(1.3,-0.6)": ("translate", (1.3, -0.6), (25.0, 150.0)),
    "smooth t(-7.5,3.0)": ("translate", (-7.5, 3.0), (25.0, 150.0)),
    "smooth rot 4deg": ("rotate", 4.0, (25.0, 150.0)),
    "fine t(1.3,-0.6)": ("translate", (1.3, -0.6), (6.0, 25.0)),
    "fine t(-7.5,3.0)": ("translate", (-7.5, 3.0), (6.0, 25.0)),
    "object (2.5,-1.5)": ("object", (2.5, -1.5), (8.0, 40.0)),
    "object (6.0,3.0)": ("object", (6.0, 3.0), (8.0, 40.0)),
}


def benchmark(settings: dict[str, FlowConfig], size: tuple[int, int] = (120, 96), repeats: int = 3,
              threads: int = 1) -> list[dict]:
    """Per setting: ms per pair (median and max over :data:`BENCH_CASES`, each the best of ``repeats``) and
    (median, mean) endpoint error per case."""
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


def default_benchmark_settings(base: FlowConfig | None = None) -> dict[str, FlowConfig]:
    """The settings compared in docs/flow.md."""
    import dataclasses as dc

    base = base or FlowConfig()
    tv = lambda **kw: dc.replace(base, method="tvl1", tvl1=dc.replace(TVL1Config(), **kw))  # noqa: E731
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


def main(argv: list[str] | None = None) -> int:
    """``python -m attdistill.flow bench [--size 120x96] [--threads 1]``: the table of docs/flow.md."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="time and accuracy of each flow setting on synthetic pairs")
    b.add_argument("--size", default="120x96", help="WIDTHxHEIGHT")
    b.add_argument("--threads", type=int, default=1, help="OpenCV threads (the stage's workers use 1)")
    b.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    rows = benchmark(default_benchmark_settings(), (w, h), args.repeats, args.threads)
    cases = [k for k in rows[0] if k not in ("setting", "ms", "ms_max")]
    print(f"median / mean endpoint error (px); ms per pair at {w}x{h}, {args.threads} OpenCV thread(s): "
          "median (max) over the cases")
    print("| setting | ms/pair | " + " | ".join(cases) + " |")
    print("|---|---:|" + "---:|" * len(cases))
    for r in rows:
        print(f"| {r['setting']} | {r['ms']:.1f} ({r['ms_max']:.0f}) | " +
              " | ".join(f"{r[c][0]:.3f} / {r[c][1]:.3f}" for c in cases) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
