"""STAM's model ids (attdistill.methods.stam): declarations, the two training steps, model files, the box mAP of
STAM Table 3 (attdistill.evaluation.spatial) and the STAM tables."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attdistill import methods
from attdistill.config import LocalizeConfig, load_params
from attdistill.data import boxes as B
from attdistill.data.packs import write_pack
from attdistill.evaluation import paper_stam, stam_tables
from attdistill.evaluation.localize import FrameBoxes, MapsFile
from attdistill.evaluation.spatial import spatial_localization
from attdistill.methods import stam
from attdistill.models import STAM, FrameAverageNet, build_model, to_channels_last
from attdistill.models.files import model_from_file, save_model

STAM_IDS = ("stam-frames", "stam", "stam-no-spatial", "stam-no-temporal", "stam-no-tv", "stam-no-contrast",
            "stam-no-unimodal")


@pytest.fixture(scope="module")
def params():
    return load_params("params.yaml")


def _clip(n: int = 2):
    torch.manual_seed(0)
    return torch.randn(n, 3, 12, 80, 80), torch.tensor([1, 4][:n])


def test_the_issue_ids_are_declared_with_their_network(params):
    assert set(STAM_IDS) <= set(methods.MODEL_IDS)
    assert isinstance(methods.get("stam-frames").build(12, params), FrameAverageNet)
    for mid in STAM_IDS[1:]:
        net = methods.get(mid).build(12, params)
        assert isinstance(net, STAM) and [t.model for t in methods.get(mid).teachers] == ["stam-frames"]
        assert (net.mask is None) == (mid == "stam-no-spatial")
        assert (net.attention is None) == (mid == "stam-no-temporal")


def test_frame_baseline_loss_is_the_per_frame_ce(params):
    x, y = _clip()
    spec = methods.get("stam-frames")
    out = spec.build(12, params)(x)
    loss, _ = spec.loss(out, y, {}, params)
    k = out.frame_logits["main"].shape[-1]
    assert torch.allclose(loss, F.cross_entropy(out.frame_logits["main"].reshape(-1, k), y.repeat_interleave(12)))


def test_loss_ablations_drop_exactly_their_term(params):
    x, y = _clip()
    p = dataclasses.replace(params, stam=dataclasses.replace(params.stam, lambda_tv=1.0, lambda_contrast=1.0,
                                                             lambda_unimodal=1.0))
    torch.manual_seed(1)
    out = methods.get("stam").build(12, p)(x)
    full, terms = methods.get("stam").loss(out, y, {}, p)
    for mid, term in (("stam-no-tv", "tv"), ("stam-no-contrast", "contrast"), ("stam-no-unimodal", "unimodal")):
        loss, t = methods.get(mid).loss(out, y, {}, p)
        assert t == terms                                      # every raw value still logged
        assert float((full - loss).detach()) == pytest.approx(terms[term], rel=1e-5, abs=1e-6)


def test_second_step_starts_from_the_frame_cnn_and_keeps_it_frozen(params):
    x, y = _clip()
    frames = methods.get("stam-frames").build(12, params)
    with torch.no_grad():                                      # a "fine-tuned" CNN: weights unlike a fresh one
        for q in frames.backbone.parameters():
            q.add_(0.1)
    frames.eval()
    spec = methods.get("stam")
    model = spec.build(12, params)
    spec.init(model, {"frames": frames}, params)
    assert all(torch.equal(a, b) for a, b in zip(model.backbone.state_dict().values(),
                                                 frames.backbone.state_dict().values()))
    assert not any(q.requires_grad for q in model.backbone.parameters())
    out, t_out = spec.run(model, {"rgb": x}, {"frames": frames})
    loss, _ = spec.loss(out, y, t_out, params)
    loss.backward()
    assert all(q.grad is None for q in model.backbone.parameters())
    assert model.mask.net[0].weight.grad is not None
    model.eval()                                               # test time: its own (equal) frozen backbone
    with torch.no_grad():
        direct = model(x).logits["main"]
        via_teacher = model.head(frames(x).final["main"]).logits["main"]
    assert torch.allclose(direct, via_teacher, atol=1e-6)


def test_end_to_end_option_trains_the_backbone(params):
    x, y = _clip()
    p = dataclasses.replace(params, stam=dataclasses.replace(params.stam, two_step=False))
    spec = methods.get("stam")
    frames = methods.get("stam-frames").build(12, p).eval()
    model = spec.build(12, p)
    before = [q.clone() for q in model.backbone.parameters()]
    spec.init(model, {"frames": frames}, p)
    assert all(torch.equal(a, b) for a, b in zip(before, model.backbone.parameters()))
    out, t_out = spec.run(model, {"rgb": x}, {"frames": frames})
    spec.loss(out, y, t_out, p)[0].backward()
    assert model.backbone.features[0].weight.grad is not None


def test_model_file_rebuilds_stam_and_2d_nets_keep_their_layout(tmp_path, params):
    spec = methods.get("stam")
    torch.manual_seed(0)
    net = spec.build(12, params).eval()
    save_model(tmp_path / "m.pt", net, spec.arch(params), [f"c{i}" for i in range(12)], {})
    obj = torch.load(tmp_path / "m.pt", weights_only=False)
    assert obj["arch"]["kind"] == "stam" and obj["arch"]["options"]["width"] == params.stam.width
    x, _ = _clip(1)
    with torch.no_grad():
        assert torch.equal(net(x).logits["main"], model_from_file(obj).eval()(x).logits["main"])
    assert to_channels_last(net) is net                        # 4-D weights have no channels_last_3d layout
    i3d = to_channels_last(methods.get("rgb-none").build(12, params))
    assert i3d.backbone.Conv3d_1a_7x7.conv3d.weight.is_contiguous(memory_format=torch.channels_last_3d)
    with pytest.raises(ValueError, match="valid values: frames, stam"):
        build_model("stam", 12, "stam-no-everything", params.model, stam.stam_options(params))


# --------------------------------------------------------------------------------------------- Table 3
def _detection_case(tmp_path, label_pred: int):
    """One 4-frame video of 40 x 40 px, one clip of 4 frames, a 4 x 4 mask; the actor box covers the mask's
    upper-left 2 x 2 cells (0..20 px) in frames 0-2 and is absent in frame 3."""
    T = 4
    write_pack(tmp_path / "frames" / "v.pack", np.zeros((T, 40, 40, 3), np.uint8), "png", meta={"fps": 4.0})
    vb = B.VideoBoxes(40, 40, 4.0, T, [B.Tube(2, [0, 1, 2], [(0.0, 0.0, 20.0, 20.0)] * 3)])
    masks = np.zeros((1, T, 4, 4), np.float32)
    masks[0, :, :2, :2] = 0.9                                  # a detection in every frame, frame 3 a false one
    mf = MapsFile(np.array(["v"]), np.array([0]), np.array([0]), T, (40, 40), {"main": masks})
    scores = {"video_ids": np.array(["v"]), "labels": np.array([2]), "probs": np.eye(3)[[label_pred]]}
    frames = FrameBoxes({"v": vb}, tmp_path / "frames", None, LocalizeConfig(size=8, tolerance=0, center_sigma=0.25))
    return spatial_localization(mf, "main", scores, frames)


def test_box_map_by_hand(tmp_path):
    r = _detection_case(tmp_path, label_pred=2)
    # bilinear upsampling of the 2 x 2 block of 0.9 crosses 0.5 about 5 px outside it: box (0, 0, 25, 25),
    # IoU 400 / 625 = 0.64 with every ground truth; 3 true positives then a false positive (equal scores:
    # ranked in frame order) -> AP 1.0 at every σ <= 0.64
    assert r["frames_with_boxes"] == 3
    assert all(r[f"map@{s:g}"] == pytest.approx(1.0) for s in (0.05, 0.1, 0.2, 0.3))
    wrong = _detection_case(tmp_path / "b", label_pred=0)      # wrong predicted class: nothing found
    assert all(wrong[f"map@{s:g}"] == 0.0 for s in (0.05, 0.1, 0.2, 0.3))


# --------------------------------------------------------------------------------------------- tables
def test_stam_tables_put_the_papers_numbers_beside_ours():
    models = {mid: {"top1": 0.3 + 0.01 * i, "mean_class": 0.3 + 0.01 * i, "spread": {"top1": 0.02}}
              for i, mid in enumerate(STAM_IDS)}
    det = {"stam": {"map@0.05": 0.5, "map@0.1": 0.4, "map@0.2": 0.3, "map@0.3": 0.2,
                    "spread": {"map@0.05": 0.1, "map@0.1": 0.1, "map@0.2": 0.1, "map@0.3": 0.1}}}
    s = {"dataset": "synthetic", "seeds": [0, 1, 2], "models": models, "detection": det}
    t1 = stam_tables.stam_table1(s)
    for _, label, hmdb, ucf in paper_stam.TABLE1:
        assert f"| {label} | {hmdb:.1f} | {ucf:.1f} |" in t1
    assert "| Ours | 49.9 | 86.0 | 31.0 ± 2.0 | — |" in t1 and "| Ours w/o L_TV | 49.0 | 85.0 | 34.0 ± 2.0 | +3.0 |" in t1
    t3 = stam_tables.stam_table3(s)
    assert "| Ours (weakly supervised) | 67.0 | 56.1 | 34.1 | 17.7 | 50.0 ± 10.0 | 40.0 ± 10.0 | 30.0 ± 10.0 | " \
           "20.0 ± 10.0 | `stam` |" in t3
    assert "| Fast action proposal* (Yu & Yuan 2015) | 42.8 | — | — | — | — | — | — | — | — |" in t3
    s["temporal"] = {"stam": {**{f"map@{t:g}": 0.1 * i for i, t in enumerate((0.1, 0.2, 0.3, 0.4, 0.5))},
                              "video_top1": 0.75, "spread": {"video_top1": 0.05, "map@0.1": 0.0}}}
    t4 = stam_tables.stam_table4(s)
    assert "| Ours | 70.0 | 61.4 | 48.6 | 32.6 | 17.9 | 0.0 ± 0.0 | 10.0 | 20.0 | 30.0 | 40.0 | 75.0 ± 5.0 | `stam` |" in t4


def test_stam_claims_name_declared_ids():
    for c in stam.CLAIMS:
        assert c in methods.CLAIMS and {c.better.id, c.worse.id} <= set(methods.MODEL_IDS)
        assert c.better.id == "stam" and c.better.metric == c.worse.metric == "top1"


# --------------------------------------------------------------------------------------------- Table 4
def _tiny_synthetic(params, **kw):
    return dataclasses.replace(params.synthetic, kinds=("disc",), motions=("left", "right"), videos_per_class=2,
                               groups=2, test_groups=1, frames=8, width=48, height=40, **kw)


def test_untrimmed_actor_only_in_its_segment(params):
    from attdistill.data import synthetic as S
    from attdistill.data.untrimmed import PAD_MAX, PAD_MIN, render

    cfg = _tiny_synthetic(params, distractors=0)
    frames, lead = render(cfg, 0, S.class_table(cfg)[0], 1, 1)
    tail = len(frames) - lead - cfg.frames
    assert PAD_MIN * 8 <= lead <= PAD_MAX * 8 and PAD_MIN * 8 <= tail <= PAD_MAX * 8
    still = frames[0].astype(int)                    # no distractors, static camera: the empty scene
    outside = [t for t in range(len(frames)) if not lead <= t < lead + cfg.frames]
    assert all(np.array_equal(frames[t].astype(int), still) for t in outside)
    assert all(np.abs(frames[t].astype(int) - still).max() > 40 for t in range(lead, lead + cfg.frames))


def test_untrimmed_benchmark_files(tmp_path, params):
    from attdistill.data.thumos14 import read_annotations
    from attdistill.data.untrimmed import generate_untrimmed

    cfg = _tiny_synthetic(params)
    index = generate_untrimmed(cfg, 0, tmp_path / "u")
    assert len(index.videos) == 2 and {v.split for v in index.videos} == {"test"}
    ann = read_annotations(tmp_path / "u" / "annotations", "test")
    info = json.loads((tmp_path / "u" / "untrimmed.json").read_text())["videos"]
    for v in index.videos:
        (seg,) = [s for s in ann[index.classes[v.label]] if s.video == v.video_id.split("/")[-1]]
        lead, end = info[v.video_id]["action"]
        assert (seg.start, seg.end) == (round(lead / cfg.fps, 1), round(end / cfg.fps, 1))
        assert (tmp_path / "u" / "videos" / f"{v.video_id}.avi").is_file()
    assert generate_untrimmed(cfg, 0, tmp_path / "u").to_dict() == index.to_dict()      # rerun: same index


class _Peaked(torch.nn.Module):
    """A fake STAM: temporal weights peaked on frames 4-7 of any clip, class 1 predicted."""

    def forward(self, x):
        n = x.shape[2]
        w = torch.full((1, n, n), 0.01)
        w[..., 4:8] = 1.0
        return type("Out", (), {"temporal_weights": {"main": w / w.sum(-1, keepdim=True)},
                                "probs": torch.tensor([[0.1, 0.9]])})()


def test_temporal_localization_by_hand():
    from attdistill.evaluation.detection import GroundTruth
    from attdistill.evaluation.temporal import temporal_localization

    frames = np.zeros((12, 8, 8, 3), np.uint8)
    videos = [("C/v1", "v1", 1)]
    exact = [GroundTruth("v1", 1, (4 / 4.0, 8 / 4.0))]                       # frames 4-7 at 4 fps
    r = temporal_localization({"m": _Peaked()}, videos, lambda v: frames, exact, fps=4.0)["m"]
    assert r["video_top1"] == 1.0 and all(r[f"map@{t:g}"] == 1.0 for t in (0.1, 0.2, 0.3, 0.4, 0.5))
    half = [GroundTruth("v1", 1, (6 / 4.0, 10 / 4.0))]                      # tIoU 2 / 6 = 0.33
    r = temporal_localization({"m": _Peaked()}, videos, lambda v: frames, half, fps=4.0)["m"]
    assert [r[f"map@{t:g}"] for t in (0.1, 0.2, 0.3, 0.4, 0.5)] == [1.0, 1.0, 1.0, 0.0, 0.0]
