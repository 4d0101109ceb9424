"""EtherNet/IP + CIP message builders for tests and generated captures.

Layouts from the CIP Networks Library (Vol. 2: encapsulation, common packet format, ListIdentity;
Vol. 1: message router request/response, EPATH, Multiple Service Packet, Unconnected Send,
Forward Open/Close) and Rockwell 1756-PM020 (Logix tag services). Every builder returns bytes;
`exchange` and `io_datagram` produce capture records. Standard library only.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from watchfloor.testing import frames
from watchfloor.testing.modbus import Endpoint, Record, TcpConversation

__all__ = [
    "class_path", "cip_request", "cip_response", "connected_data", "cpf", "encap",
    "exchange", "forward_close", "forward_open", "forward_open_reply", "identity_attributes",
    "io_datagram", "list_identity_reply", "multiple_service_packet", "multiple_service_reply",
    "read_tag", "read_tag_reply", "register_session", "send_rr_data", "send_unit_data",
    "symbol_path", "udp_record", "unconnected_send", "write_tag",
]  # fmt: skip

NOP, LIST_SERVICES, LIST_IDENTITY, LIST_INTERFACES = 0x0000, 0x0004, 0x0063, 0x0064
REGISTER_SESSION, UNREGISTER_SESSION, SEND_RR_DATA, SEND_UNIT_DATA = 0x0065, 0x0066, 0x006F, 0x0070


def encap(command: int, data: bytes = b"", *, session: int = 0, status: int = 0,
          context: bytes = bytes(8), options: int = 0) -> bytes:  # fmt: skip
    """A 24-byte encapsulation header (little-endian) and its data."""
    return struct.pack("<HHII8sI", command, len(data), session, status, context, options) + data


def cpf(items: Sequence[tuple[int, bytes]]) -> bytes:
    return struct.pack("<H", len(items)) + b"".join(
        struct.pack("<HH", t, len(d)) + d for t, d in items)


def register_session(session: int = 0, version: int = 1) -> bytes:
    return encap(REGISTER_SESSION, struct.pack("<HH", version, 0), session=session)


def send_rr_data(cip: bytes, *, session: int = 1, context: bytes = bytes(8), status: int = 0,
                 timeout: int = 10) -> bytes:  # fmt: skip
    """SendRRData: interface handle 0, timeout, CPF of a null address and unconnected data."""
    body = struct.pack("<IH", 0, timeout) + cpf([(0x0000, b""), (0x00B2, cip)])
    return encap(SEND_RR_DATA, body, session=session, context=context, status=status)


def connected_data(connection_id: int, sequence: int, cip: bytes) -> bytes:
    return cpf([(0x00A1, struct.pack("<I", connection_id)),
                (0x00B1, struct.pack("<H", sequence) + cip)])  # fmt: skip


def send_unit_data(connection_id: int, sequence: int, cip: bytes, *, session: int = 1) -> bytes:
    return encap(SEND_UNIT_DATA, struct.pack("<IH", 0, 0) + connected_data(connection_id,
                                                                          sequence, cip),
                 session=session)  # fmt: skip


# -- EPATH and CIP messages -----------------------------------------------------------------

def _logical(kind: int, value: int) -> bytes:
    if value < 0x100:
        return bytes((0x20 | kind << 2, value))
    return bytes((0x21 | kind << 2, 0)) + struct.pack("<H", value)


def class_path(class_id: int, instance: int | None = 1, attribute: int | None = None) -> bytes:
    path = _logical(0, class_id)
    if instance is not None:
        path += _logical(1, instance)
    if attribute is not None:
        path += _logical(4, attribute)
    return path


def symbol_path(tag: str) -> bytes:
    """ANSI extended symbolic segments for `a.b[3]`-style Logix tag names."""
    out = b""
    for part in tag.split("."):
        name, _, index = part.partition("[")
        raw = name.encode()
        out += bytes((0x91, len(raw))) + raw + bytes(len(raw) & 1)
        for i in (index.rstrip("]").split(",") if index else ()):
            out += _logical(2, int(i))
    return out


def cip_request(service: int, path: bytes, data: bytes = b"") -> bytes:
    if len(path) % 2:
        raise ValueError("EPATH must be padded to a word boundary")
    return bytes((service, len(path) // 2)) + path + data


def cip_response(service: int, status: int = 0, data: bytes = b"",
                 extended: Sequence[int] = ()) -> bytes:  # fmt: skip
    return bytes((service | 0x80, 0, status, len(extended))) + b"".join(
        struct.pack("<H", e) for e in extended) + data


def multiple_service_packet(requests: Sequence[bytes]) -> bytes:
    return cip_request(0x0A, class_path(2, 1), _packed(requests))


def multiple_service_reply(replies: Sequence[bytes], status: int = 0) -> bytes:
    return cip_response(0x0A, status, _packed(replies))


def _packed(messages: Sequence[bytes]) -> bytes:
    offsets, at = [], 2 + 2 * len(messages)
    for m in messages:
        offsets.append(at)
        at += len(m)
    return struct.pack(f"<H{len(messages)}H", len(messages), *offsets) + b"".join(messages)


def unconnected_send(embedded: bytes, route: Sequence[tuple[int, int]] = ((1, 0),)) -> bytes:
    """Unconnected Send (connection manager): the embedded request and its route (port, link)."""
    route_path = b"".join(bytes((port, link)) for port, link in route)
    body = struct.pack("<BBH", 0x0A, 0x0E, len(embedded)) + embedded + bytes(len(embedded) & 1)
    body += bytes((len(route_path) // 2, 0)) + route_path
    return cip_request(0x52, class_path(6, 1), body)


def forward_open(t_o_id: int, serial: int, *, vendor: int = 0x1234, originator: int = 0x5678,
                 rpi_us: int = 100_000, transport: int = 0xA3,
                 path: bytes = b"\x01\x00" + class_path(2, 1)) -> bytes:  # fmt: skip
    body = struct.pack("<BBIIHHIB3xIHIHBB", 0x0A, 0x0E, 0, t_o_id, serial, vendor, originator, 3,
                       rpi_us, 0x43F4, rpi_us, 0x43F4, transport, len(path) // 2) + path
    return cip_request(0x54, class_path(6, 1), body)


def forward_open_reply(o_t_id: int, t_o_id: int, serial: int, *, vendor: int = 0x1234,
                       originator: int = 0x5678, api_us: int = 100_000) -> bytes:  # fmt: skip
    return cip_response(0x54, 0, struct.pack("<IIHHIIIBB", o_t_id, t_o_id, serial, vendor,
                                             originator, api_us, api_us, 0, 0))  # fmt: skip


def forward_close(serial: int, *, vendor: int = 0x1234, originator: int = 0x5678,
                  path: bytes = b"\x01\x00" + class_path(2, 1)) -> bytes:  # fmt: skip
    body = struct.pack("<BBHHIBB", 0x0A, 0x0E, serial, vendor, originator, len(path) // 2, 0)
    return cip_request(0x4E, class_path(6, 1), body + path)


_TYPES = {0xC1: "B", 0xC2: "b", 0xC3: "h", 0xC4: "i", 0xC5: "q", 0xC6: "B", 0xC7: "H",
          0xC8: "I", 0xCA: "f"}  # fmt: skip


def read_tag(tag: str, elements: int = 1) -> bytes:
    return cip_request(0x4C, symbol_path(tag), struct.pack("<H", elements))


def read_tag_reply(tag_type: int, values: Sequence[float]) -> bytes:
    data = struct.pack(f"<H{len(values)}{_TYPES[tag_type]}", tag_type, *values)
    return cip_response(0x4C, 0, data)


def write_tag(tag: str, tag_type: int, values: Sequence[float]) -> bytes:
    data = struct.pack(f"<HH{len(values)}{_TYPES[tag_type]}", tag_type, len(values), *values)
    return cip_request(0x4D, symbol_path(tag), data)


def identity_attributes(vendor: int, device_type: int, product_code: int,
                        revision: tuple[int, int], serial: int, name: str, *,
                        status: int = 0x0030, state: int = 3) -> bytes:  # fmt: skip
    raw = name.encode("latin-1")
    return struct.pack("<HHHBBHIB", vendor, device_type, product_code, *revision, status, serial,
                       len(raw)) + raw + bytes((state,))  # fmt: skip


def list_identity_reply(ip: str, identity: bytes, *, port: int = 44818) -> bytes:
    sockaddr = struct.pack(">HH4s8x", 2, port, bytes(int(x) for x in ip.split(".")))
    item = struct.pack("<H", 1) + sockaddr + identity
    return encap(LIST_IDENTITY, cpf([(0x000C, item)]))


def io_datagram(connection_id: int, sequence: int, data: bytes, *,
                cip_sequence: int | None = None) -> bytes:  # fmt: skip
    """Class 0/1 implicit I/O: sequenced address item, connected data (class 1 adds a 16-bit
    sequence count)."""
    payload = data if cip_sequence is None else struct.pack("<H", cip_sequence) + data
    return cpf([(0x8002, struct.pack("<II", connection_id, sequence)), (0x00B1, payload)])


def udp_record(ts_ns: int, src: Endpoint, dst: Endpoint, payload: bytes) -> Record:
    packet = frames.ip(src.ip, dst.ip, 17, frames.udp(src.ip, dst.ip, src.port, dst.port, payload))
    return ts_ns, frames.ethernet(packet, src=src.mac, dst=dst.mac)


def exchange(conv: TcpConversation, request: bytes, response: bytes | None, *,
             response_ns: int = 1_000_000) -> list[Record]:  # fmt: skip
    records = conv.client_send(request)
    if response is not None:
        conv.advance(response_ns)
        records += conv.server_send(response)
    return records
