"""Real `capture.flows.Flow`s for tests that feed a protocol session directly (the compiled
sessions accept nothing else)."""

from __future__ import annotations

import ipaddress

from watchfloor.capture.flows import Flow
from watchfloor.capture.packets import ETHER, l2_tag
from watchfloor.decode import DECODERS
from watchfloor.testing.frames import mac_bytes

TRANSPORTS = {"tcp": 6, "udp": 17}


def ip_flow(transport: str, server_port: int, client: str = "10.0.0.1", server: str = "10.0.0.2",
            client_port: int = 40000, *, handshake: bool = True) -> Flow:  # fmt: skip
    """Client (direction 0) → server; `handshake`: the client was seen opening the connection."""
    flow = Flow(ipaddress.ip_address(client).packed, client_port, ipaddress.ip_address(server).packed,
                server_port, TRANSPORTS[transport], (None, None), None, 0, DECODERS, [])  # fmt: skip
    flow.initiator = 0 if handshake else None
    return flow


def l2_flow(src_mac: str, dst_mac: str, ethertype: int) -> Flow:
    """A layer-2 stream of one EtherType from `src_mac` (direction 0)."""
    src, dst = mac_bytes(src_mac), mac_bytes(dst_mac)
    tag = l2_tag(ethertype, None)
    return Flow(src, tag, dst, tag, ETHER, (src, dst), None, 0, DECODERS, [])
