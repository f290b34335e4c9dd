"""DVC stage: evaluate one trained model, or late fusions of evaluated ones.

    python stages/evaluate.py model MODEL_ID --seed S --model FILE --index I --frames F [--flow W --flow-reversed R]
        [--raw R] --data-out DIR --reports DIR [--skipped REPORT ...] [--teacher ROLE=PATH ...]
    python stages/evaluate.py fusion --index I --fusion ID OUT_DIR SCORES.npz SCORES.npz [--fusion ...]

``model``: top-1/top-5/mean class, reversed time, confusion, attention maps. ``--flow`` / ``--flow-reversed``:
the flow packs of models that read flow; ``--raw``: the original frames (focused crops). A test-time variant
(``focus-<f>-ce-ce``) scores the model file of the id it declares in ``weights_of``. ``fusion``: the equal-weight mean of
the members' scores (each fusion's members are declared in attdistill.methods; the files are given in that order).
Models kept elsewhere are scored the same way, e.g. ``--model models/long_budget/distill/model.pt --reports
reports/long_budget/eval/distill --data-out data/eval_long_budget/distill``.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from attdistill import methods
from attdistill.cli import parse_teachers
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.data.index import VideoIndex
from attdistill.evaluation.evaluate import EvalPaths, evaluate_fusion, evaluate_model


def _report(name: str, m: dict) -> None:
    print(f"{name}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float)))


def run_model(args, params) -> None:
    opt = lambda p: Path(p) if p else None                                            # noqa: E731
    paths = EvalPaths(index=Path(args.index), frames=Path(args.frames), flow=opt(args.flow),
                      flow_reversed=opt(args.flow_reversed), raw=opt(args.raw), model=Path(args.model),
                      data_out=Path(args.data_out),
                      reports=Path(args.reports), skipped=tuple(map(Path, args.skipped)),
                      teachers=parse_teachers(args.teacher))
    _report(args.model_id, evaluate_model(args.model_id, params, paths, device=args.device,
                                          progress=sys.stderr.isatty()))


def run_fusions(args, params) -> None:
    index = VideoIndex.load(args.index)
    for fusion_id, out_dir, *files in args.fusion:
        members = list(methods.get_fusion(fusion_id).members(params))
        _report(fusion_id, evaluate_fusion(fusion_id, members, [Path(f) for f in files], Path(out_dir),
                                           index.reverse_map, index.classes))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="score one trained model")
    m.add_argument("model_id", choices=methods.EVALUATED_IDS)
    m.add_argument("--seed", type=int, required=True, help="the model's training seed (test-time views)")
    for flag in ("--model", "--index", "--frames", "--data-out", "--reports"):
        m.add_argument(flag, required=True)
    for flag in ("--flow", "--flow-reversed", "--raw"):
        m.add_argument(flag)
    m.add_argument("--skipped", nargs="*", default=[])
    m.add_argument("--teacher", action="append", default=[], metavar="ROLE=PATH")
    m.add_argument("--device", default="auto")
    f = sub.add_parser("fusion", help="late fusions of scored models")
    f.add_argument("--index", required=True)
    f.add_argument("--fusion", action="append", nargs="+", required=True, metavar="ID OUT_DIR SCORES",
                   help="a declared fusion id, its output folder, then its members' scores.npz in order")
    for p in (m, f):
        add_params_arguments(p)
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    if args.what == "model":
        run_model(args, dataclasses.replace(params, seed=args.seed))
    else:
        run_fusions(args, params)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
