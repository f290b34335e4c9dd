"""DVC stage ``frames``: decode every video of the index to a frame pack ``<out>/<video_id>.pack``.

    python stages/frames.py --index data/raw/index.json --out data/frames
        --report reports/data/frames_skipped.json [--params params.yaml] [--shard k/N] [--base .]

Resampled to ``frames.fps``, resized to ``frames.width x frames.height``, ``frames.workers`` processes. Parameters
are validated before any work (exit code 2). Corrupt/empty/undecodable videos are skipped and listed in the report
(always written; ``[]`` when none); the stage still succeeds. Packs already complete are kept (resume).
``--shard k/N`` (or RANK / WORLD_SIZE) processes every N-th video and writes ``<report>.shard-k-of-N.json``;
merge with ``python -m attdistill.data.jobs merge <report> N``. See attdistill.data.jobs.
"""

import argparse

from attdistill.config import add_params_arguments
from attdistill.data.jobs import run_stage_cli


def run(args, params, index, shard):
    from attdistill.data.frames import extract_frames

    summary = extract_frames(index, args.out, params.frames, base=args.base, shard=shard, report=args.report)
    return summary, f"frames: {summary} -> {args.out}; skip report {summary.report}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--index", required=True, help="the dataset index (data/raw/index.json)")
    ap.add_argument("--out", required=True, help="folder of the frame packs")
    ap.add_argument("--report", required=True, help="the skip report (JSON)")
    ap.add_argument("--shard", default=None, metavar="k/N", help="default: RANK/WORLD_SIZE if set, else 0/1")
    ap.add_argument("--base", default=".", help="folder the index root is relative to")
    return run_stage_cli(ap, argv, run)


if __name__ == "__main__":
    raise SystemExit(main())
