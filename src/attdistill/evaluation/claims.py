"""``reports/tables/claims.md``: every claim of the papers that the embedded study can test, judged over seeds.

For a claim "A beats B" (:class:`attdistill.methods.registry.Claim`) and the seeds of the study:

* ours: A and B as mean ± spread over seeds (spread = sample standard deviation, as in summary.json);
* the paired difference A − B per seed (the same seed trains both), its mean and spread;
* the verdict: **holds** when A > B in every seed and the mean difference exceeds its spread; **not shown** when
  the mean difference is positive but does not exceed its spread, or some seed disagrees (a gap smaller than the
  spread is no result); **does not hold** when the mean difference is <= 0.

With one seed there is no spread, so there is no verdict: "one seed: higher" / "one seed: not higher" only say which
way that run went. Verdicts need the 3-seed study (``dvc exp run -S 'seeds=[0,1,2]'``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..methods.registry import Claim
from .summary import spread

HOLDS, NOT_SHOWN, FAILS = "holds", "not shown", "does not hold"
ONE_UP, ONE_DOWN = "one seed: higher", "one seed: not higher"     # no spread, so no verdict


def judge(claim: Claim, summary: dict) -> dict:
    """The numbers and the verdict of one claim (fractions, as summary.json holds them)."""
    a, b = claim.better.per_seed(summary), claim.worse.per_seed(summary)
    seeds = [s for s in a if s in b and a[s] is not None and b[s] is not None]
    if not seeds:
        return {"seeds": [], "verdict": "not measured"}
    da, db = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
    diff = da - db
    mean_diff, sd_diff = float(diff.mean()), spread(diff)
    if len(seeds) < 2:
        verdict = ONE_UP if mean_diff > 0 else ONE_DOWN
    elif mean_diff <= 0:
        verdict = FAILS
    elif bool(np.all(diff > 0)) and mean_diff > sd_diff:
        verdict = HOLDS
    else:
        verdict = NOT_SHOWN
    return {"seeds": seeds, "better": (float(da.mean()), spread(da)), "worse": (float(db.mean()), spread(db)),
            "diff": (mean_diff, sd_diff), "every_seed": bool(np.all(diff > 0)), "verdict": verdict}


def _pm(x: tuple[float, float], scale: float = 100.0) -> str:
    return f"{scale * x[0]:.1f} ± {scale * x[1]:.1f}"


def claims_table(claims: tuple[Claim, ...], summary: dict) -> str:
    """claims.md: one row per claim, in declaration order."""
    head = ["Paper", "Claim", "Paper's numbers", "Ours: better", "Ours: worse", "Paired difference (points)",
            "Every seed", "Verdict"]
    rows = []
    for c in claims:
        r = judge(c, summary)
        paper = f"{c.paper[0]:.1f} vs {c.paper[1]:.1f} ({c.where})"
        if not r["seeds"]:
            rows.append([c.table, c.text, paper, "—", "—", "—", "—", r["verdict"]])
            continue
        rows.append([c.table, f"{c.text} ({c.better.label()} > {c.worse.label()})", paper, _pm(r["better"]),
                     _pm(r["worse"]), f"{100 * r['diff'][0]:+.1f} ± {100 * r['diff'][1]:.1f}",
                     "yes" if r["every_seed"] else "no", f"**{r['verdict']}**"])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    seeds = summary.get("seeds", [])
    note = (f"Ours: `{summary.get('dataset')}` test split, mean ± sample standard deviation over the "
            f"{len(seeds)} training seed(s) {seeds}; the paired difference is taken seed by seed. **holds**: better in "
            "every seed and the mean gap exceeds its spread; **not shown**: a positive mean gap within the spread, "
            "or a seed that disagrees; **does not hold**: the mean gap is <= 0; with a single seed there is no "
            "spread and no verdict (**one seed: higher / not higher**). Paper numbers are on real data "
            "(UCF101 split 1 / THUMOS'13 for the main paper, Something-Something V1 for W3): compare directions, not "
            "sizes.")
    return "\n\n".join(["# Claims of the papers on the embedded benchmark", "\n".join(lines), note]) + "\n"


def write_claims(claims: tuple[Claim, ...], summary: dict, out: str | os.PathLike) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(claims_table(claims, summary))
    return out


def verdicts(claims: tuple[Claim, ...], summary: dict) -> dict[str, str]:
    """Claim text -> verdict (what the README's "what reproduces" section must agree with)."""
    return {c.text: judge(c, summary)["verdict"] for c in claims}
