"""Port-independent recognition of PROFINET: frames of EtherType 0x8892 (the EtherType is the
evidence: every frame id is PROFINET's) and DCE/RPC connectionless calls on a PNIO interface
(any UDP port; the interface UUID is the evidence)."""

from __future__ import annotations

from .constants import IO_CM_PORT, PNIO_UUID_TAIL

DEFAULT_PORTS = frozenset((IO_CM_PORT,))


def probe_l2(data: bytes, on_default_port: bool) -> bool:
    return len(data) >= 2


def probe_io(data: bytes, on_default_port: bool) -> bool:
    if len(data) < 80 or data[0] != 4 or (data[1] & 0x1F) > 10:
        return False
    iface = data[24:40]
    if data[4] & 0x10:  # little-endian header: the UUID's first three fields are swapped
        iface = iface[3::-1] + iface[5:3:-1] + iface[7:5:-1] + iface[8:]
    return iface[:3] == b"\xde\xa0\x00" and iface[4:] == PNIO_UUID_TAIL
