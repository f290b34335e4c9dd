"""The W3 paper's Tables 5-8 in Markdown (``reports/tables/w3_table{5..8}.md``), the paper's numbers
(:mod:`.paper_w3`) beside ours.

Ours: top-1 on the test split (the W3 paper's metric), mean ± spread over the training seeds, for the models that
declare a row of the table (:mod:`attdistill.methods.w3`); Δ is the gap to the table's reference row in points.
"""

from __future__ import annotations

from . import paper_w3 as paper
from .tables import DASH, document as _doc, paper_rows as _rows

_PROTOCOL = ("Paper: Something-Something V1, TSM ResNet-50 from ImageNet, 16 RGB frames, one centre-cropped clip, "
             "top-1. Ours: the project's Inception-I3D (params `model`) with W3 / CBAM after every Inception module "
             "(`attdistill.models.w3_i3d`), from scratch, on the study's schedule; the paper's TSM baseline is our "
             "plain RGB I3D (`rgb-none`). ")


def w3_table5(s: dict) -> str:
    header = ["Model", "Top-1 (paper)", f"Ours top-1: {s['dataset']}", "Ours Δ vs w/o MFR", "Ours mean class",
              "Our model"]
    return _doc("# W3 Table 5: component analysis (top-1, %)", header,
                _rows(s, "w3_table5", paper.TABLE5, "w/o MFR"),
                _PROTOCOL + "Reading (docs/equations.md): the ablations remove one component at a time from the "
                "*stage-1* model, so w/o AFR / SA / TA are compared with w/o MFR (the stage-1 W3); Full is the "
                "MFR stage 2 of w/o MFR. w/o SA has no AFR either (AFR refines with the spatial masks).", s)


def _flops_cells(s: dict) -> dict[str, list[str]]:
    """Row label -> [our GFLOPs, GFLOPs at the paper profile's shapes, overhead there] from ``summary.flops``."""
    f = s.get("flops")
    if not f:
        return {}
    ours_f, prof = f["ours"], f.get("paper_profile", {})
    cells = {}
    for label, key in (("I3D", "i3d"), ("+CBAM", "cbam"), ("+W3", "w3")):
        over = DASH if key == "i3d" or not prof else f"+{prof[key + '_overhead_pct']:.2f} %"
        cells[label] = [f"{ours_f[key]:.3f}", f"{prof[key]:.1f}" if prof else DASH, over]
    return cells


def w3_table6(s: dict) -> str:
    cells = _flops_cells(s)
    header = ["Model", "Top-1 (paper)", "GFLOPs (paper)", f"Ours top-1: {s['dataset']}", "Ours Δ vs I3D",
              "Ours mean class", "Our GFLOPs", "GFLOPs at 24 x 224², width 1", "Overhead there", "Our model"]
    rows = _rows(s, "w3_table6", paper.TABLE6, "I3D", lambda label, mid: cells.get(label, [DASH] * 3))
    lo, hi = paper.W3_OVERHEAD_PCT
    return _doc("# W3 Table 6: I3D vs + CBAM vs + W3 (top-1, %; GFLOPs per clip)", header, rows,
                _PROTOCOL + f"GFLOPs: ours are counted by `torch.utils.flop_counter` (matrix products and "
                "convolutions, 2 per multiply-add; element-wise mask products and sigmoids are not counted) for one "
                "clip at this configuration and at the paper profile's shapes (`reports/flops.json`, stage "
                f"`flops`). The paper reports W3's overhead as +{lo}–{hi} % on TSM-R50; on Inception-I3D the "
                "depthwise temporal convolutions and the tiny 7 x 7 / 3 x 3 x 3 mask convolutions cost far less "
                "than the backbone.", s)


def w3_table7(s: dict) -> str:
    header = ["Model", "Top-1 (paper)", f"Ours top-1: {s['dataset']}", "Ours Δ vs I3D", "Ours mean class",
              "Our model"]
    return _doc("# W3 Table 7: the impact of MFR on CBAM and on W3 (top-1, %)", header,
                _rows(s, "w3_table7", paper.TABLE7, "I3D"),
                _PROTOCOL + "MFR (Eq. 9): a fresh network of the same architecture trained with CE + "
                "mfr.weight · ‖y − y_stage1‖ per frame against the frozen stage-1 model; the paper's gains are "
                "+1.4 (CBAM) and +2.4 (W3) points.", s)


def w3_table8(s: dict) -> str:
    header = ["Model", "Top-1 (paper)", "Top-5 (paper)", f"Ours top-1: {s['dataset']}", "Ours Δ vs I3D",
              "Ours mean class", "Our model"]
    return _doc("# W3 Table 8 (supplement): W3 without MFR on I3D (top-1, %)", header,
                _rows(s, "w3_table8", paper.TABLE8, "I3D"),
                "Paper: Something-Something V1, centre crop, one clip, W3 without MFR on several backbones; its "
                "I3D is a 3D ResNet-18. Ours: our Inception-I3D with and without W3 (stage 1, no MFR), the "
                "backbone the main paper uses; the paper's other backbones are not built here.", s)


TABLES = {"w3_table5.md": w3_table5, "w3_table6.md": w3_table6, "w3_table7.md": w3_table7,
          "w3_table8.md": w3_table8}
