"""Watchfloor's public test kit: deterministic synthetic packet captures.

`frames` builds packets with correct lengths and checksums, `pcapfile` writes them as
pcap or pcapng (streaming, optionally gzip), and `modbus` builds Modbus/TCP PDUs, TCP
conversations with capture artefacts (gaps, retransmissions, reordering) and an endless
HMI↔PLC poll session. Standard library only.
"""

from watchfloor.testing import dnp3, modbus
from watchfloor.testing.frames import (
    ExtHeader,
    destination_options,
    ethernet,
    fragment_header,
    hop_by_hop,
    internet_checksum,
    ip,
    ipv4,
    ipv4_fragments,
    ipv6,
    ipv6_fragments,
    routing_header,
    sll,
    sll2,
    tcp,
    udp,
)
from watchfloor.testing.modbus import Endpoint, TcpConversation, mbap, poll_session
from watchfloor.testing.pcapfile import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
    write_pcap,
    write_pcapng,
)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_RAW",
    "Endpoint",
    "ExtHeader",
    "TcpConversation",
    "destination_options",
    "dnp3",
    "ethernet",
    "fragment_header",
    "hop_by_hop",
    "internet_checksum",
    "ip",
    "ipv4",
    "ipv4_fragments",
    "ipv6",
    "ipv6_fragments",
    "mbap",
    "modbus",
    "poll_session",
    "routing_header",
    "sll",
    "sll2",
    "tcp",
    "udp",
    "write_pcap",
    "write_pcapng",
]
