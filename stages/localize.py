"""DVC stage: action localisation with attention maps (supplement, Table 4).

    python stages/localize.py --dataset data/raw --frames data/frames \\
        --eval rgb-soft-atten=data/eval/rgb-soft-atten/s0 distill=data/eval/distill/s0 ... --out reports/localize/s0

Writes ``OUT/metrics.json`` ({map id: {precision, recall, f1, threshold, frames_evaluated}}) and
``OUT/pr/<id>.csv`` (recall, precision, threshold) for ``dvc plots``. ``--eval``: the evaluation folder
(``maps.npz``, ``scores.npz``) of each model whose maps are scored, as MODEL_ID=DIR. ``--dataset``: the
download stage's folder, read for its ``index.json`` and the boxes file that index names (the download stage
writes it beside the index; a dataset without boxes names none). Reads params ``localize``, ``frames.fps`` and
``evaluate.crops``; see :mod:`attdistill.evaluation.localize` for the exact protocol.
"""

import argparse
from pathlib import Path

from attdistill.cli import parse_pairs
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.localize import localize


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--eval", nargs="+", required=True, metavar="MODEL_ID=DIR",
                    help="evaluation folder of each model, holding maps.npz (and scores.npz)")
    ap.add_argument("--dataset", required=True, help="folder of the dataset's index.json and boxes file")
    ap.add_argument("--frames", required=True, help="folder of the frame packs")
    ap.add_argument("--out", required=True, help="folder written: metrics.json and pr/<map id>.csv")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    result = localize(parse_pairs(args.eval, "--eval", "MODEL_ID=DIR"), Path(args.dataset) / "index.json",
                      args.frames, params.localize, args.out, fps=params.frames.fps, crops=params.evaluate.crops)
    if "note" in result:
        print(f"localize: {result['note']}")
        return 0
    for map_id, m in result.items():
        if m.get("f1") is None:
            print(f"{map_id}: {m.get('note', 'not evaluated')}")
        else:
            print(f"{map_id}: P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} "
                  f"({m['frames_evaluated']} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
