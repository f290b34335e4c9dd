"""Is a budget long enough? Train a model at E and at 2E epochs and compare them on validation.

    python scripts/doubling.py rgb-none flow-prob-atten --epochs 36 --seed 0 \
        --index data/raw/index.json --frames data/frames --flow data/flow --work /tmp/doubling \
        [--teacher teacher=models/teacher/s0/model.pt] [-S KEY=VALUE ...] [--out doubling.json]

The convergence criterion of the study (``attdistill.evaluation.convergence``) is necessary, not sufficient: an
annealed schedule flattens the validation curve of a model that a longer schedule would still improve. This is
the sufficient test (docs/study.md): each model is trained by the real training stage (``stages/train.py``) at
``--epochs`` and at twice that, with the same seed and params, and the mean validation top-1 over the last quarter
of each run is compared. A budget is **long enough** for a model when doubling it raises that mean by at most
``--tolerance`` videos (default one video; pass the seed spread, in videos, when it is larger). Validation only: the
test split is never read. Not a DVC stage: it is a check of the study's schedule, at three times one training's
cost.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from attdistill.cli import parse_teachers
from attdistill.data.index import VideoIndex
from attdistill.evaluation.convergence import read_tsv, window_start

ROOT = Path(__file__).resolve().parents[1]


def last_quarter_mean(live: Path) -> float:
    """Mean validation top-1 over the last quarter of the epochs of one run's dvclive curves."""
    top1 = read_tsv(live / "plots" / "metrics" / "val" / "top1.tsv")[1]
    return float(np.mean(top1[window_start(len(top1)) - 1:]))


def train_once(model: str, epochs: int, args, run: Path) -> float:
    """One run of the training stage; the last-quarter validation mean."""
    cmd = [sys.executable, str(ROOT / "stages" / "train.py"), model, "--seed", str(args.seed),
           "--params", str(args.params), "-S", f"train.epochs={epochs}", *[x for s in args.set for x in ("-S", s)],
           "--index", str(args.index), "--frames", str(args.frames), "--flow", str(args.flow),
           *[x for t in args.teacher for x in ("--teacher", t)], "--out", str(run / "model"), "--live", str(run / "live")]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return last_quarter_mean(run / "live")


def verdict(base: float, doubled: float, num_val: int, tolerance_videos: float) -> dict:
    """The comparison of one model's two runs (fractions), with the gain in videos and the verdict."""
    gain = (doubled - base) * num_val
    return {"last_quarter_top1": base, "last_quarter_top1_doubled": doubled, "gain_videos": round(gain, 2),
            "tolerance_videos": tolerance_videos, "long_enough": gain <= tolerance_videos}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--teacher", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--tolerance", type=float, default=1.0, help="videos")
    for name in ("index", "frames", "flow", "work"):
        ap.add_argument(f"--{name}", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    parse_teachers(args.teacher)                                # a malformed pair fails before any training
    args.index, args.frames, args.flow = (p.resolve() for p in (args.index, args.frames, args.flow))
    num_val = len(VideoIndex.load(args.index).split("val"))
    report = {"epochs": args.epochs, "seed": args.seed, "sets": args.set, "num_val": num_val, "models": {}}
    for model in args.models:
        runs = [train_once(model, e, args, args.work / model / f"e{e}") for e in (args.epochs, 2 * args.epochs)]
        report["models"][model] = verdict(*runs, num_val, args.tolerance)
        r = report["models"][model]
        print(f"{model}: last-quarter val top-1 {100 * runs[0]:.1f} % at {args.epochs} epochs, "
              f"{100 * runs[1]:.1f} % at {2 * args.epochs}: {r['gain_videos']:+.1f} videos -> "
              f"{'long enough' if r['long_enough'] else 'still learning'}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["long_enough"] for r in report["models"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
