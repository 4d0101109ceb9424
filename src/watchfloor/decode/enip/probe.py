"""Port-independent recognition of EtherNet/IP: encapsulation messages (TCP, UDP) and class 0/1
implicit I/O datagrams (a bare common packet format, UDP)."""

from __future__ import annotations

from .._contract import Malformed, NeedMoreData
from .constants import (
    COMMANDS,
    DEFAULT_PORTS,
    ENCAP_STATUS,
    HEADER,
    ITEM_CONNECTED_ADDRESS,
    ITEM_CONNECTED_DATA,
    ITEM_NULL,
    ITEM_SEQUENCED_ADDRESS,
    MAX_LENGTH,
    SEND_RR_DATA,
    SEND_UNIT_DATA,
)
from .wire import ENCAP, parse_cpf, parse_encap

__all__ = ["DEFAULT_PORTS", "header_plausible", "io_items", "probe"]

_IO_ADDRESSES = frozenset((ITEM_SEQUENCED_ADDRESS, ITEM_CONNECTED_ADDRESS, ITEM_NULL))


def header_plausible(buf: bytes, pos: int, any_command: bool = False) -> bool:
    """A look at one encapsulation header: a known command (any command below 0x100 when
    `any_command`, e.g. on the EtherNet/IP port, where legacy commands 0x0001-0x0003 occur),
    a known status, options 0."""
    if len(buf) - pos < HEADER or buf[pos + 1]:
        return False
    cmd, length, _, status, _, options = ENCAP.unpack_from(buf, pos)
    return (any_command or cmd in COMMANDS) and not options and status in ENCAP_STATUS and \
        length <= MAX_LENGTH


def io_items(data: bytes) -> list[tuple[int, bytes]] | None:
    """The CPF items of an implicit I/O datagram (an address item, then connected data), or None."""
    if len(data) < 10 or data[1] or not 2 <= data[0] <= 4:
        return None
    try:
        items = parse_cpf(data)
    except Malformed:
        return None
    if items[0][0] not in _IO_ADDRESSES or items[1][0] != ITEM_CONNECTED_DATA:
        return None
    return items


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """EtherNet/IP when the bytes are well-formed encapsulation messages (the last may continue
    later) whose data-carrying commands hold a valid CPF, or an implicit I/O datagram."""
    if io_items(data) is not None:
        return True
    pos = 0
    while pos < len(data):
        if not header_plausible(data, pos, on_default_port):
            return False
        if data[pos] == 0 and not on_default_port:
            return False  # NOP (command 0) off the EtherNet/IP port: zero bytes are no evidence
        try:
            (cmd, _, _, _, _, body), n = parse_encap(data, pos)
        except NeedMoreData:
            return True
        except Malformed:
            return False
        if cmd in (SEND_RR_DATA, SEND_UNIT_DATA) and body:
            try:
                parse_cpf(body, 6)
            except Malformed:
                return False
        pos += n
    return True
