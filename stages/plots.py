"""DVC stage: reports/summary.json (the output contract), the paper's tables, the claims, the convergence check and
the PNG figures, over every training seed of params ``seeds``.

    python stages/plots.py --index I --frames F --eval-data D --eval-reports R --localize L --train-logs T \
        --summary OUT.json --tables DIR --claims OUT.md --convergence OUT.json --figures DIR --flops FLOPS.json \
        --detect DIR --temporal DIR
"""

import argparse

from attdistill import methods
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.data.index import VideoIndex
from attdistill.evaluation.claims import write_claims
from attdistill.evaluation.convergence import convergence_report
from attdistill.evaluation.figures import make_figures
from attdistill.evaluation.paths import ReportPaths
from attdistill.evaluation.summary import collect_summary, write_json, write_summary
from attdistill.evaluation import stam_tables, tables, w3_tables
from attdistill.evaluation.tables import write_tables

INPUTS = ("index", "frames", "eval_data", "eval_reports", "localize", "train_logs", "flops", "detect", "temporal")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    for name in INPUTS + ("summary", "tables", "claims", "convergence", "figures"):
        ap.add_argument("--" + name.replace("_", "-"), required=True)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    seeds = list(params.seeds)
    paths = ReportPaths.from_strings(seeds[0], **{k: getattr(args, k) for k in INPUTS})
    summary = collect_summary(paths, params.dataset.name, params.attention, seeds)
    write_summary(summary, args.summary)
    write_tables(summary, args.tables, {**tables.TABLES, **w3_tables.TABLES, **stam_tables.TABLES})
    write_claims(methods.CLAIMS, summary, args.claims)
    num_val = len(VideoIndex.load(paths.index).split("val"))
    floor_lr = params.train.lr * params.train.plateau_floor
    convergence = convergence_report(paths, list(methods.TRAINED_IDS), seeds, num_val, floor_lr,
                                     params.train.schedule)
    write_json(convergence, args.convergence)
    figures = make_figures(paths, args.figures, convergence, teacher_id=methods.teacher_model_id(params))
    print(f"summary: {len(summary['models'])} models, {len(summary['localization'])} maps, seeds {seeds}; "
          f"{len(figures)} figures; every model converged: {convergence['all_converged']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
