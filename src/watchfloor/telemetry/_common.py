"""Parts the log readers share: stable event ids, times, lines read with bounded memory."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from ..schema.time import rfc3339

MAX_LINE = 1 << 20  # a longer line is reported as corrupt and skipped, never held whole


def event_id(source: str, position: int, n: int = 0) -> str:
    """`<source>-<position>[-<n>]`: the same record of the same input always gets the same id, and
    the store can drop a source's events by their common prefix."""
    return f"{source}-{position}" if not n else f"{source}-{position}-{n}"


def lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(1-based line number, line without its end) for every line; None for a line longer than
    MAX_LINE (its bytes are skipped as they stream past)."""
    n = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
            yield n, None
            continue
        yield n, line.rstrip(b"\r\n")


def epoch_time(value: object) -> str | None:
    """Seconds since the epoch (number or numeric text) → RFC 3339 UTC; None if not a time."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not (0 <= seconds < 253402300800):  # up to 9999-12-31
        return None
    return rfc3339(round(seconds * 1_000_000) * 1000)


def iso_time(text: object) -> str | None:
    """An ISO 8601 / RFC 3339 time with or without zone (UTC assumed) → RFC 3339 UTC."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    # Suricata writes +0000 (no colon); Python 3.11+ accepts it, older forms are normalised here
    try:
        when = datetime.fromisoformat(t)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return rfc3339(int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000)
    except (OverflowError, OSError, ValueError):
        return None


def ip(value: object) -> str | None:
    """A valid IPv4/IPv6 address as text (normalised), else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    return _ip(value)


@functools.lru_cache(maxsize=65536)  # logs name the same hosts over and over
def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def port(value: object) -> int | None:
    try:
        p = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return p if 0 <= p <= 65535 else None


def integer(value: object, base: int = 10) -> int | None:
    """An int from a number or text (`0x..` hex accepted); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        v = value.strip()
        try:
            return int(v, 16) if v[:2].lower() == "0x" else int(v, base)
        except ValueError:
            return None
    return None


def text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
