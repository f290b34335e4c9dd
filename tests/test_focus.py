"""Focused crops: input-gradient saliency, box search, geometry / back-mapping, focused and upscaled views."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from attdistill.data import transforms as TF
from attdistill.focus.box import (ClipGeometry, best_box, box_sums, center_box, focused_view, pixel_box,
                                  random_box, source_box, upscaled_view)
from attdistill.focus.saliency import input_gradient, objective, reduce_saliency, saliency


# --------------------------------------------------------------------------------------------- saliency
class TinyNet(nn.Module):
    """Conv3d -> BN -> tanh -> mean over (T, H, W) -> Linear: smooth, so finite differences are accurate."""

    def __init__(self, k: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 5, (2, 3, 3), padding=(0, 1, 1))
        self.bn = nn.BatchNorm3d(5)
        self.fc = nn.Linear(5, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (N, 3, T, H, W) -> (N, K)
        return self.fc(torch.tanh(self.bn(self.conv(x))).mean((2, 3, 4)))


def _tiny(seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    net = TinyNet().double()
    with torch.no_grad():                    # non-trivial running statistics, so eval mode matters
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.conv.weight.mul_(3.0)
    return net


@pytest.mark.parametrize("kind,activation", list(itertools.product(("entropy", "ce"), ("softmax", "sigmoid"))))
def test_saliency_matches_finite_differences(kind, activation):
    net = _tiny()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 2, 3, 4, dtype=torch.float64, generator=gen)
    target = torch.tensor([1, 3]) if activation == "softmax" else torch.tensor([[1., 0, 0, 1], [0, 1, 0, 0]])
    jac = input_gradient(net, x, kind, activation, target)

    net.eval()
    f = lambda v: float(objective(net(v), kind, activation, target))   # noqa: E731
    eps = 1e-6
    fd = torch.zeros_like(x)
    flat, out = x.clone().view(-1), fd.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = float(flat[i])
            flat[i] = old + eps
            up = f(flat.view_as(x))
            flat[i] = old - eps
            down = f(flat.view_as(x))
            flat[i] = old
            out[i] = (up - down) / (2 * eps)
    assert fd.abs().max() > 1e-3                        # a real signal, not two zero tensors
    torch.testing.assert_close(jac, fd, rtol=1e-5, atol=1e-8)
    expected = fd.pow(2).sum(1).sqrt().amax(1)          # L2 over RGB, then max over time
    torch.testing.assert_close(reduce_saliency(jac), expected, rtol=1e-5, atol=1e-8)
    assert saliency(net, x, kind, activation, target).shape == (2, 3, 4)


def test_saliency_leaves_the_network_frozen():
    net = _tiny()
    net.train()
    net.fc.eval()                                       # a submodule deliberately in eval mode stays so
    stats = (net.bn.running_mean.clone(), net.bn.running_var.clone(), int(net.bn.num_batches_tracked))
    x = torch.randn(3, 3, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():                               # callable from a no-grad evaluation loop
        s = saliency(net, x, "entropy", "softmax")
    assert s.shape == (3, 4, 4) and (s >= 0).all() and s.max() > 0
    assert all(p.grad is None for p in net.parameters())
    assert net.training and net.conv.training and net.bn.training and not net.fc.training
    torch.testing.assert_close(net.bn.running_mean, stats[0])
    torch.testing.assert_close(net.bn.running_var, stats[1])
    assert int(net.bn.num_batches_tracked) == stats[2]
    # each clip's map is its own: the same as computed alone (summed loss, eval-mode batch norm)
    torch.testing.assert_close(saliency(net, x[1:2], "entropy", "softmax")[0], s[1])


def test_objective_by_hand():
    z = torch.zeros(2, 4)
    # uniform softmax: Σ p log p = log(1/4) per clip; sigmoid(0) = 1/2 for each of 4 classes: 4 · ½ log ½ per clip
    assert float(objective(z, "entropy", "softmax")) == pytest.approx(2 * np.log(0.25))
    assert float(objective(z, "entropy", "sigmoid")) == pytest.approx(2 * 4 * 0.5 * np.log(0.5))
    assert float(objective(z, "ce", "softmax", torch.tensor([0, 2]))) == pytest.approx(2 * np.log(4))
    assert float(objective(z, "ce", "sigmoid", torch.ones(2, 4))) == pytest.approx(8 * np.log(2))
    with pytest.raises(ValueError, match="needs the labels"):
        objective(z, "ce", "softmax")
    with pytest.raises(ValueError, match="objective"):
        objective(z, "kl", "softmax")


# --------------------------------------------------------------------------------------------- box search
def _brute(s: np.ndarray, side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """All box sums by loops, and the documented choice: max, nearest the centre, then row-major first."""
    h, w = s.shape
    sums = np.array([[s[i:i + side, j:j + side].sum() for j in range(w - side + 1)] for i in range(h - side + 1)])
    best = max(((i, j) for i in range(sums.shape[0]) for j in range(sums.shape[1])),
               key=lambda p: (sums[p], -((2 * p[0] + side - h) ** 2 + (2 * p[1] + side - w) ** 2), -p[0], -p[1]))
    return sums, best


@pytest.mark.parametrize("shape,side", [((9, 11), 4), ((7, 7), 7), ((6, 10), 1), ((12, 8), 5)])
def test_box_search_matches_brute_force_on_random_maps(shape, side):
    rng = np.random.default_rng(sum(shape) + side)
    maps = rng.random((4, *shape)).astype(np.float32)
    sums = box_sums(torch.from_numpy(maps), side).numpy()
    got = best_box(torch.from_numpy(maps), side).numpy()
    for n in range(4):
        ref, (i, j) = _brute(maps[n].astype(np.float64), side)
        np.testing.assert_allclose(sums[n], ref, rtol=1e-12)
        assert tuple(got[n]) == (i, j)


def test_box_search_ties_are_broken_as_documented():
    rng = np.random.default_rng(3)
    maps = rng.integers(0, 3, (20, 8, 9)).astype(np.float32)   # small integers: many exact ties
    got = best_box(torch.from_numpy(maps), 3).numpy()
    for n in range(20):
        assert tuple(got[n]) == _brute(maps[n].astype(np.float64), 3)[1]
    # an all-zero map (e.g. a saturated softmax) gives the centre box; odd margins round towards the top-left
    zero = torch.zeros(2, 6, 9)
    assert best_box(zero, 3).tolist() == [list(center_box(6, 9, 3))] * 2 == [[1, 3]] * 2
    # two equal peaks: the one nearer the centre wins, whichever comes first in row-major order
    peaks = torch.zeros(1, 10, 10)
    peaks[0, 0, 0] = peaks[0, 6, 6] = 1.0
    assert best_box(peaks, 2).tolist() == [[5, 5]]


def test_box_search_rejects_bad_input():
    with pytest.raises(ValueError, match="does not fit"):
        best_box(torch.zeros(1, 4, 4), 5)
    with pytest.raises(ValueError, match="NaN"):
        best_box(torch.full((1, 4, 4), float("nan")), 2)


def test_center_and_random_boxes_lie_inside():
    assert center_box(10, 13, 4) == (3, 4)
    rng = np.random.default_rng(0)
    boxes = [random_box(rng, 10, 13, 4) for _ in range(200)]
    assert all(0 <= t <= 6 and 0 <= l <= 9 for t, l in boxes)
    assert {t for t, _ in boxes} == set(range(7)) and {l for _, l in boxes} == set(range(10))
    assert boxes[:5] == [random_box(r, 10, 13, 4) for r in [np.random.default_rng(0)] for _ in range(5)]


# --------------------------------------------------------------------------------------------- geometry
def test_geometry_by_hand_and_round_trip():
    g = ClipGeometry(source=(100, 120), crop=(10, 20, 80, 80), size=(40, 40), flip=True)
    # unflip: x = 40 - 6 - 10 = 24; then scale by 80/40 = 2 and shift by the crop corner
    assert g.inverse((4, 6, 10, 10)) == (18.0, 68.0, 20.0, 20.0)
    assert g.forward((18.0, 68.0, 20.0, 20.0)) == (4.0, 6.0, 10.0, 10.0)
    h = ClipGeometry(source=(90, 160), crop=(5, 37, 72, 72), size=(32, 32), flip=False)
    box = (3.0, 11.0, 14.0, 14.0)
    np.testing.assert_allclose(h.forward(h.inverse(box)), box)
    with pytest.raises(ValueError, match="outside"):
        ClipGeometry(source=(50, 50), crop=(10, 10, 45, 20), size=(16, 16), flip=False)


def test_pixel_box_rounds_and_clamps():
    assert pixel_box((2.5, 3.49, 10.5, 9.6), 40, 40) == (3, 3, 11, 10)   # half up, independently
    assert pixel_box((35.0, -2.0, 10.0, 10.0), 40, 40) == (30, 0, 10, 10)  # shifted inside
    assert pixel_box((0.0, 0.0, 50.0, 0.2), 40, 30) == (0, 0, 40, 1)       # clamped to [1, side]


def _ramp(t: int, h: int, w: int) -> np.ndarray:
    """float32 (T, H, W, 3) frames whose channels are the pixel's x and y index (and 0): a linear ramp, which
    bilinear resizing reproduces exactly inside the frame."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.broadcast_to(np.stack([x, y, np.zeros_like(x)], -1), (t, h, w, 3)).copy()


def test_back_mapping_lands_on_the_original_pixels():
    frames = _ramp(2, 60, 80)
    g = ClipGeometry(source=(60, 80), crop=(6, 10, 48, 48), size=(32, 32), flip=True)
    x_in = TF.hflip(TF.resize(TF.crop(frames, (6, 10, 48, 48)), 32))    # the project's own transforms
    top, left, side = 5, 7, 12
    patch = x_in[:, top:top + side, left:left + side]                   # what the box sees in the input
    y, x, h, w = g.inverse((top, left, side, side))
    half = 1.5 / 2                                                      # half an input pixel, in source pixels
    # centres of the box's first / last input pixels, in source pixel-index coordinates (centre = edge - 0.5)
    np.testing.assert_allclose([patch[..., 1].min(), patch[..., 1].max()], [y + half - .5, y + h - half - .5],
                               atol=1e-4)
    np.testing.assert_allclose([patch[..., 0].min(), patch[..., 0].max()], [x + half - .5, x + w - half - .5],
                               atol=1e-4)
    # the flip: the box's left input column shows the right end of the source region
    np.testing.assert_allclose(patch[0, 0, 0, 0], x + w - half - .5, atol=1e-4)


def test_focused_view_recuts_the_full_resolution_frames():
    raw = _ramp(2, 120, 160)                                           # stored at twice the training resolution
    g = ClipGeometry(source=(60, 80), crop=(6, 10, 48, 48), size=(32, 32), flip=True)
    box = (4, 6, 16, 16)
    # inverse: unflip x = 32 - 6 - 16 = 10; source (6 + 4·1.5, 10 + 10·1.5, 24, 24) = (12, 25, 24, 24); raw ×2
    assert source_box(box, g, (120, 160)) == (24, 50, 48, 48)
    view = focused_view(raw, box, g)
    assert view.shape == (2, 32, 32, 3)
    i, j = np.mgrid[0:32, 0:32]
    s = 48 / 32
    np.testing.assert_allclose(view[0, ..., 1], 24 + (i + .5) * s - .5, atol=1e-4)
    np.testing.assert_allclose(view[0, ..., 0], 50 + (31 - j + .5) * s - .5, atol=1e-4)   # flipped back again
    # colour factors are applied like the dataset's jitter (here on a uint8 clip)
    u8 = np.full((1, 40, 40, 3), 100, np.uint8)
    flat = ClipGeometry(source=(40, 40), crop=(0, 0, 40, 40), size=(20, 20), flip=False)
    assert (focused_view(u8, (0, 0, 10, 10), flat, color=(1.5, 1.0, 1.0)) == 150).all()


def test_focused_box_finds_a_small_actor_end_to_end():
    raw = np.zeros((3, 120, 160, 3), np.uint8)
    raw[:, 70:90, 30:50] = 255                                         # the actor, in raw (full-res) pixels
    stored = TF.resize(raw, (60, 80))
    g = ClipGeometry(source=(60, 80), crop=(4, 8, 52, 52), size=(26, 26), flip=True)
    x_in = TF.hflip(TF.resize(TF.crop(stored, g.crop), 26))
    sal = torch.from_numpy(TF.normalize(x_in).mean(-1).max(0) + 1.0)[None]   # brightness as a stand-in saliency
    top, left = best_box(sal, 8)[0].tolist()
    y0, x0, h, w = source_box((top, left, 8, 8), g, raw.shape[1:3])
    assert (h, w) == (32, 32)
    assert y0 <= 70 and y0 + h >= 90 and x0 <= 30 and x0 + w >= 50   # the whole actor is in the focused crop
    view = focused_view(raw, (top, left, 8, 8), g)
    assert view.shape == (3, 26, 26, 3) and (view == 255).mean() > 0.25   # zoomed in: 20²/32² of the view


def test_upscaled_view_matches_the_project_resize():
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.random((2, 3, 2, 16, 16), dtype=np.float32))
    corners = torch.tensor([[2, 5], [8, 0]])
    out = upscaled_view(x, corners, 6)
    assert out.shape == x.shape
    for n, (t, l) in enumerate(corners.tolist()):
        clip = x[n].permute(1, 2, 3, 0).numpy()                        # (T, H, W, C)
        ref = TF.resize(TF.crop(clip, (t, l, 6, 6)), 16)
        np.testing.assert_allclose(out[n].permute(1, 2, 3, 0).numpy(), ref, atol=1e-5)
    with pytest.raises(ValueError, match="outside"):
        upscaled_view(x, torch.tensor([[11, 0], [0, 0]]), 6)
