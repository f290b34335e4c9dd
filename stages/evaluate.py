"""DVC stage: evaluate one trained model, or the late-fusion pairs.

    python stages/evaluate.py MODEL_ID     # top-1/top-5/mean class, reversed time, confusion, attention maps
    python stages/evaluate.py --fusion     # two-stream (rgb-none + flow-none), distill+flow (student + teacher)

``--models`` / ``--reports`` / ``--data-out`` evaluate models kept elsewhere, e.g. the long-budget runs of the
README: ``python stages/evaluate.py distill --models models/long_budget --reports reports/long_budget/eval
--data-out data/eval_long_budget``.
"""

import argparse
import sys
from pathlib import Path

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.data.index import VideoIndex
from attdistill.evaluation.evaluate import EvalPaths, evaluate_fusion, evaluate_model
from attdistill.training.recipes import TRAINED_IDS


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_id", nargs="?", choices=TRAINED_IDS)
    ap.add_argument("--fusion", action="store_true")
    add_params_arguments(ap)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", default="models", help="folder of MODEL_ID/model.pt (and teacher/model.pt)")
    ap.add_argument("--reports", default="reports/eval", help="metrics and confusion go to REPORTS/MODEL_ID/")
    ap.add_argument("--data-out", default="data/eval", help="scores and attention maps go to DATA_OUT/MODEL_ID/")
    args = ap.parse_args(argv)
    if bool(args.model_id) == args.fusion:
        ap.error("give a MODEL_ID or --fusion")
    params = params_from_cli(args)
    if params is None:
        return 2
    paths = EvalPaths(models=Path(args.models), reports=Path(args.reports), data_out=Path(args.data_out))
    if args.fusion:
        index = VideoIndex.load(paths.index)
        pairs = {"two-stream": ["rgb-none", "flow-none"], "distill+flow": ["distill", f"flow-{params.attention}"]}
        for name, members in pairs.items():
            m = evaluate_fusion(name, members, paths, index.reverse_map, index.classes)
            print(f"{name}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float)))
        return 0
    m = evaluate_model(args.model_id, params, paths, device=args.device, progress=sys.stderr.isatty())
    print(f"{args.model_id}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
