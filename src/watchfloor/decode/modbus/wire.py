"""Modbus/TCP bytes → frames. Pure and stateless: raises only NeedMoreData or Malformed.

Layouts: MODBUS Messaging on TCP/IP Implementation Guide V1.0b §3.1.3 (MBAP) and MODBUS
Application Protocol Specification V1.1b3 §6 (one request and one response layout per function).
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct, error as StructError, unpack_from
from typing import TypedDict

from .._contract import Malformed, NeedMoreData
from .constants import MAX_ADU

MBAP = Struct(">HHHBB")  # transaction, protocol, length, unit, function code
_H2 = Struct(">HH")
_H3 = Struct(">HHH")
_H4 = Struct(">HHHH")


# An ADU: (transaction_id, unit_id, function_code, data). function_code is the raw byte (bit 7 set
# on exception responses); data is the PDU after the function code. A tuple: one is made per message.
Adu = tuple[int, int, int, bytes]


class Pdu(TypedDict, total=False):
    """A decoded PDU body: only the fields its function carries. Keys are `ot.modbus` names, so a
    PDU passes into the event as it is; `objects`, `files` and `data` are converted on the way.
    (The parsers of the polling functions build plain dict literals: calling a TypedDict costs
    three times as much, once per message.)"""

    address: int
    quantity: int
    values: list[int]
    subfunction: int
    exception_code: int
    and_mask: int
    or_mask: int
    read_address: int
    read_quantity: int
    device_id_code: int
    object_id: int  # requested object, or the next one when more follow
    conformity_level: int
    more_follows: int
    objects: list[tuple[int, bytes]]  # (object id, value) from device identification
    files: list[tuple[int, int, int]]  # (file, record, length) per sub-request
    data: bytes  # bytes kept undecoded (vendor functions, opaque payloads)


def parse_adu(buf: bytes, pos: int = 0, max_length: int = MAX_ADU - 6) -> tuple[Adu, int]:
    """One ADU starting at `pos`; returns it and the bytes consumed. The MBAP length field may
    not exceed `max_length` (the specification's limit unless the caller is more lenient)."""
    have = len(buf) - pos
    if have < 8:
        raise NeedMoreData(8 - have)
    tid, proto, length, unit, fc = MBAP.unpack_from(buf, pos)
    if proto != 0:
        raise Malformed(f"protocol identifier {proto}, Modbus is 0")
    if length < 2 or length > max_length:
        raise Malformed(f"MBAP length {length} outside 2..{max_length}")
    end = pos + 6 + length
    if end > len(buf):
        raise NeedMoreData(end - len(buf))
    return (tid, unit, fc, buf[pos + 8 : end]), end - pos


_BITS = [tuple((byte >> i) & 1 for i in range(8)) for byte in range(256)]


def bits(data: bytes, count: int | None = None) -> list[int]:
    """Coil/input bytes → bit values, LSB of the first byte first (§6.1)."""
    out = [b for byte in data for b in _BITS[byte]]
    return out if count is None else out[:count]


def registers(data: bytes) -> list[int]:
    if len(data) % 2:
        raise Malformed(f"odd register byte count {len(data)}")
    return list(unpack_from(f">{len(data) // 2}H", data))


def _exact(data: bytes, n: int) -> None:
    if len(data) != n:
        raise Malformed(f"PDU body is {len(data)} bytes, expected {n}")


def _counted(data: bytes, width: int = 1) -> bytes:
    """A byte-count-prefixed body: the count must match what follows."""
    if len(data) < width:
        raise Malformed("missing byte count")
    n = int.from_bytes(data[:width], "big")
    if len(data) - width != n:
        raise Malformed(f"byte count {n} but {len(data) - width} bytes follow")
    return data[width:]


def _empty(data: bytes) -> Pdu:
    _exact(data, 0)
    return Pdu()


def _address_quantity(data: bytes) -> Pdu:
    _exact(data, 4)
    a, q = _H2.unpack(data)
    return {"address": a, "quantity": q}


def _address_value(data: bytes) -> Pdu:
    _exact(data, 4)
    a, v = _H2.unpack(data)
    return {"address": a, "quantity": 1, "values": [v]}


def _bits_response(data: bytes) -> Pdu:
    return {"values": bits(_counted(data))}


def _registers_response(data: bytes) -> Pdu:
    return {"values": registers(_counted(data))}


def _write_multiple(data: bytes, fc: int) -> Pdu:
    if len(data) < 5:
        raise Malformed("write request shorter than its header")
    a, q = _H2.unpack_from(data)
    body = _counted(data[4:])
    if fc == 15:
        if len(body) != (q + 7) // 8:
            raise Malformed(f"{len(body)} bytes cannot carry {q} coils")
        return {"address": a, "quantity": q, "values": bits(body, q)}
    if len(body) != 2 * q:
        raise Malformed(f"{len(body)} bytes cannot carry {q} registers")
    return {"address": a, "quantity": q, "values": registers(body)}


def _diagnostics(data: bytes) -> Pdu:
    if len(data) < 2:
        raise Malformed("diagnostics without sub-function")
    sub = int.from_bytes(data[:2], "big")
    if len(data) % 2:
        return Pdu(subfunction=sub, data=data[2:])
    return Pdu(subfunction=sub, values=registers(data[2:]))


def _exception_status(data: bytes) -> Pdu:
    _exact(data, 1)
    return Pdu(values=[data[0]])


def _event_counter(data: bytes) -> Pdu:
    _exact(data, 4)
    return Pdu(values=list(_H2.unpack(data)))


def _event_log(data: bytes) -> Pdu:
    body = _counted(data)
    if len(body) < 6:
        raise Malformed("event log shorter than its counters")
    return Pdu(values=list(_H3.unpack_from(body)), data=body[6:])


def _server_id(data: bytes) -> Pdu:
    return Pdu(data=_counted(data))


def _read_file_request(data: bytes) -> Pdu:
    body, files = _counted(data), []
    if len(body) % 7:
        raise Malformed("file sub-requests are 7 bytes each")
    for at in range(0, len(body), 7):
        if body[at] != 6:
            raise Malformed(f"file reference type {body[at]}, must be 6")
        files.append(_H3.unpack_from(body, at + 1))
    return Pdu(files=files, address=files[0][1]) if files else Pdu(files=files)


def _read_file_response(data: bytes) -> Pdu:
    body, values = _counted(data), []
    while body:
        n = body[0]
        if n < 1 or len(body) < 1 + n or body[1] != 6:
            raise Malformed("bad file sub-response")
        values += registers(body[2 : 1 + n])
        body = body[1 + n :]
    return Pdu(values=values)


def _write_file(data: bytes) -> Pdu:
    body = _counted(data)
    files, at = [], 0
    while at < len(body):
        if len(body) - at < 7 or body[at] != 6:
            raise Malformed("file sub-request needs reference type 6 and 7 header bytes")
        f, r, n = _H3.unpack_from(body, at + 1)
        if len(body) - at - 7 < 2 * n:
            raise Malformed("file record data truncated")
        files.append((f, r, n))
        at += 7 + 2 * n
    if len(files) == 1:
        return Pdu(files=files, address=files[0][1], values=registers(body[7:]))
    return Pdu(files=files, address=files[0][1]) if files else Pdu(files=files)


def _mask_write(data: bytes) -> Pdu:
    _exact(data, 6)
    a, and_mask, or_mask = _H3.unpack(data)
    return Pdu(address=a, and_mask=and_mask, or_mask=or_mask)


def _read_write_request(data: bytes) -> Pdu:
    if len(data) < 9:
        raise Malformed("read/write request shorter than its header")
    ra, rq, wa, wq = _H4.unpack_from(data)
    values = registers(_counted(data[8:]))
    if len(values) != wq:
        raise Malformed(f"{len(values)} registers for a write quantity of {wq}")
    return Pdu(read_address=ra, read_quantity=rq, address=wa, quantity=wq, values=values)


def _fifo_request(data: bytes) -> Pdu:
    _exact(data, 2)
    return Pdu(address=int.from_bytes(data, "big"))


def _fifo_response(data: bytes) -> Pdu:
    body = _counted(data, 2)
    if len(body) < 2:
        raise Malformed("FIFO response without count")
    count, values = int.from_bytes(body[:2], "big"), registers(body[2:])
    if count != len(values):
        raise Malformed(f"FIFO count {count} but {len(values)} values")
    return Pdu(values=values)


def _mei_request(data: bytes) -> Pdu:
    if not data:
        raise Malformed("function 43 without MEI type")
    if data[0] == 14:
        _exact(data, 3)
        return Pdu(subfunction=14, device_id_code=data[1], object_id=data[2])
    return Pdu(subfunction=data[0], data=data[1:])


def _mei_response(data: bytes) -> Pdu:
    if not data:
        raise Malformed("function 43 without MEI type")
    if data[0] != 14:
        return Pdu(subfunction=data[0], data=data[1:])
    if len(data) < 6:
        raise Malformed("device identification response shorter than its header")
    code, conformity, more, next_id, n = data[1:6]
    objects, at = [], 6
    for _ in range(n):
        if at + 2 > len(data) or at + 2 + data[at + 1] > len(data):
            raise Malformed("device identification object truncated")
        objects.append((data[at], data[at + 2 : at + 2 + data[at + 1]]))
        at += 2 + data[at + 1]
    if at != len(data):
        raise Malformed(f"{len(data) - at} bytes after the last identification object")
    return Pdu(subfunction=14, device_id_code=code, conformity_level=conformity,
               more_follows=more, object_id=next_id, objects=objects)  # fmt: skip


def _undecoded(data: bytes) -> Pdu:
    return Pdu(data=data)


Parser = Callable[[bytes], Pdu]

# function code → (request parser, response parser)
PARSERS: dict[int, tuple[Parser, Parser]] = {
    1: (_address_quantity, _bits_response),
    2: (_address_quantity, _bits_response),
    3: (_address_quantity, _registers_response),
    4: (_address_quantity, _registers_response),
    5: (_address_value, _address_value),
    6: (_address_value, _address_value),
    7: (_empty, _exception_status),
    8: (_diagnostics, _diagnostics),
    11: (_empty, _event_counter),
    12: (_empty, _event_log),
    15: (lambda d: _write_multiple(d, 15), _address_quantity),
    16: (lambda d: _write_multiple(d, 16), _address_quantity),
    17: (_empty, _server_id),
    20: (_read_file_request, _read_file_response),
    21: (_write_file, _write_file),
    22: (_mask_write, _mask_write),
    23: (_read_write_request, _registers_response),
    24: (_fifo_request, _fifo_response),
    43: (_mei_request, _mei_response),
}


def parse_pdu(function_code: int, data: bytes, is_request: bool) -> Pdu:
    """Decode a PDU body. Exceptions (bit 7) carry one exception code; unknown codes stay raw."""
    try:
        if function_code & 0x80 and not is_request:
            _exact(data, 1)
            return Pdu(exception_code=data[0])
        parsers = PARSERS.get(function_code)
        if parsers is None:
            return _undecoded(data)
        return parsers[0 if is_request else 1](data)
    except (StructError, IndexError) as e:  # defence in depth: a short body is malformed
        raise Malformed(f"truncated PDU ({e})") from None


def plausible(function_code: int, data: bytes, is_request: bool) -> bool:
    """Whether the body has exactly the layout this direction requires (for direction finding)."""
    if function_code & 0x80:
        return not is_request and len(data) == 1
    if function_code not in PARSERS:
        return False
    try:
        parse_pdu(function_code, data, is_request)
    except Malformed:
        return False
    return True
