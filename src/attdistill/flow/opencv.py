"""OpenCV flow estimators: dual TV-L1 (the paper's flow, as in I3D / MARS / MMAction2), DIS and Farneback.

* :func:`flow_tvl1` -- ``cv2.optflow.DualTVL1OpticalFlow`` (Zach, Pock & Bischof 2007; the dual TV-L1 of I3D's
  two-stream input) with every parameter from ``flow.tvl1``.
* :func:`flow_dis` -- ``cv2.DISOpticalFlow`` (Kroeger et al. 2016), preset ``flow.dis.preset``.
* :func:`flow_farneback` -- ``cv2.calcOpticalFlowFarneback`` with ``flow.farneback``.

Each takes two ``(H, W)`` uint8 grey frames and returns an ``(H, W, 2)`` float32 field ``(dx, dy)`` in pixels with
OpenCV's convention ``prev[y, x] ~ next[y + dy, x + dx]``. The OpenCV objects are created once per process and
config and reused for every pair (``useInitialFlow`` off, so pairs are independent). See docs/flow.md.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from attdistill.config import DISConfig, FarnebackConfig, TVL1Config

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


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


def opencv_tvl1_defaults() -> TVL1Config:
    """OpenCV's own TV-L1 parameters (those of ``DualTVL1OpticalFlow_create()``), read back from the library."""
    t = cv2.optflow.DualTVL1OpticalFlow_create()
    return TVL1Config(tau=t.getTau(), lambda_=t.getLambda(), theta=t.getTheta(), nscales=t.getScalesNumber(),
                      warps=t.getWarpingsNumber(), epsilon=t.getEpsilon(), inner_iterations=t.getInnerIterations(),
                      outer_iterations=t.getOuterIterations(), scale_step=t.getScaleStep(), gamma=t.getGamma(),
                      median_filtering=t.getMedianFiltering())


@functools.lru_cache(maxsize=None)
def _dis(preset: str):
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; valid values: {', '.join(DIS_PRESETS)}")
    return cv2.DISOpticalFlow_create(DIS_PRESETS[preset])


def check_pair(prev: np.ndarray, nxt: np.ndarray) -> None:
    """Raise ValueError unless ``prev`` and ``nxt`` are two ``(H, W)`` uint8 grey frames of one size."""
    if prev.ndim != 2 or prev.shape != nxt.shape or prev.dtype != np.uint8 or nxt.dtype != np.uint8:
        raise ValueError(f"flow needs two (H, W) uint8 grayscale frames of one size, got "
                         f"{prev.shape} {prev.dtype} and {nxt.shape} {nxt.dtype}")


def flow_tvl1(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: TVL1Config) -> np.ndarray:
    """Dual TV-L1 flow ``(H, W, 2)`` float32 from two ``(H, W)`` uint8 grayscale frames."""
    check_pair(prev_gray, next_gray)
    return _tvl1(cfg).calc(prev_gray, next_gray, None)


def flow_dis(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: DISConfig) -> np.ndarray:
    """DIS flow (``cv2.DISOpticalFlow`` preset ``cfg.preset``), ``(H, W, 2)`` float32."""
    check_pair(prev_gray, next_gray)
    return _dis(cfg.preset).calc(prev_gray, next_gray, None)


def flow_farneback(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: FarnebackConfig) -> np.ndarray:
    """Farneback polynomial-expansion flow, ``(H, W, 2)`` float32."""
    check_pair(prev_gray, next_gray)
    return cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, cfg.pyr_scale, cfg.levels, cfg.winsize,
                                        cfg.iterations, cfg.poly_n, cfg.poly_sigma, 0)
