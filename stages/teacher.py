"""DVC stage: the teacher is the Table-1 flow model with the main ``attention`` — selected, never retrained.

Copies ``--source`` (dvc.yaml: ``models/flow-${attention}/model.pt``) to ``--out`` (``models/teacher/model.pt``) (DESIGN.md: "No configuration is
trained twice: if the teacher equals a Table-1 flow model, reuse it"). With ``dvc exp run -S attention=soft-res``
this stage re-runs in a second and ``distill`` / ``mfr`` / ``reference-attention`` follow; no baseline re-trains.
"""

import argparse

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.training.teacher import select_teacher


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--source", required=True, help="the Table-1 flow model file, models/flow-<attention>/model.pt")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    src = select_teacher(args.source, args.out, params.attention)
    print(f"teacher: {src} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
