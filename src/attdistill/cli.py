"""Small command-line helpers shared by the stage CLIs."""

from __future__ import annotations

from pathlib import Path


def parse_pairs(items: list[str], flag: str, form: str) -> dict[str, Path]:
    """Repeated ``flag KEY=PATH`` arguments as {key: path}; a malformed one exits with a clear error naming ``form``
    (e.g. ``ROLE=PATH``)."""
    bad = [t for t in items if "=" not in t]
    if bad:
        raise SystemExit(f"error: {flag} expects {form}, got {', '.join(bad)}")
    return {key: Path(path) for key, path in (t.split("=", 1) for t in items)}


def parse_teachers(items: list[str]) -> dict[str, Path]:
    """``--teacher ROLE=PATH`` arguments as {role: path}."""
    return parse_pairs(items, "--teacher", "ROLE=PATH")
