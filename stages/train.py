"""DVC stage: train one declared model id (see attdistill.methods).

    python stages/train.py MODEL_ID --seed S --index I --frames F [--flow W] [--raw R] --out DIR --live DIR \
        [--skipped REPORT ...] [--teacher ROLE=PATH ...] [--nproc N] [--pretraining]

``--pretraining``: train on the pretraining benchmark with its schedule (params ``pretrain``; pretrain/dvc.yaml).
``--flow``: the flow packs (models that read flow); ``--raw``: the original, larger frames of the same videos
(the focused-crop models re-cut their focused view there).

``--seed``: the training seed (initialisation, data order, augmentation, dropout/Gumbel noise); dvc.yaml runs one
stage per entry of params ``seeds``. Params ``seed`` is the embedded benchmark's generation seed, not read here.

``--nproc N`` > 1 re-launches the stage under torchrun (DDP); with 1 the stage skips torchrun's ~2 s start-up.
``torchrun --standalone --nproc_per_node N stages/train.py ...`` does the same by hand.
"""

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from attdistill.cli import parse_teachers
from attdistill.config import add_params_arguments, add_pretraining_argument, params_from_cli
from attdistill.methods import TRAINED_IDS
from attdistill.training.engine import TrainPaths, train


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_id", choices=TRAINED_IDS)
    ap.add_argument("--seed", type=int, required=True, help="training seed (one of params seeds)")
    add_params_arguments(ap)
    add_pretraining_argument(ap)
    ap.add_argument("--index", required=True)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--flow", help="flow packs (needed by models that read flow)")
    ap.add_argument("--raw", help="original frames of the same videos (focused crops)")
    ap.add_argument("--out", required=True, help="folder of model.pt (and resume.pt)")
    ap.add_argument("--live", required=True, help="dvclive folder")
    ap.add_argument("--skipped", nargs="*", default=[], help="skip reports of the frames / flow stages")
    ap.add_argument("--teacher", action="append", default=[], metavar="ROLE=PATH", help="a declared teacher's file")
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
    params = dataclasses.replace(params, seed=args.seed)
    paths = TrainPaths(index=Path(args.index), frames=Path(args.frames), flow=Path(args.flow) if args.flow else None,
                       raw=Path(args.raw) if args.raw else None, out=Path(args.out),
                       live=Path(args.live), skipped=tuple(map(Path, args.skipped)),
                       teachers=parse_teachers(args.teacher))
    train(args.model_id, params, paths, stop_after=args.stop_after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
