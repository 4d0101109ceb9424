"""Port-independent recognition of DHCP (BOOTP with the DHCP magic cookie)."""

from __future__ import annotations

DEFAULT_PORTS = frozenset({67, 68})


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """op 1 or 2, a sane hardware address length and the magic cookie at byte 236."""
    return (len(data) >= 240 and data[0] in (1, 2) and data[2] <= 16
            and data[236:240] == b"\x63\x82\x53\x63")  # fmt: skip
