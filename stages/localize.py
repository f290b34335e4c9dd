"""DVC stage: action localisation with attention maps (supplement, Table 4).

    python stages/localize.py [--eval data/eval] [--index data/raw/index.json] [--frames data/frames]
                              [--out reports/localize]

Writes ``reports/localize/metrics.json`` ({map id: {precision, recall, f1, threshold, frames_evaluated}}) and
``reports/localize/pr/<id>.csv`` (recall, precision, threshold) for ``dvc plots``. Reads params ``localize``,
``frames.fps`` and ``evaluate.crops``; see :mod:`attdistill.evaluation.localize` for the exact protocol.
"""

import argparse

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.localize import localize


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--eval", default="data/eval", help="folder of data/eval/<model id>/maps.npz")
    ap.add_argument("--index", default="data/raw/index.json")
    ap.add_argument("--frames", default="data/frames")
    ap.add_argument("--out", default="reports/localize")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    result = localize(args.eval, args.index, args.frames, params.localize, args.out,
                      fps=params.frames.fps, crops=params.evaluate.crops)
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
