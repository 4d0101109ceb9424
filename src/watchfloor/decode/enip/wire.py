"""EtherNet/IP and CIP bytes → frames and fields. Pure and stateless: raises only NeedMoreData or
Malformed.

Layouts: CIP Networks Library Vol. 2 §2-3 (encapsulation header: command, length, session
handle, status, sender context, options, all little-endian), §2-6 (common packet format: item
count, then type id / length / data items), §2-4.3 (ListIdentity reply item); Vol. 1 §2-4
(message router request: service, path size in words, padded EPATH, data; response: service |
0x80, reserved, general status, additional status size in words, additional status, data),
Appendix C (EPATH segments), §3-5.5 (Forward Open / Close), §2-4.1 (Multiple Service Packet),
§3-5.5.2 (Unconnected Send); Rockwell 1756-PM020 (Logix tag service data).
"""

from __future__ import annotations

from struct import Struct, error as StructError, unpack_from
from typing import Any

from .._contract import Malformed, NeedMoreData
from .constants import (
    CLASS_CONNECTION_MANAGER,
    CLASS_FILE,
    CLASS_IDENTITY,
    CLASS_NVS,
    CLASS_PCCC,
    CLASS_SYMBOL,
    COMMON_SERVICES,
    CONNECTION_MANAGER_SERVICES,
    FILE_SERVICES,
    FORWARD_CLOSE,
    FORWARD_OPEN,
    HEADER,
    LARGE_FORWARD_OPEN,
    LOGIX_SERVICES,
    LOGIX_TYPES,
    MULTIPLE_SERVICE_PACKET,
    NVS_SERVICES,
    PCCC_WITH_FUNCTION,
    PCCC_SERVICES,
    READ_TAG,
    READ_TAG_FRAGMENTED,
    RESET,
    STRUCT_TYPE,
    UNCONNECTED_SEND,
    WRITE_TAG,
    WRITE_TAG_FRAGMENTED,
)

ENCAP = Struct("<HHII8sI")  # command, length, session handle, status, sender context, options
_ITEM = Struct("<HH")
_U16, _U32 = Struct("<H"), Struct("<I")
_FORWARD_OPEN = Struct("<BBIIHHIB3xI")  # up to the O->T RPI (params follow: 2 or 4 bytes each)
_FORWARD_OPEN_REPLY = Struct("<IIHHIII")
_FORWARD_CLOSE = Struct("<BBHHI")
_IDENTITY = Struct("<HHHBBHI")  # vendor, device type, product code, major, minor, status, serial
MAX_DEPTH = 4  # nesting of Unconnected Send / Multiple Service Packet worth following

# One encapsulation message: (command, session, status, context, options, data).
Encap = tuple[int, int, int, bytes, int, bytes]
# A CIP message as a dict of `ot.cip` fields plus private keys starting with "_".
Cip = dict[str, Any]


def parse_encap(buf: bytes, pos: int = 0, max_length: int = 65511) -> tuple[Encap, int]:
    """One encapsulation message at `pos`; returns it and the bytes consumed."""
    have = len(buf) - pos
    if have < HEADER:
        raise NeedMoreData(HEADER - have)
    cmd, length, session, status, context, options = ENCAP.unpack_from(buf, pos)
    if length > max_length:
        raise Malformed(f"encapsulation length {length} beyond {max_length}")
    end = pos + HEADER + length
    if end > len(buf):
        raise NeedMoreData(end - len(buf))
    return (cmd, session, status, context, options, buf[pos + HEADER : end]), HEADER + length


def parse_cpf(data: bytes, at: int = 0) -> list[tuple[int, bytes]]:
    """Common packet format: the (type id, data) of each item; their lengths must fit exactly."""
    if len(data) - at < 2:
        raise Malformed("common packet format without item count")
    count = _U16.unpack_from(data, at)[0]
    at += 2
    items = []
    for _ in range(count):
        if len(data) - at < 4:
            raise Malformed("CPF item header truncated")
        tid, n = _ITEM.unpack_from(data, at)
        at += 4
        if at + n > len(data):
            raise Malformed(f"CPF item 0x{tid:04x} length {n} beyond the message")
        items.append((tid, data[at : at + n]))
        at += n
    if at != len(data):
        raise Malformed(f"{len(data) - at} bytes after the last CPF item")
    return items


def identity(item: bytes, at: int = 0) -> dict[str, Any]:
    """Identity object attributes 1-7 as sent in a ListIdentity reply (after the socket address)
    and in Get_Attributes_All of the identity object: vendor, device type, product code,
    revision, status, serial number, product name (SHORT_STRING)."""
    try:
        vendor, dtype, code, major, minor, status, serial = _IDENTITY.unpack_from(item, at)
        n = item[at + 14]
    except (StructError, IndexError):
        raise Malformed("identity truncated") from None
    name = item[at + 15 : at + 15 + n]
    if len(name) != n:
        raise Malformed("identity product name truncated")
    out = {"vendor_id": vendor, "device_type": dtype, "product_code": code,
           "revision": f"{major}.{minor:03d}", "device_status": status,
           "serial_number": f"0x{serial:08x}", "product_name": name.decode("latin-1")}  # fmt: skip
    if len(item) > at + 15 + n:
        out["state"] = item[at + 15 + n]
    return out


def list_identity(item: bytes) -> dict[str, Any]:
    """ListIdentity reply item 0x0C: protocol version, socket address (big-endian), identity."""
    if len(item) < 18:
        raise Malformed("ListIdentity item shorter than its socket address")
    out = identity(item, 18)
    out["encapsulation_version"] = _U16.unpack_from(item)[0]
    out["socket_port"] = int.from_bytes(item[4:6], "big")
    out["socket_address"] = ".".join(str(b) for b in item[6:10])
    return out


# ------------------------------------------------------------------------------------------
# EPATH
# ------------------------------------------------------------------------------------------

_LOGICAL = {0: "class_id", 1: "instance_id", 2: "member_id", 3: "connection_point",
            4: "attribute_id"}  # fmt: skip


def parse_path(path: bytes, fields: Cip) -> None:
    """Padded EPATH → `class_id`, `instance_id`, `attribute_id`, `member_id`, `connection_point`
    (first of each), `symbol` (Logix tag name with members and [indices]), `route` (port
    segments as "port,link"), `path` (every segment, as text)."""
    at, n = 0, len(path)
    parts: list[str] = []
    symbol: list[str] = []
    route: list[str] = []
    while at < n:
        seg = path[at]
        kind = seg >> 5
        if kind == 0:  # port segment
            port = seg & 0x0F
            at += 1
            if seg & 0x10:  # extended link address: size byte, address, pad to even
                size = path[at]
                link = path[at + 1 : at + 1 + size]
                at += 1
                if port == 15:
                    port = _U16.unpack_from(path, at)[0]
                    at += 2
                at += size + (size & 1)
                printable = all(32 < b < 127 for b in link)  # an IP address as text, usually
                link_text = link.decode("latin-1") if printable else link.hex()
            else:
                if port == 15:
                    port = _U16.unpack_from(path, at)[0]
                    at += 2
                link_text = str(path[at])
                at += 1
            route.append(f"{port},{link_text}")
            parts.append(f"port {port},{link_text}")
        elif kind == 1:  # logical segment
            ltype, fmt = (seg >> 2) & 7, seg & 3
            if ltype == 5:  # electronic key: format byte + data
                if fmt != 0:
                    raise Malformed(f"logical segment 0x{seg:02x}")
                key_len = 8 if path[at + 1] == 4 else 0
                if not key_len:
                    raise Malformed(f"electronic key format {path[at + 1]}")
                parts.append("key " + path[at + 2 : at + 2 + key_len].hex())
                at += 2 + key_len
                continue
            if ltype > 5:
                raise Malformed(f"logical segment 0x{seg:02x}")
            if fmt == 0:
                value = path[at + 1]
                at += 2
            elif fmt == 1:
                value = _U16.unpack_from(path, at + 2)[0]
                at += 4
            elif fmt == 2:
                value = _U32.unpack_from(path, at + 2)[0]
                at += 6
            else:
                raise Malformed(f"reserved logical format in 0x{seg:02x}")
            name = _LOGICAL[ltype]
            if ltype == 2 and symbol:  # a member (element) after a symbol is an array index
                if symbol[-1].endswith("]"):
                    symbol[-1] = symbol[-1][:-1] + f",{value}]"
                else:
                    symbol[-1] += f"[{value}]"
            elif name not in fields:
                fields[name] = value
            parts.append(f"{name[:-3] if name.endswith('_id') else name} {value}")
        elif kind == 4:  # data segment
            if seg == 0x91:  # ANSI extended symbol: length, characters, pad to even
                size = path[at + 1]
                raw = path[at + 2 : at + 2 + size]
                if len(raw) != size:
                    raise Malformed("symbolic segment truncated")
                text = raw.decode("latin-1")
                symbol.append(text)
                parts.append(f"symbol {text}")
                at += 2 + size + (size & 1)
            elif seg == 0x80:  # simple data: word count, words
                at += 2 + 2 * path[at + 1]
                parts.append("data")
            else:
                raise Malformed(f"data segment 0x{seg:02x}")
        elif kind == 2:  # network segment
            if seg & 0x10:  # 0x5X: word count, words
                at += 2 + 2 * path[at + 1]
            else:
                at += 2
            parts.append(f"network 0x{seg:02x}")
        elif kind == 3:  # symbolic segment: size in the low 5 bits, characters
            size = seg & 0x1F
            if size == 0:
                raise Malformed("extended symbolic segment formats are not decoded")
            text = path[at + 1 : at + 1 + size].decode("latin-1")
            symbol.append(text)
            parts.append(f"symbol {text}")
            at += 1 + size + ((1 + size) & 1)
        else:
            raise Malformed(f"path segment type {kind} (0x{seg:02x})")
        if at > n:
            raise Malformed("path segment truncated")
    if symbol:
        fields["symbol"] = ".".join(symbol)
    if route:
        fields["route"] = route
    if parts:
        fields["path"] = " / ".join(parts)


# ------------------------------------------------------------------------------------------
# CIP messages
# ------------------------------------------------------------------------------------------

def service_info(sc: int, class_id: int | None, symbolic: bool) -> tuple[str, str]:
    """(name, operation) of a 7-bit service code in the context of the class addressed (the
    object-specific range 0x4B-0x63 means something else on every class)."""
    common = COMMON_SERVICES.get(sc)
    if common is not None:
        return common
    if class_id == CLASS_CONNECTION_MANAGER:
        table = CONNECTION_MANAGER_SERVICES
    elif class_id == CLASS_FILE:
        table = FILE_SERVICES
    elif class_id == CLASS_PCCC:
        table = PCCC_SERVICES
    elif class_id == CLASS_NVS:
        return NVS_SERVICES.get(sc) or (f"unknown-{sc}", "firmware")
    elif symbolic or class_id == CLASS_SYMBOL:
        table = LOGIX_SERVICES
    else:
        return f"unknown-{sc}", "other"
    return table.get(sc) or (f"unknown-{sc}", "other")


def parse_cip(data: bytes, depth: int = 0) -> Cip:
    """A message router request or response. A message whose body does not fit its service
    keeps the service (and status) and gets `_malformed` with the reason."""
    if len(data) < 2:
        raise Malformed("CIP message shorter than 2 bytes")
    raw = data[0]
    msg: Cip = {"service": raw & 0x7F, "_response": bool(raw & 0x80)}
    try:
        if raw & 0x80:
            _response(data, msg, depth)
        else:
            _request(data, msg, depth)
    except (Malformed, StructError, IndexError, UnicodeDecodeError) as e:
        msg["_malformed"] = str(e) or type(e).__name__
    return msg


def _request(data: bytes, msg: Cip, depth: int) -> None:
    words = data[1]
    end = 2 + 2 * words
    if end > len(data):
        raise Malformed(f"request path of {words} words beyond the message")
    parse_path(data[2:end], msg)
    body = data[end:]
    sc, cls = msg["service"], msg.get("class_id")
    symbolic = "symbol" in msg
    if sc == MULTIPLE_SERVICE_PACKET:
        msg["_nested"] = _multiple(body, False, depth)
    elif cls == CLASS_CONNECTION_MANAGER and sc == UNCONNECTED_SEND:
        _unconnected_send(body, msg, depth)
    elif cls == CLASS_CONNECTION_MANAGER and sc in (FORWARD_OPEN, LARGE_FORWARD_OPEN):
        _forward_open(body, msg, sc == LARGE_FORWARD_OPEN)
    elif cls == CLASS_CONNECTION_MANAGER and sc == FORWARD_CLOSE:
        prio, ticks, serial, vendor, orig = _FORWARD_CLOSE.unpack_from(body)
        msg.update(connection_serial=serial, originator_vendor=vendor, originator_serial=orig)
        sub: Cip = {}
        parse_path(body[12 : 12 + 2 * body[10]], sub)
        if "path" in sub:
            msg["connection_path"] = sub["path"]
    elif (symbolic or cls == CLASS_SYMBOL) and sc in (READ_TAG, READ_TAG_FRAGMENTED):
        msg["elements"] = _U16.unpack_from(body)[0]
        if sc == READ_TAG_FRAGMENTED:
            msg["offset"] = _U32.unpack_from(body, 2)[0]
    elif (symbolic or cls == CLASS_SYMBOL) and sc in (WRITE_TAG, WRITE_TAG_FRAGMENTED):
        at = _tag_type(body, msg)
        msg["elements"] = _U16.unpack_from(body, at)[0]
        at += 2
        if sc == WRITE_TAG_FRAGMENTED:
            msg["offset"] = _U32.unpack_from(body, at)[0]
            at += 4
        _tag_values(body[at:], msg)
    elif cls == CLASS_IDENTITY and sc == RESET and body:
        msg["reset_type"] = body[0]
        if len(body) > 1:
            msg["data"] = body
    elif cls == CLASS_PCCC and sc == 0x4B:
        _pccc(body, msg, False)
    elif sc in (0x03, 0x04) and len(body) >= 2:  # Get/Set_Attribute_List: count, ids (+ values)
        count = _U16.unpack_from(body)[0]
        if sc == 0x03 and len(body) != 2 + 2 * count:
            raise Malformed(f"attribute list of {count} ids in {len(body) - 2} bytes")
        if sc == 0x03:
            msg["attributes"] = list(unpack_from(f"<{count}H", body, 2))
        else:
            msg["data"] = body
    elif body:
        msg["data"] = body


def _pccc(body: bytes, msg: Cip, response: bool) -> None:
    """Execute PCCC: requestor id (its first byte is its length), then the PCCC message:
    command, status, transaction number, and for commands 0x06/0x07/0x0F a function code."""
    n = body[0]
    if n < 7 or len(body) < n + 4:
        raise Malformed("PCCC message shorter than its requestor id and header")
    cmd, sts = body[n], body[n + 1]
    msg["pccc_command"] = cmd
    msg["pccc_transaction"] = _U16.unpack_from(body, n + 2)[0]
    at = n + 4
    if response:
        msg["pccc_status"] = sts
    elif cmd in PCCC_WITH_FUNCTION and len(body) > at:
        msg["pccc_function"] = body[at]
        at += 1
    if len(body) > at:
        msg["data"] = body[at:]


def pccc_reply(body: bytes, msg: Cip) -> None:
    """An Execute PCCC reply (known from the paired request)."""
    _pccc(body, msg, True)


def _response(data: bytes, msg: Cip, depth: int) -> None:
    if len(data) < 4:
        raise Malformed("CIP response shorter than its 4-byte header")
    status, words = data[2], data[3]
    end = 4 + 2 * words
    if end > len(data):
        raise Malformed(f"{words} additional status words beyond the message")
    msg["status"] = status
    if words:
        msg["extended_status"] = list(unpack_from(f"<{words}H", data, 4))
    body = data[end:]
    if msg["service"] == MULTIPLE_SERVICE_PACKET and status in (0, 0x1E) and body:
        msg["_nested"] = _multiple(body, True, depth)
    elif body:
        msg["data"] = body


def _multiple(body: bytes, response: bool, depth: int) -> list[Cip]:
    """Multiple Service Packet: count, offsets from the count field, the messages."""
    if depth >= MAX_DEPTH:
        raise Malformed("services nested too deep")
    count = _U16.unpack_from(body)[0]
    if 2 + 2 * count > len(body):
        raise Malformed(f"{count} service offsets beyond the message")
    offsets = list(unpack_from(f"<{count}H", body, 2))
    out = []
    for i, start in enumerate(offsets):
        stop = offsets[i + 1] if i + 1 < count else len(body)
        if not 2 + 2 * count <= start < stop <= len(body):
            raise Malformed(f"service {i} at offset {start} outside the packet")
        nested = parse_cip(body[start:stop], depth + 1)
        if nested["_response"] != response:
            raise Malformed(f"service {i} has the wrong request/response bit")
        out.append(nested)
    return out


def _unconnected_send(body: bytes, msg: Cip, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise Malformed("services nested too deep")
    size = _U16.unpack_from(body, 2)[0]
    embedded = body[4 : 4 + size]
    if len(embedded) != size:
        raise Malformed(f"embedded message of {size} bytes beyond the request")
    at = 4 + size + (size & 1)
    nested = parse_cip(embedded, depth + 1)
    msg["_nested"] = [nested]
    if at + 2 <= len(body):
        sub: Cip = {}
        parse_path(body[at + 2 : at + 2 + 2 * body[at]], sub)
        if "route" in sub:
            msg["route"] = sub["route"]


def _forward_open(body: bytes, msg: Cip, large: bool) -> None:
    (_, _, ot_id, to_id, serial, vendor, orig, _, ot_rpi) = _FORWARD_OPEN.unpack_from(body)
    at = _FORWARD_OPEN.size
    pfmt = _U32 if large else _U16
    ot_params = pfmt.unpack_from(body, at)[0]
    to_rpi = _U32.unpack_from(body, at + pfmt.size)[0]
    at += pfmt.size + 4
    to_params = pfmt.unpack_from(body, at)[0]
    at += pfmt.size
    trigger, words = body[at], body[at + 1]
    msg.update(o_t_connection_id=ot_id, t_o_connection_id=to_id, connection_serial=serial,
               originator_vendor=vendor, originator_serial=orig, o_t_rpi=ot_rpi, t_o_rpi=to_rpi,
               o_t_parameters=ot_params, t_o_parameters=to_params,
               transport_class=trigger & 0x0F)  # fmt: skip
    sub: Cip = {}
    parse_path(body[at + 2 : at + 2 + 2 * words], sub)
    if "path" in sub:
        msg["connection_path"] = sub["path"]


def forward_open_reply(body: bytes, msg: Cip) -> None:
    """A successful Forward Open reply (known only from the paired request's service)."""
    ot_id, to_id, serial, vendor, orig, ot_api, to_api = _FORWARD_OPEN_REPLY.unpack_from(body)
    msg.update(o_t_connection_id=ot_id, t_o_connection_id=to_id, connection_serial=serial,
               originator_vendor=vendor, originator_serial=orig, o_t_rpi=ot_api,
               t_o_rpi=to_api)  # fmt: skip


def _tag_type(body: bytes, msg: Cip) -> int:
    t = _U16.unpack_from(body)[0]
    msg["tag_type"] = t
    if t == STRUCT_TYPE:
        msg["structure_handle"] = _U16.unpack_from(body, 2)[0]
        return 4
    return 2


_INT_FORMATS = {1: "b", 2: "h", 4: "i", 8: "q"}
_UNSIGNED = frozenset(("BOOL", "USINT", "UINT", "UDINT", "ULINT", "DWORD"))


def _tag_values(raw: bytes, msg: Cip) -> None:
    """Atomic integer values are decoded; other types keep their bytes in `data`."""
    t = LOGIX_TYPES.get(msg.get("tag_type", -1))
    if t is None or t[0] in ("REAL", "LREAL") or len(raw) % t[1]:
        if raw:
            msg["data"] = raw
        return
    code = _INT_FORMATS[t[1]]
    if t[0] in _UNSIGNED:
        code = code.upper()
    msg["values"] = list(unpack_from(f"<{len(raw) // t[1]}{code}", raw))


def tag_reply(body: bytes, msg: Cip) -> None:
    """A Read Tag (Fragmented) reply: type, then the values (known from the paired request)."""
    at = _tag_type(body, msg)
    _tag_values(body[at:], msg)


def identity_reply(body: bytes) -> dict[str, Any]:
    """Get_Attributes_All of the identity object (class 1) in a reply."""
    return identity(body, 0)


IDENTITY_CLASS = CLASS_IDENTITY
