"""Export the I3D of a trained single-stream model as a pytorch-i3d-format state_dict, to initialise other models.

    python scripts/export_i3d.py models/rgb-none/s0/model.pt /tmp/rgb-i3d.pt
    python stages/train.py rgb-none --seed 0 ... -S model.pretrained_rgb=/tmp/rgb-i3d.pt

The paper initialises every network from Kinetics-trained I3Ds; this is the embedded analogue: an I3D trained on
another benchmark (another generation seed, other actor kinds) initialises the study's networks, loaded by the
same code path as pytorch-i3d's ``rgb_imagenet.pt`` (``model.pretrained_rgb`` / ``model.pretrained_flow``), into
a model of the same width. docs/study.md gives the validation runs made with it. Not a DVC stage.
"""

import argparse
from pathlib import Path

import torch

from attdistill.models import export_i3d_state
from attdistill.models.files import load_frozen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="a model.pt written by stages/train.py (a single-stream I3D model)")
    ap.add_argument("out", type=Path, help="where to write the state_dict")
    args = ap.parse_args()
    model, _ = load_frozen(args.model)
    state = export_i3d_state(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"{args.model} -> {args.out}: {len(state)} tensors")


if __name__ == "__main__":
    main()
