"""Paper profiles: switch ``params.yaml`` from the small CPU default to the paper's setting for a dataset.

    python -m attdistill.profile ucf101 && dvc repro      # the paper on UCF101 (GPU machine)
    python -m attdistill.profile hmdb51 -S train.nproc=4   # ... with 4 GPUs (DDP)
    python -m attdistill.profile ssv2 --dry-run             # only print what would change

``profiles/paper.yaml`` holds every value of §3.6 of the paper (each with a comment citing it) and
``profiles/<dataset>.yaml`` the dataset-specific part (name, official URLs with pinned SHA-256, schedule).
They are deep-merged in that order over the current ``params.yaml``, ``-S key=value`` overrides are applied
last, the result is validated with :mod:`attdistill.config` (an invalid value fails and nothing is written),
and ``params.yaml`` is rewritten (its comments are not kept: the profiles carry them). The equivalent
``dvc exp run -S ...`` command is printed, for running the profile as an experiment instead.

A profile sets only the keys it changes; every other key keeps its value from ``params.yaml``, which must be
complete (config.py has no defaults: a missing key is an error). An unknown key or invalid value in a profile is
an error too (nothing is written).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from attdistill.config import DATASETS, ConfigError, Params, params_from_dict

PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"
HEADER = ("# params.yaml written by `python -m attdistill.profile {dataset}`: profiles/paper.yaml + "
          "profiles/{dataset}.yaml\n# merged over the previous params.yaml. The profiles explain every value "
          "(with citations of the paper).\n")


class _Dumper(yaml.SafeDumper):
    """Block-style mappings, flow-style lists (``motions: [left, right]``), as params.yaml is written by hand."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def dump_yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=110)


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base``: mappings merge recursively, anything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def with_profile(params: Params, profile: str | Path) -> Params:
    """``params`` with a profile file (``profiles/paper.yaml``) merged over it, validated."""
    return params_from_dict(deep_merge(params.to_dict(), yaml.safe_load(Path(profile).read_text())))


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_profile(dataset: str, profiles_dir: str | Path = PROFILES_DIR) -> dict:
    """``paper.yaml`` deep-merged with ``<dataset>.yaml``."""
    if dataset not in DATASETS or dataset == "synthetic":
        valid = [d for d in DATASETS if d != "synthetic"]
        raise ConfigError(f"profile {dataset!r}: unknown dataset; valid values: {', '.join(valid)}")
    profiles_dir = Path(profiles_dir)
    return deep_merge(_read_yaml(profiles_dir / "paper.yaml"), _read_yaml(profiles_dir / f"{dataset}.yaml"))


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists are leaves)."""
    out = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def exp_run_command(changes: dict[str, Any]) -> str:
    """``dvc exp run -S key=value ...`` for the given flat changes (values in YAML flow style)."""
    def fmt(key: str, value: Any) -> str:
        if isinstance(value, (list, dict)):
            text = json.dumps(value)
        else:
            text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...").strip()
        item = f"{key}={text}"
        return f"'{item}'" if any(c in text for c in " []{},\"*") else item

    return "dvc exp run " + " ".join(f"-S {fmt(k, v)}" for k, v in changes.items())


def apply_profile(dataset: str, params_path: str | Path = "params.yaml", profiles_dir: str | Path = PROFILES_DIR,
                  overrides: list[str] | tuple[str, ...] = (), write: bool = True
                  ) -> tuple[Params, dict[str, Any]]:
    """Merge the profile over ``params_path``, validate, and (with ``write``) rewrite ``params_path``.

    Returns the validated :class:`Params` and the flat ``{key: new value}`` of what changed.
    Raises :class:`ConfigError` (nothing written).
    """
    params_path = Path(params_path)
    current = _read_yaml(params_path)
    merged = deep_merge(current, load_profile(dataset, profiles_dir))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        node = merged
        *parents, last = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {p} is not a section")
        node[last] = yaml.safe_load(raw)
    params = params_from_dict(merged)             # raises ConfigError naming the key
    before, after = flatten(current), flatten(merged)
    changes = {k: v for k, v in after.items() if before.get(k, object()) != v}
    if write:
        tmp = params_path.with_name(params_path.name + ".tmp")
        tmp.write_text(HEADER.format(dataset=dataset) + dump_yaml(merged))
        tmp.replace(params_path)
    return params, changes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m attdistill.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="ucf101 | hmdb51 | egtea | ssv2")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--profiles", default=str(PROFILES_DIR))
    ap.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override after merging")
    ap.add_argument("--dry-run", action="store_true", help="validate and print, do not write params.yaml")
    args = ap.parse_args(argv)
    try:
        _, changes = apply_profile(args.dataset, args.params, args.profiles, args.set,
                                             write=not args.dry_run)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "would change" if args.dry_run else "changed"
    print(f"{args.params}: {verb} {len(changes)} value(s) for the paper profile of {args.dataset}")
    for k, v in changes.items():
        print(f"  {k}: {v!r}")
    print("\nthe same as an experiment (without rewriting params.yaml):")
    print(exp_run_command(changes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
