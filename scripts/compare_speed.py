"""Old and new training side by side, in one run: the same model, data and epochs trained by two commits.

    python scripts/compare_speed.py --old 8f6433b --model rgb-prob-atten --epochs 6 \
        --index data/raw/index.json --frames data/frames --flow data/flow --work /tmp/speed-compare \
        [--new-set KEY=VALUE ...] [--old-set KEY=VALUE ...]

The old commit is exported (``git archive``) into ``--work``/old and trained from there with its own params.yaml
and its own code (``PYTHONPATH`` = that tree's ``src``); the new side is this checkout. Each run is the real
training stage (``stages/train.py``: data loading, augmentation, forward, backward, optimizer, per-epoch
validation and checkpoint), one after the other on an otherwise idle machine. Reported: wall time of the whole
stage, and clips/s = training clips per epoch / the median epoch time (dvclive's ``epoch_time_s``, which includes
the epoch's validation) over epochs 2..N. Not a DVC stage: it reads git history, which a pipeline must not.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from attdistill.data.index import VideoIndex
from attdistill.evaluation.convergence import read_tsv

ROOT = Path(__file__).resolve().parents[1]


def export_commit(commit: str, dest: Path) -> Path:
    """The tree of ``commit`` under ``dest`` (``git archive``, so no worktree bookkeeping is left behind)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest.with_suffix(".tar")
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), commit], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


def epoch_times(live: Path) -> list[float]:
    return [float(t) for t in read_tsv(live / "plots" / "metrics" / "epoch_time_s.tsv")[1]]


def run_side(name: str, tree: Path, args, sets: list[str], out: Path) -> dict:
    """Train ``args.model`` from ``tree``; its wall time and epoch times."""
    run = out / name
    cmd = [sys.executable, str(tree / "stages" / "train.py"), args.model, "--seed", "0",
           "--params", str(tree / "params.yaml"), "-S", f"train.epochs={args.epochs}",
           *[x for s in sets for x in ("-S", s)],
           "--index", str(args.index.resolve()), "--frames", str(args.frames.resolve()),
           "--flow", str(args.flow.resolve()), "--out", str(run / "model"), "--live", str(run / "live")]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True)
    wall = time.perf_counter() - t0
    times = epoch_times(run / "live")
    return {"tree": str(tree), "sets": sets, "wall_s": round(wall, 2), "epoch_times_s": [round(t, 3) for t in times],
            "median_epoch_s": round(statistics.median(times[1:] or times), 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="commit to compare against")
    ap.add_argument("--model", default="rgb-prob-atten")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--frames", type=Path, required=True)
    ap.add_argument("--flow", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (the old tree and both runs)")
    ap.add_argument("--old-set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--new-set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    if args.work.exists() and any(args.work.iterdir()):
        ap.error(f"--work {args.work} is not empty")
    old_tree = export_commit(args.old, args.work / "old")
    clips = len(VideoIndex.load(args.index).split("train"))
    sides = {"old": run_side("old", old_tree, args, args.old_set, args.work / "runs"),
             "new": run_side("new", ROOT, args, args.new_set, args.work / "runs")}
    for side in sides.values():
        side["clips_per_s"] = round(clips / side["median_epoch_s"], 1)
    result = {"model": args.model, "epochs": args.epochs, "train_clips_per_epoch": clips, "old_commit": args.old,
              **sides, "speedup": round(sides["new"]["clips_per_s"] / sides["old"]["clips_per_s"], 2)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
