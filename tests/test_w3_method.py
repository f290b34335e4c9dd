"""The W3 paper's model ids (attdistill.methods.w3): declarations, model files, losses, tables and FLOPs report."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from attdistill import methods
from attdistill.benchmark.flops import flops_report
from attdistill.config import load_params
from attdistill.evaluation import paper_w3, w3_tables
from attdistill.losses import mfr_loss
from attdistill.methods import w3
from attdistill.models import VARIANTS, W3I3D, build_model
from attdistill.models.files import model_from_file, save_model

W3_IDS = ("w3-no-mfr", "w3", "w3-no-afr", "w3-no-sa", "w3-no-ta", "cbam", "cbam-mfr")


@pytest.fixture(scope="module")
def params():
    return load_params("params.yaml")


def test_the_issue_ids_are_declared_with_their_architecture(params):
    assert set(W3_IDS) <= set(methods.TRAINED_IDS) and set(W3_IDS) <= set(methods.MODEL_IDS)
    switches = {"w3": (True, True, True), "w3-no-mfr": (True, True, True), "w3-no-afr": (True, True, False),
                "w3-no-sa": (False, True, False), "w3-no-ta": (True, False, True), "cbam": (True, False, False),
                "cbam-mfr": (True, False, False)}
    for mid, (sa, ta, afr) in switches.items():
        net = methods.get(mid).build(12, params)
        assert isinstance(net, W3I3D)
        att = net.w3["Mixed_4c"]
        assert (att.spatial is not None, att.temporal, net.afr is not None) == (sa, ta, afr), mid
        assert att.reduction == params.w3.reduction


def test_stage2_models_mimic_their_own_stage1():
    assert [t.model for t in methods.get("w3").teachers] == ["w3-no-mfr"]
    assert [t.model for t in methods.get("cbam-mfr").teachers] == ["cbam"]
    for mid in ("w3-no-mfr", "w3-no-afr", "w3-no-sa", "w3-no-ta", "cbam"):
        assert methods.get(mid).teachers == () and methods.get(mid).stage == "w3_stage1"
    assert methods.get("w3").stage == "w3_mfr" and "mfr" in methods.get("w3").sections


def test_model_file_records_the_options_and_rebuilds_the_same_network(tmp_path, params):
    p = dataclasses.replace(params, w3=dataclasses.replace(params.w3, reduction=4, depthwise=False))
    spec = methods.get("w3")
    torch.manual_seed(0)
    net = spec.build(12, p).eval()
    save_model(tmp_path / "m.pt", net, spec.arch(p), [f"c{i}" for i in range(12)], {})
    obj = torch.load(tmp_path / "m.pt", weights_only=False)
    assert obj["arch"]["options"] == {"reduction": 4, "depthwise": False}
    again = model_from_file(obj).eval()
    x = torch.randn(1, 3, 12, 80, 80)
    with torch.no_grad():
        assert torch.equal(net(x).logits["main"], again(x).logits["main"])
    # the main paper's kinds record no options (their files keep the bytes they had before W3 existed)
    assert "options" not in methods.get("rgb-none").arch(params)


def test_build_model_rejects_unknown_variants_and_stray_options(params):
    with pytest.raises(ValueError, match="valid values: w3, w3-no-afr"):
        build_model("w3", 12, "w3-no-everything", params.model, {"reduction": 16, "depthwise": True})
    with pytest.raises(ValueError, match="takes no options"):
        build_model("rgb", 12, "none", params.model, {"reduction": 16})
    assert set(VARIANTS) == {"w3", "w3-no-afr", "w3-no-sa", "w3-no-ta", "cbam"}


def test_losses_by_hand(params):
    torch.manual_seed(0)
    spec, net = methods.get("w3"), methods.get("w3").build(12, params)
    x, target = torch.randn(2, 3, 12, 80, 80), torch.tensor([3, 7])
    out, s1 = net(x), methods.get("w3-no-mfr").build(12, params).eval()(x)
    ce = F.cross_entropy(out.logits["main"], target)
    loss1, terms1 = w3.stage1_loss(out, target, {}, params)
    assert torch.allclose(loss1, ce) and set(terms1) == {"ce"}
    p = dataclasses.replace(params, mfr=dataclasses.replace(params.mfr, weight=0.5))
    loss2, terms2 = spec.loss(out, target, {"stage1": s1}, p)
    d = (out.final["main"] - s1.final["main"]).transpose(1, 2).flatten(2)      # (N, T', C H' W')
    assert torch.allclose(loss2, ce + 0.5 * d.norm(dim=-1).mean(), atol=1e-5)
    assert terms2["mfr"] == pytest.approx(float(mfr_loss(out.final["main"].detach(), s1.final["main"])), rel=1e-5)


def _summary(values: dict[str, float]) -> dict:
    models = {mid: {"top1": v, "mean_class": v, "spread": {"top1": 0.01, "mean_class": 0.01}}
              for mid, v in values.items()}
    flops = {"ours": {"i3d": 0.2274, "cbam": 0.2278, "w3": 0.2281},
             "paper_profile": {"i3d": 83.36, "cbam": 83.38, "w3": 83.38, "cbam_overhead_pct": 0.017,
                               "w3_overhead_pct": 0.022}}
    return {"dataset": "synthetic", "seeds": [0, 1, 2], "models": models, "flops": flops}


def test_w3_tables_put_the_papers_numbers_beside_ours():
    s = _summary({"rgb-none": 0.30, "w3-no-mfr": 0.40, "w3": 0.45, "w3-no-afr": 0.35, "w3-no-sa": 0.33,
                  "w3-no-ta": 0.31, "cbam": 0.36, "cbam-mfr": 0.38})
    text = {name: make(s) for name, make in w3_tables.TABLES.items()}
    t5 = text["w3_table5.md"]
    for _, label, top1 in paper_w3.TABLE5:
        assert f"| {label} | {top1:.1f} |" in t5
    assert "| Full | 52.6 | 45.0 ± 1.0 | +5.0 |" in t5 and "| w/o TA | 47.2 | 31.0 ± 1.0 | -9.0 |" in t5
    t6 = text["w3_table6.md"]
    assert "| TSM | 47.2 | 65.0 | 30.0 ± 1.0 | — |" in t6 and "| +W3 | 52.6 | 67.1 | 45.0 ± 1.0 | +15.0 |" in t6
    assert "| 0.228 | 83.4 | +0.02 % | `w3` |" in t6 and "| 0.227 | 83.4 | — | `rgb-none` |" in t6
    assert "+NL (non-local; not reimplemented) | 49.8 | 115.0 | — |" in t6
    t7 = text["w3_table7.md"]
    assert "| +CBAM w/ MFR | 50.5 | 38.0 ± 1.0 | +8.0 |" in t7
    t8 = text["w3_table8.md"]
    assert "| I3D+W3 w/o MFR, 3D-R18, 32 frames | 35.3 | 63.5 | 40.0 ± 1.0 | +10.0 |" in t8
    assert "| TAM, R50, 8 frames | 49.6 | 78.5 | — | — |" in t8


def test_w3_claims_name_declared_ids_and_top1():
    ids = set(methods.MODEL_IDS)
    for c in w3.CLAIMS:
        assert c in methods.CLAIMS and c.better.id in ids and c.worse.id in ids and c.better.metric == "top1"


def test_flops_report_orders_the_three_networks(params):
    paper = dataclasses.replace(params, clip=dataclasses.replace(params.clip, frames=24, crop=224),
                                model=dataclasses.replace(params.model, width=1.0, final_stride=2))
    r = flops_report(params, 12, paper)
    for setting in ("ours", "paper_profile"):
        f = r[setting]
        assert f["i3d"] < f["cbam"] < f["w3"]
        assert f["w3_overhead_pct"] == pytest.approx(100 * (f["w3"] - f["i3d"]) / f["i3d"])
    assert r["paper_profile"]["frames"] == 24 and r["paper_profile"]["i3d"] > 100 * r["ours"]["i3d"]


def test_kinetics_weights_load_into_the_w3_backbone(params):
    from attdistill.models import InceptionI3d, load_pretrained

    torch.manual_seed(0)
    ckpt = InceptionI3d(400, in_channels=3, width=1.0).state_dict()        # a pytorch-i3d-shaped checkpoint
    cfg = dataclasses.replace(params.model, width=1.0, final_stride=2)
    net = build_model("w3", 12, "w3", cfg, {"reduction": 16, "depthwise": True})
    afr_before = net.afr.conv.weight.clone()
    report = load_pretrained(net, ckpt, 12)
    assert torch.equal(net.backbone.Mixed_4c.b0.conv3d.weight, ckpt["Mixed_4c.b0.conv3d.weight"])
    assert torch.equal(net.afr.conv.weight, afr_before)                    # AFR / W3 keep their initialisation
    assert any(k.startswith("w3.") for k in report["initialised"])
