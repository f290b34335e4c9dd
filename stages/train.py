"""DVC stage: train one model id (Table-1 baselines, distill, feature-distill, reference-attention, mfr).

    python stages/train.py MODEL_ID                        # one process
    python stages/train.py MODEL_ID --nproc N              # DDP: re-launches itself under torchrun
    torchrun --standalone --nproc_per_node N stages/train.py MODEL_ID   # the same, by hand

dvc.yaml passes ``--nproc ${train.nproc}``; with 1 the stage skips torchrun's ~2 s start-up.
"""

import argparse
import os
import sys
from pathlib import Path

from attdistill.config import add_params_arguments, params_from_cli
from attdistill.training.engine import Paths, train
from attdistill.training.recipes import TRAINED_IDS


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_id", choices=TRAINED_IDS)
    add_params_arguments(ap)
    ap.add_argument("--index", default="data/raw/index.json")
    ap.add_argument("--frames", default="data/frames")
    ap.add_argument("--flow", default="data/flow")
    ap.add_argument("--out", help="default: models/MODEL_ID")
    ap.add_argument("--live", help="dvclive folder, default: reports/train/MODEL_ID")
    ap.add_argument("--teacher", action="append", default=[], metavar="ROLE=PATH",
                    help="teacher model file, e.g. teacher=models/teacher/model.pt or stage1=models/distill/model.pt")
    ap.add_argument("--nproc", type=int, default=1, help="processes (torchrun --nproc_per_node)")
    ap.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)  # simulate a killed run (tests)
    args = ap.parse_args(argv)
    if args.nproc > 1 and "RANK" not in os.environ:
        argv = sys.argv[1:] if argv is None else list(argv)
        argv = [a for i, a in enumerate(argv) if a != "--nproc" and (i == 0 or argv[i - 1] != "--nproc")
                and not a.startswith("--nproc=")]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}",
               os.path.abspath(__file__), *argv]
        os.execv(sys.executable, cmd)
    params = params_from_cli(args)
    if params is None:
        return 2
    paths = Paths(index=Path(args.index), frames=Path(args.frames), flow=Path(args.flow),
                  out=Path(args.out or f"models/{args.model_id}"),
                  live=Path(args.live or f"reports/train/{args.model_id}"))
    teachers = dict(t.split("=", 1) for t in args.teacher)
    train(args.model_id, params, paths, teacher_files=teachers, stop_after=args.stop_after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
