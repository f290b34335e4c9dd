"""DVC stage: reports/summary.json (the output contract), the paper's tables 1-5 and the PNG figures."""

import argparse

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.evaluation.figures import make_figures
from attdistill.evaluation.summary import write_summary
from attdistill.evaluation.tables import write_tables


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    add_params_arguments(ap)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    summary = write_summary("reports", dataset=params.dataset.name, out="reports/summary.json")
    write_tables("reports", out_dir="reports/tables", dataset=params.dataset.name)
    figures = make_figures("reports", "data", "models", "reports/figures")
    print(f"summary: {len(summary['models'])} models, {len(summary['localization'])} maps; "
          f"{len(figures)} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
