"""DNP3 builders: link frames with their CRCs, transport segmentation, application fragments and
object headers (IEEE Std 1815-2012 §9.2, §8.2, §4.2.2, Annex A). Standard library only.

The CRC here is computed bit by bit, independently of the decoder's table-driven one, so tests
built with this kit check the decoder rather than repeat it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from watchfloor.testing.modbus import Endpoint, TcpConversation

MASTER_ADDRESS = 1
OUTSTATION_ADDRESS = 10
DEFAULT_MASTER = Endpoint("192.168.20.10", 50000, "02:00:00:14:00:0a")
DEFAULT_OUTSTATION = Endpoint("192.168.20.20", 20000, "02:00:00:14:00:14")

# Link control octets (§9.2.4.1.3)
PRM_UNCONFIRMED = 0xC4  # DIR (from master), PRM, unconfirmed user data
OUTSTATION_UNCONFIRMED = 0x44  # PRM, unconfirmed user data, from the outstation
RESET_LINK = 0xC0
LINK_ACK = 0x00
REQUEST_LINK_STATUS = 0xC9
LINK_STATUS = 0x0B


def crc(data: bytes) -> int:
    """DNP3 CRC-16 (polynomial 0x3D65, reflected as 0xA6BC, result inverted), bit by bit."""
    value = 0
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value >> 1) ^ 0xA6BC if value & 1 else value >> 1
    return ~value & 0xFFFF


def _with_crc(block: bytes) -> bytes:
    return block + struct.pack("<H", crc(block))


def link_frame(dst: int, src: int, user_data: bytes = b"", control: int = PRM_UNCONFIRMED, *,
               bad_crc: bool = False) -> bytes:  # fmt: skip
    """One link frame: header (with CRC) then user data in 16-octet blocks, each with its CRC.
    `bad_crc` corrupts the last data block's CRC (or the header's, without user data)."""
    if len(user_data) > 250:
        raise ValueError("a link frame carries at most 250 octets of user data")
    out = _with_crc(b"\x05\x64" + struct.pack("<BBHH", 5 + len(user_data), control, dst, src))
    for at in range(0, len(user_data), 16):
        out += _with_crc(user_data[at : at + 16])
    if bad_crc:
        out = out[:-1] + bytes([out[-1] ^ 0xFF])
    return out


def segments(apdu: bytes, dst: int, src: int, control: int = PRM_UNCONFIRMED, *,
             first_sequence: int = 0, size: int = 249) -> list[bytes]:  # fmt: skip
    """An application fragment cut into transport segments of `size` octets, one link frame
    each (transport octet: FIN 0x80, FIR 0x40, sequence modulo 64)."""
    parts = [apdu[at : at + size] for at in range(0, len(apdu), size)] or [b""]
    out = []
    for k, part in enumerate(parts):
        th = (first_sequence + k) & 0x3F
        if k == 0:
            th |= 0x40
        if k == len(parts) - 1:
            th |= 0x80
        out.append(link_frame(dst, src, bytes([th]) + part, control))
    return out


def apdu(function: int, objects: bytes = b"", *, sequence: int = 0, fir: bool = True,
         fin: bool = True, con: bool = False, uns: bool = False,
         iin: int | None = None) -> bytes:  # fmt: skip
    """Application control, function code, IIN (responses 129..131: default 0) and objects."""
    control = sequence & 0x0F | fir << 7 | fin << 6 | con << 5 | uns << 4
    out = bytes([control, function])
    if function in (129, 130, 131):
        out += struct.pack(">H", iin or 0)
    return out + objects


# -- object headers (§4.2.2.5-6) ----------------------------------------------------------------
def all_objects(group: int, variation: int = 0) -> bytes:
    """Qualifier 0x06: every point of the group (requests)."""
    return bytes([group, variation, 0x06])


def class_poll(*classes: int) -> bytes:
    """Group 60 headers: class 0 (static) is variation 1, classes 1-3 are variations 2-4."""
    return b"".join(all_objects(60, c + 1) for c in classes)


def ranged(group: int, variation: int, start: int, stop: int, data: bytes = b"",
           width: int = 1) -> bytes:  # fmt: skip
    """Qualifier 0x00 / 0x01 / 0x02 (1/2/4-octet start and stop), then the objects."""
    q = {1: 0x00, 2: 0x01, 4: 0x02}[width]
    return (bytes([group, variation, q]) + start.to_bytes(width, "little")
            + stop.to_bytes(width, "little") + data)  # fmt: skip


def counted(group: int, variation: int, count: int, data: bytes = b"", width: int = 1) -> bytes:
    """Qualifier 0x07 / 0x08 (1/2-octet count), then the objects."""
    q = {1: 0x07, 2: 0x08}[width]
    return bytes([group, variation, q]) + count.to_bytes(width, "little") + data


def indexed(group: int, variation: int, items: Sequence[tuple[int, bytes]],
            width: int = 2) -> bytes:  # fmt: skip
    """Qualifier 0x17 / 0x28 (1/2-octet count and index prefix), then index + object each."""
    q = {1: 0x17, 2: 0x28}[width]
    body = b"".join(i.to_bytes(width, "little") + data for i, data in items)
    return bytes([group, variation, q]) + len(items).to_bytes(width, "little") + body


def free_format(group: int, variation: int, objects: Sequence[bytes]) -> bytes:
    """Qualifier 0x5B: 1-octet count, each object prefixed by its 2-octet size (group 70...)."""
    return (bytes([group, variation, 0x5B, len(objects)])
            + b"".join(struct.pack("<H", len(o)) + o for o in objects))  # fmt: skip


# -- objects --------------------------------------------------------------------------------------
def time48(ms: int) -> bytes:
    return ms.to_bytes(6, "little")


def crob(code: int, count: int = 1, on_ms: int = 100, off_ms: int = 100, status: int = 0) -> bytes:
    """Group 12 variation 1: control code, count, on time, off time, status."""
    return struct.pack("<BBIIB", code, count, on_ms, off_ms, status)


def analog_output(value: int, status: int = 0) -> bytes:
    """Group 41 variation 2: 16-bit value, control status."""
    return struct.pack("<hB", value, status)


def analog_input32(value: int, flags: int = 0x01) -> bytes:
    """Group 30 variation 1: flags, 32-bit signed value."""
    return struct.pack("<Bi", flags, value)


def float_input(value: float, flags: int = 0x01) -> bytes:
    """Group 30 variation 5: flags, single-precision value."""
    return struct.pack("<Bf", flags, value)


def counter32(value: int, flags: int = 0x01) -> bytes:
    return struct.pack("<BI", flags, value)


def packed_bits(bits: Iterable[int]) -> bytes:
    bits = list(bits)
    out = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        out[i >> 3] |= (b & 1) << (i & 7)
    return bytes(out)


def attribute_string(text: str) -> bytes:
    """A group 0 object: data type 1 (visible string), length, value."""
    raw = text.encode("latin-1")
    return bytes([1, len(raw)]) + raw


def attribute_uint(value: int, size: int = 2) -> bytes:
    return bytes([2, size]) + value.to_bytes(size, "little")


def device_attributes(attributes: Sequence[tuple[int, bytes]]) -> bytes:
    """Group 0 response objects, one header per attribute variation (qualifier 0x00, index 0)."""
    return b"".join(ranged(0, v, 0, 0, data) for v, data in attributes)


class Dnp3Link:
    """A master ↔ outstation association over one TCP conversation: request/response helpers
    that frame, segment and address the fragments. Returns `(ts_ns, frame)` records."""

    def __init__(self, conv: TcpConversation | None = None, master: int = MASTER_ADDRESS,
                 outstation: int = OUTSTATION_ADDRESS) -> None:  # fmt: skip
        self.conv = conv or TcpConversation(DEFAULT_MASTER, DEFAULT_OUTSTATION)
        self.master, self.outstation = master, outstation
        self.seq = 0
        self.tseq = [0, 0]

    def _frames(self, from_master: bool, fragment: bytes) -> bytes:
        side = 0 if from_master else 1
        dst, src = (self.outstation, self.master) if from_master else (self.master, self.outstation)
        control = PRM_UNCONFIRMED if from_master else OUTSTATION_UNCONFIRMED
        parts = segments(fragment, dst, src, control, first_sequence=self.tseq[side])
        self.tseq[side] = (self.tseq[side] + len(parts)) & 0x3F
        return b"".join(parts)

    def request(self, function: int, objects: bytes = b"", **kw) -> list:
        data = self._frames(True, apdu(function, objects, sequence=self.seq, **kw))
        return self.conv.client_send(data)

    def response(self, objects: bytes = b"", *, iin: int = 0, function: int = 129, **kw) -> list:
        records = self.conv.server_send(self._frames(False, apdu(function, objects,
                                                                 sequence=self.seq, iin=iin,
                                                                 **kw)))  # fmt: skip
        self.seq = (self.seq + 1) & 0x0F
        return records

    def exchange(self, function: int, objects: bytes = b"", reply: bytes = b"", *,
                 iin: int = 0) -> list:  # fmt: skip
        return self.request(function, objects) + self.response(reply, iin=iin)
