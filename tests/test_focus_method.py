"""The focused-crop method (papers/004) in the registry: declarations, the second views, the fusions, the dataset's
original frames and geometry, training and scoring end to end on tiny data, the box report and Table 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attdistill import methods
from attdistill.data.dataset import GEOMETRY, ClipDataset
from attdistill.data.index import VideoIndex
from attdistill.data.packs import read_pack, write_pack
from attdistill.evaluation import focus_tables, paper_focus
from attdistill.evaluation.focus_boxes import focus_box_report, iou_xyxy
from attdistill.focus import box as FB
from attdistill.focus import saliency as FS
from attdistill.methods import focus as M
from attdistill.models import build_model
from attdistill.models.networks import NetOutput
from attdistill.training.engine import TrainPaths, train
from params import DEFAULT, params_with
from tiny_data import make_tiny_dataset, tiny_params


# ------------------------------------------------------------------------------------------------ declarations
def test_every_table2_row_is_declared_for_both_fusions():
    for f in M.FUSIONS:
        labels = {r.label for _, r in methods.table_rows(f"focus_{f}")}
        assert labels == {label for label, *_ in paper_focus.TABLE2}, f
    assert set(methods.TRAINED_IDS) >= {"focus-base", "focus-concat", "focus-late", "focus-late-ce-e-upscaled"}
    for mid in ("focus-concat-ce-ce", "focus-late-ce-ce-upscaled"):
        spec = methods.get(mid)
        assert spec.weights_of and spec.weights_of in methods.TRAINED_IDS and mid not in methods.TRAINED_IDS
        trained = M.VARIANT_OF[spec.weights_of]
        assert trained.train_objective == "ce" and M.VARIANT_OF[mid].test_objective == "ce"
        assert trained.upscaled == M.VARIANT_OF[mid].upscaled
    assert set(methods.EVALUATED_IDS) >= {s.id for s in M.MODELS}


def test_fine_tunes_train_on_their_own_schedule():
    p = params_with({"focus": {"epochs": 3, "lr": 0.125}})
    q = methods.get("focus-late-random").train_params(p)
    assert (q.train.epochs, q.train.lr) == (3, 0.125)
    assert dataclasses.replace(q.train, epochs=p.train.epochs, lr=p.train.lr) == p.train
    assert methods.get("focus-base").train_params is None


def test_a_test_time_variant_cannot_be_trained(tmp_path):
    paths = TrainPaths(index=tmp_path / "i.json", frames=tmp_path, flow=None, out=tmp_path, live=tmp_path)
    with pytest.raises(ValueError, match="test-time variant"):
        train("focus-concat-ce-ce", DEFAULT, paths)


# ------------------------------------------------------------------------------------------------ the second view
def _base(seed=0, classes=4):
    torch.manual_seed(seed)
    net = build_model("rgb", classes, "none", dataclasses.replace(DEFAULT.model, width=0.0625, dropout=0.0))
    return net.eval().requires_grad_(False)


def _batch(n=2, t=4, h=32, w=32, raw_side=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    raw = torch.randint(0, 256, (n, t, raw_side, raw_side, 3), dtype=torch.uint8, generator=g)
    geometry = torch.tensor([[raw_side, raw_side, 0, 0, raw_side, raw_side, h, w, 0.0]] * n, dtype=torch.float64)
    return {"rgb": torch.rand(n, 3, t, h, w, generator=g) * 2 - 1, "label": torch.arange(n) % 4, "raw": raw,
            "geometry": geometry, "color": torch.ones(n, 3, dtype=torch.float64),
            "focus_u": torch.rand(n, 2, generator=g, dtype=torch.float64)}


@pytest.mark.parametrize("mid,kind,training", [("focus-concat", "entropy", True), ("focus-late-ce-e", "ce", True),
                                               ("focus-late-ce-e", "entropy", False),
                                               ("focus-concat-ce-ce", "ce", False)])
def test_attention_box_is_the_best_box_of_base_saliency(mid, kind, training):
    base, batch, p = _base(), _batch(), DEFAULT
    side = FB.box_side(p.focus.box, 32, 32)
    want = FB.best_box(FS.saliency(base, batch["rgb"], kind, "softmax", batch["label"]), side)
    got = methods.get(mid).views(batch, {"base": base}, p, training=training)
    assert torch.equal(got["focus_box"], want)
    view = FB.focused_batch(batch["raw"], batch["geometry"], want, side)
    assert torch.equal(got["focus"], view) and got["focus"].shape == batch["rgb"].shape


def test_controls_boxes_and_upscaled_views():
    base, batch, p = _base(), _batch(), DEFAULT
    side = FB.box_side(p.focus.box, 32, 32)
    center = methods.get("focus-late-center").views(batch, {"base": base}, p, False)
    assert center["focus_box"].tolist() == [list(FB.center_box(32, 32, side))] * 2
    rnd = methods.get("focus-late-random").views(batch, {"base": base}, p, False)["focus_box"]
    assert torch.equal(rnd, (batch["focus_u"] * (32 - side + 1)).floor().long())
    assert int(rnd.min()) >= 0 and int(rnd.max()) <= 32 - side
    rep = methods.get("focus-concat-repeat").views(batch, {"base": base}, p, True)
    assert rep["focus"] is batch["rgb"]
    up = methods.get("focus-concat-ce-e-upscaled").views(batch, {"base": base}, p, False)
    assert torch.equal(up["focus"], FB.upscaled_view(batch["rgb"], up["focus_box"], side))


def test_fusions_forward():
    base, batch, p = _base(), _batch(), DEFAULT
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            logits = torch.zeros(len(x), 4)
            logits[:, 1] = 10.0
            return NetOutput(logits={"main": logits}, probs=torch.softmax(logits, 1))

    out, t_out = methods.get("focus-concat").run(Probe(), batch, {"base": base}, p)
    assert seen[-1] == (2, 3, 8, 32, 32) and t_out == {}          # 2 T frames; Base only makes the saliency
    out, t_out = methods.get("focus-late").run(Probe(), batch, {"base": base}, p)
    assert seen[-1] == (2, 3, 4, 32, 32)
    want = (t_out["base"].probs + torch.softmax(torch.tensor([[0, 10.0, 0, 0]]), 1)) / 2
    assert torch.allclose(out.probs, want) and torch.allclose(out.logits["main"].exp(), want)
    loss, terms = methods.get("focus-late").loss(out, batch["label"], t_out, p)
    assert float(loss) == pytest.approx(float(-torch.log(want[torch.arange(2), batch["label"]]).mean()), rel=1e-5)


def test_views_need_params():
    with pytest.raises(ValueError, match="params"):
        methods.get("focus-concat").run(_base(), _batch(), {"base": _base()})


# ------------------------------------------------------------------------------------------------ original frames
def _with_originals(tmp_path: Path, scale: int = 2) -> tuple[Path, Path]:
    """The tiny dataset plus originals at ``scale`` x its size whose pixels encode their own coordinates."""
    index_path = make_tiny_dataset(tmp_path)
    index = VideoIndex.load(index_path)
    for v in index.videos:
        n, h, w, _ = read_pack(tmp_path / "frames" / f"{v.video_id}.pack").shape
        yy, xx = np.mgrid[0:h * scale, 0:w * scale]
        img = np.stack([xx, yy, np.zeros_like(xx)], -1).astype(np.uint8)
        write_pack(tmp_path / "originals" / f"{v.video_id}.pack", [img] * n, "png")
    return index_path, tmp_path / "originals"


def test_dataset_geometry_maps_the_box_to_the_right_original_pixels(tmp_path):
    index_path, originals = _with_originals(tmp_path)
    p = tiny_params(**{"augment.color_jitter": 0.0})
    ds = ClipDataset(VideoIndex.load(index_path), "train", "rgb", p.clip, p.augment, frames_dir=tmp_path / "frames",
                     flow_dir=None, raw_dir=originals, seed=3)
    flips = set()
    for i in range(len(ds)):
        item = ds[i]
        g = FB.geometry_from_row(item["geometry"])
        assert len(item["geometry"]) == len(GEOMETRY) and item["raw"].shape[1:3] == (80, 96)
        flips.add(g.flip)
        side = 12
        view = FB.focused_view(item["raw"].numpy(), (4, 6, side, side), g)      # (T, 32, 32, 3)
        y0, x0, bh, bw = FB.source_box((4, 6, side, side), g, (80, 96))
        xs, ys = view[0, 16, :, 0].astype(int), view[0, :, 16, 1].astype(int)  # a middle row / column
        assert x0 <= xs.min() and xs.max() < x0 + bw and y0 <= ys.min() and ys.max() < y0 + bh
        assert (np.diff(xs) <= 0).all() if g.flip else (np.diff(xs) >= 0).all()   # the flip is re-applied
    assert flips == {True, False}


def test_test_items_carry_one_original_clip_per_clip(tmp_path):
    index_path, originals = _with_originals(tmp_path)
    p = tiny_params()
    ds = ClipDataset(VideoIndex.load(index_path), "test", "rgb", p.clip, p.augment, frames_dir=tmp_path / "frames",
                     flow_dir=None, raw_dir=originals, train=False, seed=0)
    item = ds[0]
    assert item["raw"].shape[0] == len(item["starts"]) == len(item["rgb"]) == len(item["geometry"])
    assert item["geometry"][0].tolist() == [40, 48, 0, 0, 40, 48, 40, 48, 0.0]
    with pytest.raises(ValueError, match="RGB"):
        ClipDataset(VideoIndex.load(index_path), "test", "flow", p.clip, p.augment, frames_dir=tmp_path / "frames",
                    flow_dir=tmp_path / "flow", raw_dir=originals)


def test_original_items_leave_the_other_items_unchanged(tmp_path):
    index_path, originals = _with_originals(tmp_path)
    p = tiny_params()
    kw = dict(frames_dir=tmp_path / "frames", flow_dir=tmp_path / "flow", seed=5)
    plain = ClipDataset(VideoIndex.load(index_path), "train", "rgb", p.clip, p.augment, **kw)
    focus = ClipDataset(VideoIndex.load(index_path), "train", "rgb", p.clip, p.augment, raw_dir=originals, **kw)
    for i in range(3):
        a, b = plain[i], focus[i]
        assert torch.equal(a["rgb"], b["rgb"]) and a["label"] == b["label"]


# ------------------------------------------------------------------------------------------------ end to end
def test_train_and_score_a_focus_model_on_tiny_data(tmp_path):
    from attdistill.evaluation.evaluate import EvalPaths, evaluate_model

    index_path, originals = _with_originals(tmp_path)
    p = tiny_params(**{"train.epochs": 1, "focus.epochs": 1, "focus.box": 0.5})
    common = dict(index=index_path, frames=tmp_path / "frames", flow=None)
    train("focus-base", p, TrainPaths(**common, out=tmp_path / "base", live=tmp_path / "live_base"))
    base = tmp_path / "base" / "model.pt"
    for mid in ("focus-late-ce-e", "focus-concat"):
        res = train(mid, p, TrainPaths(**common, raw=originals, out=tmp_path / mid, live=tmp_path / f"live_{mid}",
                                       teachers={"base": base}))
        assert res["epochs"] == 1 and (tmp_path / mid / "model.pt").is_file()
    scored = {}
    for mid, weights in (("focus-late-ce-e", "focus-late-ce-e"), ("focus-late-ce-ce", "focus-late-ce-e")):
        ep = EvalPaths(index=index_path, frames=tmp_path / "frames", flow=None, flow_reversed=None, raw=originals,
                       model=tmp_path / weights / "model.pt", data_out=tmp_path / "d" / mid,
                       reports=tmp_path / "r" / mid, teachers={"base": base})
        scored[mid] = evaluate_model(mid, p, ep, device="cpu")
        assert 0.0 <= scored[mid]["top1"] <= 1.0
        assert scored[mid]["num_videos"] == len(VideoIndex.load(index_path).split("test"))
    report = focus_box_report(base, index_path, tmp_path / "frames", originals, p)
    assert set(report) == {"attention-entropy", "attention-ce", "center", "random"}
    assert all(0.0 <= r["iou"] <= 1.0 and 0.0 <= r["hit"] <= 1.0 and r["frames"] > 0 for r in report.values())


def test_iou_by_hand():
    assert iou_xyxy((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert iou_xyxy((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert iou_xyxy((0, 0, 4, 4), (0, 0, 4, 4)) == 1.0


# ------------------------------------------------------------------------------------------------ table and claims
def test_table2_puts_ours_beside_the_paper():
    ids = {s.id: 0.5 + 0.01 * i for i, s in enumerate(M.MODELS)}
    s = {"dataset": "synthetic", "seeds": [0, 1],
         "models": {m: {"top1": v, "mean_class": v, "spread": {"top1": 0.02}} for m, v in ids.items()},
         "focus_boxes": {"center": {"iou": 0.1, "hit": 0.2, "spread": {"iou": 0.0, "hit": 0.0}}}}
    text = focus_tables.focus_table2(s)
    assert "| Attention L_E/E | 33.3 | 33.1 |" in text
    row = next(line for line in text.splitlines() if line.startswith("| Random crop |"))
    want = 100 * (ids["focus-concat-random"] - ids["focus-base"])
    assert f"{100 * ids['focus-concat-random']:.1f} ± 2.0" in row and f"+{want:.1f}" in row
    assert "`focus-late-random`" in row and "| Center crop | 10.0 ± 0.0 | 20.0 ± 0.0 |" in text


def test_focus_claims_name_declared_ids():
    for c in M.CLAIMS:
        for q in (c.better, c.worse):
            assert q.id in methods.EVALUATED_IDS and q.metric == "top1"
    assert len(M.CLAIMS) == 10
