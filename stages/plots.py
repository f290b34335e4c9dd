"""DVC stage ``plots``: the PNG figures (attention overlays, PR curves, training curves, confusion matrices, the
convergence figure, W3 / CBAM and STAM masks, STAM's temporal weights) of the seed in params ``seeds[0]``, and
the curves over every seed.

    python stages/plots.py --index I --frames F --eval-data D --eval-reports R --localize L --train-logs T \
        --convergence CONVERGENCE.json --figures DIR

``--convergence``: the summary stage's report (read, not written here).
"""

import argparse
import json

from attdistill import methods
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.figures import make_figures
from attdistill.evaluation.paths import ReportPaths

INPUTS = ("index", "frames", "eval_data", "eval_reports", "localize", "train_logs")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    for name in INPUTS + ("convergence", "figures"):
        ap.add_argument("--" + name.replace("_", "-"), required=True)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    paths = ReportPaths.from_strings(params.seeds[0], **{k: getattr(args, k) for k in INPUTS})
    with open(args.convergence) as fh:
        convergence = json.load(fh)
    figures = make_figures(paths, args.figures, convergence, teacher_id=methods.teacher_model_id(params))
    print(f"plots: {len(figures)} figures -> {args.figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
