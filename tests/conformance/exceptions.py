"""Frames where Wireshark (tshark 4.0) is demonstrably wrong, per capture and protocol.

Rules for adding an entry (DESIGN.md §3.2: "Wireshark is the oracle; where it is demonstrably
wrong, the test records the exception and why"):

* look at the bytes first (``tshark -r CAP -Y frame.number==N -x`` / ``-T fields -e tcp.payload``)
  and write down, in ``reason``, what the bytes are and why Wireshark's reading is wrong;
* a mismatch that is a likely bug in our decoder is NOT an exception -- report it instead;
* where the right answer is known, give it in ``expected`` (frame -> list of records in the
  order of the protocol's fields, see ``tshark.PROTOCOLS``): our decoder must then produce exactly
  that at the frame. Without ``expected`` the frame is simply not compared.

``capture`` is matched as a path suffix (``/``-separated) of the capture's resolved path, so an
entry for ``pcaps/ITI__ICS-Security-Tools/pcaps/ModbusTCP/mb2.pcap`` applies to the corpus copy
wherever ``../shared`` lives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WiresharkException:
    protocol: str
    capture: str
    frames: tuple[int, ...]
    reason: str
    expected: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)


EXCEPTIONS: list[WiresharkException] = [
]


def exceptions_for(capture: str | Path, protocol: str) -> dict[int, Any]:
    """``{frame: reason}`` or ``{frame: (reason, expected_records)}`` for ``tshark.compare``."""
    path = Path(capture).resolve().as_posix()
    out: dict[int, Any] = {}
    for exc in EXCEPTIONS:
        if exc.protocol != protocol:
            continue
        suffix = exc.capture.strip("/")
        if not (path == suffix or path.endswith("/" + suffix)):
            continue
        for frame in exc.frames:
            out[frame] = (exc.reason, exc.expected[frame]) if frame in exc.expected else exc.reason
    return out
