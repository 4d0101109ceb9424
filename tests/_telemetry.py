"""Helpers for the log-reader tests: run a Format over bytes, write Zeek TSV logs."""

from __future__ import annotations

import io

from watchfloor.schema import Event
from watchfloor.telemetry import Corrupt, Format


def read_all(fmt: Format, data: bytes, source: str = "src") -> tuple[list[Event], list[Corrupt]]:
    events, corrupt = [], []
    for item in fmt.read(io.BytesIO(data), source):
        (corrupt if isinstance(item, Corrupt) else events).append(item)
    return events, corrupt


def zeek_tsv(path: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> bytes:
    """A Zeek TSV log as Zeek writes it: header directives, rows, #close."""
    head = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
            f"#path\t{path}", "#open\t2024-05-01-08-00-00",
            "#fields\t" + "\t".join(c for c, _ in columns),
            "#types\t" + "\t".join(t for _, t in columns)]  # fmt: skip
    body = ["\t".join(r) for r in rows]
    return ("\n".join(head + body + ["#close\t2024-05-01-09-00-00"]) + "\n").encode()


ID = [("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
      ("id.resp_h", "addr"), ("id.resp_p", "port")]  # fmt: skip
