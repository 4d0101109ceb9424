"""S7comm / S7comm-plus traffic builders: TPKT (RFC 1006), COTP class 0 TPDUs (ISO 8073), S7comm
jobs, acknowledgements and userdata, S7comm-plus frames, and a scripted engineering session.

Every builder returns bytes; `tpkt_dt` wraps an S7 PDU into what goes on the TCP stream. Carry the
bytes with `watchfloor.testing.TcpConversation` (server port 102 by default here).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from watchfloor.testing.modbus import Endpoint, Record, TcpConversation

S7_SERVER = Endpoint("192.168.10.20", 102, "02:00:00:0a:00:14")
S7_CLIENT = Endpoint("192.168.10.10", 49200, "02:00:00:0a:00:0a")

JOB, ACK, ACK_DATA, USERDATA = 1, 2, 3, 7
AREA = {"P": 0x80, "I": 0x81, "Q": 0x82, "M": 0x83, "DB": 0x84, "DI": 0x85, "C": 0x1C, "T": 0x1D}
SIZE = {"BIT": 1, "BYTE": 2, "CHAR": 3, "WORD": 4, "INT": 5, "DWORD": 6, "DINT": 7, "REAL": 8,
        "COUNTER": 0x1C, "TIMER": 0x1D}  # fmt: skip


# --- TPKT / COTP -------------------------------------------------------------------------------
def tpkt(tpdu: bytes) -> bytes:
    return struct.pack(">BBH", 3, 0, 4 + len(tpdu)) + tpdu


def dt(payload: bytes, eot: bool = True) -> bytes:
    """A COTP data TPDU: LI 2, code 0xF0, EOT flag."""
    return bytes((2, 0xF0, 0x80 if eot else 0)) + payload


def tpkt_dt(payload: bytes, segment: int | None = None) -> bytes:
    """One S7 PDU on the stream: a single DT, or DTs of at most `segment` payload bytes."""
    if segment is None or len(payload) <= segment:
        return tpkt(dt(payload))
    parts = [payload[i : i + segment] for i in range(0, len(payload), segment)]
    return b"".join(tpkt(dt(p, i == len(parts) - 1)) for i, p in enumerate(parts))


def _connect(code: int, dst_ref: int, src_ref: int, calling: bytes, called: bytes,
             tpdu_size: int) -> bytes:  # fmt: skip
    params = (bytes((0xC0, 1, tpdu_size.bit_length() - 1)) + bytes((0xC1, len(calling))) + calling
              + bytes((0xC2, len(called))) + called)  # fmt: skip
    body = bytes((code,)) + struct.pack(">HHB", dst_ref, src_ref, 0) + params
    return tpkt(bytes((len(body),)) + body)


def tsap(connection_type: int, rack: int, slot: int) -> bytes:
    """An S7 TSAP: connection type (1 PG, 2 OP, 3 S7 basic), then rack * 32 + slot."""
    return bytes((connection_type, (rack << 5) | slot))


def cotp_cr(rack: int = 0, slot: int = 2, calling: bytes = b"\x01\x00", src_ref: int = 1,
            tpdu_size: int = 1024) -> bytes:  # fmt: skip
    return _connect(0xE0, 0, src_ref, calling, tsap(1, rack, slot), tpdu_size)


def cotp_cc(rack: int = 0, slot: int = 2, calling: bytes = b"\x01\x00", src_ref: int = 1,
            dst_ref: int = 1, tpdu_size: int = 1024) -> bytes:  # fmt: skip
    return _connect(0xD0, dst_ref, src_ref, calling, tsap(1, rack, slot), tpdu_size)


# --- S7comm ------------------------------------------------------------------------------------
def header(rosctr: int, ref: int, param: bytes = b"", data: bytes = b"",
           error: tuple[int, int] | None = None) -> bytes:  # fmt: skip
    """An S7comm PDU: 0x32, ROSCTR, redundancy id 0, PDU reference, lengths (+ error for acks)."""
    h = struct.pack(">BBHHHH", 0x32, rosctr, 0, ref, len(param), len(data))
    if rosctr in (ACK, ACK_DATA):
        h += bytes(error or (0, 0))
    return h + param + data


class Item(NamedTuple):
    """An S7ANY address: area (AREA key or code), DB, byte, bit, transport size, count."""

    area: str | int
    start: int
    size: str | int = "BYTE"
    count: int = 1  # type: ignore[assignment]  # shadows tuple.count: the S7 item's element count
    db: int = 0
    bit: int = 0

    def spec(self) -> bytes:
        area = AREA[self.area] if isinstance(self.area, str) else self.area
        size = SIZE[self.size] if isinstance(self.size, str) else self.size
        addr = (self.start << 3) | self.bit
        return (bytes((0x12, 10, 0x10, size)) + struct.pack(">HHB", self.count, self.db, area)
                + addr.to_bytes(3, "big"))  # fmt: skip


def _value(rc: int, value: bytes, size: int, last: bool) -> bytes:
    bits = size in (3, 4, 5)
    out = struct.pack(">BBH", rc, size, len(value) * 8 if bits and size != 3 else len(value))
    out += value
    return out + (b"\0" if len(value) % 2 and not last else b"")


def setup_communication(ref: int = 0, pdu_length: int = 480, amq: int = 1,
                        response: bool = False) -> bytes:  # fmt: skip
    param = struct.pack(">BBHHH", 0xF0, 0, amq, amq, pdu_length)
    return header(ACK_DATA if response else JOB, ref, param)


def read_var(ref: int, items: Sequence[Item]) -> bytes:
    return header(JOB, ref, bytes((0x04, len(items))) + b"".join(i.spec() for i in items))


def read_var_response(ref: int, values: Sequence[bytes | int]) -> bytes:
    """One value per item: bytes (success, byte/word transport size) or an error return code."""
    data = b""
    for n, v in enumerate(values):
        last = n == len(values) - 1
        data += _value(0xFF, v, 4, last) if isinstance(v, bytes) else struct.pack(">BBH", v, 0, 0)
    return header(ACK_DATA, ref, bytes((0x04, len(values))), data)


def write_var(ref: int, items: Sequence[tuple[Item, bytes]]) -> bytes:
    param = bytes((0x05, len(items))) + b"".join(i.spec() for i, _ in items)
    data = b"".join(_value(0, v, 3 if i.size in ("BIT", 1) else 4, n == len(items) - 1)
                    for n, (i, v) in enumerate(items))  # fmt: skip
    return header(JOB, ref, param, data)


def write_var_response(ref: int, codes: Sequence[int]) -> bytes:
    return header(ACK_DATA, ref, bytes((0x05, len(codes))), bytes(codes))


def plc_stop(ref: int, response: bool = False) -> bytes:
    if response:
        return header(ACK_DATA, ref, b"\x29")
    return header(JOB, ref, b"\x29\x00\x00\x00\x00\x00\x09P_PROGRAM")


def plc_control(ref: int, service: str, argument: bytes = b"", response: bool = False) -> bytes:
    """PI service job (0x28): e.g. ('P_PROGRAM', b'C ') cold start, ('_DELE', block list)."""
    if response:
        return header(ACK_DATA, ref, b"\x28")
    param = (b"\x28" + bytes(6) + b"\xfd" + struct.pack(">H", len(argument)) + argument
             + bytes((len(service),)) + service.encode())  # fmt: skip
    return header(JOB, ref, param)


def blocks_argument(names: Iterable[str]) -> bytes:
    """The parameter block of _INSE/_DELE: count, 0, then type(2) number(5) filesystem(1)."""
    names = list(names)
    return bytes((len(names), 0)) + "".join(names).encode()


def filename(block_type: str, number: int, filesystem: str = "P") -> str:
    return f"_{block_type}{number:05d}{filesystem}"


def transfer(fc: int, ref: int, name: str | None = None, upload_id: int = 0,
             response: bool = False, data: bytes = b"") -> bytes:  # fmt: skip
    """Request download (0x1A) / download block (0x1B) / download ended (0x1C) / start upload
    (0x1D) / upload (0x1E) / end upload (0x1F)."""
    param = bytes((fc, 0)) + b"\x01\x00" + struct.pack(">I", upload_id)
    if name is not None:
        param += bytes((len(name),)) + name.encode()
    if response:  # request download / download ended / end upload: the function alone
        return header(ACK_DATA, ref, param if fc == 0x1D else param[:2] if data else param[:1],
                      data)
    return header(JOB, ref, param)


def userdata(ref: int, type_: int, group: int, sub: int, seq: int = 0, payload: bytes = b"",
             rc: int = 0xFF, size: int = 9) -> bytes:  # fmt: skip
    """Userdata PDU: 8-byte parameter (request) or 12-byte (response), data header, payload."""
    if type_ == 8:
        param = struct.pack(">3sBBBBBBBH", b"\x00\x01\x12", 8, 0x12, (type_ << 4) | group, sub,
                            seq, 0, 0, 0)  # fmt: skip
    else:
        param = struct.pack(">3sBBBBB", b"\x00\x01\x12", 4, 0x11, (type_ << 4) | group, sub, seq)
    data = struct.pack(">BBH", rc, size, len(payload)) + payload
    return header(USERDATA, ref, param, data)


def szl_request(ref: int, szl_id: int, index: int = 0) -> bytes:
    return userdata(ref, 4, 4, 1, payload=struct.pack(">HH", szl_id, index))


def szl_response(ref: int, szl_id: int, index: int, records: Sequence[bytes]) -> bytes:
    size = len(records[0]) if records else 0
    payload = struct.pack(">HHHH", szl_id, index, size, len(records)) + b"".join(records)
    return userdata(ref, 8, 4, 1, seq=1, payload=payload)


def module_record(index: int, order_number: str = "", version: tuple[int, int, int] | None = None,
                  ) -> bytes:  # fmt: skip
    """A 28-byte SZL 0x0011 record: index, order number, module type, version ('V' x y z)."""
    ver = bytes((0x56, *version)) if version else b"\x00\x00\x00\x00"
    return struct.pack(">H20sH", index, order_number.encode().ljust(20), 0xC0) + ver


def component_record(index: int, text: str) -> bytes:
    """A 34-byte SZL 0x001C record: index, 32 characters."""
    return struct.pack(">H32s", index, text.encode().ljust(32, b"\0"))


def bcd_clock(y: int, mo: int, d: int, h: int, mi: int, s: int, ms: int = 0) -> bytes:
    def b(v: int) -> int:
        return ((v // 10) << 4) | (v % 10)

    return bytes((0, b(y // 100), b(y % 100), b(mo), b(d), b(h), b(mi), b(s), b(ms // 10),
                  ((ms % 10) << 4) | 1))  # fmt: skip


# --- S7comm-plus -------------------------------------------------------------------------------
def plus(version: int, opcode: int, function: int, seq: int, session: int = 0x380,
         flags: int = 0x34, body: bytes = b"", digest: bool | None = None) -> bytes:  # fmt: skip
    """An S7comm-plus frame with trailer; version 3 frames get a 32-byte integrity digest."""
    data = bytes((opcode,)) + struct.pack(">HHHH", 0, function, 0, seq)
    data += struct.pack(">IB", session, flags) if opcode == 0x31 else bytes((flags,))
    data += body
    if digest or (digest is None and version == 3):
        data = bytes((32,)) + bytes(range(32)) + data
    return struct.pack(">BBH", 0x72, version, len(data)) + data + bytes((0x72, version, 0, 0))


# --- a scripted session ------------------------------------------------------------------------
def engineering_session(conv: TcpConversation, rack: int = 0, slot: int = 2) -> list[Record]:
    """Connect, identify the CPU, read and write variables, download and delete a block, stop and
    cold-start the PLC, read the clock."""
    out = conv.client_send(cotp_cr(rack, slot)) + conv.server_send(cotp_cc(rack, slot))
    pairs = [
        (setup_communication(0), setup_communication(0, response=True)),
        (szl_request(1, 0x11), szl_response(1, 0x11, 0, [
            module_record(1, "6ES7 315-2EH14-0AB0"), module_record(7, "", (3, 2, 6))])),
        (szl_request(2, 0x1C), szl_response(2, 0x1C, 0, [
            component_record(1, "WF-TEST-PLC"), component_record(2, "CPU 315-2 PN/DP"),
            component_record(5, "S C-TEST0001")])),
        (read_var(3, [Item("DB", 10, "WORD", 2, db=1), Item("M", 0, "BYTE", 1)]),
         read_var_response(3, [b"\x00\x2a\x01\x00", b"\x07"])),
        (write_var(4, [(Item("DB", 4, "INT", 1, db=1), b"\x00\x64")]), write_var_response(4, [0xFF])),
        (read_var(5, [Item("DB", 0, "BYTE", 4, db=99)]), read_var_response(5, [0x0A])),
        (transfer(0x1A, 6, filename("0A", 1)), transfer(0x1A, 6, response=True)),
        (plc_control(7, "_DELE", blocks_argument(["0A00001P"])), plc_control(7, "", response=True)),
        (plc_stop(8), plc_stop(8, response=True)),
        (plc_control(9, "P_PROGRAM", b"C "), plc_control(9, "", response=True)),
        (userdata(10, 4, 7, 1, payload=b""), userdata(10, 8, 7, 1, seq=1,
                                                       payload=bcd_clock(2024, 5, 17, 8, 30, 0))),
    ]
    for req, resp in pairs:
        out += conv.client_send(tpkt_dt(req)) + conv.server_send(tpkt_dt(resp))
    return out
