"""STAM's published numbers (Meng et al., "Where and When to Look? Spatio-temporal Attention for Action
Recognition in Videos", papers/003; cleaned in notes/seeds-digest.md §2.9). Percentages as printed.

Rows are ``(our row label, the paper's label, numbers...)``; our row label is the one our models declare
(:mod:`attdistill.methods.stam`), "" where we build no model of that row.
"""

from __future__ import annotations

CITATION = ("Meng, Panda, Lin, Karlinsky, Ferris, Schuster, Feris. Where and When to Look? Spatio-temporal "
            "Attention for Action Recognition in Videos (docs/equations.md, \"STAM\")")

# Table 1: top-1 (%) on HMDB51 and UCF101 (ResNet-50 from ImageNet, 50 frames).
TABLE1: list[tuple[str, str, float, float]] = [
    ("", "Visual attention (Sharma et al. 2015; not reimplemented)", 41.31, 84.96),
    ("ResNet50-ImageNet", "ResNet50-ImageNet (frame predictions averaged)", 47.78, 82.30),
    ("Ours", "Ours", 49.93, 86.02),
    ("Ours w/o spatial attention", "Ours w/o spatial attention", 49.21, 84.83),
    ("Ours w/o temporal attention", "Ours w/o temporal attention", 49.22, 85.06),
    ("Ours w/o L_TV", "Ours w/o L_TV", 49.02, 85.05),
    ("Ours w/o L_contrast", "Ours w/o L_contrast", 49.15, 85.15),
    ("Ours w/o L_unimodal", "Ours w/o L_unimodal", 49.35, 85.57),
]
TABLE1_COLUMNS: tuple[str, ...] = ("HMDB51", "UCF101")

# Table 3: spatial localisation on UCF101-24, frame mAP (%) at IoU σ (* strongly supervised; "—" not reported).
TABLE3_IOUS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
TABLE3: list[tuple[str, str, tuple[float | None, ...]]] = [
    ("", "Fast action proposal* (Yu & Yuan 2015)", (42.8, None, None, None)),
    ("", "Learning to track* (Weinzaepfel et al. 2015)", (54.3, 51.7, 47.7, 37.8)),
    ("stam", "Ours (weakly supervised)", (67.0, 56.1, 34.1, 17.7)),
]

# Table 4: temporal localisation on THUMOS'14, segment mAP (%) at tIoU.
TABLE4_IOUS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
TABLE4: list[tuple[str, str, tuple[float, ...]]] = [
    ("", "Yeung et al. 2016 (strongly supervised)", (48.9, 44.0, 36.0, 26.4, 17.1)),
    ("", "Wang et al. 2017 (UntrimmedNets, weakly supervised)", (44.4, 37.7, 28.2, 21.1, 13.7)),
    ("stam", "Ours", (70.0, 61.4, 48.6, 32.6, 17.9)),
]
#: THUMOS'14 20-class video classification with STAM (the text): 74.45 % -> 78.33 %.
THUMOS_VIDEO_TOP1: float = 78.33
