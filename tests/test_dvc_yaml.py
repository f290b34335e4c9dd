"""dvc.yaml against the model registry and against the code each stage runs.

* every declared model id has its training stage and its evaluate stage; each stage's command passes exactly
  the declared teachers, its params are exactly the common ones plus the declaration's sections;
* every fusion's command names its declared members' score files;
* every file a stage's script imports (its import closure within attdistill) is a declared dependency, and every
  data dependency and output can be read off the command (DVC's example-get-started style);
* a copied repository with an edited test-time source file has every evaluate stage marked by ``dvc status``.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from attdistill import methods
from attdistill.config import load_params
from attdistill.methods.registry import TRAIN_SECTIONS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DVC = Path(sys.executable).with_name("dvc")
CODE_PREFIXES = ("stages/", "src/")


@lru_cache(maxsize=1)
def stages() -> dict[str, dict]:
    """name -> {cmd, argv, deps, params, outs} of every resolved stage (matrix and ${} templating applied)."""
    from dvc.repo import Repo

    out = {}
    with Repo(str(ROOT)) as repo:
        for st in repo.index.stages:
            deps = [str(d.def_path) for d in st.deps if type(d).__name__ != "ParamsDependency"]
            params = [k for d in st.deps if type(d).__name__ == "ParamsDependency" for k in d.params]
            argv = shlex.split(st.cmd if isinstance(st.cmd, str) else " ".join(st.cmd))
            out[st.addressing] = {"cmd": st.cmd, "argv": argv, "deps": deps, "params": params,
                                  "outs": [str(o.def_path) for o in st.outs]}
    return out


SEEDS = list(load_params(ROOT / "params.yaml").seeds)


def model_file(model_id: str, seed: int) -> str:
    return f"models/{model_id}/s{seed}/model.pt"


def _stage_for(predicate) -> list[tuple[str, dict]]:
    return [(name, st) for name, st in stages().items() if predicate(st["argv"])]


def _seed(argv: list[str]) -> int:
    return int(option_values(argv, "--seed")[0])


def training_stages(model_id: str) -> dict[int, tuple[str, dict]]:
    """seed -> the study's training stage of ``model_id`` for that seed (exactly one per seed of params seeds;
    the pretraining pipeline's run, ``--pretraining``, is not one of them)."""
    found = _stage_for(lambda a: a[1:3] == ["stages/train.py", model_id] and "--pretraining" not in a)
    by_seed = {_seed(st["argv"]): (name, st) for name, st in found}
    assert len(found) == len(SEEDS) and sorted(by_seed) == sorted(SEEDS), f"{model_id}: stages {len(found)}"
    return by_seed


def evaluate_stages(model_id: str) -> dict[int, tuple[str, dict]]:
    found = _stage_for(lambda a: a[1:4] == ["stages/evaluate.py", "model", model_id])
    by_seed = {_seed(st["argv"]): (name, st) for name, st in found}
    assert len(found) == len(SEEDS) and sorted(by_seed) == sorted(SEEDS), f"{model_id}: stages {len(found)}"
    return by_seed


def option_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


# ------------------------------------------------------------------------------------------------ registry
@pytest.mark.parametrize("spec", [m for m in methods.MODELS if not m.weights_of], ids=lambda s: s.id)
def test_training_stage_matches_declaration(spec):
    for seed, (name, st) in training_stages(spec.id).items():
        assert name.split("@")[0] == spec.stage
        teachers = {f"{t.role}={model_file(t.model, seed)}" for t in spec.teachers}
        assert set(option_values(st["argv"], "--teacher")) == teachers
        assert {model_file(t.model, seed) for t in spec.teachers} <= set(st["deps"])
        assert set(st["params"]) == set(TRAIN_SECTIONS) | set(spec.sections)
        assert "seed" not in st["params"] and "seeds" not in st["params"]   # the seed comes on the command
        assert option_values(st["argv"], "--out") == [f"models/{spec.id}/s{seed}"]
        assert model_file(spec.id, seed) in st["outs"]


@pytest.mark.parametrize("spec", [m for m in methods.MODELS if m.evaluated], ids=lambda s: s.id)
def test_evaluate_stage_matches_declaration(spec):
    for seed, (name, st) in evaluate_stages(spec.id).items():
        assert name.startswith("evaluate")
        weights = spec.weights_of or spec.id              # a test-time variant scores its trained id's file
        assert option_values(st["argv"], "--model") == [model_file(weights, seed)]
        teachers = {f"{t.role}={model_file(t.model, seed)}" for t in spec.test_teachers}
        assert set(option_values(st["argv"], "--teacher")) == teachers
        model_deps = {d for d in st["deps"] if d.startswith("models/")}
        assert model_deps == {model_file(weights, seed), *(model_file(t.model, seed) for t in spec.test_teachers)}
        assert option_values(st["argv"], "--reports") == [f"reports/eval/{spec.id}/s{seed}"]


@pytest.mark.parametrize("fusion", methods.FUSIONS, ids=lambda f: f.id)
def test_fusion_command_names_declared_members(fusion):
    params = load_params(ROOT / "params.yaml")
    found = []
    for name, st in stages().items():
        a = st["argv"]
        found += [(st, a[i + 1:]) for i, x in enumerate(a) if x == "--fusion" and a[i + 1] == fusion.id]
    assert len(found) == len(SEEDS), f"{fusion.id}: {len(found)} --fusion entries for seeds {SEEDS}"
    for seed, (st, rest) in zip(SEEDS, sorted(found, key=lambda f: f[1][1])):
        out_dir, *files = rest[1:1 + 1 + len(fusion.members(params))]
        assert out_dir == f"reports/eval/{fusion.id}/s{seed}" and out_dir in st["outs"]
        assert files == [f"data/eval/{m}/s{seed}/scores.npz" for m in fusion.members(params)]
        assert set(files) <= set(st["deps"])
        assert set(fusion.sections) <= set(st["params"])


def test_validation_only_models_are_never_scored_on_test():
    for spec in methods.MODELS:
        if not spec.evaluated:
            assert not _stage_for(lambda a: a[1:4] == ["stages/evaluate.py", "model", spec.id]), spec.id


def test_every_stage_of_a_model_is_declared():
    """No training or evaluate stage trains or scores an id the registry does not declare."""
    for name, st in stages().items():
        a = st["argv"]
        if a[1:2] == ["stages/train.py"]:
            assert a[2] in methods.TRAINED_IDS, name
        if a[1:3] == ["stages/evaluate.py", "model"]:
            assert a[3] in methods.EVALUATED_IDS, name


def test_test_time_variants_are_scored_but_never_trained():
    variants = [m for m in methods.MODELS if m.weights_of]
    assert variants
    for spec in variants:
        assert not _stage_for(lambda a: a[1:3] == ["stages/train.py", spec.id]), spec.id
        assert spec.weights_of in methods.TRAINED_IDS and spec.id not in methods.TRAINED_IDS


# ------------------------------------------------------------------------------------------------ pretraining
PRETRAIN_PREFIX = "pretrain/dvc.yaml:"


def test_pretraining_pipeline_is_opt_in_and_self_contained():
    """pretrain/dvc.yaml makes the initial weights of both streams; no stage of the root pipeline reads them (the
    study names them only through model.pretrained_rgb / model.pretrained_flow, pinned by their SHA-256), and each
    of its stages reads the pretraining params."""
    pre = {n: st for n, st in stages().items() if n.startswith(PRETRAIN_PREFIX)}
    assert sorted(pre) == [PRETRAIN_PREFIX + n for n in (
        "pretrain", "pretrain_data", "pretrain_export", "pretrain_flow", "pretrain_flow_export", "pretrain_frames",
        "pretrain_optical_flow")]
    made = [o for st in pre.values() for o in st["outs"]]
    for name, st in stages().items():
        if not name.startswith(PRETRAIN_PREFIX):
            assert not [d for d in st["deps"] if _covered(d, made) or any(_covered(m, [d]) for m in made)], name
    for name in ("pretrain_data", "pretrain", "pretrain_flow"):
        st = pre[PRETRAIN_PREFIX + name]
        assert "--pretraining" in st["argv"], name
        assert "seed" not in st["params"], name                     # pretrain.seed replaces the study's
    data = pre[PRETRAIN_PREFIX + "pretrain_data"]["params"]
    # the benchmark's generation params, not the schedule: a longer pretraining re-makes no data
    assert {"pretrain.seed", "pretrain.kinds"} <= set(data) and not {"pretrain", "pretrain.epochs"} & set(data)
    flow = pre[PRETRAIN_PREFIX + "pretrain_optical_flow"]
    assert flow["params"] == ["flow"] and flow["argv"][1] == "stages/flow.py"
    for stage, export, model in (("pretrain", "pretrain_export", "rgb-none"),
                                 ("pretrain_flow", "pretrain_flow_export", "flow-none")):
        train = pre[PRETRAIN_PREFIX + stage]
        assert set(train["params"]) == (set(TRAIN_SECTIONS) | set(methods.get(model).sections)
                                        | {"pretrain", "synthetic.kinds"}), stage
        assert train["argv"][1:3] == ["stages/train.py", model]
        out = pre[PRETRAIN_PREFIX + export]
        assert out["argv"][2] in train["outs"] and out["argv"][2] in out["deps"], export
    # the flow network trains on the pretraining benchmark's own flow, not the study's
    flow_train = pre[PRETRAIN_PREFIX + "pretrain_flow"]["argv"]
    assert flow_train[flow_train.index("--flow") + 1] in flow["outs"]


# ------------------------------------------------------------------------------------------------ code deps
def _module_file(module: str) -> Path | None:
    p = SRC / Path(*module.split("."))
    if (p / "__init__.py").exists():
        return p / "__init__.py"
    return p.with_suffix(".py") if p.with_suffix(".py").exists() else None


def _imports(path: Path, package: str) -> set[str]:
    """attdistill modules imported anywhere in ``path`` (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] == "attdistill"}


def import_closure(script: Path) -> set[str]:
    """Repository-relative files of every attdistill module (and package __init__) ``script`` may import."""
    seen: dict[str, Path] = {}
    todo = [(script, "")]
    while todo:
        path, package = todo.pop()
        for mod in _imports(path, package):
            parts = mod.split(".")
            for i in range(1, len(parts) + 1):
                name, f = ".".join(parts[:i]), _module_file(".".join(parts[:i]))
                if f is not None and name not in seen:
                    seen[name] = f
                    todo.append((f, name if f.name == "__init__.py" else ".".join(parts[:i - 1])))
    return {str(f.relative_to(ROOT)) for f in seen.values()}


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_depends_on_everything_its_script_imports(name):
    st = stages()[name]
    script = st["argv"][1]
    assert script in st["deps"], f"{name}: its script {script} is not a dependency"
    missing = sorted(f for f in import_closure(ROOT / script) if not _covered(f, st["deps"]))
    assert not missing, f"{name} imports {missing} without declaring them"


@pytest.mark.parametrize("name", sorted(stages()))
def test_data_deps_and_outs_are_on_the_command(name):
    """Every data dependency and every output is a command-line argument, lies under one, or is the folder of one
    (``data/raw`` for ``--index data/raw/index.json``: the videos the index names lie in that folder)."""
    st = stages()[name]
    args = [a.split("=", 1)[-1] for a in st["argv"][2:]]
    for path in [d for d in st["deps"] if not d.startswith(CODE_PREFIXES)] + st["outs"]:
        assert any(_covered(path, [a]) for a in args) or (path not in st["outs"] and any(_covered(a, [path])
                                                                                          for a in args)), \
            f"{name}: {path} is not on the command"


# ------------------------------------------------------------------------------------------------ dvc status
TEST_TIME_FILES = ["src/attdistill/data/dataset.py", "src/attdistill/data/transforms.py",
                   "src/attdistill/models/networks.py", "src/attdistill/methods/distillation.py",
                   "src/attdistill/evaluation/scoring.py"]


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory):
    """The repository's tracked and new, not ignored, files (no data, models or venv) in a fresh git repository."""
    dst = tmp_path_factory.mktemp("repo") / "r"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    return dst


def _marked_stages(repo: Path, path: str) -> set[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    res = subprocess.run([str(DVC), "status", "--json"], cwd=repo, capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    marked = set()
    for stage, changes in json.loads(res.stdout or "{}").items():
        for change in changes:
            if isinstance(change, dict) and _covered(path, list(change.get("changed deps", {}))):
                marked.add(stage)
    return marked


def _marked_with_epochs(repo: Path, line: str, epochs: int) -> set[str]:
    """The stages ``dvc status`` marks for params.yaml once its one ``line`` (an ``epochs:`` entry) says ``epochs``;
    the file is restored afterwards."""
    target = repo / "params.yaml"
    original = target.read_text()
    assert original.count(line) == 1, f"params.yaml layout changed: {line!r} is not on exactly one line"
    target.write_text(original.replace(line, f"  epochs: {epochs} "))
    try:
        return _marked_stages(repo, "params.yaml")
    finally:
        target.write_text(original)


@pytest.mark.slow
def test_a_longer_pretraining_marks_its_training_but_not_its_benchmark(repo_copy):
    n = load_params(repo_copy / "params.yaml").pretrain.epochs
    after = _marked_with_epochs(repo_copy, f"  epochs: {n} ", n + 1)
    assert PRETRAIN_PREFIX + "pretrain" in after
    assert PRETRAIN_PREFIX + "pretrain_data" not in after


@pytest.mark.slow
def test_a_longer_study_marks_its_trainings_but_not_the_speed_benchmark(repo_copy):
    n = load_params(repo_copy / "params.yaml").train.epochs
    first = training_stages(next(m.id for m in methods.MODELS if not m.weights_of))[SEEDS[0]][0]
    before = _marked_stages(repo_copy, "params.yaml")
    after = _marked_with_epochs(repo_copy, f"  epochs: {n}   ", n + 1)
    assert first in after - before
    assert "benchmark" not in after


@pytest.mark.slow
@pytest.mark.parametrize("path", TEST_TIME_FILES)
def test_editing_test_time_code_marks_every_evaluate_stage(repo_copy, path):
    target = repo_copy / path
    original = target.read_text()
    target.write_text(original + "\n# an edit that DVC must see\n")
    try:
        after = _marked_stages(repo_copy, path)
    finally:
        target.write_text(original)
    evaluate = {name for name, st in stages().items() if st["argv"][1:3] == ["stages/evaluate.py", "model"]}
    assert evaluate, "no evaluate stages found"
    assert evaluate <= after, f"not marked after editing {path}: {sorted(evaluate - after)}"
