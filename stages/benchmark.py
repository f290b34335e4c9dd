"""DVC stage: reports/speed.json — the distilled student vs a two-stream network with TV-L1 flow (paper §4.3).

    python stages/benchmark.py --student models/distill/model.pt --rgb models/rgb-none/model.pt \\
        --flow models/flow-none/model.pt --index data/raw/index.json --frames data/frames \\
        --out reports/speed.json [--paper-profile profiles/paper.yaml] [--threads 2] [--device cpu]

Uses the three model files when they exist (random weights of the configured architecture otherwise; the report
says which) and the first test video of the index that has a frame pack (a synthetic clip otherwise).
"""

import argparse
import json
import os
from pathlib import Path

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. Otherwise, on 2 cores, torch's spinning
# threads compete with OpenCV's TV-L1 threads in the two-stream loop (measured: 2.4x the CPU time of the two parts
# run separately) and with any other process; the student is measured under the same setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from attdistill.benchmark.speed import format_report, run_benchmark
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.profile import with_profile


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--student", required=True, help="model file of the distilled student")
    ap.add_argument("--rgb", required=True, help="model file of the two-stream network's RGB I3D")
    ap.add_argument("--flow", required=True, help="model file of the two-stream network's flow I3D")
    ap.add_argument("--index", required=True, help="the dataset's index.json (the input clip's video)")
    ap.add_argument("--frames", required=True, help="folder of the frame packs")
    ap.add_argument("--out", required=True, help="the report written (JSON)")
    ap.add_argument("--paper-profile", help="profiles/paper.yaml: also time the paper's setting (paper_setting)")
    ap.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads (default 2)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto (TV-L1 always runs on the CPU)")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    paper = with_profile(params, args.paper_profile) if args.paper_profile else None
    report = run_benchmark(params, student=args.student, rgb=args.rgb, flow=args.flow, frames_dir=args.frames,
                           index_path=args.index, threads=args.threads, device=args.device, paper=paper)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2) + "\n"
    out.write_text(text)
    print(text, end="")
    print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
