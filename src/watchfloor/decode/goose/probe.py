"""Recognition of GOOSE: a frame of EtherType 0x88B8 whose APDU starts with a goosePdu
([APPLICATION 1], 0x61) after the 8-byte header (GSE management uses EtherType 0x88B9)."""

from __future__ import annotations

from .constants import HEADER


def probe(data: bytes, on_default_port: bool = False) -> bool:
    return len(data) > HEADER + 1 and data[HEADER] == 0x61
