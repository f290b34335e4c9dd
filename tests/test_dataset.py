"""ClipDataset and transforms: shapes, alignment of RGB + flow, flips, colour jitter, test clips, reversal, determinism.

The packs written here encode where every value comes from (lossless png):

* RGB frame f:  R = 8 f + 4 (the frame), G = 2 x, B = y + 8 f;
* flow field f: X = 2 x,                  Y = y + 8 f.

So in an aligned RGB + flow clip, flow X == RGB G (255 - RGB G after a flip, which negates flow x) and
flow Y == RGB B exactly, and R tells which RGB frame each clip frame is.
"""

from __future__ import annotations

import dataclasses
import pickle
import warnings

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import RandomSampler

from attdistill.config import AugmentConfig, ClipConfig
from attdistill.data import transforms as TF
from attdistill.data.dataset import (ClipDataset, all_clip_starts, clip_indices, collate_test, make_generator,
                                     make_loader)
from attdistill.data.index import VideoIndex, VideoRecord
from attdistill.data.packs import write_pack

H, W = 40, 48
T = 4
CLIP = ClipConfig(frames=T, crop=32)
AUG = AugmentConfig(flip=True, color_jitter=0.0, scale_jitter=(0.6, 1.0))
LENGTHS = {"train": [12, 9, 10, 11, 12, 6], "test": [12, 9, 3]}   # 3 frames: shorter than T + 1 (padded)
CLASSES = ["left", "right", "up", "down"]
FLIP_MAP = [1, 0, 2, 3]


def rgb_frame(f: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([np.full((H, W), 8 * f + 4), 2 * xx, yy + 8 * f], -1).astype(np.uint8)


def flow_field(f: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([2 * xx, yy + 8 * f], -1).astype(np.uint8)


def rev_field(j: int) -> np.ndarray:
    """A reversed-flow pack field with its own signature: X = 200 + j, Y = 3 j."""
    return np.stack([np.full((H, W), 200 + j), np.full((H, W), 3 * j)], -1).astype(np.uint8)


def make_index(flip_map=FLIP_MAP, flip_invariant=False) -> VideoIndex:
    videos = []
    for split, lens in LENGTHS.items():
        for k, _ in enumerate(lens):
            vid = f"c{k % 4}/{split}_{k:02d}"
            videos.append(VideoRecord(vid, vid + ".avi", k % 4, split))
    return VideoIndex("unit", "videos", CLASSES, videos, flip_map=flip_map, flip_invariant=flip_invariant)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("packs")
    for v in make_index().videos:
        n = LENGTHS[v.split][int(v.video_id[-2:])]
        write_pack(root / "frames" / f"{v.video_id}.pack", [rgb_frame(f) for f in range(n)], "png")
        write_pack(root / "flow" / f"{v.video_id}.pack", [flow_field(f) for f in range(n - 1)], "png")
        if v.split == "test":
            write_pack(root / "flow_reversed" / f"{v.video_id}.pack", [rev_field(j) for j in range(n - 1)], "png")
    return root


def make_ds(root, split="train", modality="rgb+flow", clip=CLIP, augment=AUG, index=None, **kw) -> ClipDataset:
    return ClipDataset(index or make_index(), split, modality, clip, augment, frames_dir=root / "frames",
                       flow_dir=root / "flow", flow_reversed_dir=root / "flow_reversed", **kw)


def q(x: torch.Tensor) -> np.ndarray:
    """Back from [-1, 1] to the uint8 code (exact: x = q / 127.5 - 1)."""
    return np.round((x.numpy().astype(np.float64) + 1) * 127.5).astype(np.int64)


# --------------------------------------------------------------------------------------------- shapes, ranges
@pytest.mark.parametrize("modality", ["rgb", "flow", "rgb+flow"])
def test_train_shapes_and_ranges(root, modality):
    ds = make_ds(root, modality=modality)
    assert len(ds) == len(LENGTHS["train"])
    item = ds[0]
    keys = {"rgb+flow": {"rgb", "flow"}}.get(modality, {modality})
    assert keys <= set(item) and not ({"rgb", "flow"} - keys) & set(item)
    for k in keys:
        x = item[k]
        assert x.dtype == torch.float32 and x.shape == ((3 if k == "rgb" else 2), T, 32, 32)
        assert x.min() >= -1 and x.max() <= 1
    assert isinstance(item["label"], int) and item["index"] == 0 and item["video_id"] == ds.videos[0].video_id


@pytest.mark.parametrize("modality", ["rgb", "flow", "rgb+flow"])
def test_test_shapes_and_ranges(root, modality):
    ds = make_ds(root, "test", modality=modality)
    assert not ds.train
    item = ds[0]                                     # 12 frames, T = 4: starts 0, 4, 7
    assert item["starts"] == [0, 4, 7]
    for k in ("rgb", "flow"):
        if k in modality:
            assert item[k].shape == (3, (3 if k == "rgb" else 2), T, H, W)   # full stored frames
            assert item[k].min() >= -1 and item[k].max() <= 1
    assert item["label"] == ds.videos[0].label


def test_invalid_arguments(root):
    with pytest.raises(ValueError, match="rgb, flow, rgb\\+flow"):
        make_ds(root, modality="depth")
    with pytest.raises(ValueError, match="backward, negate"):
        make_ds(root, reverse_flow="forward")
    with pytest.raises(ValueError, match="1, 3"):
        make_ds(root, "test", crops=5)


def test_scaling_matches_flow_bound():
    bound = 20.0
    f = np.array([-20.0, -7.5, 0.0, 3.25, 20.0])
    qz = np.round((np.clip(f, -bound, bound) + bound) * 255 / (2 * bound)).astype(np.uint8)
    np.testing.assert_allclose(TF.normalize(qz), f / bound, atol=0.5 / 127.5 + 1e-6)  # half a quantisation step
    clip = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(2, 3, 4, 5)
    x = TF.to_tensor(clip)
    assert x.shape == (5, 2, 3, 4) and x.is_contiguous()
    np.testing.assert_allclose(x.numpy(), TF.normalize(clip).transpose(3, 0, 1, 2), atol=1e-6)


# --------------------------------------------------------------------------------------------- alignment, flip
def _check_aligned(item, flipped: bool, start: int | None = None):
    rgb, flow = q(item["rgb"]), q(item["flow"])          # (3, T, S, S), (2, T, S, S)
    g, b = rgb[1], rgb[2]
    if flipped:
        np.testing.assert_array_equal(flow[0], 255 - g)   # flip negates flow x ...
    else:
        np.testing.assert_array_equal(flow[0], g)
    np.testing.assert_array_equal(flow[1], b)             # ... and never flow y
    frames = (rgb[0][:, 0, 0] - 4) // 8                   # R = 8 f + 4 is constant over the frame
    assert np.all(rgb[0] == rgb[0][:, :1, :1])
    if start is not None:
        np.testing.assert_array_equal(frames, start + np.arange(T))
    return frames


def _is_flipped(item) -> bool:
    g = q(item["rgb"])[1, 0]                               # G = 2x ramp: increasing unless flipped
    return bool(g[:, 0].mean() > g[:, -1].mean())


def test_rgb_and_flow_share_frames_crop_and_flip(root):
    ds = make_ds(root)
    seen = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            flipped = _is_flipped(item)
            frames = _check_aligned(item, flipped)
            n = LENGTHS["train"][i]
            assert frames[0] <= n - 1 - T and np.all(np.diff(frames) == 1)   # a usable start, consecutive
            label = ds.videos[i].label
            assert item["label"] == (FLIP_MAP[label] if flipped else label)   # flip applies the label map
            seen.add(flipped)
    assert seen == {True, False}


def test_flip_is_exact_on_an_unresized_crop(root):
    # scale 1 on a 40 x 48 frame: a 40 x 40 crop resized to 40 -> values are the stored ones, flipped exactly.
    ds = make_ds(root, clip=ClipConfig(frames=T, crop=H), augment=dataclasses.replace(AUG, scale_jitter=(1.0, 1.0)))
    flips = 0
    for k in range(2 * len(ds)):
        ds.set_epoch(k // len(ds))
        item = ds[k % len(ds)]
        g = q(item["rgb"])[1, 0, 0]
        x0 = g[0] // 2 if not _is_flipped(item) else g[-1] // 2
        ramp = 2 * (x0 + np.arange(H))
        if _is_flipped(item):
            flips += 1
            np.testing.assert_array_equal(g, ramp[::-1])
            np.testing.assert_array_equal(q(item["flow"])[0, 0, 0], 255 - ramp[::-1])
        else:
            np.testing.assert_array_equal(g, ramp)
    assert 0 < flips < 2 * len(ds)


def test_resize_is_per_frame_bilinear():
    rng = np.random.default_rng(0)
    for c in (2, 3):
        clip = rng.integers(0, 256, (3, 20, 30, c), dtype=np.uint8)
        out = TF.resize(TF.crop(clip, (2, 5, 16, 16)), 24)
        assert out.shape == (3, 24, 24, c) and out.dtype == np.uint8
        for k in range(3):
            want = cv2.resize(np.ascontiguousarray(clip[k, 2:18, 5:21]), (24, 24), interpolation=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(out[k], want)
    with pytest.raises(ValueError, match="outside"):
        TF.crop(clip, (10, 0, 16, 16))


def test_hflip_negates_flow_x_only():
    flow = np.stack([np.tile(np.arange(5, dtype=np.uint8), (2, 3, 1)),
                     np.full((2, 3, 5), 17, np.uint8)], -1)              # (T=2, H=3, W=5, 2)
    out = TF.hflip(flow, is_flow=True)
    np.testing.assert_array_equal(out[..., 0], 255 - flow[:, :, ::-1, 0])
    np.testing.assert_array_equal(out[..., 1], flow[:, :, ::-1, 1])
    rgb = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(TF.hflip(rgb), rgb[:, :, ::-1])
    np.testing.assert_array_equal(TF.negate_flow(TF.negate_flow(flow)), flow)
    np.testing.assert_array_equal(TF.to_float(out), TF.to_float(TF.hflip(flow), negate=(0,)))   # fused path


def test_no_flip_without_a_flip_map(root):
    index = make_index(flip_map=None, flip_invariant=False)
    with pytest.warns(UserWarning, match="flip"):
        ds = make_ds(root, index=index)
    assert ds.flip is False and "flip_map" in ds.flip_disabled_reason
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            assert not _is_flipped(item)
            assert item["label"] == ds.videos[i].label
            _check_aligned(item, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = make_ds(root, index=make_index(flip_map=None, flip_invariant=True))   # flip-invariant: allowed
    assert ds.flip is True


def test_color_jitter_changes_rgb_never_flow(root):
    jit = make_ds(root, augment=dataclasses.replace(AUG, color_jitter=0.5))
    plain = make_ds(root, augment=AUG)
    flow_only = make_ds(root, modality="flow", augment=dataclasses.replace(AUG, color_jitter=0.5))
    changed = 0
    for i in range(len(jit)):
        a, b, c = jit[i], plain[i], flow_only[i]
        assert torch.equal(a["flow"], b["flow"]) and torch.equal(a["flow"], c["flow"])
        changed += not torch.equal(a["rgb"], b["rgb"])
        assert a["label"] == b["label"] == c["label"]
    assert changed == len(jit)


def test_color_jitter_function():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 8, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(TF.color_jitter(clip, 1.0, 1.0, 1.0), clip)               # identity
    gray = np.full((2, 4, 4, 3), 100, np.uint8)
    np.testing.assert_array_equal(TF.color_jitter(gray, 1.0, 1.5, 0.3), gray)              # grey is fixed
    np.testing.assert_array_equal(TF.color_jitter(gray, 1.2, 1.0, 1.0), gray + 20)         # brightness
    out = TF.color_jitter(clip, 1.0, 1.0, 0.0)                                              # desaturate
    assert np.abs(out.astype(int) - out[..., :1]).max() <= 1
    f = TF.color_jitter(clip.astype(np.float32), 1.1, 0.9, 1.2)
    u = TF.color_jitter(clip, 1.1, 0.9, 1.2)
    assert f.dtype == np.float32 and np.abs(np.round(f) - u).max() <= 1
    a, b, c = TF.sample_color_factors(np.random.default_rng(1), 0.2)
    assert all(0.8 <= v <= 1.2 for v in (a, b, c))


# --------------------------------------------------------------------------------------------- test clips
@pytest.mark.parametrize("n", [3, 5, 6, 8, 9, 12, 13])
def test_clip_starts_cover_every_usable_frame(n):
    starts = all_clip_starts(T, n)
    assert starts[0] == 0 and all(0 <= s <= max(n - 1 - T, 0) for s in starts)
    covered = set()
    for s in starts:
        rgb, flow = clip_indices(s, T, n)
        assert len(rgb) == T and rgb.max() <= n - 1 and flow.max() <= n - 2
        covered |= set(flow.tolist())
    assert covered == set(range(n - 1))                   # every frame with an outgoing flow field


def test_test_items_cover_every_usable_frame(root):
    ds = make_ds(root, "test")
    for i in range(len(ds)):
        item = ds[i]
        n = LENGTHS["test"][i]
        frames = set()
        for j, s in enumerate(item["starts"]):
            clip = {k: item[k][j] for k in ("rgb", "flow")}
            if n >= T + 1:
                got = _check_aligned(clip, False)
            else:                                         # padded (see the next test)
                got = (q(clip["rgb"])[0][:, 0, 0] - 4) // 8
            want = np.minimum(s + np.arange(T), n - 1)
            np.testing.assert_array_equal(got, want)
            frames |= set(got.tolist())
        assert set(range(n - 1)) <= frames


def test_short_video_is_padded_with_its_last_frame(root):
    ds = make_ds(root, "test", modality="rgb+flow")
    item = ds[2]                                          # 3 frames, 2 flow fields, T = 4
    assert item["starts"] == [0]
    r = q(item["rgb"][0])
    np.testing.assert_array_equal((r[0][:, 0, 0] - 4) // 8, [0, 1, 2, 2])
    fy = q(item["flow"][0])[1][:, 0, 0]                  # Y = y + 8 f at y = 0
    np.testing.assert_array_equal(fy // 8, [0, 1, 1, 1])


def test_three_crops_are_squares_at_start_centre_end(root):
    assert TF.three_crop_boxes(40, 48) == [(0, 0, 40, 40), (0, 4, 40, 40), (0, 8, 40, 40)]
    assert TF.three_crop_boxes(48, 40) == [(0, 0, 40, 40), (4, 0, 40, 40), (8, 0, 40, 40)]
    ds = make_ds(root, "test", crops=3)
    item = ds[0]
    n_clips = len(item["starts"])
    assert item["rgb"].shape == (3 * n_clips, 3, T, 40, 40) and item["flow"].shape == (3 * n_clips, 2, T, 40, 40)
    for j in range(n_clips):
        for c, x0 in enumerate((0, 4, 8)):
            v = j * 3 + c                                  # clip-major
            g = q(item["rgb"][v])[1, 0, 0]
            np.testing.assert_array_equal(g, 2 * (x0 + np.arange(40)))
            frames = _check_aligned({k: item[k][v] for k in ("rgb", "flow")}, False)
            assert frames[0] == item["starts"][j]


def test_collate_test(root):
    ds = make_ds(root, "test")
    items = [ds[0], ds[2]]
    b = collate_test(items)
    k0, k1 = len(items[0]["rgb"]), len(items[1]["rgb"])
    assert b["rgb"].shape[0] == k0 + k1 and b["flow"].shape[0] == k0 + k1
    assert b["video"].tolist() == [0] * k0 + [1] * k1
    assert b["label"].tolist() == [items[0]["label"], items[1]["label"]] and b["crops"] == [1, 1]
    assert b["video_id"] == [ds.videos[0].video_id, ds.videos[2].video_id]


# --------------------------------------------------------------------------------------------- reversed time
def test_reverse_time_backward_reads_reversed_flow_pack(root):
    ds = make_ds(root, "test", reverse_time=True, reverse_flow="backward")
    for i in range(2):
        item = ds[i]
        n = LENGTHS["test"][i]
        for j, s in enumerate(item["starts"]):
            r = q(item["rgb"][j])
            np.testing.assert_array_equal((r[0][:, 0, 0] - 4) // 8, n - 1 - (s + np.arange(T)))   # reversed RGB
            fx = q(item["flow"][j])[0][:, 0, 0]
            np.testing.assert_array_equal(fx, 200 + s + np.arange(T))                              # field j of pack


def test_reverse_time_negate_approximation(root):
    ds = make_ds(root, "test", reverse_time=True, reverse_flow="negate")
    item = ds[1]
    n = LENGTHS["test"][1]
    for j, s in enumerate(item["starts"]):
        src = n - 2 - (s + np.arange(T))                   # reversed field j ~ -(forward field N-2-j)
        want = np.stack([flow_field(f) for f in src])      # (T, H, W, 2)
        fl = q(item["flow"][j])                            # (2, T, H, W)
        np.testing.assert_array_equal(fl[0], 255 - want[..., 0])
        np.testing.assert_array_equal(fl[1], 255 - want[..., 1])


def test_reverse_backward_without_reversed_pack_is_a_clear_error(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="flow.reverse=backward"):
        ClipDataset(make_index(), "test", "flow", CLIP, AUG, frames_dir=root / "frames", flow_dir=root / "flow",
                    flow_reversed_dir=tmp_path / "nothing", reverse_time=True)
    ds = ClipDataset(make_index(), "test", "flow", CLIP, AUG, frames_dir=root / "frames", flow_dir=root / "flow",
                     flow_reversed_dir=tmp_path / "nothing", reverse_time=True, reverse_flow="negate")
    assert ds[0]["flow"].shape[1:] == (2, T, H, W)


# --------------------------------------------------------------------------------------------- determinism
def test_same_seed_epoch_index_gives_identical_items(root):
    a, b = make_ds(root, seed=3), make_ds(root, seed=3, cache=True)
    a.set_epoch(5)
    b.set_epoch(5)
    for i in reversed(range(len(a))):                     # any order, cached or not
        x, y = a[i], b[i]
        assert torch.equal(x["rgb"], y["rgb"]) and torch.equal(x["flow"], y["flow"]) and x["label"] == y["label"]
    for i in range(len(a)):                                # the cache is never modified in place
        x, y = a[i], b[i]
        assert torch.equal(x["rgb"], y["rgb"]) and torch.equal(x["flow"], y["flow"])
    for v in b.videos:
        np.testing.assert_array_equal(b._decoded[root / "flow" / f"{v.video_id}.pack"][:2],
                                      np.stack([flow_field(0), flow_field(1)]))
    # Each modality draws the same random stream: an RGB dataset sees the RGB of the rgb+flow dataset.
    r = make_ds(root, modality="rgb", seed=3)
    r.set_epoch(5)
    assert torch.equal(r[1]["rgb"], a[1]["rgb"])


def test_different_epoch_or_seed_gives_a_different_crop(root):
    ds = make_ds(root)
    ds.set_epoch(0)
    e0 = [ds[i]["rgb"] for i in range(len(ds))]
    ds.set_epoch(1)
    e1 = [ds[i]["rgb"] for i in range(len(ds))]
    assert sum(not torch.equal(x, y) for x, y in zip(e0, e1)) >= len(ds) - 1
    other = make_ds(root, seed=1)
    assert sum(not torch.equal(other[i]["rgb"], e0[i]) for i in range(len(ds))) >= len(ds) - 1
    box = [TF.sample_crop_box(np.random.default_rng((0, e, 0)), H, W, (0.6, 1.0)) for e in range(4)]
    assert len(set(box)) > 1 and all(0 <= y0 and 0 <= x0 and y0 + h <= H and x0 + w <= W and h == w
                                     for y0, x0, h, w in box)


def _batches(ds, workers):
    loader = make_loader(ds, 2, RandomSampler(ds, generator=make_generator(7)), workers, seed=7)
    return list(loader)


@pytest.mark.parametrize("cache", [False, True])
def test_identical_batches_with_0_and_2_workers(root, cache):
    ds = make_ds(root, augment=dataclasses.replace(AUG, color_jitter=0.3), cache=cache)
    ds.set_epoch(2)
    b0, b2 = _batches(ds, 0), _batches(ds, 2)
    assert len(b0) == len(b2) == 3
    for x, y in zip(b0, b2):
        assert torch.equal(x["rgb"], y["rgb"]) and torch.equal(x["flow"], y["flow"])
        assert torch.equal(x["label"], y["label"]) and x["video_id"] == y["video_id"]


def test_pickles_without_file_handles_and_preloads(root):
    ds = make_ds(root)
    first = ds[0]
    assert ds._handles                                     # opened lazily, in this process
    clone = pickle.loads(pickle.dumps(ds))                 # what a spawned worker receives
    assert not clone._handles and torch.equal(clone[0]["rgb"], first["rgb"])
    ds.preload()
    assert ds.cache and len(ds._decoded) == 2 * len(ds) and torch.equal(ds[0]["flow"], first["flow"])


# --------------------------------------------------------------------------------------------- exclude, errors
def test_exclude_drops_videos(root):
    ids = [v.video_id for v in make_index().split("train")]
    ds = make_ds(root, exclude=[ids[1], ids[3], "not/a/video"])
    assert len(ds) == len(ids) - 2 and [v.video_id for v in ds.videos] == [ids[0], ids[2], ids[4], ids[5]]
    assert ds[1]["video_id"] == ids[2] and ds.excluded == sorted([ids[1], ids[3]])


def test_missing_pack_names_the_file_and_the_skip_report(root, tmp_path):
    index = make_index()
    extra = VideoRecord("c0/ghost", "c0/ghost.avi", 0, "train")
    index.videos.append(extra)
    with pytest.raises(FileNotFoundError) as exc:
        make_ds(root, index=index)
    msg = str(exc.value)
    assert "c0/ghost.pack" in msg and "skipped" in msg and "exclude" in msg
    assert len(make_ds(root, index=index, exclude=["c0/ghost"])) == len(LENGTHS["train"])
