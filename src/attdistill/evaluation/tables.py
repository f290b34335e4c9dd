"""The paper's Tables 1-5 in Markdown, with the paper's numbers (:mod:`attdistill.evaluation.paper`) beside ours.

``write_tables`` writes ``reports/tables/table{1..5}.md`` from the same inputs as ``reports/summary.json``
(:func:`attdistill.evaluation.summary.collect_summary`). Our numbers are percentages with one decimal, like the
paper's. Each table says what our column is (the configured dataset's test split) and how to read it: the
paper's numbers are on real data with Kinetics-pretrained 24-frame I3D at 224 x 224; ours come from this
pipeline's configuration, so compare orderings and gaps, not absolute values.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import methods
from . import paper

DASH = "—"


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal (0.7346 -> '73.5'); None -> '—'."""
    return DASH if x is None else f"{100.0 * x:.1f}"


def num(x: float | None) -> str:
    """A paper value (already a percentage) with one decimal; None -> '—'."""
    return DASH if x is None else f"{x:.1f}"


def points(a: float | None, b: float | None) -> str:
    """Difference a - b of two fractions in percentage points, signed, one decimal."""
    return DASH if a is None or b is None else f"{100.0 * (a - b):+.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _levels(s: dict) -> str:
    parts = []
    if "chance" in s:
        parts.append(f"chance is {pct(s['chance'])}%")
    if "kind_only" in s:
        parts.append(f"knowing what the actor is but not how it moves gives {pct(s['kind_only'])}% "
                     "(the level of a model blind to motion)")
    return ("On " + f"`{s['dataset']}` " + "; ".join(parts) + ".") if parts else ""


def _ours_note(s: dict, metric: str) -> str:
    seeds = s.get("seeds", [])
    spread = (f"mean ± sample standard deviation over the {len(seeds)} training seeds {seeds}" if len(seeds) > 1
              else f"one training seed ({seeds})")
    return (f"**Ours** = {metric} on the test split of `{s['dataset']}`, {spread}, from "
            "`reports/eval/<model id>/s<seed>/metrics.json` (this pipeline's params.yaml; see dvc.lock). The "
            "paper's numbers are on real data with pretrained networks at full resolution (its protocol is named "
            "with each table): compare orderings and gaps, not absolute values.")


def _distill_note(s: dict) -> str:
    att = s.get("attention")
    return "" if att in (None, "prob-atten") else f"attention = {att}, not Prob-Distill"


def _m(s: dict, model_id: str, key: str) -> float | None:
    return s["models"].get(model_id, {}).get(key)


def _pm(entry: dict, key: str, seeds: int) -> str:
    """Our mean as a percentage, with ``± spread`` when the study has more than one seed."""
    mean = entry.get(key)
    spread = entry.get("spread", {}).get(key)
    if mean is None or seeds < 2 or spread is None:
        return pct(mean)
    return f"{pct(mean)} ± {100.0 * spread:.1f}"


def ours(s: dict, model_id: str | None, key: str) -> str:
    """A model's metric as mean ± spread over the study's seeds ('—' when absent)."""
    return _pm(s["models"].get(model_id, {}), key, len(s.get("seeds", []))) if model_id else DASH


def ours_loc(s: dict, map_id: str | None, key: str) -> str:
    return _pm(s.get("localization", {}).get(map_id, {}), key, len(s.get("seeds", []))) if map_id else DASH


def _ours(table: str) -> dict[str, tuple[str, str]]:
    """Row label -> (our model id, or the localisation id of a map row; the row's note), as declared in
    :mod:`attdistill.methods`."""
    return {r.label: (r.key or mid, r.note) for mid, r in methods.table_rows(table)}


def _extra_rows(table: str, paper_labels) -> list[tuple[str, str, str]]:
    """(label, id, note) of our declared rows that the paper's table does not have, in registry order."""
    shown = set(paper_labels)          # once: ``paper_labels`` may be a generator
    return [(label, mid, note) for label, (mid, note) in _ours(table).items() if label not in shown]


# -------------------------------------------------------------------------------- other papers' tables
def paper_rows(s: dict, table: str, paper_rows, ref: str, extra=lambda label, mid: []) -> list[list[str]]:
    """One row per row of another paper's table (``(our row label, the paper's label, numbers...)``): the paper's
    numbers, ours (top-1 ± spread, Δ vs the ``ref`` row, mean class), ``extra`` cells, our model id."""
    ours_of = {label: mid for label, (mid, _) in _ours(table).items()}
    base = _m(s, ours_of.get(ref, ""), "top1")
    out = []
    for label, paper_label, *numbers in paper_rows:
        mid = ours_of.get(label)
        delta = DASH if mid is None or label == ref else points(_m(s, mid, "top1"), base)
        out.append([paper_label, *(num(v) for v in numbers), ours(s, mid, "top1"), delta,
                    ours(s, mid, "mean_class"), *extra(label, mid), f"`{mid}`" if mid else DASH])
    return out


def document(title: str, header: list[str], rows: list[list[str]], text: str, s: dict) -> str:
    """A table file: title, the table, then ``text`` and the note on what our numbers are."""
    return "\n\n".join([title, _table(header, rows), text + " " + _ours_note(s, "top-1 (and mean class) accuracy")
                        + " " + _levels(s)]) + "\n"



# --------------------------------------------------------------------------------------------- tables
def table1(s: dict) -> str:
    ours_head = f"Ours: {s['dataset']}"
    header = ["Stream", "Attention", *(f"{c} (paper)" for c in paper.TABLE1_COLUMNS), ours_head, "Ours Δ vs I3D",
              "Our model"]
    names = {"none": "I3D", "soft-atten": "Soft-Atten", "soft-res": "Soft-Res", "prob-atten": "Prob-Atten"}
    rows = []
    for label, (model_id, _) in _ours("table1").items():
        stream, att = model_id.split("-", 1)
        mc = _m(s, model_id, "mean_class")
        base = _m(s, f"{stream}-none", "mean_class")
        rows.append([stream.upper() if stream == "rgb" else stream.capitalize(), names[att],
                     *(num(v) for v in paper.TABLE1[model_id]), ours(s, model_id, "mean_class"),
                     DASH if att == "none" else points(mc, base),
                     f"`{model_id}`"])
    return "\n\n".join([
        "# Table 1: attention modules (mean class accuracy, %)",
        _table(header, rows),
        "Paper: Table 1 of Liu et al. (BMVC 2020), UCF101 / HMDB51 / EGTEA split 1. " + _ours_note(s, "mean class "
        "accuracy") + " \"Ours Δ vs I3D\" is the gain of each attention module over the same stream without "
        "attention, in points (the paper's claim: Prob-Atten improves both streams, by +0.3 to +2.1 points). "
        + _levels(s),
    ]) + "\n"


def table2(s: dict) -> str:
    ours_of = _ours("table2")
    if "Ours (Prob-Distill)" in ours_of:
        mid, note = ours_of["Ours (Prob-Distill)"]
        ours_of["Ours (Prob-Distill)"] = (mid, _distill_note(s) or note)
    header = ["Method", *(f"{c} (paper)" for c in paper.TABLE2_COLUMNS), f"Ours: {s['dataset']}", "Our model"]
    rows = []
    for label, values in paper.TABLE2:
        mid, desc = ours_of.get(label, (None, ""))
        rows.append([label, *(num(v) for v in values), ours(s, mid, "mean_class"),
                     (f"`{mid}`" + (f" ({desc})" if desc else "")) if mid else DASH])
    for label, mid, desc in _extra_rows("table2", (lab for lab, _ in paper.TABLE2)):
        rows.append([label, *(DASH for _ in paper.TABLE2_COLUMNS), ours(s, mid, "mean_class"),
                     f"`{mid}`" + (f" ({desc})" if desc else "")])
    return "\n\n".join([
        "# Table 2: attention vs feature distillation (mean class accuracy, %)",
        _table(header, rows),
        "Paper: Table 2 (UCF101 / HMDB51 split 1; \"*\" = I3D with 24-frame inputs, the paper's own runs) and the "
        "supplement's reference-attention control (\"How is the motion encoded?\": 95.1 / 71.6). The paper also "
        f"reports Prob-Distill at {num(paper.PROB_DISTILL_EGTEA)} on EGTEA (§4.3). "
        + _ours_note(s, "mean class accuracy")
        + " Our MARS row is MARS's loss (MSE to frozen flow features, weight 50) on our I3D, not MARS's ResNeXt. "
        "Read the rows top to bottom as the paper does: RGB only (I3D RGB, feature distillation, attention "
        "distillation, the reference-attention control), then late fusions with flow. " + _levels(s),
    ]) + "\n"


def table3(s: dict) -> str:
    ours_of = {label: mid for label, (mid, _) in _ours("table3").items()}
    header = ["Method", "Top-1 / Top-5 (paper, 20BN-V2)", "Temporal footprint (paper)",
              f"Ours top-1 / top-5: {s['dataset']}", "Our model"]
    rows = []
    for label, t1, t5, foot in paper.TABLE3:
        mid = ours_of.get(label)
        top = f"{ours(s, mid, 'top1')} / {ours(s, mid, 'top5')}" if mid else DASH
        rows.append([label, f"{num(t1)} / {num(t5)}", foot, top, f"`{mid}`" if mid else DASH])
    return "\n\n".join([
        "# Table 3: top-1 / top-5 accuracy (%), as reported on 20BN-Something-Something V2",
        _table(header, rows),
        "Paper: Table 3, 20BN-V2 validation set (174 classes). TRN is not reimplemented here. "
        + _ours_note(s, "top-1 / top-5 accuracy")
        + " 20BN-V2, like the synthetic benchmark, has classes that differ only in direction of motion; with few "
        "classes top-5 is close to 100% and top-1 is the informative number. " + _levels(s),
    ]) + "\n"


def table4(s: dict) -> str:
    ours_of = {"Gaussian (center prior)": "center-prior",
               **{label: map_id for label, (map_id, _) in _ours("table4").items()}}
    loc = s.get("localization", {})
    header = ["Method", "Prec (paper)", "Recall (paper)", "F1 (paper)", "Prec (ours)", "Recall (ours)", "F1 (ours)",
              "Our map"]
    rows = []
    for label, p, r, f in paper.TABLE4:
        mid = ours_of.get(label)
        rows.append([label, num(p), num(r), num(f), ours_loc(s, mid, "precision"), ours_loc(s, mid, "recall"),
                     ours_loc(s, mid, "f1"),
                     f"`{mid}`" if mid else DASH + " (DSS, a saliency model, is not reimplemented)"])
    for mid in sorted(set(loc) - set(ours_of.values())):
        rows.append([f"(ours only) {mid}", DASH, DASH, DASH, ours_loc(s, mid, "precision"),
                     ours_loc(s, mid, "recall"), ours_loc(s, mid, "f1"), f"`{mid}`"])
    if loc:
        ours_note = (f"**Ours** = the same protocol on the test split of `{s['dataset']}` with its ground-truth "
                     "actor boxes, from `reports/localize/s<seed>/metrics.json`.")
    else:
        ours_note = f"**Ours**: `{s['dataset']}` has no bounding boxes, so there is no localisation result."
    return "\n\n".join([
        "# Table 4: localising the action with attention maps (best-F1 point of the PR curve, %)",
        _table(header, rows),
        "Paper: supplementary Table 4, THUMOS'13 localisation test set (UCF101 videos with person boxes). "
        "Protocol: maps and frames at 56 x 56, every threshold of the map is a point of a precision-recall curve "
        "over pixels, a positive pixel within 10 pixels of the box counts as correct for precision (ours: "
        "params `localize.size` / `localize.tolerance`), and the table gives the point of best F1 "
        "(`attdistill.evaluation.localize` documents every detail). " + ours_note
        + " `uniform` marks every pixel (recall 1, precision = the share of the frame near the box): a map must "
        "beat it to localise anything. The paper's claim: motion attention localises better than the centre "
        "prior and than RGB soft attention.",
    ]) + "\n"


def table5(s: dict) -> str:
    rows_of = [(label, mid) for label, (mid, _) in _ours("table5").items()]
    header = ["Method", *(f"{d} orig / rev / Δ (paper)" for d in paper.TABLE5_COLUMNS), "Ours orig", "Ours rev",
              "Ours Δ", "Ours reversed as pair", "Our model"]
    rows = []
    for label, mid in rows_of:
        cells = [" / ".join(num(v) for v in paper.TABLE5[d][label]) if label in paper.TABLE5[d] else DASH
                 for d in paper.TABLE5_COLUMNS]
        mc, rv = _m(s, mid, "mean_class"), _m(s, mid, "mean_class_reversed")
        rows.append([label, *cells, ours(s, mid, "mean_class"), ours(s, mid, "mean_class_reversed"), points(mc, rv),
                     ours(s, mid, "reversed_as_pair"),
                     f"`{mid}`"])
    return "\n\n".join([
        "# Table 5: inverting the arrow of time (mean class accuracy, %)",
        _table(header, rows),
        "Paper: supplementary Table 5; every test video of UCF101 / HMDB51 is played backwards, the label is kept, "
        "and Δ = original - reversed: a large drop means the model relies on motion (I3D flow drops most, I3D RGB "
        "barely, Prob-Distill in between). " + _ours_note(s, "mean class accuracy (label kept) on the normal (orig) "
        "and time-reversed (rev) videos"),
        "**Reversed as pair** = the fraction of reversed test videos that the model assigns to the time-reversal "
        "partner of their class (left ↔ right, up ↔ down, toward ↔ away, cw ↔ ccw; `index.reverse_map`). On the synthetic "
        "benchmark a reversed video *is* a valid video of the partner class, so a model that sees motion must "
        "lose the original label: Δ close to its full accuracy and a high reversed-as-pair rate; a model blind to "
        "motion keeps its accuracy (Δ ≈ 0) and stays near the kind-only level on both. On UCF101 / HMDB51 the "
        "kept label stays a fair target for most reversed videos (few classes are time-reversal partners), so "
        "the paper's Δ measures how much a model needs the right temporal order, and is small; on the synthetic "
        "benchmark every class has a partner, so Δ is large for any model that sees motion. Compare the "
        "ordering of the rows (the paper: flow > ours > RGB), not the size of Δ. " + _levels(s),
    ]) + "\n"


def readings(s: dict) -> str:
    """Reading ablations (docs/equations.md): validation accuracy of the student under each reading."""
    val = s.get("validation", {})
    seeds = len(s.get("seeds", []))
    base = val.get("distill", {}).get("mean_class")
    rows = []
    for mid, r in methods.table_rows("readings"):
        v = val.get(mid, {})
        rows.append([r.label, f"`{mid}`", _pm(v, "mean_class", seeds), _pm(v, "top1", seeds),
                     DASH if mid == "distill" else points(v.get("mean_class"), base)])
    header = ["Reading", "Model", "Val mean class (%)", "Val top-1 (%)", "Δ vs default (points)"]
    return "\n\n".join([
        "# Reading choices of ambiguous passages, ablated on the validation split",
        _table(header, rows),
        "Each row trains the student with one passage read the other way (docs/equations.md, 'Reading choices'), on "
        "the schedule of the study, and scores the last epoch's middle clip of every *validation* video; these "
        "models are never scored on the test split. Mean ± sample standard deviation over the training seeds. "
        "`profiles/paper.yaml` uses the reading closest to the paper's text whatever these numbers say.",
    ]) + "\n"


TABLES = {"table1.md": table1, "table2.md": table2, "table3.md": table3, "table4.md": table4, "table5.md": table5,
          "readings.md": readings}


def write_tables(summary: dict, out_dir: str | os.PathLike, tables: dict | None = None) -> list[Path]:
    """Write ``tables`` (file name -> function of the summary; default the main paper's :data:`TABLES`) of a
    summary dict (:func:`attdistill.evaluation.summary.collect_summary`) under ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in (TABLES if tables is None else tables).items():
        path = out_dir / name
        path.write_text(make(summary))
        paths.append(path)
    return paths
