"""PROFINET frame builders for tests: DCP PDUs and blocks, cyclic RT frames, RTA alarms (all
layer-2 payloads after EtherType 0x8892) and IO-CM DCE/RPC datagrams. Wrap a payload with
`frames.ethernet(payload, ethertype=0x8892, ...)`."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence

ETHERTYPE = 0x8892
DCP_MULTICAST = "01:0e:cf:00:00:00"
HELLO_ID, GET_SET_ID, IDENTIFY_REQ_ID, IDENTIFY_RSP_ID = 0xFEFC, 0xFEFD, 0xFEFE, 0xFEFF


def block(option: int, sub: int, data: bytes = b"", *, info: int | None = None) -> bytes:
    """A DCP block; `info` (BlockInfo / BlockQualifier) is prepended when given. Odd lengths
    get their pad byte."""
    body = (struct.pack("!H", info) if info is not None else b"") + data
    return struct.pack("!BBH", option, sub, len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def dcp(service_id: int, service_type: int, xid: int, blocks: Sequence[bytes] = (), *,
        frame_id: int | None = None, delay: int = 0, data_length: int | None = None,
        pad_to: int = 46) -> bytes:  # fmt: skip
    """A DCP PDU from the FrameID on; padded with zeros to `pad_to` bytes as Ethernet pads."""
    if frame_id is None:
        frame_id = {5: IDENTIFY_REQ_ID if service_type == 0 else IDENTIFY_RSP_ID,
                    6: HELLO_ID}.get(service_id, GET_SET_ID)  # fmt: skip
    data = b"".join(blocks)
    n = len(data) if data_length is None else data_length
    pdu = struct.pack("!HBBIHH", frame_id, service_id, service_type, xid, delay, n) + data
    return pdu + b"\x00" * max(pad_to - len(pdu), 0)


def name_block(name: str, *, info: int | None = None) -> bytes:
    return block(2, 2, name.encode("latin-1"), info=info)


def ip_block(ip: str, mask: str, gw: str, *, info: int | None = None) -> bytes:
    return block(1, 2, b"".join(bytes(map(int, a.split("."))) for a in (ip, mask, gw)), info=info)


def identify_response(xid: int, name: str, vendor_id: int, device_id: int, *, role: int = 1,
                      ip: str = "0.0.0.0", vendor_value: str = "") -> bytes:  # fmt: skip
    blocks = [name_block(name, info=0), block(2, 3, struct.pack("!HH", vendor_id, device_id), info=0),
              block(2, 4, bytes((role, 0)), info=0), ip_block(ip, "255.255.255.0", "0.0.0.0", info=1)]
    if vendor_value:
        blocks.insert(0, block(2, 1, vendor_value.encode(), info=0))
    return dcp(5, 1, xid, blocks)


def set_response(xid: int, option: int, sub: int, error: int = 0) -> bytes:
    return dcp(4, 1, xid, [block(5, 4, bytes((option, sub, error)))])


def rt_frame(frame_id: int, cycle: int, data_status: int = 0x35, transfer: int = 0,
             data: bytes = b"\x80" * 40) -> bytes:  # fmt: skip
    """A cyclic frame: FrameID, C_SDU, then the APDU status (cycle counter, DataStatus,
    TransferStatus). DataStatus 0x35: primary, valid, run, station ok."""
    return struct.pack("!H", frame_id) + data + struct.pack("!HBB", cycle & 0xFFFF, data_status,
                                                            transfer)  # fmt: skip


def alarm(frame_id: int = 0xFE01, *, pdu_type: int = 1, send_seq: int = 0, ack_seq: int = 0xFFFF,
          alarm_type: int | None = 1, slot: int = 1, subslot: int = 1) -> bytes:  # fmt: skip
    body = b""
    if alarm_type is not None:
        content = struct.pack("!BBHIHHIIH", 1, 0, alarm_type, 0, slot, subslot, 0x10, 0x20, 0x8001)
        body = struct.pack("!HH", 0x0002, len(content)) + content
    head = struct.pack("!HHHBBHHH", frame_id, 1, 2, 0x10 | pdu_type, 0, send_seq, ack_seq, len(body))
    return head + body + b"\x00" * max(0, 46 - len(head) - len(body))


def _uuid_bytes(u: uuid.UUID, little: bool) -> bytes:
    return u.bytes_le if little else u.bytes


DEVICE_INTERFACE = uuid.UUID("dea00001-6c97-11d1-8271-00a02442df7d")
CONTROLLER_INTERFACE = uuid.UUID("dea00002-6c97-11d1-8271-00a02442df7d")


def rpc(packet_type: int, opnum: int, body: bytes, *, activity: uuid.UUID, seq: int = 0,
        little: bool = True, interface: uuid.UUID = DEVICE_INTERFACE, frag: int = 0,
        flags1: int = 0x20) -> bytes:  # fmt: skip
    """A connectionless DCE/RPC PDU (80-byte header) on a PNIO interface."""
    o = "<" if little else ">"
    obj = uuid.UUID("dea00000-6c97-11d1-8271-000100020493")
    head = struct.pack("BBBB3sB", 4, packet_type, flags1, 0, b"\x10\x00\x00" if little else
                       b"\x00\x00\x00", 0)  # fmt: skip
    head += _uuid_bytes(obj, little) + _uuid_bytes(interface, little) + _uuid_bytes(activity, little)
    head += struct.pack(o + "IIIHHHHHBB", 0, 1, seq, opnum, 0xFFFF, 0xFFFF, len(body), frag, 0, 0)
    return head + body


def ndr(blocks: bytes, *, little: bool = True, status: int | None = None) -> bytes:
    """The NDR frame of PNIO blocks: ArgsMaximum (or PNIOStatus), ArgsLength, MaximumCount,
    Offset, ActualCount."""
    o = "<" if little else ">"
    first = struct.pack(o + "I", 1024 if status is None else status)
    return first + struct.pack(o + "IIII", len(blocks), 1024, 0, len(blocks)) + blocks


def pnio_block(btype: int, content: bytes) -> bytes:
    return struct.pack("!HHBB", btype, len(content) + 2, 1, 0) + content


def control_block(ar: uuid.UUID, command: int, *, response: bool = False,
                  block_type: int = 0x0110) -> bytes:  # fmt: skip
    """IODControlReq (0x0110; IOXControlReq 0x0112 for ApplicationReady) or its response."""
    return pnio_block(block_type | (0x8000 if response else 0),
                      b"\x00\x00" + ar.bytes + struct.pack("!HHHH", 1, 0, command, 0))


def record_header(ar: uuid.UUID, index: int, length: int, *, write: bool = False,
                  response: bool = False, slot: int = 0, subslot: int = 1) -> bytes:  # fmt: skip
    btype = (0x0008 if write else 0x0009) | (0x8000 if response else 0)
    content = struct.pack("!H16sIHH2xHI", 1, ar.bytes, 0, slot, subslot, index, length)
    return pnio_block(btype, content + b"\x00" * 24)


def ar_block(ar: uuid.UUID, station: str, *, session_key: int = 1) -> bytes:
    name = station.encode()
    content = struct.pack("!H16sH6s16sIHHH", 1, ar.bytes, session_key, b"\x02" * 6, ar.bytes,
                          0x11, 100, 0x8892, len(name)) + name  # fmt: skip
    return pnio_block(0x0101, content)
