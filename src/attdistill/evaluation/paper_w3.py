"""The W3 paper's published numbers (Pérez-Rúa et al., "Knowing What, Where and When to Look: Efficient Video
Action Modeling with Attention", papers/001; cleaned in notes/seeds-digest.md §1.11).

Tables 5-7 are its ablations: Something-Something V1, TSM ResNet-50 from ImageNet, 16 RGB frames, one clip, a
224 x 224 centre crop, top-1 (%). Table 8 (supplement) is on the same data without MFR, with other backbones.
Each row is ``(our row label, the paper's label, numbers...)``; our row label is the one our models declare
(:mod:`attdistill.methods.w3`), and the paper's "TSM" baseline is our plain I3D row.
"""

from __future__ import annotations

CITATION = ("Pérez-Rúa, Martinez, Zhu, Toisoul, Escorcia, Xiang. Knowing What, Where and When to Look: Efficient "
            "Video Action Modeling with Attention (docs/equations.md, \"W3\")")

# Table 5, "component analysis" (the text calls it Table 6): components removed one at a time.
TABLE5: list[tuple[str, str, float]] = [
    ("Full", "Full", 52.6),
    ("w/o MFR", "w/o MFR", 50.3),
    ("w/o AFR", "w/o AFR", 50.1),
    ("w/o SA", "w/o SA", 49.8),
    ("w/o TA", "w/o TA", 47.2),
]

# Table 6: attention modules on TSM-R50 16f: (row, paper label, top-1, GFLOPs).
TABLE6: list[tuple[str, str, float, float]] = [
    ("I3D", "TSM", 47.2, 65.0),
    ("+CBAM", "+CBAM", 49.1, 66.5),
    ("+NL", "+NL (non-local; not reimplemented)", 49.8, 115.0),
    ("+W3", "+W3", 52.6, 67.1),
]
#: The text's FLOPs overhead of W3: "+0.5G/2.1G FLOPs" on TSM 8/16 frames, "1.5%-3.2%".
W3_OVERHEAD_PCT: tuple[float, float] = (1.5, 3.2)

# Table 7: the impact of MFR (Table 5 gives "w/o MFR" as 50.3, this table as 50.2).
TABLE7: list[tuple[str, str, float]] = [
    ("I3D", "TSM", 47.2),
    ("+CBAM", "+CBAM", 49.1),
    ("+CBAM w/ MFR", "+CBAM w/ MFR", 50.5),
    ("+W3 w/o MFR", "+W3 w/o MFR", 50.2),
    ("+W3", "+W3", 52.6),
]

# Supplementary Table 8: W3 without MFR on other backbones, SSv1 (row, paper label, top-1, top-5). Rows whose
# backbone we do not build have no row label of ours ("").
TABLE8: list[tuple[str, str, float, float]] = [
    ("I3D", "I3D, 3D-R18, 32 frames", 34.9, 62.6),
    ("I3D+W3 w/o MFR", "I3D+W3 w/o MFR, 3D-R18, 32 frames", 35.3, 63.5),
    ("", "I3D, 3D-R18, 64 frames", 36.4, 63.7),
    ("", "I3D+W3 w/o MFR, 3D-R18, 64 frames", 36.6, 63.7),
    ("", "TAM, R50, 8 frames", 49.6, 78.5),
    ("", "TAM+W3 w/o MFR, R50, 8 frames", 50.1, 79.3),
    ("", "TSM, R50, 8 frames", 46.2, 74.3),
    ("", "TSM+W3 w/o MFR, R50, 8 frames", 47.2, 75.9),
]
