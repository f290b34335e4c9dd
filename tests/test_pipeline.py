"""End to end: the whole DAG through ``dvc repro`` on a tiny configuration, in a temporary copy of the repo.

Checks the output contract (reports/summary.json holds every model and localisation id of DESIGN.md), that a
second ``dvc repro`` does nothing, and that changing ``attention`` invalidates only the main method's stages
(never a data stage or a Table-1 baseline). Then runs the opt-in pretraining pipeline (``dvc repro
pretrain/dvc.yaml``) in the same copy: it leaves the study's stages up to date, and its I3D initialises a study
training only under its own SHA-256.
"""

from __future__ import annotations

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

from attdistill.download import sha256sum
from attdistill.methods import MODEL_IDS
from attdistill.evaluation.summary import LOCALIZATION_IDS
from attdistill.models import export_i3d_state
from attdistill.models.files import load_frozen

TINY = {
    "seeds": [0],                     # the committed params.yaml is the 3-seed study; one seed keeps this test short
    "synthetic": {"kinds": ["disc", "square"], "motions": ["left", "right"], "videos_per_class": 6, "groups": 3,
                  "test_groups": 1, "frames": 10, "width": 48, "height": 40, "distractors": 1},
    "frames": {"width": 48, "height": 40, "workers": 1},
    "flow": {"method": "dis", "workers": 1},
    "clip": {"frames": 6, "crop": 32},
    "model": {"width": 0.0625},
    "train": {"epochs": 1, "batch_size": 4},
    "benchmark": {"clips": 1, "repeats": 1},
    "focus": {"raw": 64, "input": 32, "epochs": 1},
    "pretrain": {"kinds": ["star", "triangle"], "epochs": 1,       # kinds disjoint from the tiny study's, and an
                 "train_seed": 1},                                # initialisation other than its seed 0's
}


def deep_update(base: dict, new: dict) -> dict:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = v
    return base


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 900) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout + r.stderr


def dvc_status(root: Path, env: dict) -> dict:
    out = run([sys.executable, "-m", "dvc", "status", "--json"], root, env)
    return json.loads(out[out.index("{"):])


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("pipeline") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           text=True).stdout.split("\0")
    for f in filter(None, files):
        src = REPO / f
        generated = f.startswith("reports/") or Path(f).name == "dvc.lock"   # also pretrain/dvc.lock
        if src.is_file() and not generated:
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / f)
    for f in (REPO / "stages").glob("*.py"):      # stage scripts even before they are committed
        shutil.copy2(f, root / "stages" / f.name)
    shutil.copy2(REPO / "dvc.yaml", root / "dvc.yaml")
    params = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(REPO / "src")}
    run([sys.executable, "-m", "dvc", "config", "core.no_scm", "true"], root, env)
    run([sys.executable, "-m", "dvc", "repro"], root, env, timeout=2400)   # every stage of the four papers
    return root, env


def test_full_dag_writes_the_output_contract(tiny_repo):
    root, _ = tiny_repo
    summary = json.loads((root / "reports" / "summary.json").read_text())
    assert summary["dataset"] == "synthetic"
    assert set(MODEL_IDS) <= set(summary["models"])
    for mid in MODEL_IDS:
        m = summary["models"][mid]
        for key in ("top1", "top5", "mean_class", "mean_class_reversed"):
            assert 0.0 <= m[key] <= 1.0, (mid, key, m[key])
    assert set(LOCALIZATION_IDS) <= set(summary["localization"])
    for lid in LOCALIZATION_IDS:
        assert 0.0 <= summary["localization"][lid]["f1"] <= 1.0
    for t in range(1, 6):
        assert (root / "reports" / "tables" / f"table{t}.md").stat().st_size > 0
    for t in range(5, 9):                                       # the W3 paper's tables
        assert "(paper)" in (root / "reports" / "tables" / f"w3_table{t}.md").read_text()
    assert summary["flops"]["ours"]["i3d"] < summary["flops"]["ours"]["w3"]
    assert {"w3-mixed5c", "w3-mixed3c", "cbam-mixed5c", "cbam-mixed3c"} <= set(summary["localization"])
    assert any((root / "reports" / "figures").glob("attention_*.png"))
    assert any((root / "reports" / "figures").glob("w3_masks_*.png"))
    for t in (1, 3):                                            # STAM's tables
        assert "(paper)" in (root / "reports" / "tables" / f"stam_table{t}.md").read_text()
    assert set(summary["detection"]["stam"]) >= {"map@0.05", "map@0.3", "spread", "per_seed"}
    assert "stam" in summary["localization"]
    assert (root / "reports" / "figures" / "stam_weights.png").is_file()
    assert json.loads((root / "reports" / "speed.json").read_text())["ratio"] > 0
    assert "| Attention L_E/E | 33.3 | 33.1 |" in (root / "reports" / "tables" / "focus_table2.md").read_text()
    assert {"attention-entropy", "attention-ce", "center", "random"} <= set(summary["focus_boxes"])
    assert "focus-concat-ce-ce" in summary["models"] and "focus-base" in summary["validation"]


def test_second_repro_does_nothing(tiny_repo):
    root, env = tiny_repo
    out = run([sys.executable, "-m", "dvc", "repro"], root, env)
    assert "Running stage" not in out


def test_attention_change_reruns_only_the_main_method(tiny_repo):
    root, env = tiny_repo
    params = root / "params.yaml"
    before = params.read_text()
    try:
        params.write_text(before.replace("attention: prob-atten", "attention: soft-res", 1))
        changed = set(dvc_status(root, env))
    finally:
        params.write_text(before)
    assert {"teacher@0", "distill@0", "distill_mfr@0", "reference_attention@0"} <= changed
    assert not changed & {"download", "frames", "flow", "feature_distill@0", "w3_mfr@0", "cbam_mfr@0"}
    assert not any(s.startswith(("w3_stage1@", "stam@", "stam_frames@", "focus")) for s in changed)
    assert not any(s.startswith("baselines@") for s in changed)


def test_evaluate_cli_scores_models_kept_elsewhere(tiny_repo, tmp_path):
    """`stages/evaluate.py model ID --model FILE --reports DIR --data-out DIR` (the README's long-budget evaluation)
    gives, on the pipeline's own model, exactly the pipeline's metrics, written where it was told."""
    root, env = tiny_repo
    run([sys.executable, "stages/evaluate.py", "model", "distill", "--seed", "0",
         "--model", "models/distill/s0/model.pt",
         "--index", "data/raw/index.json", "--frames", "data/frames", "--flow", "data/flow",
         "--flow-reversed", "data/flow_reversed", "--reports", str(tmp_path / "r"), "--data-out", str(tmp_path / "d")],
        root, env)
    ours = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert ours == json.loads((root / "reports" / "eval" / "distill" / "s0" / "metrics.json").read_text())
    assert (tmp_path / "d" / "maps.npz").is_file()


# ------------------------------------------------------------------------------------- the pretraining pipeline
@pytest.fixture(scope="module")
def pretrained_repo(tiny_repo) -> tuple[Path, dict]:
    """The tiny repo after its study (tiny_repo) and then ``dvc repro pretrain/dvc.yaml``."""
    root, env = tiny_repo
    assert set(dvc_status(root, env)) == {f"pretrain/dvc.yaml:{n}" for n in (
        "pretrain_data", "pretrain_frames", "pretrain", "pretrain_export", "pretrain_optical_flow", "pretrain_flow",
        "pretrain_flow_export")}
    run([sys.executable, "-m", "dvc", "repro", "pretrain/dvc.yaml"], root, env)
    return root, env


def test_pretraining_pipeline_runs_and_leaves_the_study_up_to_date(pretrained_repo):
    root, env = pretrained_repo
    for stream in ("rgb", "flow"):
        report = json.loads((root / "reports" / "pretrain" / f"i3d_{stream}.json").read_text())
        assert report["sha256"] == sha256sum(root / "models" / "pretrain" / f"i3d_{stream}.pt")
        assert report["source"] == f"models/pretrain/{stream}-none/model.pt"
    assert (root / "data" / "pretrain" / "flow").is_dir()
    index = json.loads((root / "data" / "pretrain" / "raw" / "index.json").read_text())
    study = json.loads((root / "data" / "raw" / "index.json").read_text())
    assert set(index["meta"]["class_kind"]) == {"star", "triangle"}             # its own kinds, no study actor
    assert not set(index["meta"]["class_kind"]) & set(study["meta"]["class_kind"])
    assert dvc_status(root, env) == {}                      # both pipelines up to date, no study stage touched
    out = run([sys.executable, "-m", "dvc", "repro", "pretrain/dvc.yaml"], root, env)
    assert "Running stage" not in out


@pytest.mark.parametrize("stream", ["rgb", "flow"])
def test_pretrained_i3d_initialises_a_study_training_only_under_its_hash(pretrained_repo, tmp_path, stream):
    root, env = pretrained_repo
    sha = json.loads((root / "reports" / "pretrain" / f"i3d_{stream}.json").read_text())["sha256"]
    weights = f"model.pretrained_{stream}"
    cmd = [sys.executable, "stages/train.py", f"{stream}-none", "--seed", "0", "--index", "data/raw/index.json",
           "--frames", "data/frames", "--flow", "data/flow", "-S", f"{weights}=models/pretrain/i3d_{stream}.pt"]
    wrong = subprocess.run(cmd + ["-S", f"{weights}_sha256=" + "f" * 64, "--out", str(tmp_path / "bad"),
                                  "--live", str(tmp_path / "bad_live")], cwd=root, env=env, capture_output=True,
                           text=True, timeout=600)
    assert wrong.returncode != 0 and "SHA-256 mismatch" in wrong.stderr
    assert not (tmp_path / "bad" / "model.pt").exists()
    run(cmd + ["-S", f"{weights}_sha256={sha}", "--out", str(tmp_path / "good"),
               "--live", str(tmp_path / "good_live")], root, env)
    pre = torch.load(root / "models" / "pretrain" / f"i3d_{stream}.pt")
    tuned = export_i3d_state(load_frozen(tmp_path / "good" / "model.pt")[0])
    scratch = export_i3d_state(load_frozen(root / "models" / f"{stream}-none" / "s0" / "model.pt")[0])
    for key in ("Conv3d_1a_7x7.conv3d.weight", "Mixed_5c.b3b.conv3d.weight"):
        # one epoch from the pretrained I3D stays near it; the scratch run at the same seed (what an ignored file
        # would give, bit for bit) started from another draw
        assert (tuned[key] - pre[key]).abs().mean() < 0.5 * (scratch[key] - pre[key]).abs().mean(), key
