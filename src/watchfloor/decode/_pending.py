"""Requests awaiting their responses: the bounded table every request/response decoder keeps."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Pending(dict[K, V]):
    """Oldest first, at most `limit` entries: a flood drops the oldest, and the decoder reports
    the flood once (until the table has room again)."""

    __slots__ = ("flooded", "limit")

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.flooded = False

    def add(self, key: K, value: V) -> bool:
        """Store `value` under `key` (a reused key replaces the older request). True when this
        dropped the oldest entry for the first time in a flood: the caller reports it."""
        self.pop(key, None)
        report = False
        if len(self) >= self.limit:
            report = not self.flooded
            self.flooded = True
            del self[next(iter(self))]
        else:
            self.flooded = False
        self[key] = value
        return report
