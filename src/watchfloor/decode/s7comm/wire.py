"""S7comm and S7comm-plus PDUs (the user data of COTP DT TPDUs) → fields.

Pure and stateless: raises only NeedMoreData or Malformed. `parse_header` is lenient the way a
passive sensor must be: a PDU whose announced parameter/data lengths overrun the bytes present is
still reported (header, function code) and flagged, as Wireshark does; the parameter and data
parsers are strict and their `Malformed` becomes an anomaly on the message.
"""

from __future__ import annotations

from struct import Struct, error as StructError
from typing import Any, NamedTuple

from msgspec import Struct as Record

from .._contract import Malformed
from .constants import (
    ACK,
    ACK_DATA,
    BLOCK_TYPES,
    DOWNLOADS,
    FILESYSTEMS,
    JOB,
    LENGTH_IN_BITS,
    PLC_CONTROL,
    PLC_STOP,
    PLUS_KEEPALIVE,
    PROTOCOL_ID,
    READ_VAR,
    SETUP,
    SUCCESS,
    SYNTAX_S7ANY,
    UPLOADS,
    WRITE_VAR,
)

_HEADER = Struct(">BBHHHH")  # protocol id, ROSCTR, redundancy id, PDU reference, param, data length
_H = Struct(">H")
_HH = Struct(">HH")
_I = Struct(">I")
_S7ANY = Struct(">BHHB")  # transport size, count, DB number, area (address follows: 3 bytes)
_SETUP = Struct(">xHHH")  # reserved, max AmQ calling, max AmQ called, PDU length
_ITEM_HEAD = Struct(">BBH")  # return code, data transport size, length
_PLUS = Struct(">BBH")  # protocol id 0x72, version, data length

Fields = dict[str, Any]  # keys are ot.s7comm names


class Header(Record, frozen=True, gc=False):  # (a C-built record: one per PDU)
    rosctr: int
    pdu_reference: int
    param: bytes  # as far as present
    data: bytes  # as far as present
    error_class: int | None
    error_code: int | None
    complete: bool  # the announced lengths fit the PDU exactly


def parse_header(pdu: bytes) -> Header:
    """The S7comm header of one PDU (its first byte is 0x32)."""
    if len(pdu) < 10:
        raise Malformed(f"S7comm PDU of {len(pdu)} bytes is shorter than its header")
    proto, rosctr, _, ref, plen, dlen = _HEADER.unpack_from(pdu)
    if proto != PROTOCOL_ID:
        raise Malformed(f"protocol id {proto:#x}, S7comm is 0x32")
    if not 1 <= rosctr <= 7:
        raise Malformed(f"ROSCTR {rosctr} outside 1..7")
    ecls = ecode = None
    at = 10
    if rosctr == ACK or rosctr == ACK_DATA:
        if len(pdu) < 12:
            raise Malformed("acknowledgement shorter than its 12-byte header")
        ecls, ecode = pdu[10], pdu[11]
        at = 12
    pend = at + plen
    end = pend + dlen
    return Header(rosctr, ref, pdu[at:pend], pdu[pend:end], ecls, ecode, end == len(pdu))


# -- job / ack-data parameters ----------------------------------------------------------------
def _items_request(param: bytes) -> list[Fields]:
    """Variable specifications of a read/write request."""
    if len(param) < 2:
        raise Malformed("read/write request without item count")
    count, at, items = param[1], 2, []
    for _ in range(count):
        if at + 2 > len(param) or param[at] != 0x12:
            raise Malformed("item without variable specification 0x12")
        n = param[at + 1]
        spec = param[at + 2 : at + 2 + n]
        if len(spec) != n or n < 1:
            raise Malformed("variable specification truncated")
        syntax = spec[0]
        if syntax == SYNTAX_S7ANY and n == 10:
            size, qty, db, area = _S7ANY.unpack_from(spec, 1)
            addr = (spec[7] << 16) | (spec[8] << 8) | spec[9]
            items.append({"syntax_id": syntax, "transport_size": size, "count": qty,
                          "db_number": db, "area": area, "byte_address": addr >> 3,
                          "bit_address": addr & 7})  # fmt: skip
        else:
            items.append({"syntax_id": syntax, "data": spec[1:]})
        at += 2 + n
    if at != len(param):
        raise Malformed(f"{len(param) - at} bytes after the last item")
    return items


def write_addresses(param: bytes) -> list[Fields]:
    """The variable specifications of a write var job (`parse_job` merges them with their data
    items; a polling client repeats the addresses, so the session parses them once)."""
    try:
        return _items_request(param)
    except (StructError, IndexError, ValueError) as e:
        raise Malformed(f"truncated parameter ({e})") from None


def data_items(data: bytes, count: int) -> list[Fields]:
    """Item data of a read response or write request: return code, transport size, value."""
    at, items, end = 0, [], len(data)
    for i in range(count):
        if at + 4 > end:
            raise Malformed(f"item {i + 1} of {count} missing")
        rc, size, length = _ITEM_HEAD.unpack_from(data, at)
        n = (length + 7) >> 3 if size in LENGTH_IN_BITS else length
        if rc != SUCCESS and rc != 0:
            n = 0  # a failed item carries no value, whatever its length field says (snap7: 4)
        at += 4
        if at + n > end:
            raise Malformed(f"item {i + 1} announces {n} bytes, {end - at} present")
        item: Fields = {"return_code": rc, "data_transport_size": size, "length": length}
        if n:
            item["data"] = data[at : at + n]
        at += n
        if n & 1 and i + 1 < count:
            at += 1  # fill byte after an odd-length item, except the last
        items.append(item)
    if at != end:
        raise Malformed(f"{end - at} bytes after the last item")
    return items


def _write_response(data: bytes, count: int) -> list[Fields]:
    if len(data) != count:
        raise Malformed(f"{len(data)} return codes for {count} items")
    return [{"return_code": rc} for rc in data]


def _filename(param: bytes, at: int, f: Fields) -> None:
    """A block file name: '_' type(2) number(5) filesystem(1), e.g. _0A00001P (DB 1, passive)."""
    if at >= len(param):
        return
    n = param[at]
    raw = param[at + 1 : at + 1 + n]
    if len(raw) != n:
        raise Malformed("file name truncated")
    name = raw.decode("latin-1")
    f["filename"] = name
    if n >= 9 and name[0] == "_" and name[3:8].isdigit():
        kind, fs = name[1:3], name[8]
        f["block_type"] = BLOCK_TYPES.get(kind) or f"unknown-{kind}"
        f["block_number"] = int(name[3:8])
        f["filesystem"] = FILESYSTEMS.get(fs) or f"unknown-{fs}"


def _transfer(fc: int, param: bytes, is_job: bool) -> Fields:
    """Request download, download block/ended, start upload, upload, end upload."""
    if len(param) < 2:
        if is_job:
            raise Malformed("transfer job without function status")
        return {}  # acknowledgements of request download / download ended / end upload
    f: Fields = {"function_status": param[1]}
    if len(param) >= 8 and (is_job or fc == 0x1D):
        f["upload_id"] = _I.unpack_from(param, 4)[0]
    if is_job and len(param) > 8 and fc != 0x1E and fc != 0x1F:
        _filename(param, 8, f)
    elif fc == 0x1D and not is_job and len(param) > 8:  # the block length, as ASCII digits
        n = param[8]
        digits = param[9 : 9 + n].decode("latin-1")
        if digits.isdigit():
            f["block_length"] = int(digits)
    if fc == 0x1F and is_job and len(param) >= 4:
        f["error_code"] = _H.unpack_from(param, 2)[0]
    return f


def _plc_control(param: bytes) -> Fields:
    """PI service: 7 unknown bytes, parameter block, service name (e.g. _INSE, P_PROGRAM)."""
    if len(param) < 11:
        raise Malformed("PLC control parameter shorter than its header")
    n = _H.unpack_from(param, 8)[0]
    block = param[10 : 10 + n]
    at = 10 + n
    if len(block) != n or at >= len(param):
        raise Malformed("PLC control parameter block truncated")
    m = param[at]
    service = param[at + 1 : at + 1 + m]
    if len(service) != m:
        raise Malformed("PI service name truncated")
    f: Fields = {"pi_service": service.decode("latin-1")}
    if service in (b"_INSE", b"_DELE") and n >= 2:
        names = block[2:].decode("latin-1")
        f["blocks"] = [names[i : i + 8] for i in range(0, len(names) - 7, 8)][: block[0]]
    elif n:
        f["pi_arguments"] = block.decode("latin-1").strip("\x00 ")
    return f


def _plc_stop(param: bytes) -> Fields:
    if len(param) < 7:
        raise Malformed("PLC stop parameter shorter than its header")
    m = param[6]
    service = param[7 : 7 + m]
    if len(service) != m:
        raise Malformed("PI service name truncated")
    return {"pi_service": service.decode("latin-1")}


def parse_job(h: Header) -> Fields:
    """Fields of a job (request) or ack-data (response) beyond the function code."""
    param, data = h.param, h.data
    fc = param[0]
    is_job = h.rosctr == JOB
    try:
        if fc == READ_VAR or fc == WRITE_VAR:
            if is_job:
                items = _items_request(param)
                if fc == WRITE_VAR:
                    for item, value in zip(items, data_items(data, len(items)), strict=True):
                        item.update(value)
                return {"item_count": param[1], "items": items}
            if len(param) != 2:
                raise Malformed("read/write response parameter is 2 bytes")
            count = param[1]
            items = data_items(data, count) if fc == READ_VAR else _write_response(data, count)
            return {"item_count": count, "items": items}
        if fc == SETUP:
            if len(param) != 8:
                raise Malformed("setup communication parameter is 8 bytes")
            calling, called, size = _SETUP.unpack_from(param, 1)
            return {"max_amq_calling": calling, "max_amq_called": called, "pdu_length": size}
        if fc in DOWNLOADS or fc in UPLOADS:
            f = _transfer(fc, param, is_job)
            if (fc == 0x1B or fc == 0x1E) and not is_job and len(data) >= 4:
                f["block_length"] = _H.unpack_from(data)[0]
            return f
        if fc == PLC_CONTROL and is_job:
            return _plc_control(param)
        if fc == PLC_STOP and is_job:
            return _plc_stop(param)
    except (StructError, IndexError, ValueError) as e:  # defence in depth: short is malformed
        raise Malformed(f"truncated parameter ({e})") from None
    return {}


# -- userdata -------------------------------------------------------------------------------
class Userdata(NamedTuple):
    type: int  # 0 push, 4 request, 8 response
    group: int
    subfunction: int
    sequence: int
    last_data_unit: int | None
    error_code: int | None
    return_code: int | None
    payload: bytes  # the data part after its 4-byte header


def parse_userdata(h: Header) -> Userdata:
    p = h.param
    if len(p) < 8:
        raise Malformed(f"userdata parameter of {len(p)} bytes, at least 8")
    last = err = None
    if len(p) >= 12 and p[3] == 8:
        last, err = p[9], _H.unpack_from(p, 10)[0]
    rc, payload = None, b""
    data = h.data
    if len(data) >= 4:
        rc, _, n = _ITEM_HEAD.unpack_from(data)
        payload = data[4 : 4 + n]
        if len(payload) != n:
            raise Malformed("userdata data shorter than announced")
    return Userdata(p[5] >> 4, p[5] & 0x0F, p[6], p[7], last, err, rc, payload)


def szl_request(payload: bytes) -> tuple[int, int]:
    if len(payload) < 4:
        raise Malformed("SZL request without id and index")
    return _HH.unpack_from(payload)


def szl_response(payload: bytes) -> tuple[int, int, int, list[bytes]]:
    """(SZL id, index, record length, records) of the first data unit of an SZL answer."""
    if len(payload) < 8:
        raise Malformed("SZL response shorter than its header")
    szl_id, index = _HH.unpack_from(payload)
    size, count = _HH.unpack_from(payload, 4)
    body = payload[8:]
    if size == 0:
        return szl_id, index, size, []
    records = [body[i : i + size] for i in range(0, min(len(body), size * count), size)]
    return szl_id, index, size, [r for r in records if len(r) == size]


def _bcd(b: int) -> int:
    hi, lo = b >> 4, b & 0xF
    if hi > 9 or lo > 9:
        raise Malformed(f"{b:#04x} is not BCD")
    return hi * 10 + lo


def clock(payload: bytes) -> str:
    """The 10-byte BCD time stamp of the time functions → ISO 8601 (no time zone: PLC local)."""
    if len(payload) < 10:
        raise Malformed("clock value shorter than 10 bytes")
    y = _bcd(payload[1]) * 100 + _bcd(payload[2])
    mo, d, hh, mi, ss = (_bcd(b) for b in payload[3:8])
    ms = _bcd(payload[8]) * 10 + (payload[9] >> 4)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and hh < 24 and mi < 60 and ss < 60):
        raise Malformed("clock value out of range")
    return f"{y:04d}-{mo:02d}-{d:02d}T{hh:02d}:{mi:02d}:{ss:02d}.{ms:03d}"


def _block_name(kind: bytes) -> str:
    k = kind.decode("latin-1")
    return BLOCK_TYPES.get(k) or f"unknown-{k}"


def block_function(sub: int, is_request: bool, payload: bytes) -> Fields:
    """Block functions (userdata group 3): list blocks answers count blocks per type, list
    blocks of type names a type and answers with block numbers, get block info names a block
    ('0B32768B': type, number, file system)."""
    if sub == 1 and not is_request:
        if len(payload) % 4:
            raise Malformed("block list entries are 4 bytes")
        return {"block_counts": [f"{_block_name(payload[i:i + 2])}={_H.unpack_from(payload, i + 2)[0]}"
                                 for i in range(0, len(payload), 4)]}  # fmt: skip
    if sub == 2 and is_request and len(payload) >= 2:
        return {"block_type": _block_name(payload[:2])}
    if sub == 2 and not is_request:
        if len(payload) % 4:
            raise Malformed("block numbers are listed in 4-byte entries")
        return {"blocks": [str(_H.unpack_from(payload, i)[0]) for i in range(0, len(payload), 4)]}
    if sub == 3 and is_request and len(payload) >= 8:
        text = payload[:8].decode("latin-1")
        if text[2:7].isdigit():
            return {"block_type": _block_name(payload[:2]), "block_number": int(text[2:7]),
                    "filesystem": FILESYSTEMS.get(text[7]) or f"unknown-{text[7]}"}  # fmt: skip
    return {}


# -- S7comm-plus ----------------------------------------------------------------------------
class PlusPdu(NamedTuple):
    version: int
    data_length: int
    opcode: int | None
    function_code: int | None
    sequence_number: int | None
    session_id: int | None
    transport_flags: int | None
    integrity: bool | None
    complete: bool  # the announced length fits the bytes present
    last: bool  # the frame ends with the trailer: no fragment of this message follows


def plus_frame(pdu: bytes) -> tuple[int, int, bytes, bool]:
    """(version, data length, data, trailer present) of one S7comm-plus frame."""
    if len(pdu) < 4:
        raise Malformed("S7comm-plus frame shorter than its header")
    _, version, length = _PLUS.unpack_from(pdu)
    end = 4 + length
    trailer = pdu[end : end + 4]
    return version, length, pdu[4:end], len(trailer) == 4 and trailer[0] == 0x72


def parse_plus(pdu: bytes) -> PlusPdu:
    """The first (or only) frame of an S7comm-plus message: 0x72, version, data length, data,
    trailer (0x72, version, 0000). A message longer than one frame continues in frames with the
    same header and no opcode; only its last frame has the trailer.

    Version 3 data starts with an integrity part (digest length, 32-byte digest). Keep-alives
    (version 0xFE) carry no opcode."""
    version, length, body, last = plus_frame(pdu)
    complete = len(body) == length
    if version == PLUS_KEEPALIVE:
        return PlusPdu(version, length, None, None, None, None, None, False, complete, True)
    at, integrity = 0, (False if version == 1 else None)
    if version == 3:
        if not body or body[0] + 1 > len(body):
            raise Malformed("integrity part truncated")
        at, integrity = 1 + body[0], body[0] == 32
    if at + 1 > len(body):
        raise Malformed("S7comm-plus frame without opcode")
    op = body[at]
    fn = seq = session = flags = None
    if op in (0x31, 0x32, 0x02) and len(body) >= at + 9:
        fn, seq = _H.unpack_from(body, at + 3)[0], _H.unpack_from(body, at + 7)[0]
        if op == 0x31 and len(body) >= at + 14:
            session, flags = _I.unpack_from(body, at + 9)[0], body[at + 13]
        elif op != 0x31 and len(body) >= at + 10:
            flags = body[at + 9]
    return PlusPdu(version, length, op, fn, seq, session, flags, integrity, complete, last)
