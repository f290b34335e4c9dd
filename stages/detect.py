"""DVC stage: STAM Table 3 — frame-level box mAP of attention masks on the test split.

    python stages/detect.py --dataset data/raw --frames data/frames --eval stam=data/eval/stam/s0 \\
        --out reports/detect/s0

Scores every localisation map (as the models declare them) of the models given as MODEL_ID=DIR (their
``maps.npz`` and ``scores.npz``): threshold at 0.5, the tightest box per frame, mAP at IoU 0.05 / 0.1 / 0.2 / 0.3
(:mod:`attdistill.evaluation.spatial`). Writes ``OUT/metrics.json``. Reads params ``frames.fps`` and ``localize``.
"""

import argparse
import json
from pathlib import Path

from attdistill import methods
from attdistill.cli import parse_pairs
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.spatial import detect


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--eval", nargs="+", required=True, metavar="MODEL_ID=DIR",
                    help="evaluation folder of each model, holding maps.npz and scores.npz")
    ap.add_argument("--dataset", required=True, help="folder of the dataset's index.json and boxes file")
    ap.add_argument("--frames", required=True, help="folder of the frame packs")
    ap.add_argument("--out", required=True, help="folder written: metrics.json")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    eval_dirs = parse_pairs(args.eval, "--eval", "MODEL_ID=DIR")
    sources = {m: src for m, src in methods.localization_maps().items() if src[0] in eval_dirs}
    if not sources:
        ap.error(f"none of {sorted(eval_dirs)} declares a localisation map")
    result = detect(sources, eval_dirs, Path(args.dataset) / "index.json", args.frames, args.out,
                    fps=params.frames.fps, localize_cfg=params.localize)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
