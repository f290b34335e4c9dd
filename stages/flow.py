"""DVC stage ``flow``: optical flow of every frame pack -> a flow pack ``<out>/<video_id>.pack`` (N - 1 fields).

    python stages/flow.py [--params params.yaml] [--index data/raw/index.json] [--frames data/frames]
                          [--out data/flow] [--reversed-out data/flow_reversed]
                          [--report reports/data/flow_skipped.json] [--shard k/N]

``flow.method`` (tvl1 | dis | farneback) with its parameters, clipped to +-``flow.bound`` and quantised to uint8.
With ``flow.reverse: backward`` test videos also get the flow of the time-reversed video in ``--reversed-out``
(always created; only a README.txt in it with ``negate``). Parameters are validated before any work (exit
code 2). A missing or corrupt frame pack is skipped and reported (the report is always written). Resume,
sharding and report merging as in stages/frames.py. See docs/flow.md.
"""

import argparse
import sys

from attdistill.config import add_params_arguments, params_from_cli


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--index", default="data/raw/index.json")
    ap.add_argument("--frames", default="data/frames")
    ap.add_argument("--out", default="data/flow")
    ap.add_argument("--reversed-out", default="data/flow_reversed")
    ap.add_argument("--report", default="reports/data/flow_skipped.json")
    ap.add_argument("--shard", default=None, metavar="k/N", help="default: RANK/WORLD_SIZE if set, else 0/1")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2

    from attdistill.data.jobs import open_sharded_index
    from attdistill.flow import compute_flow_packs

    try:
        index, shard = open_sharded_index(args.index, args.shard)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = compute_flow_packs(index, args.frames, args.out, params.flow, reversed_dir=args.reversed_out,
                                 shard=shard, report=args.report)
    print(f"flow ({params.flow.method}): {summary} -> {args.out}, {args.reversed_out}; skip report {summary.report}")
    return summary.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
