"""DVC stage: reports/summary.json (the output contract), the paper's tables 1-5 and the PNG figures.

    python stages/plots.py --index I --frames F --eval-data D --eval-reports R --localize L --train-logs T \
        --long-budget B --teacher M --summary OUT.json --tables DIR --figures DIR
"""

import argparse

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.figures import make_figures
from attdistill.evaluation.paths import ReportPaths
from attdistill.evaluation.summary import collect_summary, write_summary
from attdistill.evaluation.tables import write_tables

INPUTS = ("index", "frames", "eval_data", "eval_reports", "localize", "train_logs", "long_budget", "teacher")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    for name in INPUTS + ("summary", "tables", "figures"):
        ap.add_argument("--" + name.replace("_", "-"), required=True)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    paths = ReportPaths.from_strings(**{k: getattr(args, k) for k in INPUTS})
    summary = collect_summary(paths, params.dataset.name, params.attention)
    write_summary(summary, args.summary)
    write_tables(summary, args.tables)
    figures = make_figures(paths, args.figures)
    print(f"summary: {len(summary['models'])} models, {len(summary['localization'])} maps; "
          f"{len(figures)} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
