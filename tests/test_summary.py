"""reports/summary.json (DESIGN.md contract), the paper's tables 1-5 and the claims on a fake two-seed reports
tree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from attdistill import methods
from attdistill.evaluation import paper
from attdistill.evaluation.summary import (
    LOCALIZATION_IDS, MODEL_IDS, collect_summary, kinds_and_motions, write_summary,
)
from attdistill.evaluation.paths import ReportPaths
from attdistill.evaluation.tables import pct, write_tables

SEEDS = [0, 1]
SEED_STEP = 0.02          # seed 1 scores every accuracy 2 points higher than seed 0


def rp(root: Path, index: bool = True) -> ReportPaths:
    """The plots stage's inputs in a fake tree (only the folders summary and tables read are real)."""
    return ReportPaths(index=root / ("index.json" if index else "no-index.json"), frames=root / "frames",
                       eval_data=root / "data" / "eval", eval_reports=root / "reports" / "eval",
                       localize=root / "reports" / "localize", train_logs=root / "reports" / "train")


def summarise(root: Path, dataset: str = "synthetic", index: bool = True, out: Path | None = None) -> dict:
    s = collect_summary(rp(root, index), dataset, "prob-atten", SEEDS)
    if out is not None:
        write_summary(s, out)
    return s

DESIGN_MODEL_IDS = {"rgb-none", "rgb-soft-atten", "rgb-soft-res", "rgb-prob-atten", "flow-none", "flow-soft-atten",
                    "flow-soft-res", "flow-prob-atten", "distill", "feature-distill", "reference-attention",
                    "distill-mfr", "two-stream", "distill+flow", "distill+flow-none",
                    "w3", "w3-no-mfr", "w3-no-afr", "w3-no-sa", "w3-no-ta", "cbam", "cbam-mfr",
                    "stam-frames", "stam", "stam-no-spatial", "stam-no-temporal", "stam-no-tv", "stam-no-contrast",
                    "stam-no-unimodal"}
CLASSES = [f"{k}_{m}" for k in ("disc", "square") for m in ("left", "right", "toward", "away", "cw", "ccw")]


def _metrics(i: int, seed: int = 0) -> dict:
    base = 0.5 + 0.01 * i + 0.00049 + SEED_STEP * seed   # distinct per model; x.xx49 rounds down at one decimal
    return {"top1": base, "top5": 0.9, "mean_class": base + 0.002, "top1_reversed": 0.3, "top5_reversed": 0.8,
            "mean_class_reversed": 0.3 + 0.01 * i, "reversed_as_pair": 0.4, "num_videos": 96, "num_clips": 192,
            "crops": 1}


def _mean(i: int, key: str) -> float:
    return sum(_metrics(i, s)[key] for s in SEEDS) / len(SEEDS)


def _reports(root: Path, boxes: bool = True) -> Path:
    for i, mid in enumerate(sorted(MODEL_IDS)):                  # the contract's ids and the focused-crop ids
        for seed in SEEDS:
            d = root / "reports" / "eval" / mid / f"s{seed}"
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps(_metrics(i, seed)))
    for i, mid in enumerate(methods.TRAINED_IDS):
        for seed in SEEDS:
            d = root / "reports" / "train" / mid / f"s{seed}"
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps({"step": 3, "val": {"top1": 0.4 + 0.01 * i + 0.02 * seed,
                                                                           "mean_class": 0.45 + 0.01 * i}}))
    for seed in SEEDS:
        loc = root / "reports" / "localize" / f"s{seed}"
        loc.mkdir(parents=True)
        if boxes:
            entries = {k: {"precision": 0.3 + 0.1 * j, "recall": 0.6, "f1": 0.4 + 0.05 * j + 0.01 * seed,
                           "threshold": 0.001, "frames_evaluated": 100}
                       for j, k in enumerate(LOCALIZATION_IDS + ("uniform",))}
        else:
            entries = {"note": "dataset 'hmdb51' has no bounding boxes"}
        (loc / "metrics.json").write_text(json.dumps(entries))
    (root / "index.json").write_text(json.dumps({"classes": CLASSES}))
    return root


def test_summary_has_the_contract_keys(tmp_path):
    root = _reports(tmp_path)
    out = root / "reports" / "summary.json"
    s = summarise(root, out=out)
    assert json.loads(out.read_text()) == s
    assert {"dataset", "models", "localization"} <= set(s) and s["dataset"] == "synthetic"
    assert DESIGN_MODEL_IDS <= set(s["models"]) == set(MODEL_IDS)
    assert all(mid.startswith("focus-") for mid in set(MODEL_IDS) - DESIGN_MODEL_IDS)   # README: "of our choosing"
    keys = {"top1", "top5", "mean_class", "mean_class_reversed", "reversed_as_pair"}
    assert s["seeds"] == SEEDS
    for mid, m in s["models"].items():
        assert set(m) == keys | {"spread", "per_seed"}
        assert all(isinstance(m[k], float) and 0 <= m[k] <= 1 for k in keys)
        assert set(m["per_seed"]) == {"0", "1"} and set(m["spread"]) == keys
    i = sorted(MODEL_IDS).index("rgb-none")
    rgb = s["models"]["rgb-none"]
    assert rgb["mean_class"] == pytest.approx(_mean(i, "mean_class"))            # the mean over seeds
    assert rgb["spread"]["mean_class"] == pytest.approx(SEED_STEP / 2 ** 0.5)    # sample std of two values
    assert rgb["spread"]["top5"] == 0.0
    assert rgb["per_seed"]["1"]["top1"] == pytest.approx(_metrics(i, 1)["top1"])
    assert set(s["localization"]) == set(LOCALIZATION_IDS) | {"uniform"}
    assert set(LOCALIZATION_IDS) == {"center-prior", "soft-atten-rgb", "soft-atten-flow", "distill-appearance",
                                     "distill-motion"}
    for v in s["localization"].values():
        assert set(v) == {"precision", "recall", "f1", "spread", "per_seed"}
    assert s["localization"]["center-prior"]["f1"] == pytest.approx(0.405)
    assert s["chance"] == pytest.approx(1 / 12)
    assert s["kind_only"] == pytest.approx(1 / 6)
    assert s["attention"] == "prob-atten"


def test_summary_missing_file_is_named(tmp_path):
    root = _reports(tmp_path)
    (root / "reports" / "eval" / "distill-mfr" / "s1" / "metrics.json").unlink()
    with pytest.raises(FileNotFoundError,
                       match=re.escape(str(Path("eval") / "distill-mfr" / "s1" / "metrics.json"))):
        summarise(root, index=False, out=root / "s.json")
    assert not (root / "s.json").exists()
    root = _reports(tmp_path / "b")
    (root / "reports" / "localize" / "s0" / "metrics.json").unlink()
    with pytest.raises(FileNotFoundError, match="localize"):
        summarise(root, index=False, out=root / "s.json")
    bad = _reports(tmp_path / "c")
    (bad / "reports" / "eval" / "distill" / "s0" / "metrics.json").write_text(json.dumps({"top1": 0.5}))
    with pytest.raises(KeyError, match="top5"):
        summarise(bad, index=False)
    (bad / "reports" / "eval" / "distill" / "s0" / "metrics.json").write_text(json.dumps(
        {"top1": 73.0, "top5": 0.9, "mean_class": 0.7, "mean_class_reversed": 0.3}))     # a percentage, not a fraction
    with pytest.raises(ValueError, match="fraction"):
        summarise(bad, index=False)


def test_summary_without_boxes_has_empty_localization(tmp_path):
    root = _reports(tmp_path, boxes=False)
    s = summarise(root, "hmdb51", index=False)
    assert s["localization"] == {} and "no bounding boxes" in s["notes"][0]
    assert "chance" not in s                    # no index given


def test_kinds_and_motions():
    assert kinds_and_motions(CLASSES) == (["disc", "square"], sorted({"left", "right", "toward", "away", "cw", "ccw"}))
    assert kinds_and_motions(["DiscLeft", "DiscRight"]) == (["disc"], ["left", "right"])
    assert kinds_and_motions(["ApplyEyeMakeup", "Archery"]) is None
    assert kinds_and_motions(["disc_left", "disc_right", "square_left"]) is None       # not a full product
    assert kinds_and_motions(["a", "b", "c", "d"], {"kinds": ["x", "y"], "motions": ["l", "r"]}) == (
        ["x", "y"], ["l", "r"])


def test_tables_show_paper_numbers_and_ours_as_mean_and_spread(tmp_path):
    root = _reports(tmp_path)
    paths = write_tables(summarise(root), root / "tables")
    assert [p.name for p in paths] == [f"table{i}.md" for i in range(1, 6)] + ["readings.md"]
    text = {p.name: p.read_text() for p in paths}
    ids = sorted(MODEL_IDS)
    r = text["readings.md"]
    j = methods.TRAINED_IDS.index("distill-kl-st") - methods.TRAINED_IDS.index("distill")
    assert f"| `distill-kl-st` | {pct(0.45 + 0.01 * methods.TRAINED_IDS.index('distill-kl-st'))} ± 0.0 |" in r
    assert f"| {100 * 0.01 * j:+.1f} |" in r and "validation" in r
    text.pop("readings.md")
    sd = f"{100 * SEED_STEP / 2 ** 0.5:.1f}"           # the spread of every accuracy that moves with the seed

    def ours(mid: str, key: str) -> str:
        return f"{pct(_mean(ids.index(mid), key))} ± {sd}"

    assert pct(0.73449) == "73.4" and pct(0.7346) == "73.5" and pct(None) == "—"
    t1 = text["table1.md"]
    for values in paper.TABLE1.values():
        assert all(f"{v:.1f}" in t1 for v in values)
    for mid in paper.TABLE1:
        assert f"| {ours(mid, 'mean_class')} |" in t1
    assert "38.3" in t1 and "49.1" in t1 and "synthetic" in t1 and "chance is 8.3%" in t1
    assert "2 training seeds [0, 1]" in t1
    t2 = text["table2.md"]
    for label, (u, h) in paper.TABLE2:
        assert label in t2 and f"{u:.1f} | {h:.1f}" in t2
    assert "95.1 | 71.6" in t2                                    # reference-attention control (supplement)
    for mid in ("rgb-none", "feature-distill", "distill", "reference-attention", "two-stream", "distill+flow",
                "distill-mfr", "distill+flow-none"):
        assert f"| {ours(mid, 'mean_class')} |" in t2
    t3 = text["table3.md"]
    assert "46.7 / 75.9" in t3 and "53.7 / 82.5" in t3 and "48.8 / 71.6" in t3
    assert f"{ours('distill', 'top1')} / {pct(_mean(ids.index('distill'), 'top5'))} ± 0.0" in t3
    t4 = text["table4.md"]
    for label, p, r, f in paper.TABLE4:
        assert f"| {label} | {p:.1f} | {r:.1f} | {f:.1f} |" in t4
    assert "| 30.0 ± 0.0 | 60.0 ± 0.0 | 40.5 ± 0.7 |" in t4        # center-prior, ours (f1 0.40 and 0.41)
    assert "(ours only) uniform" in t4
    t5 = text["table5.md"]
    assert "94.8 / 94.7 / 0.1" in t5 and "73.9 / 66.0 / 7.9" in t5 and "72.0 / 70.6 / 1.4" in t5
    i = ids.index("distill")
    mc, rv = _mean(i, "mean_class"), _mean(i, "mean_class_reversed")
    assert (f"| {ours('distill', 'mean_class')} | {pct(rv)} ± 0.0 | {100 * (mc - rv):+.1f} | 40.0 ± 0.0 |") in t5
    assert "partner" in t5 and "UCF101" in t5
    for name, t in text.items():
        assert t.startswith(f"# Table {name[5]}") and "paper" in t.lower()
        methods_col = [line.split("|")[1].strip() for line in t.splitlines() if line.startswith("| ")][1:]
        if name in ("table2.md", "table4.md"):                  # one row per label (labels name the rows there)
            assert len(methods_col) == len(set(methods_col)), f"{name} repeats a row: {methods_col}"


def test_tables_without_boxes_say_so(tmp_path):
    root = _reports(tmp_path, boxes=False)
    paths = write_tables(summarise(root, "hmdb51", index=False), root / "tables")
    t4 = (root / "tables" / "table4.md").read_text()
    assert "`hmdb51` has no bounding boxes" in t4 and "52.6" in t4
    assert len(paths) == 6
