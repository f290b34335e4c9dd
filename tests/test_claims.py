"""Claims judged over seeds (attdistill.evaluation.claims), and the README's "what reproduces" section against the
committed study."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from attdistill import methods
from attdistill.evaluation.claims import FAILS, HOLDS, NOT_SHOWN, ONE_DOWN, ONE_UP, claims_table, judge, verdicts
from attdistill.methods.registry import Claim, Quantity

ROOT = Path(__file__).resolve().parents[1]


def _summary(a: list[float], b: list[float], rev_a=None) -> dict:
    """A summary with models a and b (mean_class per seed) and a localisation map."""
    def entry(vals, rev=None):
        return {"per_seed": {str(s): {"mean_class": v, "mean_class_reversed": (rev or [0.0] * len(vals))[s]}
                             for s, v in enumerate(vals)}}
    return {"dataset": "synthetic", "seeds": list(range(len(a))),
            "models": {"a": entry(a, rev_a), "b": entry(b)},
            "localization": {"m": {"per_seed": {str(s): {"f1": v} for s, v in enumerate(a)}}}}


CLAIM = Claim("Table X", "a beats b", Quantity("model", "a"), Quantity("model", "b"), (2.0, 1.0), "here")


def test_holds_when_every_seed_agrees_and_the_gap_exceeds_its_spread():
    r = judge(CLAIM, _summary([0.6, 0.62, 0.64], [0.5, 0.5, 0.52]))
    assert r["verdict"] == HOLDS and r["every_seed"]
    assert r["diff"][0] == pytest.approx(0.34 / 3)                 # paired differences 0.10, 0.12, 0.12
    assert r["diff"][1] == pytest.approx(0.011547, abs=1e-6)       # their sample standard deviation
    assert r["better"][0] == pytest.approx(0.62) and r["worse"][1] == pytest.approx(0.011547, abs=1e-6)


def test_a_gap_within_its_spread_or_a_disagreeing_seed_is_not_shown():
    assert judge(CLAIM, _summary([0.6, 0.5, 0.7], [0.5, 0.52, 0.55]))["verdict"] == NOT_SHOWN   # seed 1 disagrees
    assert judge(CLAIM, _summary([0.51, 0.60, 0.51], [0.50, 0.50, 0.50]))["verdict"] == NOT_SHOWN  # 0.04 ± 0.05


def test_one_seed_gives_no_verdict_only_a_direction():
    assert judge(CLAIM, _summary([0.6], [0.5]))["verdict"] == ONE_UP
    assert judge(CLAIM, _summary([0.5], [0.5]))["verdict"] == ONE_DOWN


def test_a_non_positive_mean_gap_does_not_hold():
    assert judge(CLAIM, _summary([0.5, 0.5], [0.5, 0.5]))["verdict"] == FAILS
    assert judge(CLAIM, _summary([0.4, 0.45], [0.5, 0.5]))["verdict"] == FAILS


def test_reversal_and_localisation_quantities():
    s = _summary([0.8, 0.9], [0.5, 0.5], rev_a=[0.1, 0.2])
    assert Quantity("reversal", "a").per_seed(s) == {"0": pytest.approx(0.7), "1": pytest.approx(0.7)}
    assert Quantity("localization", "m", "f1").per_seed(s) == {"0": 0.8, "1": 0.9}


def test_claims_table_lists_every_claim_with_its_verdict():
    text = claims_table((CLAIM,), _summary([0.6, 0.62, 0.64], [0.5, 0.5, 0.52]))
    assert "| Table X | a beats b (`a` mean_class > `b` mean_class) | 2.0 vs 1.0 (here) | 62.0 ± 2.0 |" in text
    assert "| +11.3 ± 1.2 | yes | **holds** |" in text and "3 training seed(s) [0, 1, 2]" in text


def test_the_main_paper_claims_name_declared_ids():
    ids = set(methods.MODEL_IDS)
    for c in methods.CLAIMS:
        for q in (c.better, c.worse):
            assert q.kind in ("model", "localization", "reversal")
            if q.kind != "localization":
                assert q.id in ids, q


CLAIMS_BLOCK = re.compile(r"<!-- claims -->\n(.*?)\n<!-- /claims -->", re.S)


def test_readme_what_reproduces_agrees_with_the_committed_study():
    """The README's claim list (between <!-- claims --> markers) gives, for every claim, the verdict that the
    committed reports/summary.json gives; and the committed claims.md is what that summary produces."""
    summary = json.loads((ROOT / "reports" / "summary.json").read_text())
    if len(summary.get("seeds", [])) < 1 or "per_seed" not in next(iter(summary["models"].values())):
        pytest.fail("reports/summary.json is not a seed study (no per_seed values)")
    block = CLAIMS_BLOCK.search((ROOT / "README.md").read_text())
    assert block, "README.md has no <!-- claims --> ... <!-- /claims --> section"
    listed = dict(re.findall(r"^- (.+?): \*\*(.+?)\*\*", block.group(1), re.M))
    assert listed == verdicts(methods.CLAIMS, summary)
    assert (ROOT / "reports" / "tables" / "claims.md").read_text() == claims_table(methods.CLAIMS, summary)
