"""The embedded synthetic benchmark: format, determinism, boxes, time symmetry and no static shortcut."""

from __future__ import annotations

import dataclasses

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import cv2
import decord
import numpy as np
import pytest
from scipy.stats import binom, ks_2samp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from attdistill.config import MOTION_PAIRS
from attdistill.data import boxes as B
from attdistill.data import synthetic as S
from attdistill.data.ucf101 import parse_ucf101
from params import DEFAULT

SYN = DEFAULT.synthetic                       # the repository's params.yaml; tests change what they are about
ALL_MOTIONS = ("left", "right", "up", "down", "toward", "away", "cw", "ccw")
PAIR_ID = {"left": 0, "right": 0, "up": 1, "down": 1, "toward": 2, "away": 2, "cw": 3, "ccw": 3}
TINY = replace(SYN, kinds=("disc", "star"), motions=ALL_MOTIONS, videos_per_class=3, groups=3, test_groups=1,
                    frames=8, width=64, height=48)


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    S.generate(TINY, 3, out, workers=1)
    return out


# --------------------------------------------------------------------------------------------- format
def test_determinism_and_worker_independence(tmp_path):
    cfg = replace(SYN, kinds=("square",), motions=("left", "right", "cw", "ccw"), videos_per_class=2, groups=2,
                       test_groups=1, frames=8, width=48, height=40)
    S.generate(cfg, 5, tmp_path / "a", workers=1)
    S.generate(cfg, 5, tmp_path / "b", workers=2)
    S.generate(cfg, 6, tmp_path / "c", workers=1)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len([k for k in a if k.endswith(".avi")]) == 8
    assert a == b                                                   # same seed: byte-identical, any worker count
    videos = [k for k in a if k.endswith(".avi")]
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in videos + ["boxes.json", "synthetic.json"])
    assert a["trainlist01.txt"] == c["trainlist01.txt"]            # the split does not depend on the seed
    # regenerating in place replaces the previous output and gives the same bytes
    S.generate(cfg, 5, tmp_path / "c", workers=1)
    assert _files(tmp_path / "c") == a


def test_split_and_format_through_ucf101_parser(tiny):
    idx = parse_ucf101(tiny, tiny / "videos", split=1, dataset="synthetic")
    table = S.class_table(TINY)
    assert idx.classes == [c.name for c in table]
    assert idx.classes[:3] == ["DiscLeft", "DiscRight", "DiscUp"] and "StarCounterClockwise" in idx.classes
    assert all(c.isalnum() for c in idx.classes)                    # CamelCase, no underscores
    # classInd is 1-indexed; trainlist labels are 1-based and agree with the folder; testlist has no labels
    lines = (tiny / "classInd.txt").read_text().split("\n")
    assert lines[0].strip() == "1 DiscLeft"
    for line in (tiny / "trainlist01.txt").read_text().splitlines():
        path, label = line.split()
        assert idx.classes[int(label) - 1] == path.split("/")[0]
    assert all(len(line.split()) == 1 for line in (tiny / "testlist01.txt").read_text().splitlines())
    # every video on disk is in exactly one list; groups g01..g0k are test, the rest train, none in both
    on_disk = sorted(p.relative_to(tiny / "videos").as_posix() for p in (tiny / "videos").rglob("*.avi"))
    listed = sorted(v.path for v in idx.videos)
    assert on_disk == listed and len(listed) == len(set(listed)) == len(table) * TINY.videos_per_class
    for v in idx.videos:
        assert v.split == ("test" if v.group == "g01" else "train")
        assert v.video_id == f"{idx.classes[v.label]}/v_{idx.classes[v.label]}_{v.group}_c01"
    groups = {}
    for v in idx.videos:
        groups.setdefault((v.label, v.group), set()).add(v.split)
    assert all(len(s) == 1 for s in groups.values())
    meta = json.loads((tiny / "synthetic.json").read_text())
    assert meta["seed"] == 3 and meta["config"]["frames"] == 8 and meta["test_groups"] == ["g01"]
    cls = {c["name"]: c for c in meta["classes"]}
    assert cls["DiscLeft"]["pair"] == "DiscRight" and cls["DiscLeft"]["flip"] == "DiscRight"
    assert cls["StarToward"]["pair"] == "StarAway" and cls["StarToward"]["flip"] == "StarToward"
    assert (cls["StarClockwise"]["kind"], cls["StarClockwise"]["motion"]) == ("star", "cw")


def test_build_index_maps_and_relative_root(tiny, monkeypatch):
    monkeypatch.chdir(tiny.parent)
    idx = S.build_index(tiny.name, TINY)
    assert idx.root == f"{tiny.name}/videos" and idx.boxes == f"{tiny.name}/boxes.json"
    assert idx.dataset == "synthetic" and idx.metric == "mean_class" and not idx.flip_invariant
    n = idx.num_classes
    name = idx.classes
    for perm in (idx.flip_map, idx.reverse_map):
        assert sorted(perm) == list(range(n))                        # permutations
        assert [perm[perm[i]] for i in range(n)] == list(range(n))   # involutions
    flip = {name[i]: name[j] for i, j in enumerate(idx.flip_map)}
    rev = {name[i]: name[j] for i, j in enumerate(idx.reverse_map)}
    assert flip["DiscLeft"] == "DiscRight" and flip["StarClockwise"] == "StarCounterClockwise"
    assert flip["DiscUp"] == "DiscUp" and flip["StarToward"] == "StarToward" and flip["DiscAway"] == "DiscAway"
    assert rev["DiscUp"] == "DiscDown" and rev["StarToward"] == "StarAway" and rev["DiscLeft"] == "DiscRight"
    assert rev["DiscCounterClockwise"] == "DiscClockwise"
    assert idx.video_path(idx.videos[0]).is_file()
    assert idx.meta["class_motion"][idx.classes.index("StarAway")] == "away"
    with pytest.raises(ValueError, match="other synthetic parameters"):
        S.build_index(tiny.name, SYN)


def test_refuses_to_overwrite_foreign_videos_but_recovers_from_interrupted_run(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "keep.avi").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        S.generate(TINY, 0, tmp_path)
    assert (tmp_path / "videos" / "keep.avi").exists()
    with pytest.raises(FileNotFoundError, match="run generate"):
        S.build_index(tmp_path, TINY)
    (tmp_path / "synthetic.json.partial").write_text("{}")          # what an interrupted generate leaves
    cfg = replace(SYN, kinds=("disc",), motions=("cw", "ccw"), videos_per_class=2, groups=2, test_groups=1,
                       frames=8, width=40, height=32)
    S.generate(cfg, 0, tmp_path)
    assert not (tmp_path / "videos" / "keep.avi").exists() and not (tmp_path / "synthetic.json.partial").exists()
    assert len(S.build_index(tmp_path, cfg).videos) == 4


def test_decord_reads_every_video_and_pixels_match_rendering(tiny):
    idx = S.build_index(tiny, TINY)
    table = S.class_table(TINY)
    for v in idx.videos:
        vr = decord.VideoReader(str(idx.video_path(v)))
        frames = vr.get_batch(list(range(len(vr)))).asnumpy()
        assert frames.shape == (TINY.frames, TINY.height, TINY.width, 3)
        assert vr.get_avg_fps() == pytest.approx(TINY.fps)
    # colour order and quality: the decoded video is the rendering (RGB), up to XviD compression
    v = idx.videos[0]
    group, clip = int(v.group[1:]), int(v.video_id[-2:])
    spec = S.sample_video(TINY, 3, table[v.label], group, clip)
    rendered, _ = S.render_video(spec, TINY)
    decoded = decord.VideoReader(str(idx.video_path(v))).get_batch(list(range(TINY.frames))).asnumpy()
    assert cv2.PSNR(decoded, rendered) > 30
    assert cv2.PSNR(decoded[..., ::-1].copy(), rendered) < cv2.PSNR(decoded, rendered) - 3


def test_check_video_fails_loudly(tiny):
    path = next((tiny / "videos").rglob("*.avi"))
    with pytest.raises(RuntimeError, match="decord reads 8 frames"):
        S.check_video(path, TINY.frames + 1, TINY.width, TINY.height)
    with pytest.raises(RuntimeError, match="cannot"):
        S.write_video(tiny.parent / "bad.avi", np.zeros((8, 48, 64, 3), np.uint8), 24, "????")


# --------------------------------------------------------------------------------------------- boxes
def test_boxes_file_matches_actor_and_motion(tiny):
    boxes = B.load(tiny / "boxes.json")
    idx = S.build_index(tiny, TINY)
    assert set(boxes) == {v.video_id for v in idx.videos}
    motion = {c.name: c.motion for c in S.class_table(TINY)}
    for v in idx.videos:
        vb = boxes[v.video_id]
        assert (vb.width, vb.height, vb.num_frames, vb.fps) == (TINY.width, TINY.height, TINY.frames, TINY.fps)
        assert len(vb.tubes) == 1 and vb.tubes[0].label == v.label and vb.tubes[0].frames == list(range(TINY.frames))
        b = np.array(vb.tubes[0].boxes)
        assert (b[:, [0, 1]] >= 0).all() and (b[:, 2] <= TINY.width).all() and (b[:, 3] <= TINY.height).all()
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        m = motion[idx.classes[v.label]]
        step = {"left": -np.diff(cx), "right": np.diff(cx), "up": -np.diff(cy), "down": np.diff(cy),
                "toward": np.diff(np.log(area)), "away": -np.diff(np.log(area))}.get(m)
        if step is not None:
            assert (step > 0).all(), (v.video_id, step)
        if m in ("cw", "ccw"):              # rotation: the shape's centre stays; its box centre wobbles a little
            side = np.sqrt(area.mean())
            assert np.ptp(cx) < 0.25 * side and np.ptp(cy) < 0.25 * side


def test_box_encloses_exactly_the_actor_pixels():
    """The recorded box is the actor's outline: every changed pixel is inside it and it touches all four sides."""
    cfg = replace(SYN, kinds=("cross", "triangle", "star"), frames=8, camera_motion=1.0)
    for cls in S.class_table(cfg)[::3]:
        spec = S.sample_video(cfg, 0, cls, 2, 1)
        spec.objects, spec.actor = [spec.objects[spec.actor]], 0              # no occluding distractors
        frames, boxes = S.render_video(spec, cfg)
        for t in range(cfg.frames):
            changed = np.abs(frames[t] - S.background_frame(spec, t)).max(-1) > 4
            ys, xs = np.nonzero(changed)
            x1, y1, x2, y2 = boxes[t]                                          # pixel i covers [i, i + 1)
            assert xs.min() == int(np.floor(x1)) or xs.min() == int(np.floor(x1)) + 1, (xs.min(), x1)
            assert xs.max() + 1 in (int(np.ceil(x2)), int(np.ceil(x2)) - 1), (xs.max(), x2)
            assert ys.min() in (int(np.floor(y1)), int(np.floor(y1)) + 1), (ys.min(), y1)
            assert ys.max() + 1 in (int(np.ceil(y2)), int(np.ceil(y2)) - 1), (ys.max(), y2)


def _placements(cfg, n=15):
    """(visible share of the actor per sampled frame, box centres as frame fractions, mid-frame visibility)."""
    bg = S.group_background(cfg, 0, 1)
    visible, centres, mid = [], [], []
    for i, cls in enumerate(S.class_table(cfg) * n):
        spec = S.sample_video(cfg, 0, cls, 1, i + 1, background=bg)
        mid.append(S.visible_fraction(spec, (cfg.frames - 1) // 2))
        for t in range(0, cfg.frames, 4):
            visible.append(S.visible_fraction(spec, t))
            b = S.actor_box(spec, t)
            centres.append(((b[0] + b[2]) / 2 / cfg.width, (b[1] + b[3]) / 2 / cfg.height))
    return np.array(visible), np.array(centres), np.array(mid)


def test_central_placement_keeps_the_actor_in_frame():
    visible, centres, _ = _placements(dataclasses.replace(SYN, placement="central"))
    assert np.mean(visible) > 0.99 and np.min(visible) > 0.6
    inner = np.all((centres > 0.27) & (centres < 0.73), axis=1)
    assert inner.mean() > 0.75                                # the centre shortcut that whole-frame removes


def test_whole_frame_placement_spreads_actors_over_the_frame():
    assert SYN.placement == "whole-frame"                     # the default
    visible, centres, mid = _placements(SYN)
    assert np.mean(mid > 0.9) > 0.9                           # (nearly) whole in view at mid-video
    assert np.mean(visible >= S.MIN_VISIBLE) > 0.95           # in view (a box) in almost every frame
    inner = np.all((centres > 0.27) & (centres < 0.73), axis=1)
    assert inner.mean() < 0.6
    assert np.mean(centres[:, 0] < 0.2) > 0.05 and np.mean(centres[:, 0] > 0.8) > 0.05   # both edges reached


# --------------------------------------------------------------------------------------------- time symmetry
def _trajectory_stats(cfg, cls, n, reverse=False):
    """Per video: slopes of box centre x, y, log area, and of the actor's angle (frames optionally reversed)."""
    bg = S.group_background(cfg, 0, 1)
    out = []
    for i in range(n):
        spec = S.sample_video(cfg, 7, cls, 1, i + 1, background=bg)
        b = np.array([S.actor_box(spec, t) for t in range(cfg.frames)])
        ang = spec.objects[spec.actor].angle.copy()
        if reverse:
            b, ang = b[::-1], ang[::-1]
        t = np.arange(cfg.frames)
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        la = np.log((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        out.append([np.polyfit(t, v, 1)[0] for v in (cx, cy, la, ang)])
    return np.array(out)


def test_time_reversal_maps_class_to_its_pair():
    cfg = replace(SYN, kinds=("square",), motions=ALL_MOTIONS, frames=16)
    table = {c.motion: c for c in S.class_table(cfg)}
    axis = {"left": 0, "down": 1, "toward": 2, "cw": 3}             # statistic that the motion moves
    for m in axis:
        rev = _trajectory_stats(cfg, table[m], 150, reverse=True)
        pair = _trajectory_stats(cfg, table[MOTION_PAIRS[m]], 150)
        fwd = _trajectory_stats(cfg, table[m], 150)
        for k in range(4):
            if max(np.ptp(pair[:, k]), np.ptp(rev[:, k])) < 1e-9:    # an axis neither moves (KS undefined)
                continue
            assert ks_2samp(rev[:, k], pair[:, k]).pvalue > 1e-3, (m, k)       # same law after reversal
            if k == axis[m]:                                         # control: the pair's law differs
                assert ks_2samp(fwd[:, k], pair[:, k]).pvalue < 1e-6, (m, k)


def test_distractors_and_camera_are_time_symmetric():
    cfg = replace(SYN, frames=24, camera_motion=1.5, distractors=3)
    cls = S.class_table(cfg)[0]
    spec = S.sample_video(cfg, 0, cls, 1, 1)
    for i, obj in enumerate(spec.objects):
        if i != spec.actor:                                          # whole cycles: zero net displacement
            assert obj.x[0] == pytest.approx(obj.x[-1], abs=1e-6) and obj.y[0] == pytest.approx(obj.y[-1], abs=1e-6)
            assert obj.radius[0] == pytest.approx(obj.radius[-1], rel=1e-6)
            assert np.abs(np.diff(obj.x)).max() > 0.3                # but they do move
    assert np.allclose(spec.camera, -spec.camera[::-1])              # pan centred on the mid frame
    assert np.linalg.norm(spec.camera[1] - spec.camera[0]) == pytest.approx(1.5)
    # the whole scene, background included, shifts by the camera step between frames
    spec.objects, spec.actor = [spec.objects[spec.actor]], 0
    frames, boxes = S.render_video(spec, cfg)
    t = 11
    step = spec.camera[t + 1] - spec.camera[t]
    M = np.float32([[1, 0, -step[0]], [0, 1, -step[1]]])
    moved = cv2.warpAffine(frames[t].astype(np.float32), M, (cfg.width, cfg.height))
    keep = np.zeros((cfg.height, cfg.width), bool)
    keep[6:-6, 6:-6] = True
    for b in (boxes[t], boxes[t + 1]):
        keep[int(b[1]) - 2:int(b[3]) + 3, int(b[0]) - 2:int(b[2]) + 3] = False
    err_pan = np.abs(moved - frames[t + 1])[keep].mean()
    err_still = np.abs(frames[t].astype(np.float32) - frames[t + 1])[keep].mean()
    assert err_pan < 1.0 and 3 * err_pan < err_still, (err_pan, err_still)


# --------------------------------------------------------------------------------------------- no static shortcut
def test_per_frame_state_has_the_same_law_for_every_motion():
    """Parameter level (large n): x, y and log-radius at a random frame have one distribution for all 8 motions."""
    cfg = replace(SYN, kinds=("disc",), motions=ALL_MOTIONS, distractors=0)
    bg = S.group_background(cfg, 0, 1)
    rng = np.random.default_rng(0)
    states = {}
    for cls in S.class_table(cfg):
        rows = []
        for i in range(300):
            a = S.sample_video(cfg, 11, cls, 1, i + 1, background=bg).objects[0]
            t = rng.integers(0, cfg.frames)
            rows.append((a.x[t], a.y[t], np.log(a.radius[t]), np.cos(a.angle[t])))
        states[cls.motion] = np.array(rows)
    pooled = np.concatenate(list(states.values()))
    for m, s in states.items():
        for k, what in enumerate(("x", "y", "log r", "cos angle")):
            assert ks_2samp(s[:, k], pooled[:, k]).pvalue > 1e-3, (m, what)
    # control: the same statistic does see the *trajectory* spread (x over a whole video) of a translation
    assert np.ptp(S.sample_video(cfg, 11, S.class_table(cfg)[0], 1, 1, background=bg).objects[0].x) > 20


def _frame_features(frame: np.ndarray, box) -> np.ndarray:
    """42 features of one frame: box position/size, global image statistics, and the actor crop's colour,
    sharpness, shape (a soft mask's fill, Hu moments, radial profile) and edge-orientation spectrum.

    Compact on purpose: with ~160 training videos per question, a few hundred raw pixels would drown any signal
    in a linear model, and the power control below would fail.
    """
    H, W = frame.shape[:2]
    x1, y1, x2, y2 = box
    crop = frame[int(y1):max(int(np.ceil(y2)), int(y1) + 1), int(x1):max(int(np.ceil(x2)), int(x1) + 1)]
    c = cv2.resize(crop, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
    border = np.concatenate([c[0], c[-1], c[:, 0], c[:, -1]])
    dist = np.linalg.norm(c - np.median(border, 0), axis=-1)
    mask = (dist > 0.5 * dist.max()).astype(np.float32)
    hu = cv2.HuMoments(cv2.moments(mask)).ravel()
    hu = -np.sign(hu) * np.log10(np.abs(hu) + 1e-12)
    yy, xx = np.mgrid[0:24, 0:24]
    rr = np.hypot(yy - 11.5, xx - 11.5) / 12
    radial = [mask[(rr >= lo) & (rr < lo + 0.25)].mean() for lo in (0, 0.25, 0.5, 0.75, 1.0)]
    # rotation-invariant edge-orientation spectrum of the (slightly enlarged) box: squares have 90-degree structure
    a, b = int(max(x1 - 2, 0)), int(min(np.ceil(x2 + 2), W))
    u, d = int(max(y1 - 2, 0)), int(min(np.ceil(y2 + 2), H))
    patch = frame[u:d, a:b].astype(np.float32)
    gx, gy = cv2.Sobel(patch, cv2.CV_32F, 1, 0), cv2.Sobel(patch, cv2.CV_32F, 0, 1)
    strongest = np.argmax(gx ** 2 + gy ** 2, -1)[..., None]
    gx, gy = np.take_along_axis(gx, strongest, -1)[..., 0], np.take_along_axis(gy, strongest, -1)[..., 0]
    mag = np.hypot(gx, gy)
    hist = np.bincount((np.arctan2(gy, gx) % np.pi / np.pi * 36).astype(int).clip(0, 35).ravel(),
                       weights=mag.ravel(), minlength=36)
    spectrum = np.abs(np.fft.rfft(hist / (hist.sum() + 1e-6)))[1:9]
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
    image = [*frame.mean((0, 1)), *frame.std((0, 1)), np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)).mean(),
             np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1)).mean()]
    actor = [*c.mean((0, 1)), *c.std((0, 1)), mag.mean(), np.abs(lap).mean(), mask.mean()]
    geometry = [(x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H, np.log((x2 - x1) * (y2 - y1) + 1)]
    return np.concatenate([geometry, image, actor, hu, radial, spectrum])


@pytest.fixture(scope="module")
def one_frame_set(tmp_path_factory):
    """640 videos (2 kinds x 8 motions x 40): features of one random decoded frame each, and of the next frame."""
    cfg = replace(SYN, kinds=("disc", "square"), motions=ALL_MOTIONS, videos_per_class=40, groups=4,
                       test_groups=2, frames=16)
    out = tmp_path_factory.mktemp("static")
    S.generate(cfg, 1, out, workers=2)
    idx = S.build_index(out, cfg)
    boxes = B.load(idx.boxes)
    table = S.class_table(cfg)
    rng = np.random.default_rng(0)
    X, X_next, rows = [], [], []
    for v in idx.videos:
        t = int(rng.integers(0, cfg.frames - 1))
        pair = decord.VideoReader(str(idx.video_path(v)), num_threads=1).get_batch([t, t + 1]).asnumpy()
        b = boxes[v.video_id].tubes[0].boxes
        X.append(_frame_features(pair[0], b[t]))
        X_next.append(_frame_features(pair[1], b[t + 1]))
        c = table[v.label]
        rows.append((cfg.kinds.index(c.kind), cfg.motions.index(c.motion), PAIR_ID[c.motion],
                     cfg.motions.index(c.motion) % 2, v.split == "test"))
    rows = np.array(rows)
    return {"X": np.array(X), "X_next": np.array(X_next), "kind": rows[:, 0], "motion": rows[:, 1],
            "pair": rows[:, 2], "direction": rows[:, 3], "test": rows[:, 4].astype(bool)}


def _accuracy(X, y, test, mask=None) -> tuple[int, int]:
    """(correct, n) of a logistic regression (C by 4-fold CV) trained on train videos, scored on test videos."""
    mask = np.ones(len(y), bool) if mask is None else mask
    tr, te = mask & ~test, mask & test
    clf = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                       {"logisticregression__C": [0.01, 0.1, 1.0]}, cv=4)
    clf.fit(X[tr], y[tr])                                            # regularisation chosen on train videos only
    return int((clf.predict(X[te]) == y[te]).sum()), int(te.sum())


def _chance_bound(n: int, p0: float, alpha: float = 1e-3) -> float:
    """Accuracy a classifier with no information exceeds with probability < alpha.

    With balanced test labels and features whose law does not depend on the label (the null hypothesis), a
    prediction is right with probability exactly 1/K whatever the classifier, so the count of correct test
    predictions is Binomial(n, 1/K). alpha = 1e-3 (z ~ 3.1) leaves room for the mild dependence between
    videos that share a group background; the run is seeded, so the verdict is deterministic.
    """
    return binom.ppf(1 - alpha, n, p0) / n


@pytest.mark.slow
def test_single_frame_reveals_kind_but_not_motion(one_frame_set):
    d = one_frame_set
    X, test = d["X"], d["test"]
    correct, n = _accuracy(X, d["kind"], test)
    assert n == 320
    assert correct / n > 0.9                                         # positive control: the kind is visible
    correct, n = _accuracy(X, d["motion"], test)                     # 8-way motion (kind-independent labels)
    assert correct / n < _chance_bound(n, 1 / 8), correct / n
    correct, n = _accuracy(X, d["pair"], test)                       # which pair (translation x/y, scale, rotation)
    assert correct / n < _chance_bound(n, 1 / 4), correct / n
    hits = total = 0
    for p in range(4):                                               # direction within each pair, pooled
        c, m = _accuracy(X, d["direction"], test, d["pair"] == p)
        hits, total = hits + c, total + m
    assert total == 320 and hits / total < _chance_bound(total, 1 / 2), hits / total


@pytest.mark.slow
def test_same_classifier_sees_direction_given_two_frames(one_frame_set):
    """Power control: the same features and sample size reveal direction once two frames are given."""
    d = one_frame_set
    X2 = np.concatenate([d["X"], d["X_next"] - d["X"]], 1)
    for p in range(3):                                               # translation x, y and scale pairs
        c, n = _accuracy(X2, d["direction"], d["test"], d["pair"] == p)
        assert c / n > 0.85, (p, c / n)
    c, n = _accuracy(X2, d["motion"], d["test"])
    assert c / n > 2 * _chance_bound(n, 1 / 8), c / n
