"""Timestamps: integer nanoseconds inside, RFC 3339 UTC text in events."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Final


class _Second:
    """The second whose text is cached, in ns: [start, end)."""

    __slots__ = ("end", "prefix", "start")

    def __init__(self) -> None:
        self.start = self.end = 0
        self.prefix = ""


_last: Final = _Second()
_SECONDS: Final[dict[int, str]] = {}  # more seconds' texts, for times out of order (flow records)
_DIGITS3: Final = [f"{i:03}" for i in range(1000)]


def rfc3339(ts_ns: int) -> str:
    """`2012-11-12T11:03:00.264400Z`: microseconds unless the capture had finer resolution.

    Packets arrive in time order, so the formatted second is cached: this runs once per event,
    and writes the fraction from a table of three-digit groups (an int's text would cost more).
    """
    last = _last
    if not last.start <= ts_ns < last.end:
        sec = ts_ns // 1_000_000_000
        last.start, last.end = sec * 1_000_000_000, sec * 1_000_000_000 + 1_000_000_000
        prefix = _SECONDS.get(sec)
        if prefix is None:
            if len(_SECONDS) >= 4096:
                _SECONDS.clear()
            prefix = _SECONDS[sec] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        last.prefix = prefix
    frac = ts_ns - last.start
    ms, us, ns = frac // 1_000_000, frac // 1000 % 1000, frac % 1000
    digits = _DIGITS3
    if ns:
        return f"{last.prefix}{digits[ms]}{digits[us]}{digits[ns]}Z"
    return f"{last.prefix}{digits[ms]}{digits[us]}Z"


def parse_rfc3339(text: str | None) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 / ISO 8601 time (UTC when it names no zone;
    fractions beyond microseconds are dropped); None when absent or not a time."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float) -> float:
    """Seconds of `15m`, `24h`, `2d`, `30s` or a plain number of seconds; ValueError otherwise."""
    if isinstance(text, (int, float)):
        return float(text)
    text = str(text).strip()
    if text and text[-1] in _UNITS:
        return float(text[:-1]) * _UNITS[text[-1]]
    return float(text)
