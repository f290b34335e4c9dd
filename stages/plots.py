"""DVC stage ``plots``: reports/summary.json (the output contract), every paper's tables, the claims and the
convergence check, over every training seed of params ``seeds``. Reads only reports (no frames, no scores), so it
re-runs in seconds; the ``figures`` stage draws the PNG figures from the scores.

    python stages/plots.py --index I --eval-reports R --localize L --train-logs T --flops FLOPS.json \
        --detect DIR --temporal DIR --focus DIR --summary OUT.json --tables DIR --claims OUT.md --convergence OUT.json
"""

import argparse

from attdistill import methods
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation import focus_tables, stam_tables, tables, w3_tables
from attdistill.evaluation.claims import write_claims
from attdistill.evaluation.convergence import study_convergence
from attdistill.evaluation.paths import ReportPaths
from attdistill.evaluation.summary import collect_summary, write_json, write_summary
from attdistill.evaluation.tables import write_tables

INPUTS = ("index", "eval_reports", "localize", "train_logs", "flops", "detect", "temporal", "focus")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    for name in INPUTS + ("summary", "tables", "claims", "convergence"):
        ap.add_argument("--" + name.replace("_", "-"), required=True)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    seeds = list(params.seeds)
    paths = ReportPaths.from_strings(seeds[0], **{k: getattr(args, k) for k in INPUTS})
    summary = collect_summary(paths, params.dataset.name, params.attention, seeds)
    write_summary(summary, args.summary)
    write_tables(summary, args.tables, {**tables.TABLES, **w3_tables.TABLES, **stam_tables.TABLES,
                                        **focus_tables.TABLES})
    write_claims(methods.CLAIMS, summary, args.claims)
    convergence = study_convergence(paths, params)
    write_json(convergence, args.convergence)
    print(f"summary: {len(summary['models'])} models, {len(summary['localization'])} maps, seeds {seeds}; "
          f"every model converged: {convergence['all_converged']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
