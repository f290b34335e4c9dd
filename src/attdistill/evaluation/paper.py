"""The paper's published numbers, in one place (Liu, Chen, Zhang, Li, Rehg, "Attention Distillation for Learning
Video Representations", BMVC 2020; main paper Tables 1-3, supplement Tables 4-5).

All values are percentages as printed. Each constant cites its table and the row labels as printed (the text
extraction garbles a few characters: "13D" is I3D, "HMDBS51" is HMDB51, "956 740" is 95.6 / 74.0 in Table 2,
"46.7/175.9" is 46.7 / 75.9 and "53.7/825" is 53.7 / 82.5 in Table 3). Real data throughout: UCF101 and HMDB51
split 1, EGTEA split 1, 20BN-Something-Something V2 validation, THUMOS'13 localisation test set; Kinetics-pretrained
I3D with 24-frame 224 x 224 inputs. ``None`` marks a cell the paper does not report.
"""

from __future__ import annotations

CITATION = ("Liu, Chen, Zhang, Li, Rehg. Attention Distillation for Learning Video Representations. BMVC 2020 "
            "(docs/equations.md)")

# Table 1: "Evaluations of attention modules" — mean class accuracy (%), 24-frame I3D backbones.
# Keys are our model ids (Table 1 rows: Flow/RGB x I3D, Soft-Atten, Soft-Res, Prob-Atten).
TABLE1_COLUMNS: tuple[str, ...] = ("UCF101", "HMDB51", "EGTEA")
TABLE1: dict[str, tuple[float, float, float]] = {
    "flow-none": (94.0, 73.9, 38.3),        # "Flow I3D"
    "flow-soft-atten": (94.7, 74.1, 39.1),  # "Flow Soft-Atten"
    "flow-soft-res": (95.2, 74.4, 39.5),    # "Flow Soft-Res"
    "flow-prob-atten": (94.9, 74.2, 40.4),  # "Flow Prob-Atten"
    "rgb-none": (94.8, 70.9, 47.3),         # "RGB I3D"
    "rgb-soft-atten": (94.7, 70.8, 48.6),   # "RGB Soft-Atten"
    "rgb-soft-res": (94.9, 70.1, 48.6),     # "RGB Soft-Res"
    "rgb-prob-atten": (95.1, 71.3, 49.1),   # "RGB Prob-Atten"
}

# Table 2: "Action recognition results on UCF101 and HMDB51" — mean class accuracy (%), rows in the paper's
# order: (row label as printed, (UCF101, HMDB51)). "*": I3D models with 24-frame inputs.
TABLE2_COLUMNS: tuple[str, ...] = ("UCF101", "HMDB51")
TABLE2: list[tuple[str, tuple[float, float]]] = [
    ("Dynamic Image", (90.6, 61.3)),
    ("ActionFlowNet", (83.9, 56.4)),
    ("TVNet", (94.5, 71.0)),
    ("I3D RGB*", (94.8, 70.9)),
    ("FeatMatch", (94.3, 70.7)),
    ("MARS", (94.6, 72.3)),
    ("Ours (Prob-Distill)", (95.7, 72.0)),
    ("Reference attention (supplement control)", (95.1, 71.6)),   # supplement, "How is the motion encoded?"
    ("Two Stream ResNeXt", (95.6, 74.0)),
    ("MARS+Flow ResNeXt", (94.9, 74.5)),
    ("Two Stream I3D*", (96.7, 74.8)),
    ("Prob-Distill+Flow I3D*", (97.4, 75.7)),
]
# The "Reference attention" row is the supplement's control ("How is the motion encoded?"): an RGB network given
# the reference flow network's motion attention at training *and* test time, otherwise our architecture:
# "95.1%/71.6% on UCF101/HMDB51". It is listed right after the row it is compared with.
# Main paper §4.3 "Learning from a Weak Flow Network": Prob-Distill on EGTEA "achieves 49.5%" (mean class).
PROB_DISTILL_EGTEA: float = 49.5

# Table 3: "Action recognition results on 20BN-V2" — (row label, top-1 %, top-5 %, temporal footprint).
TABLE3: list[tuple[str, float, float, str]] = [
    ("TRN RGB", 48.8, 71.6, "5 sec"),
    ("TRN RGB+Flow", 55.5, 83.1, "5 sec"),
    ("I3D RGB", 47.3, 76.1, "1 sec"),
    ("I3D Flow", 46.7, 75.9, "1 sec"),
    ("Ours (Prob-Distill)", 49.9, 79.1, "1 sec"),
    ("Two Stream I3D", 53.7, 82.5, "1 sec"),
    ("Prob-Distill+Flow I3D", 54.6, 83.0, "1 sec"),
]

# Table 4 (supplement): "Results of action localization using attention maps on THUMOS'13 localization test
# set" — best-F1 point: (row label, precision %, recall %, F1 %).
TABLE4: list[tuple[str, float, float, float]] = [
    ("Gaussian (center prior)", 52.6, 20.6, 29.6),
    ("Saliency Map (DSS)", 51.2, 47.7, 49.4),
    ("Soft-Atten (RGB)", 33.8, 40.5, 36.9),
    ("Soft-Atten (Flow)", 39.2, 50.0, 44.0),
    ("Our Appearance", 31.5, 52.1, 39.2),
    ("Our Motion", 36.3, 62.6, 46.0),
]

# Table 5 (supplement): "Inverting the arrow of time" — mean class accuracy (%): (original, reversed, delta),
# delta = original - reversed.
TABLE5_COLUMNS: tuple[str, ...] = ("UCF101", "HMDB51")
TABLE5: dict[str, dict[str, tuple[float, float, float]]] = {
    "UCF101": {"I3D RGB": (94.8, 94.7, 0.1), "I3D flow": (94.0, 89.9, 4.1), "Ours": (95.7, 95.1, 0.6)},
    "HMDB51": {"I3D RGB": (70.9, 70.2, 0.7), "I3D flow": (73.9, 66.0, 7.9), "Ours": (72.0, 70.6, 1.4)},
}
