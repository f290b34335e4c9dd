"""DVC stage ``flow``: optical flow of every frame pack -> a flow pack ``<out>/<video_id>.pack`` (N - 1 fields).

    python stages/flow.py --index data/raw/index.json --frames data/frames --out data/flow \\
        --reversed-out data/flow_reversed --report reports/data/flow_skipped.json [--shard k/N] [--params FILE]

``flow.method`` (tvl1 | dis | farneback) with its parameters, clipped to +-``flow.bound`` and quantised to uint8.
With ``flow.reverse: backward`` test videos also get the flow of the time-reversed video in ``--reversed-out``
(always created; only a README.txt in it with ``negate``). Parameters are validated before any work (exit
code 2). A missing or corrupt frame pack is skipped and reported (the report is always written). Resume,
sharding and report merging as in stages/frames.py. Every path is given on the command line. See docs/flow.md.
"""

import argparse

from attdistill.config import add_params_arguments
from attdistill.data.jobs import run_stage_cli


def run(args, params, index, shard):
    from attdistill.data.flow_packs import compute_flow_packs

    summary = compute_flow_packs(index, args.frames, args.out, params.flow, reversed_dir=args.reversed_out,
                                 shard=shard, report=args.report)
    return summary, (f"flow ({params.flow.method}): {summary} -> {args.out}, {args.reversed_out}; "
                     f"skip report {summary.report}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--index", required=True, help="the dataset's index.json")
    ap.add_argument("--frames", required=True, help="folder of the frame packs")
    ap.add_argument("--out", required=True, help="folder of the flow packs written")
    ap.add_argument("--reversed-out", required=True, help="folder of the test videos' time-reversed flow packs")
    ap.add_argument("--report", required=True, help="skip report written (JSON)")
    ap.add_argument("--shard", default=None, metavar="k/N", help="default: RANK/WORLD_SIZE if set, else 0/1")
    return run_stage_cli(ap, argv, run)


if __name__ == "__main__":
    raise SystemExit(main())
