"""DVC stage ``focus_boxes``: the IoU of each focused-crop variant's box with the ground-truth actor boxes.

    python stages/focus_boxes.py --seed 0 --base models/focus-base/s0/model.pt --index data/focus/raw/index.json \
        --frames data/focus/frames --originals data/focus/originals --out reports/focus/s0/metrics.json

``--seed``: the training seed of Base (the test-time random boxes are drawn from it, as in the evaluate stage).
Reads params ``clip``, ``augment``, ``frames.fps``, ``focus.box`` and ``evaluate.crops``. See attdistill.evaluation.focus_boxes.
"""

import argparse
import dataclasses
from pathlib import Path

from attdistill.config import add_params_arguments, params_from_cli


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--seed", type=int, required=True, help="Base's training seed")
    for flag, what in (("--base", "the Base model file (the saliency network)"), ("--index", "the focus index"),
                       ("--frames", "network frames"), ("--originals", "original frames"),
                       ("--out", "the report (JSON)")):
        ap.add_argument(flag, required=True, help=what)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    params = dataclasses.replace(params, seed=args.seed)
    from attdistill.evaluation.focus_boxes import focus_box_report
    from attdistill.evaluation.paths import write_json

    report = focus_box_report(Path(args.base), Path(args.index), Path(args.frames), Path(args.originals), params)
    write_json(report, args.out)
    print("focus boxes: " + ", ".join(f"{k} IoU {v['iou']:.3f} hit {v['hit']:.3f}" for k, v in report.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
