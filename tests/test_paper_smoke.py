"""Paper-profile smoke run (opt-in: ``make paper-smoke``, or ATTDISTILL_PAPER_SMOKE=1 pytest tests/test_paper_smoke.py).

``dvc repro`` of the whole DAG with profiles/paper.yaml — 320 x 256 frames at 24 fps, 24-frame clips cropped to
224, full-width Inception-I3D (``final_stride`` 2, 3 x 7 x 7 maps), TV-L1 with OpenCV's defaults — on a handful of
synthetic videos for one epoch, the RGB I3D loaded from the pytorch-i3d-format reference checkpoint
(``../shared/reference``), the flow I3D from a checkpoint in the same format written here. It checks that every
stage completes and that the networks ran at the paper's shapes. About 15-30 minutes on 2 CPU cores: not part of
``make test``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
REF = Path(os.environ.get("ATTDISTILL_REFERENCE", REPO.parent / "shared" / "reference"))
RGB_WEIGHTS = REF / "pytorch_i3d_rgb_random_fp16.pt"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("ATTDISTILL_PAPER_SMOKE") != "1",
                       reason="opt-in (15-30 min on 2 cores): make paper-smoke"),
    pytest.mark.skipif(not RGB_WEIGHTS.is_file(), reason=f"pytorch-i3d reference checkpoint not in {REF}"),
]

# A handful of synthetic videos at the paper's frame size, long enough for one 24-frame clip (+1 for its flow).
SMALL = {
    "seeds": [0],
    "synthetic": {"kinds": ["disc", "square"], "motions": ["left", "right"], "videos_per_class": 3, "groups": 3,
                  "test_groups": 1, "frames": 26, "width": 320, "height": 256, "distractors": 1},
    "dataset": {"val_fraction": 0.5},
    "frames": {"workers": 2},
    "flow": {"workers": 2},
    "train": {"epochs": 1, "batch_size": 2, "nproc": 1},
    "benchmark": {"clips": 1, "repeats": 1, "paper_repeats": 0},
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flow_checkpoint(path: Path) -> Path:
    """A random flow I3D in pytorch-i3d's format (its keys, 2 input channels, 400 Kinetics classes)."""
    from attdistill.models.i3d import InceptionI3d

    torch.manual_seed(0)
    torch.save(InceptionI3d(400, in_channels=2).state_dict(), path)
    return path


def resnet50_checkpoint(path: Path) -> Path:
    """A random torchvision ResNet-50 state_dict (fc included), standing in for the ImageNet weights of STAM."""
    from torchvision.models import resnet50

    torch.manual_seed(0)
    torch.save(resnet50(weights=None).state_dict(), path)
    return path


def paper_params(root: Path) -> dict:
    from attdistill.profile import deep_merge

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params = deep_merge(params, yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text()))
    flow = flow_checkpoint(root / "flow_i3d.pt")
    params = deep_merge(params, SMALL)
    params["model"].update(pretrained_rgb=str(RGB_WEIGHTS), pretrained_rgb_sha256=sha256(RGB_WEIGHTS),
                           pretrained_flow=str(flow), pretrained_flow_sha256=sha256(flow))
    params["stam"].update(pretrained=str(resnet50_checkpoint(root / "resnet50.pth")))    # never the URL
    params["dataset"]["name"] = "synthetic"
    return params


def test_paper_profile_dag_completes(tmp_path):
    root = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file() and not rel.startswith(("reports/", "dvc.lock")):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    (root / "params.yaml").write_text(yaml.safe_dump(paper_params(tmp_path), sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(REPO / "src")}
    subprocess.run([sys.executable, "-m", "dvc", "config", "core.no_scm", "true"], cwd=root, env=env, check=True)
    r = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=root, env=env, capture_output=True, text=True)
    (tmp_path / "repro.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    summary = json.loads((root / "reports" / "summary.json").read_text())
    assert {"distill", "two-stream", "rgb-prob-atten"} <= set(summary["models"])
    from attdistill.models.files import load_model_file

    obj = load_model_file(next((root / "models" / "distill").rglob("model.pt")))
    assert obj["arch"]["model"]["width"] == 1.0 and obj["arch"]["model"]["final_stride"] == 2
    assert obj["meta"]["clip"]["frames"] == 24 and obj["meta"]["frames"]["width"] == 320
    maps = next((root / "data" / "eval" / "distill").rglob("maps.npz"))
    import numpy as np

    with np.load(maps) as z:
        assert z["maps_motion"].shape[1:] == (3, 8, 10)      # 3 temporal slices at 256 x 320 (7 x 7 at 224)
