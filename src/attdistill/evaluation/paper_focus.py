"""The focused-crop paper's published numbers (Sydorov, Alahari, Schmid, "Focused Attention for Action
Recognition", BMVC 2019, papers/004; cleaned in notes/seeds-digest.md §3.6).

Table 2: attention results on Charades at T_in = 64, video mAP (%), ResNet-50 I3D from Kinetics; one column per
fusion. Each row is ``(our row label, the paper's label, temporal concatenation, late fusion)``; our row label is
the one our models declare (:mod:`attdistill.methods.focus`).
"""

from __future__ import annotations

CITATION = ("Sydorov, Alahari, Schmid. Focused Attention for Action Recognition, BMVC 2019 "
            "(docs/equations.md, \"Focus\")")

TABLE2: list[tuple[str, str, float, float]] = [
    ("Charades-Base", "Charades-Base", 31.6, 31.6),
    ("Repeat", "Repeat", 31.7, 31.6),
    ("Random crop", "Random crop", 31.4, 30.6),
    ("Center crop", "Center crop", 31.6, 31.0),
    ("Attention L_CE/CE", "Attention L_CE/CE", 33.2, 32.9),
    ("Attention L_CE/CE (upscaled)", "Attention L_CE/CE (upscaled)", 33.2, 32.7),
    ("Attention L_CE/E", "Attention L_CE/E", 33.2, 33.0),
    ("Attention L_CE/E (upscaled)", "Attention L_CE/E (upscaled)", 33.1, 32.8),
    ("Attention L_E/E", "Attention L_E/E", 33.3, 33.1),
]
