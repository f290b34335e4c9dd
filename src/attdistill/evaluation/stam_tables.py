"""STAM's Tables 1, 3 and 4 in Markdown (``reports/tables/stam_table{1,3,4}.md``), the paper's numbers
(:mod:`.paper_stam`) beside ours (mean ± spread over the training seeds, test split)."""

from __future__ import annotations

from . import paper_stam as paper
from .tables import DASH, _pm, _table, document, num, paper_rows

_PROTOCOL = ("Paper: ResNet-50 from ImageNet, fine-tuned on frames, then the attention head on its features; 50 "
             "frames. Ours: the CPU default frame CNN (params `stam`: SmallFrameCNN), from scratch, the same two "
             "steps (`stam.two_step`), the study's schedule, RGB clips of params `clip`. ")


def stam_table1(s: dict) -> str:
    header = ["Model", *(f"{c} top-1 (paper)" for c in paper.TABLE1_COLUMNS), f"Ours top-1: {s['dataset']}",
              "Ours Δ vs Ours (full)", "Ours mean class", "Our model"]
    return document("# STAM Table 1: top-1 accuracy (%) and the ablations", header,
                    paper_rows(s, "stam_table1", paper.TABLE1, "Ours"),
                    _PROTOCOL + "The loss ablations set one λ of Eq. 7 to 0; w/o spatial / temporal attention remove "
                    "the mask / use uniform weights (docs/equations.md, STAM reading 8).", s)


def _map_table(s: dict, section: str, paper_rows, ious, title: str, text: str, extra=None) -> str:
    """A table of mAP at several thresholds: the paper's rows, ours (mean ± spread) where we have the row."""
    found, seeds = s.get(section, {}), len(s.get("seeds", []))
    header = ["Method", *(f"{t:g} (paper)" for t in ious), *(f"{t:g} (ours)" for t in ious), *(extra or {}),
              "Ours"]
    rows = []
    for key, label, values in paper_rows:
        ours = [_pm(found[key], f"map@{t:g}", seeds) if key in found else DASH for t in ious]
        more = [_pm(found[key], k, seeds) if key in found else DASH for k in (extra or {}).values()]
        rows.append([label, *(num(v) for v in values), *(ours if key else [DASH] * len(values)),
                     *(more if key else [DASH] * len(more)), f"`{key}`" if key else DASH])
    return "\n\n".join([title, _table(header, rows), text]) + "\n"


def stam_table3(s: dict) -> str:
    return _map_table(
        s, "detection", paper.TABLE3, paper.TABLE3_IOUS, "# STAM Table 3: spatial localisation, frame mAP (%) at IoU σ",
        "Paper: UCF101-24 (UCF101 videos with person boxes), frame mAP at IoU σ. Ours: the test split of "
        f"`{s['dataset']}` with its actor boxes (`reports/detect/s<seed>/metrics.json`): each frame's STAM mask, "
        "upsampled to the frame, thresholded at 0.5, the tightest box, scored by the mean mask inside it and "
        "labelled with the video's predicted class (`attdistill.evaluation.spatial`). Mean ± spread over the "
        "training seeds.")


def stam_table4(s: dict) -> str:
    return _map_table(
        s, "temporal", paper.TABLE4, paper.TABLE4_IOUS,
        "# STAM Table 4: temporal localisation, segment mAP (%) at tIoU",
        "Paper: THUMOS'14 (untrimmed, 20 classes), segment mAP at tIoU; STAM's video classification there is "
        f"{paper.THUMOS_VIDEO_TOP1:.2f} %. Ours: the untrimmed variant of the benchmark's test videos (stage "
        "`untrimmed`: the actor acts in one segment, distractors only before and after, annotations in THUMOS'14's "
        "format; docs/synthetic.md), `reports/temporal/s<seed>/metrics.json`: the whole video is one clip, STAM's "
        "temporal weights averaged over the steps, min-max normalised, thresholded at 0.5, runs of frames scored by "
        "their mean weight and labelled with the predicted class, ActivityNet matching "
        "(`attdistill.evaluation.temporal`). \"Video top-1\" is the class STAM predicts for the untrimmed video. "
        "Mean ± spread over the training seeds.", extra={"Video top-1 (ours)": "video_top1"})


TABLES = {"stam_table1.md": stam_table1, "stam_table3.md": stam_table3, "stam_table4.md": stam_table4}
