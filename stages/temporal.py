"""DVC stage: STAM Table 4 — temporal localisation with STAM's temporal weights on the untrimmed benchmark.

    python stages/temporal.py --model stam=models/stam/s0/model.pt --index data/untrimmed/index.json \\
        --frames data/untrimmed_frames --annotations data/untrimmed/annotations --out reports/temporal/s0

Each untrimmed video is one clip of all its stored frames; STAM's weights, averaged over the steps and min-max
normalised, are thresholded at 0.5, runs of frames become segments scored by their mean weight and labelled with
the predicted class, and mAP at tIoU 0.1-0.5 is computed against the THUMOS'14-format annotations
(:mod:`attdistill.evaluation.temporal`). Writes ``OUT/metrics.json`` ({model id: {map@0.1 ..., video_top1}}).
"""

import argparse
import json
from pathlib import Path

from attdistill.cli import parse_pairs
from attdistill.config import add_params_arguments, params_from_cli
from attdistill.data.index import VideoIndex
from attdistill.data.packs import Pack, pack_path
from attdistill.data.thumos14 import read_annotations
from attdistill.evaluation.detection import GroundTruth
from attdistill.evaluation.localize import stored_fps
from attdistill.evaluation.paths import write_json
from attdistill.evaluation.temporal import temporal_localization
from attdistill.models.files import load_frozen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(ap)
    ap.add_argument("--model", nargs="+", required=True, metavar="MODEL_ID=PATH", help="model files to score")
    ap.add_argument("--index", required=True, help="index.json of the untrimmed videos")
    ap.add_argument("--frames", required=True, help="their frame packs")
    ap.add_argument("--annotations", required=True, help="folder of THUMOS'14-format <Class>_test.txt files")
    ap.add_argument("--out", required=True, help="folder written: metrics.json")
    args = ap.parse_args(argv)
    params = params_from_cli(args)
    if params is None:
        return 2
    index = VideoIndex.load(args.index)
    label_of = {c: i for i, c in enumerate(index.classes)}
    videos = [(v.video_id, v.video_id.split("/")[-1], v.label) for v in index.split("test")]
    if not videos:
        note = {"note": f"{args.index}: no untrimmed videos (dataset {index.dataset!r})"}
        write_json(note, Path(args.out) / "metrics.json")
        print(note["note"])
        return 0

    def read(video_id: str):
        with Pack(pack_path(args.frames, video_id)) as p:
            return p.read(list(range(len(p))))

    truths = [GroundTruth(s.video, label_of[c], (s.start, s.end))
              for c, segs in read_annotations(args.annotations, "test").items() for s in segs]
    with Pack(pack_path(args.frames, videos[0][0])) as p:
        fps = stored_fps(p.meta, params.frames.fps, args.frames)
    result = {}
    for model_id, path in parse_pairs(args.model, "--model", "MODEL_ID=PATH").items():
        model, _ = load_frozen(Path(path))
        found = temporal_localization(model, videos, read, truths, fps)
        result[model_id] = found if found is not None else {"note": "no temporal attention weights"}
    write_json(result, Path(args.out) / "metrics.json")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
