"""Where the built-in rule pack is: `rules/` of a source checkout, or `watchfloor/_rules` in a wheel."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def pack_dir() -> Path | None:
    for candidate in (_HERE.parents[2] / "rules", _HERE.parent / "_rules"):
        if (candidate / "ot").is_dir():
            return candidate
    return None


def pack_rules() -> list[Path]:
    """The folders of rules that run by default (the samples folder is not rules): OT protocol
    rules, and Windows rules for the IT hosts around them."""
    root = pack_dir()
    return [] if root is None else [d for d in (root / "ot", root / "it") if d.is_dir()]
