"""The library's shape: no function in src/ longer than 80 lines, no package importing against the layering, and
no library module naming a repository folder (paths come from the stages' command lines)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "attdistill"
FILES = sorted(SRC.rglob("*.py"))
MAX_LINES = 80
# A package may import only packages to its left (config <- data <- models <- methods <- training / evaluation).
LAYERS = {"data": 1, "flow": 1, "models": 2, "focus": 3, "methods": 3, "training": 4, "evaluation": 4}
# Within the top layer, evaluation never imports training; training uses only evaluation's metrics.
FORBIDDEN = {"evaluation": {"training"},
             "training": {"evaluation." + m for m in ("evaluate", "figures", "localize", "scoring", "summary", "tables")}}


def _rel(f: Path) -> str:
    return str(f.relative_to(SRC))


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_functions_are_short(path):
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_LINES]
    assert not long, f"{_rel(path)}: functions over {MAX_LINES} lines: {long}"


def _imported_packages(path: Path) -> set[str]:
    """attdistill sub-packages (first component after attdistill) that ``path`` imports, relative or absolute."""
    pkg = path.relative_to(SRC).parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg[: len(pkg) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("attdistill."):
                parts = node.module.split(".")[1:]
            else:
                continue
            out.add(".".join(parts[:2]) if parts else "")
        elif isinstance(node, ast.Import):
            out |= {".".join(a.name.split(".")[1:3]) for a in node.names if a.name.startswith("attdistill.")}
    return out


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_packages_import_in_one_direction(path):
    parts = path.relative_to(SRC).parts
    if len(parts) < 2 or parts[0] not in LAYERS:
        return
    mine = parts[0]
    for imp in _imported_packages(path):
        top = imp.split(".")[0]
        if top in LAYERS and top != mine:
            assert LAYERS[top] <= LAYERS[mine], f"{_rel(path)} imports {imp} (layer {LAYERS[top]}) from {LAYERS[mine]}"
        assert not any(imp == f or imp.startswith(f + ".") for f in FORBIDDEN.get(mine, ())), f"{_rel(path)}: {imp}"


REPO_FOLDER = re.compile(r"""["'](data|models|reports)/[\w./-]*["']""")


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_no_library_code_names_a_repository_folder(path):
    """String literals like "data/frames" or "models/x" outside docstrings and comments."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and id(n) not in docs and REPO_FOLDER.search(repr(n.value))]
    assert not found, f"{_rel(path)} names repository folders: {found}"
