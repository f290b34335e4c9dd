"""DVC stage: reports/flops.json — GFLOPs of I3D, +CBAM and +W3 (W3 paper, Table 6) at this configuration's clip
and at the paper profile's (24 x 224 x 224, full-width I3D), counted by torch.utils.flop_counter on the meta device.

    python stages/flops.py --index data/raw/index.json --paper-profile profiles/paper.yaml --out reports/flops.json
"""

import argparse
import json

from attdistill.benchmark.flops import flops_report
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.data.index import VideoIndex
from attdistill.evaluation.paths import write_json
from attdistill.profile import with_profile


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--index", required=True, help="the dataset's index.json (its number of classes)")
    ap.add_argument("--paper-profile", help="profiles/paper.yaml: also count at the paper's shapes")
    ap.add_argument("--out", required=True, help="the report written (JSON)")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    paper = with_profile(params, args.paper_profile) if args.paper_profile else None
    report = flops_report(params, VideoIndex.load(args.index).num_classes, paper)
    write_json(report, args.out)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
