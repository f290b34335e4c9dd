"""DVC stage ``pretrain_export`` (pretrain/dvc.yaml): write a trained single-stream model's I3D as a
pytorch-i3d-format state_dict, the initial weights of other models.

    python stages/export_i3d.py models/pretrain/rgb-none/model.pt --out models/pretrain/i3d_rgb.pt \
        --report reports/pretrain/i3d_rgb.json
    python stages/train.py rgb-none --seed 0 ... -S model.pretrained_rgb=models/pretrain/i3d_rgb.pt

The paper initialises every network from Kinetics-trained I3Ds; this is the embedded analogue: an I3D trained on
another benchmark (params ``pretrain``: another generation seed, other actor kinds) initialises the study's
networks, loaded by the same code path as pytorch-i3d's ``rgb_imagenet.pt`` (``model.pretrained_rgb`` /
``model.pretrained_flow``), into a model of the same width. The report gives the file's SHA-256 (for
``model.pretrained_rgb_sha256``, which pins it).
"""

import argparse
import json
from pathlib import Path

import torch

from attdistill.download import sha256sum
from attdistill.models import export_i3d_state
from attdistill.models.files import load_frozen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="a model.pt written by stages/train.py (a single-stream I3D model)")
    ap.add_argument("--out", type=Path, required=True, help="where to write the state_dict")
    ap.add_argument("--report", type=Path, help="where to write its SHA-256 and tensor count (JSON)")
    args = ap.parse_args(argv)
    model, _ = load_frozen(args.model)
    state = export_i3d_state(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    sha = sha256sum(args.out)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps({"source": str(args.model), "file": str(args.out), "sha256": sha,
                                           "tensors": len(state)}, indent=2) + "\n")
    print(f"{args.model} -> {args.out}: {len(state)} tensors, sha256 {sha}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
