"""Small command-line helpers shared by the stage CLIs."""

from __future__ import annotations

from pathlib import Path


def parse_teachers(items: list[str]) -> dict[str, Path]:
    """``--teacher ROLE=PATH`` arguments as {role: path}; a malformed one exits with a clear error."""
    bad = [t for t in items if "=" not in t]
    if bad:
        raise SystemExit(f"error: --teacher expects ROLE=PATH, got {', '.join(bad)}")
    return {role: Path(path) for role, path in (t.split("=", 1) for t in items)}
