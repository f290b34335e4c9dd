"""DVC stage: STAM Table 4 — temporal localisation with STAM's temporal weights on the untrimmed benchmark.

    python stages/temporal.py --model stam=models/stam/s0/model.pt --index data/untrimmed/index.json \\
        --frames data/untrimmed_frames --annotations data/untrimmed/annotations --out reports/temporal/s0

Each untrimmed video is one clip of all its stored frames; STAM's weights, averaged over the steps and min-max
normalised, are thresholded at 0.5, runs of frames become segments scored by their mean weight and labelled with
the predicted class, and mAP at tIoU 0.1-0.5 is computed against the THUMOS'14-format annotations
(:func:`attdistill.evaluation.temporal.untrimmed_localization`). Writes ``OUT/metrics.json`` ({model id:
{map@0.1 ..., video_top1}}, or a note for a dataset without untrimmed videos). Reads params ``frames.fps``.
"""

import argparse
import json
from pathlib import Path

from attdistill.cli import parse_pairs
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.paths import write_json
from attdistill.evaluation.temporal import untrimmed_localization


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--model", nargs="+", required=True, metavar="MODEL_ID=PATH", help="model files to score")
    ap.add_argument("--index", required=True, help="index.json of the untrimmed videos")
    ap.add_argument("--frames", required=True, help="their frame packs")
    ap.add_argument("--annotations", required=True, help="folder of THUMOS'14-format <Class>_test.txt files")
    ap.add_argument("--out", required=True, help="folder written: metrics.json")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    result = untrimmed_localization(parse_pairs(args.model, "--model", "MODEL_ID=PATH"), args.index, args.frames,
                                    args.annotations, params.frames.fps)
    write_json(result, Path(args.out) / "metrics.json")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
