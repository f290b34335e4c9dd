"""The training engine: determinism, bit-identical resume, DDP with 2 CPU processes, every recipe, frozen teachers."""

from __future__ import annotations

import json

import yaml
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from attdistill.models.files import atomic_save, load_model_file
from attdistill import methods
from attdistill.models.files import load_frozen, model_from_file
from attdistill.training.engine import (Interrupted, TrainPaths, build_run, make_scheduler, step_schedule, train,
                                       validate)
from attdistill.training.teacher import select_teacher

sys.path.insert(0, str(Path(__file__).parent))
from params import params_dict  # noqa: E402
from tiny_data import make_tiny_dataset, tiny_params  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    make_tiny_dataset(root)
    return root


def paths_for(root: Path, model_id: str, tag: str = "", teachers: dict | None = None) -> TrainPaths:
    return TrainPaths(index=root / "index.json", frames=root / "frames", flow=root / "flow",
                      out=root / f"models{tag}" / model_id, live=root / f"live{tag}" / model_id, skipped=(),
                      teachers={k: Path(v) for k, v in (teachers or {}).items()})


def digest(path: Path) -> str:
    from attdistill.training.engine import state_digest

    return state_digest(model_from_file(load_model_file(path)))


def test_same_config_twice_gives_identical_weights(tiny):
    p = tiny_params()
    train("rgb-prob-atten", p, paths_for(tiny, "rgb-prob-atten", "a"))
    train("rgb-prob-atten", p, paths_for(tiny, "rgb-prob-atten", "b"))
    a = digest(tiny / "modelsa" / "rgb-prob-atten" / "model.pt")
    b = digest(tiny / "modelsb" / "rgb-prob-atten" / "model.pt")
    assert a == b
    # the files themselves are byte-identical (no wall-clock inside), so DVC sees an unchanged output
    assert ((tiny / "modelsa" / "rgb-prob-atten" / "model.pt").read_bytes()
            == (tiny / "modelsb" / "rgb-prob-atten" / "model.pt").read_bytes())
    # and a different seed gives different weights (the check above can fail)
    train("rgb-prob-atten", tiny_params(seed=1), paths_for(tiny, "rgb-prob-atten", "c"))
    assert digest(tiny / "modelsc" / "rgb-prob-atten" / "model.pt") != a


def test_saved_bytes_depend_only_on_the_object(tmp_path):
    """Two saves of one object to different files, in a child process (another pid) and here, are the same bytes:
    nothing of the file name or the process leaks into a checkpoint, so a re-run leaves DVC's hash unchanged."""
    obj = {"w": torch.arange(6.0).reshape(2, 3), "meta": {"id": "x"}}
    atomic_save(obj, tmp_path / "a" / "model.pt")
    atomic_save(obj, tmp_path / "other.pt")
    code = ("import torch, sys; from attdistill.models.files import atomic_save; "
            "atomic_save({'w': torch.arange(6.0).reshape(2, 3), 'meta': {'id': 'x'}}, sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "child.pt")], check=True, timeout=120)
    data = {p.name: p.read_bytes() for p in (tmp_path / "a" / "model.pt", tmp_path / "other.pt", tmp_path / "child.pt")}
    assert data["model.pt"] == data["other.pt"] == data["child.pt"]
    assert torch.equal(torch.load(tmp_path / "child.pt")["w"], obj["w"])


def test_interrupted_and_resumed_run_is_bit_identical(tiny):
    p = tiny_params(**{"train.epochs": 3})
    full = paths_for(tiny, "flow-prob-atten", "full")
    train("flow-prob-atten", p, full)
    part = paths_for(tiny, "flow-prob-atten", "part")
    with pytest.raises(Interrupted):
        train("flow-prob-atten", p, part, stop_after=1)
    assert (part.out / "resume.pt").exists() and not (part.out / "model.pt").exists()
    summary = train("flow-prob-atten", p, part)  # the rerun resumes at epoch 2
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    assert digest(full.out / "model.pt") == digest(part.out / "model.pt")
    # dvclive curves continue instead of restarting: 3 steps in the resumed log
    tsv = part.live / "plots" / "metrics" / "train" / "loss.tsv"
    assert len(tsv.read_text().strip().splitlines()) == 1 + 3
    # a finished run's checkpoint is not resumed: a rerun trains from scratch (same result, fresh history)
    again = train("flow-prob-atten", p, part)
    assert [h["epoch"] for h in again["history"]] == [1, 2, 3]


def _schedule_lrs(schedule: str, losses: list[float], **train_overrides) -> list[list[float]]:
    """The lr of both parameter groups after each epoch, for validation losses ``losses``."""
    tp = tiny_params(**{"train.schedule": schedule, "train.epochs": len(losses), "train.lr": 0.1,
                        "train.plateau_floor": 0.01, **{f"train.{k}": v for k, v in train_overrides.items()}}).train
    opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1},
                           {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1.0}], lr=0.1)
    sched, out = make_scheduler(opt, tp), []
    for loss in losses:
        opt.step()
        step_schedule(sched, loss)
        out.append([g["lr"] for g in opt.param_groups])
    return out


def test_cosine_schedule_anneals_every_group_to_its_floor():
    lrs = _schedule_lrs("cosine", [1.0] * 8)
    assert lrs[-1] == pytest.approx([0.1 * 0.01, 1.0 * 0.01])               # ends at floor x each group's lr
    assert lrs[3] == pytest.approx([0.1 * (0.01 + 0.99 * 0.5), 1.0 * (0.01 + 0.99 * 0.5)])   # half way: mid lr
    assert all(a[0] > b[0] for a, b in zip(lrs, lrs[1:]))                 # monotone, whatever the loss does


def test_plateau_schedule_threshold_floor_and_patience():
    flat = [1.0, 0.999, 0.998, 0.997, 0.996, 0.995, 0.994, 0.993]          # 0.1 % better every epoch
    # torch's default threshold (1e-4 relative) counts every epoch as an improvement: no cut
    assert _schedule_lrs("plateau", flat, plateau_patience=1, plateau_threshold=1e-4)[-1] == pytest.approx([0.1, 1.0])
    # a 1 % threshold does not: a cut after every patience + 1 epochs, stopping at the floor
    cut = _schedule_lrs("plateau", flat, plateau_patience=1, plateau_threshold=0.01)
    assert [round(g[0], 6) for g in cut] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001]
    assert cut[-1] == pytest.approx([0.001, 0.01])


def test_resume_ignores_checkpoint_of_another_config(tiny):
    part = paths_for(tiny, "rgb-none", "cfg")
    with pytest.raises(Interrupted):
        train("rgb-none", tiny_params(**{"train.epochs": 3}), part, stop_after=1)
    s = train("rgb-none", tiny_params(**{"train.epochs": 3, "train.lr": 0.01}), part)
    assert s["history"][0]["epoch"] == 1 and len(s["history"]) == 3


@pytest.fixture(scope="module")
def teachers(tiny):
    """flow-prob-atten, flow-none, teacher and distill model files for the distillation recipes, and the stage-1
    models of W3's MFR (w3-no-mfr, cbam) and STAM's step 1 (stam-frames)."""
    p = tiny_params()
    for mid in ("flow-prob-atten", "flow-none", "w3-no-mfr", "cbam", "stam-frames"):
        train(mid, p, paths_for(tiny, mid, "T"))
    select_teacher(tiny / "modelsT" / "flow-prob-atten" / "model.pt", tiny / "modelsT" / "teacher" / "model.pt",
                   "prob-atten")
    train("distill", p, paths_for(tiny, "distill", "T", {"teacher": tiny / "modelsT" / "teacher" / "model.pt"}))
    return tiny / "modelsT"


@pytest.mark.parametrize("model_id", ["feature-distill", "reference-attention", "distill-mfr", "w3", "cbam-mfr",
                                      "stam", "stam-no-temporal"])
def test_distillation_recipes_train_and_leave_teachers_untouched(tiny, teachers, model_id):
    spec = methods.get(model_id)
    files = {t.role: teachers / t.model / "model.pt" for t in spec.teachers}   # models/<teacher id>/model.pt
    before = {k: digest(Path(v)) for k, v in files.items()}
    s = train(model_id, tiny_params(), paths_for(tiny, model_id, "D", files))
    assert len(s["history"]) == 2 and all(torch.isfinite(torch.tensor(h["train/loss"])) for h in s["history"])
    assert {k: digest(Path(v)) for k, v in files.items()} == before
    obj = load_model_file(tiny / "modelsD" / model_id / "model.pt")
    assert obj["arch"]["kind"] == spec.network


def test_distill_logs_every_loss_term(teachers, tiny):
    hist = load_model_file(teachers / "distill" / "model.pt")["meta"]["history"]
    keys = set(hist[-1])
    assert {"train/ce", "train/distill", "train/prior", "train/acc", "val/top1", "val/mean_class", "val/loss", "lr"} <= keys


def test_loss_decreases_on_a_fixed_batch(tiny):
    from attdistill.data.dataset import ClipDataset
    from attdistill.data.index import VideoIndex

    p = tiny_params()
    spec = methods.get("rgb-soft-atten")
    index = VideoIndex.load(tiny / "index.json")
    ds = ClipDataset(index, "train", "rgb", p.clip, p.augment, frames_dir=tiny / "frames", flow_dir=tiny / "flow")
    batch = {"rgb": torch.stack([ds[i]["rgb"] for i in range(8)]),
             "label": torch.tensor([ds[i]["label"] for i in range(8)])}
    torch.manual_seed(0)
    model = spec.build(index.num_classes, p)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(15):
        out, t = spec.run(model, batch, {})
        loss, _ = spec.loss(out, batch["label"], t, p)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_every_model_id_is_declared_once_and_builds():
    p = tiny_params()
    for spec in methods.MODELS:
        assert methods.get(spec.id) is spec
        assert spec.train_modality in ("rgb", "flow", "rgb+flow") and spec.test_modality in spec.train_modality
        assert spec.input in spec.test_modality
        assert sum(x.numel() for x in spec.build(4, p).parameters()) > 0
        assert spec.arch(p)["kind"] == spec.network
    with pytest.raises(ValueError, match="valid ids"):
        methods.get("rgb-foo")


def test_missing_or_unknown_teacher_is_rejected_before_training(tiny):
    with pytest.raises(ValueError, match="missing \\['teacher'\\]"):
        train("distill", tiny_params(), paths_for(tiny, "distill", "X"))
    with pytest.raises(ValueError, match="unknown \\['stage1'\\]"):
        train("rgb-none", tiny_params(), paths_for(tiny, "rgb-none", "X", {"stage1": tiny / "nope.pt"}))


def test_train_stage_cli_rejects_bad_params_before_work(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params_dict({"attention": "foo"})))              # JSON is YAML
    paths = ["--seed", "0", "--index", "i.json", "--frames", "f", "--flow", "w", "--out", "models/distill",
             "--live", "live"]
    r = subprocess.run([sys.executable, str(REPO / "stages" / "train.py"), "distill", "--params", str(bad), *paths],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "valid values: none, soft-atten, soft-res, prob-atten" in r.stderr
    assert not (tmp_path / "models").exists()


def test_ddp_two_cpu_processes(tiny, tmp_path):
    """torchrun --nproc_per_node 2 (gloo): runs, ranks end with identical weights, only rank 0 writes, and the
    validation curve, scored in two shards, is the saved network's as one process scores it."""
    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params().to_dict()))
    out = tmp_path / "m" / "rgb-prob-atten"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(REPO / "stages" / "train.py"), "rgb-prob-atten", "--seed", "0", "--nproc", "2",
           "--params", str(params), "--index", str(tiny / "index.json"), "--frames", str(tiny / "frames"),
           "--flow", str(tiny / "flow"), "--out", str(out), "--live", str(tmp_path / "live")]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = load_model_file(out / "model.pt")["meta"]
    assert meta["world_size"] == 2
    d = meta["rank_weight_digests"]
    assert len(d) == 2 and d[0] == d[1]
    assert sorted(p.name for p in out.iterdir()) == ["model.pt", "resume.pt"]
    metrics = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert metrics["step"] == 1
    model, _ = load_frozen(out / "model.pt")
    assert not any(p.requires_grad for p in model.parameters())
    logged = metrics["val"]
    one = build_run("rgb-prob-atten", tiny_params(), paths_for(tiny, "rgb-prob-atten", "ddp-check"))
    one.model.load_state_dict(model.state_dict())
    alone = validate(one)
    assert logged["top1"] == alone["top1"] and logged["mean_class"] == alone["mean_class"]
    assert logged["loss"] == pytest.approx(alone["loss"], rel=1e-5)
