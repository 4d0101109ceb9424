"""Recognition of Sampled Values: a frame of EtherType 0x88BA whose APDU starts with a savPdu
([APPLICATION 0], 0x60) after the 8-byte header."""

from __future__ import annotations

from ..goose.constants import HEADER


def probe(data: bytes, on_default_port: bool = False) -> bool:
    return len(data) > HEADER + 1 and data[HEADER] == 0x60
