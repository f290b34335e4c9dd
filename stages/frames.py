"""DVC stage ``frames``: decode every video of the index to a frame pack ``<out>/<video_id>.pack``.

    python stages/frames.py [--params params.yaml] [--index data/raw/index.json] [--out data/frames]
                            [--report reports/data/frames_skipped.json] [--shard k/N] [--base .]

Resampled to ``frames.fps``, resized to ``frames.width x frames.height``, ``frames.workers`` processes. Parameters
are validated before any work (exit code 2). Corrupt/empty/undecodable videos are skipped and listed in the report
(always written; ``[]`` when none); the stage still succeeds. Packs already complete are kept (resume).
``--shard k/N`` (or RANK / WORLD_SIZE) processes every N-th video and writes ``<report>.shard-k-of-N.json``;
merge with ``python -m attdistill.data.jobs merge <report> N``. See attdistill.data.jobs.
"""

import argparse
import sys

from attdistill.config import add_params_arguments, params_from_cli


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--index", default="data/raw/index.json")
    ap.add_argument("--out", default="data/frames")
    ap.add_argument("--report", default="reports/data/frames_skipped.json")
    ap.add_argument("--shard", default=None, metavar="k/N", help="default: RANK/WORLD_SIZE if set, else 0/1")
    ap.add_argument("--base", default=".", help="folder the index root is relative to")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2

    from attdistill.data.frames import extract_frames
    from attdistill.data.jobs import open_sharded_index

    try:
        index, shard = open_sharded_index(args.index, args.shard)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = extract_frames(index, args.out, params.frames, base=args.base, shard=shard, report=args.report)
    print(f"frames: {summary} -> {args.out}; skip report {summary.report}")
    return summary.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
