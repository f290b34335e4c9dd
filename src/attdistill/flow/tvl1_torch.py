"""Dual TV-L1 optical flow in PyTorch, computing what OpenCV's CPU ``cv2.optflow.DualTVL1OpticalFlow`` computes.

The method is Zach, Pock & Bischof, "A Duality Based Approach for Realtime TV-L1 Optical Flow" (DAGM 2007), in the
formulation of Sánchez, Meinhardt-Llopis & Facciolo, "TV-L1 Optical Flow Estimation" (IPOL 2013), on which OpenCV's
``tvl1flow.cpp`` is based. Every step below follows OpenCV's CPU code path (``calc`` / ``procOneScale``), so
the flow agrees with ``cv2.optflow.DualTVL1OpticalFlow.calc`` on 8-bit frames up to float rounding:

* **pyramid** (:func:`pyramid_sizes`, :func:`resize_linear`): level ``s`` is level ``s - 1`` resized by
  ``scale_step`` with ``INTER_LINEAR`` (size ``round(n * scale_step)``, OpenCV's ``cvRound``; the source
  coordinate ``(d + 0.5) / scale_step - 0.5`` clamped to the image, i.e. replicated border); the pyramid stops
  before the first level narrower or lower than 16 px. The flow of level ``s`` is resized to level ``s - 1``'s
  size the same way (scale ``n_in / n_out``) and multiplied by ``1 / scale_step`` (the brightness term ``u3`` of
  ``gamma`` is resized, not scaled). The coarsest level starts from zero flow.
* **per level**, ``warps`` times: warp ``I1`` and its centred gradient (:func:`centered_gradient`, replicated
  border) to ``x + u`` with bicubic interpolation (:func:`remap_bicubic`: Keys' kernel with ``A = -0.75``, zero
  outside the image, as ``cv2.remap(..., INTER_CUBIC)`` with its default constant border), then
  ``rho_c = I1w - I1wx u1 - I1wy u2 - I0``; then up to ``outer_iterations`` times: a median filter of ``u1``,
  ``u2`` (:func:`median_blur`, ``cv2.medianBlur``'s replicated border; skipped for ``median_filtering <= 1``),
  then up to ``inner_iterations`` times :func:`_iterate`: the thresholding step (:func:`threshold_step`) with
  ``lambda * theta``, ``u = v + theta div p`` (:func:`divergence`, backward differences), and the semi-implicit
  dual update ``p = (p + tau/theta grad u) / (1 + tau/theta |grad u|)`` (:func:`forward_gradient`). The dual
  variables ``p`` start at zero on each level and are kept across its warps.
* **stopping**: an iteration's ``sum |u_new - u|^2`` (over ``u1``, ``u2`` and ``u3``) at most
  ``epsilon^2 * h * w`` ends the current warp for that pair (inner and outer loops), after that iteration's dual
  update, as in OpenCV; each pair of a batch stops on its own (:class:`_Active`).

Differences that remain: float rounding (different summation order, e.g. the stopping sum is accumulated in
float64 here and sequentially in float32 by OpenCV, which can move a stop by one iteration where the sum lands
within rounding of the threshold). OpenCV 4.x's ``remap`` rounds float coordinates to 1/32 px
(``INTER_BITS = 5``) before its tabulated bicubic weights, OpenCV 5's uses exact coordinates: ``coord_bits=5``
selects the 4.x behaviour, ``None`` (default) the installed 5.x one. OpenCV's ``calc`` also *stores* a reduced
scale count in the object when a frame is too small for ``nscales`` levels (later, larger frames then get fewer
levels from the same object); here every call derives its levels from its own frame size.

Shapes: frames ``(N, H, W)`` float32 grey levels 0..255 (the values of OpenCV's 8-bit input); flow fields inside
``(N, C, H, W)`` with ``C = 2`` (``u1 = dx``, ``u2 = dy``), 3 with ``gamma``; dual variables ``(N, C, 2, H, W)``.
The result is ``(N, H, W, 2)`` in OpenCV's convention ``prev[y, x] ~ next[y + dy, x + dx]``. Torch ops only: it
runs on whichever device the frames are on.
"""

from __future__ import annotations

import dataclasses as dc
import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from attdistill.config import TVL1Config

FLT_EPSILON = float(np.finfo(np.float32).eps)
CUBIC_A = -0.75          # OpenCV's bicubic kernel parameter (Keys' a)
MIN_LEVEL_SIZE = 16      # OpenCV stops the pyramid before a level with a side under 16 px
PAD = 5                  # zero padding of remap's source: taps of clamped coordinates stay inside


def f32(x: float) -> float:
    """``x`` rounded to float32 (OpenCV casts its double parameters to float before the float loops)."""
    return float(np.float32(x))


# --------------------------------------------------------------------------------------------- pyramid
def pyramid_sizes(height: int, width: int, nscales: int, scale_step: float) -> list[tuple[int, int]]:
    """``(h, w)`` of each pyramid level, finest first, as OpenCV's ``calc`` builds them.

    Level ``s`` is ``(round(h_{s-1} * scale_step), round(w_{s-1} * scale_step))`` (``cv::resize`` with ``fx = fy =
    scale_step``: ``saturate_cast<int>``, round half to even, as Python's ``round``); the first level with a side
    under 16 px is dropped together with all coarser ones.
    """
    sizes = [(height, width)]
    for _ in range(1, nscales):
        h, w = (round(n * scale_step) for n in sizes[-1])
        if h < MIN_LEVEL_SIZE or w < MIN_LEVEL_SIZE:
            break
        sizes.append((h, w))
    return sizes


def _linear_taps(n_in: int, n_out: int, scale: float, device) -> tuple[torch.Tensor, ...]:
    """Indices ``i0, i1`` and float32 weights ``w0, w1`` of ``INTER_LINEAR`` along one axis.

    ``scale`` is source px per destination px; source coordinate ``(d + 0.5) * scale - 0.5``, clamped to
    ``[0, n_in - 1]`` (replicated border).
    """
    f = (torch.arange(n_out, dtype=torch.float64, device=device) + 0.5) * scale - 0.5
    i0 = torch.floor(f)
    w1 = f - i0
    w1 = torch.where((i0 < 0) | (i0 >= n_in - 1), torch.zeros_like(w1), w1)
    i0 = i0.clamp(0, n_in - 1).long()
    i1 = (i0 + 1).clamp(max=n_in - 1)
    return i0, i1, (1 - w1).float(), w1.float()


def resize_linear(x: torch.Tensor, size: tuple[int, int], scale: float | None = None) -> torch.Tensor:
    """``cv2.resize(x, (w, h), INTER_LINEAR)`` on ``(..., H, W)`` float32: horizontal pass, then vertical.

    ``scale`` is the ``fx = fy`` OpenCV was given (the pyramid's ``scale_step``), which then sets the coordinate
    mapping; ``None`` means an explicit size (mapping ``H / h``, ``W / w``, as OpenCV computes it).
    """
    (h_in, w_in), (h, w) = x.shape[-2:], size
    sy = 1.0 / scale if scale is not None else 1.0 / (h / h_in)
    sx = 1.0 / scale if scale is not None else 1.0 / (w / w_in)
    i0, i1, w0, w1 = _linear_taps(w_in, w, sx, x.device)
    rows = x.index_select(-1, i0) * w0 + x.index_select(-1, i1) * w1               # (..., H, w)
    i0, i1, w0, w1 = _linear_taps(h_in, h, sy, x.device)
    return rows.index_select(-2, i0) * w0[:, None] + rows.index_select(-2, i1) * w1[:, None]


# --------------------------------------------------------------------------------------------- finite differences
def centered_gradient(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dx, dy)`` of ``(..., H, W)``: ``0.5 (I[x+1] - I[x-1])``, replicated border (``0.5 (I[1] - I[0])`` at 0)."""
    shape = img.shape
    p = F.pad(img.reshape(-1, 1, *shape[-2:]), (1, 1, 1, 1), mode="replicate")[:, 0]
    dx = 0.5 * (p[:, 1:-1, 2:] - p[:, 1:-1, :-2])
    dy = 0.5 * (p[:, 2:, 1:-1] - p[:, :-2, 1:-1])
    return dx.reshape(shape), dy.reshape(shape)


def forward_gradient(u: torch.Tensor) -> torch.Tensor:
    """``(..., 2, H, W)``: ``u[x+1] - u[x]`` and ``u[y+1] - u[y]``, zero in the last column / row (OpenCV's)."""
    ux = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return torch.stack([ux, uy], -3)


def divergence(p: torch.Tensor) -> torch.Tensor:
    """Backward-difference divergence of ``(..., 2, H, W)`` -> ``(..., H, W)``.

    ``p1[x] - p1[x-1] + p2[y] - p2[y-1]`` with ``p[-1] = 0`` (first column / row); the last column / row get no
    special treatment (OpenCV's ``divergence``).
    """
    p1, p2 = p[..., 0, :, :], p[..., 1, :, :]
    return (p1 - F.pad(p1[..., :, :-1], (1, 0))) + (p2 - F.pad(p2[..., :-1, :], (0, 0, 1, 0)))


def _batcher_pairs(n: int) -> list[tuple[int, int]]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort on ``n`` wires (a power of two)."""
    pairs, p = [], 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


@functools.lru_cache(maxsize=None)
def median_network(n: int) -> tuple[tuple[int, int, bool, bool], ...]:
    """A selection network for the median of ``n`` (odd) values: ``(i, j, want_min, want_max)`` comparators.

    Batcher's sorting network on the next power of two, with the comparators that touch the padding wires dropped
    (padding would hold +inf on the highest wires: those comparators are no-ops), then pruned backwards to what
    output wire ``n // 2`` depends on; a kept comparator computes only the outputs that are used later.
    """
    size = 1 << (n - 1).bit_length()
    pairs = [(i, j) for i, j in _batcher_pairs(size) if j < n]
    needed, kept = {n // 2}, []
    for i, j in reversed(pairs):
        want_min, want_max = i in needed, j in needed
        if want_min or want_max:
            kept.append((i, j, want_min, want_max))
            needed |= {i, j}
    return tuple(reversed(kept))


MEDIAN_NETWORKS = {k * k: median_network(k * k) for k in (3, 5)}    # built once: plain data for torch.compile


def median_blur(u: torch.Tensor, ksize: int) -> torch.Tensor:
    """``cv2.medianBlur(u, ksize)`` per ``(H, W)`` plane of ``(N, C, H, W)`` float32: replicated border.

    OpenCV filters float images with ``ksize`` 3 or 5 only (larger sizes need 8-bit input). The median of the
    ``ksize^2`` shifted copies is taken with :func:`median_network` (elementwise min / max only, so exact).
    """
    if ksize not in (3, 5):
        raise ValueError(f"median_filtering {ksize}: OpenCV's medianBlur on float flow takes 3 or 5 (<= 1: off)")
    r, (h, w) = ksize // 2, u.shape[-2:]
    p = F.pad(u, (r, r, r, r), mode="replicate")
    wires = [p[..., i:i + h, j:j + w] for i in range(ksize) for j in range(ksize)]
    for i, j, want_min, want_max in MEDIAN_NETWORKS[ksize * ksize]:
        a, b = wires[i], wires[j]
        if want_min:
            wires[i] = torch.minimum(a, b)
        if want_max:
            wires[j] = torch.maximum(a, b)
    return wires[ksize * ksize // 2]


# --------------------------------------------------------------------------------------------- bicubic warp
def cubic_weights(t: torch.Tensor) -> torch.Tensor:
    """OpenCV's ``interpolateCubic`` (Keys, A = -0.75) at fractional offsets ``t`` in [0, 1): ``(..., 4)``.

    Taps at ``-1, 0, 1, 2`` relative to ``floor(x)``; float32 arithmetic in OpenCV's order.
    """
    a = CUBIC_A
    t1, s = t + 1, 1 - t
    c0 = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a
    c1 = ((a + 2) * t - (a + 3)) * t * t + 1
    c2 = ((a + 2) * s - (a + 3)) * s * s + 1
    return torch.stack([c0, c1, c2, 1 - c0 - c1 - c2], -1)


def _split_coords(m: torch.Tensor, size: int, coord_bits: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer part (clamped so that every tap of an outside point is outside) and weights ``(..., 4)``."""
    if coord_bits is None:                                  # OpenCV 5: exact float coordinates
        m = m.clamp(-3.5, size + 1.5)
        i = torch.floor(m)
        return i.long(), cubic_weights(m - i)
    q = torch.round(m.clamp(-4.0, size + 2.0) * float(1 << coord_bits)).long()   # OpenCV 4.x: cvRound(x * 32)
    frac = (q & ((1 << coord_bits) - 1)).to(m.dtype) * (1.0 / (1 << coord_bits))
    return q >> coord_bits, cubic_weights(frac)


def remap_bicubic(src: torch.Tensor, map_x: torch.Tensor, map_y: torch.Tensor,
                  coord_bits: int | None = None) -> torch.Tensor:
    """``cv2.remap(src, map_x, map_y, INTER_CUBIC)`` (constant border 0) per channel of ``src``.

    ``src`` ``(N, C, H, W)``; maps ``(N, h, w)`` absolute source coordinates -> ``(N, C, h, w)``. ``coord_bits``:
    ``None`` = OpenCV 5's exact coordinates, ``5`` = OpenCV 4.x's rounding to 1/32 px.
    """
    n, c, h, w = src.shape
    wp = w + 2 * PAD
    flat = F.pad(src, (PAD, PAD, PAD, PAD)).reshape(n, c, -1)                      # zeros outside
    ix, wx = _split_coords(map_x, w, coord_bits)
    iy, wy = _split_coords(map_y, h, coord_bits)
    base = ((iy + PAD) * wp + ix + PAD).reshape(n, 1, -1)                          # (N, 1, h*w)
    out = None
    for i in range(4):
        row = None
        for j in range(4):
            tap = flat.gather(2, (base + ((i - 1) * wp + j - 1)).expand(n, c, -1))
            term = tap * wx[..., j].reshape(n, 1, -1)
            row = term if row is None else row + term
        term = row * wy[..., i].reshape(n, 1, -1)
        out = term if out is None else out + term
    return out.reshape(n, c, *map_x.shape[-2:])


# --------------------------------------------------------------------------------------------- one iteration
def threshold_step(u: torch.Tensor, g: torch.Tensor, grad: torch.Tensor, rho_c: torch.Tensor, l_t: float
                   ) -> torch.Tensor:
    """The thresholding operator TH (OpenCV's ``estimateV``): ``v = u + d`` for ``(N, C, H, W)`` ``u``.

    ``rho = rho_c + g . u`` with ``g = (I1wx, I1wy[, gamma])`` (``gamma u3`` is the brightness term);
    ``d = l_t g`` where ``rho < -l_t |grad I1|^2``, ``-l_t g`` where ``rho > l_t |grad I1|^2``, else
    ``-rho / |grad I1|^2 g``; ``l_t = lambda * theta``. That is ``d = -clamp(rho / |grad I1|^2, -l_t, l_t) g``,
    computed so (3 tensor ops instead of OpenCV's 3 branches); ``grad`` comes floored at :data:`FLT_EPSILON`
    (:func:`_warp_constants`), where OpenCV sets ``d = 0`` inside the band: there ``|g| < 3.5e-4``, so the two
    differ by under ``l_t * 3.5e-4`` px.
    """
    rho = rho_c + (g * u).sum(1)
    coef = (rho / grad).clamp(-l_t, l_t)
    return u - coef[:, None] * g


def _iterate(u: torch.Tensor, p: torch.Tensor, g: torch.Tensor, grad: torch.Tensor, rho_c: torch.Tensor,
             k: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One inner iteration: TH, ``u = v + theta div p``, dual update. Returns ``(u, p, sum |du|^2 per pair)``."""
    v = threshold_step(u, g, grad, rho_c, k["l_t"])
    u_new = v + k["theta"] * divergence(p)                                          # (N, C, H, W)
    d = u_new - u
    err = (d * d).sum((1, 2, 3), dtype=torch.float64)                              # (N,)
    du = forward_gradient(u_new)                                                    # (N, C, 2, H, W)
    ng = 1 + k["taut"] * torch.hypot(du[:, :, 0], du[:, :, 1])
    p = (p + k["taut"] * du) / ng[:, :, None]
    return u_new, p, err


class _Active:
    """The pairs of a batch still iterating in the current warp, their state compacted to the active rows.

    A pair stops after the iteration whose ``sum |du|^2`` is at most the threshold. With ``check_every = 1`` the
    stopped pairs are dropped after every iteration (one host sync each); with ``k > 1`` a stopped pair's state is
    frozen on the device (``torch.where``) and the pairs are dropped every ``k`` iterations only: the same
    result, fewer syncs (for GPUs). Dropped pairs' ``u`` / ``p`` go back into the full-batch tensors
    (:meth:`result`). Every update is out of place, so the full tensors never change behind our back.
    """

    def __init__(self, u: torch.Tensor, p: torch.Tensor, consts: tuple[torch.Tensor, ...], check_every: int):
        self.full_u, self.full_p, self.n, self.check_every = u, p, u.shape[0], check_every
        self.idx = torch.arange(self.n, device=u.device)
        self.u, self.p, self.consts = u, p, consts
        self.stopped = torch.zeros(self.n, dtype=torch.bool, device=u.device)
        self.steps = 0

    def __len__(self) -> int:
        return int(self.idx.numel())

    def update(self, u: torch.Tensor, p: torch.Tensor, stop: torch.Tensor | None = None) -> None:
        """Take the new state of the pairs not yet stopped; ``stop`` (bool per row) ends an iteration."""
        if self.check_every > 1:
            frozen = self.stopped.view(-1, 1, 1, 1)
            u, p = torch.where(frozen, self.u, u), torch.where(frozen[..., None], self.p, p)
        self.u, self.p = u, p
        if stop is not None:
            self.stopped = self.stopped | stop
            self.steps += 1
            if self.steps % self.check_every == 0:
                self.compact()

    def compact(self) -> None:
        """Write back and drop the stopped pairs (a host sync)."""
        done = self.stopped
        if not bool(done.any()):
            return
        self.full_u = self.full_u.index_copy(0, self.idx[done], self.u[done])
        self.full_p = self.full_p.index_copy(0, self.idx[done], self.p[done])
        keep = ~done
        self.idx, self.u, self.p, self.stopped = self.idx[keep], self.u[keep], self.p[keep], self.stopped[keep]
        self.consts = tuple(c[keep] for c in self.consts)

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-batch ``(u, p)`` with every pair's latest state."""
        if len(self) == self.n:
            return self.u, self.p
        return self.full_u.index_copy(0, self.idx, self.u), self.full_p.index_copy(0, self.idx, self.p)


# --------------------------------------------------------------------------------------------- warps and levels
def _warp_constants(i0: torch.Tensor, i1s: torch.Tensor, u: torch.Tensor, gamma: float,
                    coord_bits: int | None) -> tuple[torch.Tensor, ...]:
    """``(g, max(|grad I1w|^2, FLT_EPSILON), rho_c)`` of one warp (OpenCV's remap of ``I1, I1x, I1y``, then
    ``calcGradRho``).

    ``i0`` ``(N, H, W)``; ``i1s`` ``(N, 3, H, W)`` = ``I1`` and its centred gradient; ``u`` ``(N, C, H, W)``.
    """
    n, c, h, w = u.shape
    xs = torch.arange(w, dtype=u.dtype, device=u.device)
    ys = torch.arange(h, dtype=u.dtype, device=u.device)[:, None]
    i1w, i1wx, i1wy = remap_bicubic(i1s, xs + u[:, 0], ys + u[:, 1], coord_bits).unbind(1)
    grad = i1wx * i1wx + i1wy * i1wy
    rho_c = i1w - i1wx * u[:, 0] - i1wy * u[:, 1] - i0
    g = [i1wx, i1wy] + ([torch.full_like(i1wx, gamma)] if c == 3 else [])
    return torch.stack(g, 1), grad.clamp_min(FLT_EPSILON), rho_c


@dataclass(frozen=True)
class Kernels:
    """The two functions that take the time: the inner iteration and the median filter (eager or compiled)."""

    iterate: Callable = _iterate
    median: Callable = median_blur


@functools.lru_cache(maxsize=None)
def compiled_kernels() -> Kernels:
    """:class:`Kernels` through ``torch.compile`` (fused kernels; dynamic batch and image sizes)."""
    return Kernels(torch.compile(_iterate, dynamic=True), torch.compile(median_blur, dynamic=True))


def _run_warp(act: _Active, cfg: TVL1Config, k: dict, threshold: float, kernels: Kernels) -> None:
    """Outer iterations (median filter of ``u1, u2``, then inner iterations) until each pair stops."""
    for _ in range(cfg.outer_iterations):
        if not len(act):
            return
        if cfg.median_filtering > 1:
            act.update(torch.cat([kernels.median(act.u[:, :2], cfg.median_filtering), act.u[:, 2:]], 1), act.p)
        for _ in range(cfg.inner_iterations):
            u, p, err = kernels.iterate(act.u, act.p, *act.consts, k)
            act.update(u, p, err <= threshold)
            if not len(act):
                return


def solve_level(i0: torch.Tensor, i1: torch.Tensor, u: torch.Tensor, cfg: TVL1Config, coord_bits: int | None = None,
                check_every: int = 1, kernels: Kernels = Kernels()) -> torch.Tensor:
    """Refine ``u`` ``(N, C, H, W)`` on one pyramid level (OpenCV's ``procOneScale``); ``i0, i1`` ``(N, H, W)``."""
    n, c, h, w = u.shape
    k = {"l_t": f32(cfg.lambda_ * cfg.theta), "taut": f32(cfg.tau / cfg.theta), "theta": f32(cfg.theta),
         "gamma": f32(cfg.gamma)}
    threshold = f32(cfg.epsilon * cfg.epsilon * h * w)
    i1s = torch.stack([i1, *centered_gradient(i1)], 1)                              # (N, 3, H, W)
    p = u.new_zeros(n, c, 2, h, w)
    for _ in range(cfg.warps):
        act = _Active(u, p, _warp_constants(i0, i1s, u, k["gamma"], coord_bits), check_every)
        _run_warp(act, cfg, k, threshold, kernels)
        u, p = act.result()
    return u


def _as_frames(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"frames must be (N, H, W) grey levels, got shape {tuple(x.shape)}")
    return x.to(torch.float32)


def check_config(cfg: TVL1Config) -> None:
    """Reject what OpenCV's CPU TV-L1 rejects: a median filter other than 3 or 5 on its float flow."""
    if cfg.median_filtering > 1 and cfg.median_filtering not in (3, 5):
        raise ValueError(f"flow.tvl1.median_filtering {cfg.median_filtering}: OpenCV's medianBlur on float flow "
                         "takes 3 or 5 (<= 1: off)")


def tvl1_torch(prev: torch.Tensor, nxt: torch.Tensor, cfg: TVL1Config, coord_bits: int | None = None,
               check_every: int = 1, compile: bool = False, iterate=None) -> torch.Tensor:
    """Dual TV-L1 flow ``(N, H, W, 2)`` float32 (dx, dy) from ``prev`` to ``nxt``, ``(N, H, W)`` grey 0..255.

    The same as ``cv2.optflow.DualTVL1OpticalFlow`` with ``cfg``'s parameters and no initial flow, on each pair of
    the batch (module docstring); ``uint8`` frames are accepted too. ``coord_bits=5`` reproduces OpenCV 4.x's
    remap (coordinates rounded to 1/32 px). ``check_every`` and ``compile`` change the speed only:
    :class:`_Active` and :func:`compiled_kernels`; ``iterate`` replaces the inner iteration (:func:`_iterate`,
    e.g. to count the work done).
    """
    prev, nxt = _as_frames(prev), _as_frames(nxt)
    if prev.shape != nxt.shape:
        raise ValueError(f"prev and next differ in shape: {tuple(prev.shape)} vs {tuple(nxt.shape)}")
    check_config(cfg)
    n, h, w = prev.shape
    sizes = pyramid_sizes(h, w, cfg.nscales, cfg.scale_step)
    i0s, i1s = [prev], [nxt]
    for size in sizes[1:]:
        i0s.append(resize_linear(i0s[-1], size, cfg.scale_step))
        i1s.append(resize_linear(i1s[-1], size, cfg.scale_step))
    u = prev.new_zeros(n, 3 if cfg.gamma != 0 else 2, *sizes[-1])
    kernels = compiled_kernels() if compile else Kernels()
    kernels = dc.replace(kernels, iterate=iterate) if iterate else kernels
    up = f32(1.0 / cfg.scale_step)
    for s in range(len(sizes) - 1, -1, -1):
        u = solve_level(i0s[s], i1s[s], u, cfg, coord_bits, check_every, kernels)
        if s:
            u = resize_linear(u, sizes[s - 1])
            u = torch.cat([u[:, :2] * up, u[:, 2:]], 1)                            # u3 is not scaled
    return u[:, :2].permute(0, 2, 3, 1).contiguous()


def flow_tvl1_torch(prev_gray: np.ndarray, next_gray: np.ndarray, cfg: TVL1Config) -> np.ndarray:
    """The per-pair API of ``compute_flow`` (``flow.method: tvl1-torch``): two ``(H, W)`` uint8 grey frames ->
    ``(H, W, 2)`` float32, on the CPU (batch pairs with :func:`tvl1_torch` to use a GPU)."""
    if prev_gray.ndim != 2 or prev_gray.shape != next_gray.shape:
        raise ValueError(f"flow needs two (H, W) grey frames of one size, got {prev_gray.shape} and {next_gray.shape}")
    prev, nxt = (torch.from_numpy(np.ascontiguousarray(a))[None] for a in (prev_gray, next_gray))
    return tvl1_torch(prev, nxt, cfg)[0].numpy()
