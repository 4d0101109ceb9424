"""OPC UA binary (UA Connection Protocol over TCP) bytes → chunks and service fields.

Pure and stateless: raises only NeedMoreData or Malformed.
Layouts: OPC 10000-6 §7.1.2 (message header, HEL/ACK/ERR/RHE), §6.7.2 (asymmetric and symmetric
security headers, sequence header), §5.2 (built-in type encodings); OPC 10000-4 §5-§7 (service
request and response structures).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from struct import Struct, error as StructError
from typing import Any, NamedTuple

from .._contract import Malformed, NeedMoreData
from .constants import (
    ATTRIBUTES,
    CHUNK_TYPES,
    HEADER,
    IDENTITY_TOKENS,
    MAX_CHUNK_SIZE,
    MESSAGE_TYPES,
    NODE_CLASSES,
    SECURITY_MODES,
    USER_TOKEN_TYPES,
)

_HDR = Struct("<3scI")
_U8 = Struct("<B")
_U16 = Struct("<H")
_U32 = Struct("<I")
_I32 = Struct("<i")
_I64 = Struct("<q")
_U64 = Struct("<Q")
_F32 = Struct("<f")
_F64 = Struct("<d")
_I16 = Struct("<h")
_I8 = Struct("<b")
_U32X2 = Struct("<II")
_U32X4 = Struct("<IIII")
_U32X5 = Struct("<IIIII")
_FOUR = Struct("<BH")
_NUM = Struct("<HI")

MAX_ITEMS = 200  # operations kept per message (nodes, calls, endpoints); the rest are counted
MAX_DEPTH = 8  # nesting of variants, diagnostic infos and extension objects
_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


class Chunk(NamedTuple):
    """One UACP message chunk: type (b"MSG"...), chunk type (b"F", b"C", b"A") and the bytes after
    the 8-byte header."""

    message_type: bytes
    chunk_type: bytes
    body: bytes


def header_ok(buf: bytes, pos: int) -> bool:
    """Whether an 8-byte UACP header starts at `pos` (type, chunk type, sane size)."""
    if len(buf) - pos < HEADER:
        return False
    mt, ct, size = _HDR.unpack_from(buf, pos)
    return mt in MESSAGE_TYPES and ct in CHUNK_TYPES and HEADER + 8 <= size <= MAX_CHUNK_SIZE and \
        (ct == b"F" or mt == b"MSG" or mt == b"OPN" or mt == b"CLO")


def parse_chunk(buf: bytes, pos: int = 0) -> tuple[Chunk, int]:
    """One message chunk starting at `pos`; returns it and the bytes consumed."""
    have = len(buf) - pos
    if have < HEADER:
        raise NeedMoreData(HEADER - have)
    mt, ct, size = _HDR.unpack_from(buf, pos)
    if mt not in MESSAGE_TYPES:
        raise Malformed(f"message type {mt!r}")
    if ct not in CHUNK_TYPES:
        raise Malformed(f"chunk type {ct!r}")
    if size < HEADER + 8 or size > MAX_CHUNK_SIZE:
        raise Malformed(f"message size {size}")
    if size > have:
        raise NeedMoreData(size - have)
    return Chunk(mt, ct, buf[pos + HEADER : pos + size]), size


# -- built-in types ------------------------------------------------------------------------------
class Reader:
    """A cursor over one message body. Every read checks bounds through `struct`; arrays are
    bounded by the bytes left (each element takes at least one byte)."""

    __slots__ = ("b", "p", "depth")

    def __init__(self, b: bytes, p: int = 0) -> None:
        self.b, self.p, self.depth = b, p, 0

    def left(self) -> int:
        return len(self.b) - self.p

    def u8(self) -> int:
        v = self.b[self.p]
        self.p += 1
        return v

    def boolean(self) -> bool:
        return bool(self.u8())

    def u16(self) -> int:
        (v,) = _U16.unpack_from(self.b, self.p)
        self.p += 2
        return v

    def u32(self) -> int:
        (v,) = _U32.unpack_from(self.b, self.p)
        self.p += 4
        return v

    def i32(self) -> int:
        (v,) = _I32.unpack_from(self.b, self.p)
        self.p += 4
        return v

    def i64(self) -> int:
        (v,) = _I64.unpack_from(self.b, self.p)
        self.p += 8
        return v

    def f64(self) -> float:
        (v,) = _F64.unpack_from(self.b, self.p)
        self.p += 8
        return v

    def skip(self, n: int) -> None:
        if n < 0 or self.p + n > len(self.b):
            raise Malformed(f"{n} bytes past the end of the body")
        self.p += n

    def raw(self) -> bytes | None:
        """ByteString / String bytes (Int32 length, -1 = null)."""
        n = self.i32()
        if n < 0:
            if n != -1:
                raise Malformed(f"string length {n}")
            return None
        p = self.p
        if p + n > len(self.b):
            raise Malformed(f"string of {n} bytes past the end of the body")
        self.p = p + n
        return self.b[p : p + n]

    def string(self) -> str | None:
        b = self.raw()
        return None if b is None else b.decode("utf-8", "replace")

    def count(self) -> int:
        """An array length: -1 (null) reads as 0."""
        n = self.i32()
        if n < -1 or n > len(self.b) - self.p:
            raise Malformed(f"array length {n} with {len(self.b) - self.p} bytes left")
        return max(n, 0)

    def array(self, fn: Any) -> list:
        return [fn() for _ in range(self.count())]

    def strings(self) -> list[str | None]:
        return [self.string() for _ in range(self.count())]

    def u32s(self) -> list[int]:
        n = self.count()
        if n * 4 > self.left():
            raise Malformed(f"UInt32 array of {n} past the end of the body")
        p = self.p
        self.p = p + 4 * n
        return list(Struct(f"<{n}I").unpack_from(self.b, p))

    def datetime(self) -> int:
        return self.i64()

    def guid(self) -> str:
        b = self.b[self.p : self.p + 16]
        if len(b) < 16:
            raise Malformed("Guid past the end of the body")
        self.p += 16
        return (f"{int.from_bytes(b[0:4], 'little'):08x}-{int.from_bytes(b[4:6], 'little'):04x}-"
                f"{int.from_bytes(b[6:8], 'little'):04x}-{b[8:10].hex()}-{b[10:16].hex()}")  # fmt: skip

    def nodeid(self) -> str:
        return self._nodeid(self.u8() & 0x3F)

    def _nodeid(self, enc: int) -> str:
        if enc == 0:
            return f"i={self.u8()}"
        if enc == 1:
            ns, i = _FOUR.unpack_from(self.b, self.p)
            self.p += 3
        elif enc == 2:
            ns, i = _NUM.unpack_from(self.b, self.p)
            self.p += 6
        else:
            ns = self.u16()
            if enc == 3:
                s = self.string()
                return f"ns={ns};s={s}" if ns else f"s={s}"
            if enc == 4:
                g = self.guid()
                return f"ns={ns};g={g}" if ns else f"g={g}"
            if enc == 5:
                b = self.raw()
                v = b.hex() if b is not None else ""
                return f"ns={ns};b={v}" if ns else f"b={v}"
            raise Malformed(f"NodeId encoding {enc}")
        return f"ns={ns};i={i}" if ns else f"i={i}"

    def skip_nodeid(self) -> None:
        """Step over a NodeId without rendering it (the authentication token: a secret)."""
        enc = self.u8() & 0x3F
        if enc <= 2:
            self.skip((1, 3, 6)[enc])
        elif enc == 4:
            self.skip(18)  # namespace, Guid
        elif enc == 3 or enc == 5:
            self.skip(2)
            self.raw()
        else:
            raise Malformed(f"NodeId encoding {enc}")

    def numeric_nodeid(self) -> tuple[int, int | None, str]:
        """A NodeId as (namespace, numeric id or None, text)."""
        enc = self.u8()
        base = enc & 0x3F
        if base == 0:
            i = self.u8()
            ns = 0
        elif base == 1:
            ns, i = _FOUR.unpack_from(self.b, self.p)
            self.p += 3
        elif base == 2:
            ns, i = _NUM.unpack_from(self.b, self.p)
            self.p += 6
        else:
            text = self._nodeid(base)
            self._expanded_tail(enc)
            return -1, None, text
        self._expanded_tail(enc)
        return ns, i, f"ns={ns};i={i}" if ns else f"i={i}"

    def _expanded_tail(self, enc: int) -> str:
        uri = self.string() if enc & 0x80 else None
        if enc & 0x40:
            self.u32()
        return f"nsu={uri};" if uri else ""

    def expanded_nodeid(self) -> str:
        enc = self.u8()
        text = self._nodeid(enc & 0x3F)
        uri = self.string() if enc & 0x80 else None
        server = self.u32() if enc & 0x40 else None
        if uri:
            text = f"nsu={uri};" + text.split(";", 1)[-1]
        if server:
            text = f"svr={server};" + text
        return text

    def qualified_name(self) -> str:
        ns = self.u16()
        name = self.string() or ""
        return f"{ns}:{name}" if ns else name

    def localized_text(self) -> str | None:
        mask = self.u8()
        if mask & 1:
            self.string()
        return self.string() if mask & 2 else None

    def diagnostic_info(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Malformed("DiagnosticInfo nested too deep")
        mask = self.u8()
        self.skip(4 * bin(mask & 0x0F).count("1"))
        if mask & 0x10:
            self.raw()
        if mask & 0x20:
            self.u32()
        if mask & 0x40:
            self.diagnostic_info()
        self.depth -= 1

    def diagnostic_infos(self) -> None:
        for _ in range(self.count()):
            self.diagnostic_info()

    def extension_object(self) -> tuple[int | None, str, bytes | None]:
        """(numeric type id in namespace 0 or None, type id text, binary body or None)."""
        ns, num, text = self.numeric_nodeid()
        enc = self.u8()
        if enc == 0:
            return (num if ns == 0 else None), text, None
        if enc not in (1, 2):
            raise Malformed(f"ExtensionObject encoding {enc}")
        body = self.raw()
        return (num if ns == 0 and enc == 1 else None), text, body

    def variant(self) -> tuple[str, Any]:
        """(built-in type name, value): scalars as Python values, arrays as lists."""
        mask = self.u8()
        t = mask & 0x3F
        if t == 0:
            return "Null", None
        if t not in _VARIANT:
            raise Malformed(f"Variant type {t}")
        name, read = _VARIANT[t]
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Malformed("Variant nested too deep")
        if mask & 0x80:
            value: Any = [read(self) for _ in range(self.count())]
            if mask & 0x40:
                for _ in range(self.count()):
                    self.i32()
        else:
            value = read(self)
        self.depth -= 1
        return name, value

    def data_value(self) -> tuple[str | None, Any, int | None]:
        """(value type, value, status code) of a DataValue."""
        mask = self.u8()
        vt = value = status = None
        if mask & 0x01:
            vt, value = self.variant()
        if mask & 0x02:
            status = self.u32()
        if mask & 0x04:
            self.p += 8
        if mask & 0x10:
            self.p += 2
        if mask & 0x08:
            self.p += 8
        if mask & 0x20:
            self.p += 2
        if self.p > len(self.b):
            raise Malformed("DataValue past the end of the body")
        return vt, value, status


def _fixed(r: Reader, s: Struct) -> Any:
    (v,) = s.unpack_from(r.b, r.p)
    r.p += s.size
    return v


def _dt(r: Reader) -> str:
    ticks = r.i64()
    if ticks <= 0:
        return "0"
    try:
        return (_EPOCH + timedelta(microseconds=ticks // 10)).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return str(ticks)


def _bytes_hex(r: Reader) -> str | None:
    b = r.raw()
    return None if b is None else b.hex()


def _ext_text(r: Reader) -> str:
    _, text, body = r.extension_object()
    return f"ExtensionObject({text}, {len(body) if body is not None else 0} bytes)"


def _variant_value(r: Reader) -> Any:
    return r.variant()[1]


def _data_value_value(r: Reader) -> Any:
    return r.data_value()[1]


_VARIANT: dict[int, tuple[str, Any]] = {
    1: ("Boolean", Reader.boolean),
    2: ("SByte", lambda r: _fixed(r, _I8)),
    3: ("Byte", Reader.u8),
    4: ("Int16", lambda r: _fixed(r, _I16)),
    5: ("UInt16", Reader.u16),
    6: ("Int32", Reader.i32),
    7: ("UInt32", Reader.u32),
    8: ("Int64", Reader.i64),
    9: ("UInt64", lambda r: _fixed(r, _U64)),
    10: ("Float", lambda r: _fixed(r, _F32)),
    11: ("Double", Reader.f64),
    12: ("String", Reader.string),
    13: ("DateTime", _dt),
    14: ("Guid", Reader.guid),
    15: ("ByteString", _bytes_hex),
    16: ("XmlElement", Reader.string),
    17: ("NodeId", Reader.nodeid),
    18: ("ExpandedNodeId", Reader.expanded_nodeid),
    19: ("StatusCode", Reader.u32),
    20: ("QualifiedName", Reader.qualified_name),
    21: ("LocalizedText", Reader.localized_text),
    22: ("ExtensionObject", _ext_text),
    23: ("DataValue", _data_value_value),
    24: ("Variant", _variant_value),
    25: ("DiagnosticInfo", lambda r: r.diagnostic_info()),
}


# -- transport messages --------------------------------------------------------------------------
Fields = dict[str, Any]


def hello(body: bytes) -> Fields:
    """HEL (and ACK without the URL): protocol version, buffer sizes, limits, endpoint URL."""
    try:
        ver, rbs, sbs, mms, mcc = _U32X5.unpack_from(body)
        f: Fields = {"protocol_version": ver, "receive_buffer_size": rbs, "send_buffer_size": sbs,
                     "max_message_size": mms, "max_chunk_count": mcc}  # fmt: skip
        if len(body) > 20:
            f["endpoint_url"] = Reader(body, 20).string()
        return f
    except (StructError, IndexError) as e:
        raise Malformed(f"HEL/ACK: {e}") from None


def error(body: bytes) -> Fields:
    """ERR (and the body of an abort chunk): status code, reason."""
    try:
        r = Reader(body)
        code = r.u32()
        return {"status_code": code, "reason": r.string()}
    except (StructError, IndexError) as e:
        raise Malformed(f"ERR: {e}") from None


def reverse_hello(body: bytes) -> Fields:
    try:
        r = Reader(body)
        return {"server_uri": r.string(), "endpoint_url": r.string()}
    except (StructError, IndexError) as e:
        raise Malformed(f"RHE: {e}") from None


class SecureHeader(NamedTuple):
    """What precedes the service body of OPN/MSG/CLO: channel, security, sequence header."""

    channel_id: int
    token_id: int | None  # symmetric (MSG/CLO)
    policy: str | None  # asymmetric (OPN)
    sender_certificate: bytes | None
    receiver_thumbprint: bytes | None
    sequence_number: int
    request_id: int
    body_offset: int


def secure_header(mt: bytes, body: bytes) -> SecureHeader:
    if mt != b"OPN" and len(body) >= 16:  # symmetric: four fixed fields
        channel, token, seq, rid = _U32X4.unpack_from(body)
        return SecureHeader(channel, token, None, None, None, seq, rid, 16)
    try:
        r = Reader(body)
        channel = r.u32()
        if mt == b"OPN":
            policy = r.string()
            cert = r.raw()
            thumb = r.raw()
            token = None
        else:
            policy = cert = thumb = None
            token = r.u32()
        seq, rid = _U32X2.unpack_from(body, r.p)
        return SecureHeader(channel, token, policy, cert, thumb, seq, rid, r.p + 8)
    except (StructError, IndexError) as e:
        raise Malformed(f"{mt.decode()} security header: {e}") from None


def service_id(body: bytes, pos: int) -> tuple[int | None, int]:
    """The service's type id at `pos`: (numeric id in namespace 0 or None, offset after it)."""
    if body[pos : pos + 2] == b"\x01\x00" and len(body) >= pos + 4:  # the usual four-byte form
        return _U16.unpack_from(body, pos + 2)[0], pos + 4
    try:
        r = Reader(body, pos)
        ns, num, _ = r.numeric_nodeid()
        return (num if ns == 0 else None), r.p
    except (StructError, IndexError) as e:
        raise Malformed(f"service type id: {e}") from None


# -- service bodies ------------------------------------------------------------------------------
_REQ_FIXED = Struct("<8xIIi")  # timestamp, request handle, return diagnostics, audit id length
_RESP_FIXED = Struct("<8xIIB")  # timestamp, request handle, service result, diagnostics mask
_NO_EXTENSION = b"\x00\x00\x00"  # null type id, no body


def request_header(r: Reader) -> Fields:
    r.skip_nodeid()  # authentication token: a secret, not reported
    b, p = r.b, r.p
    handle, _, audit = _REQ_FIXED.unpack_from(b, p)
    r.p = p + 20
    if audit > 0:
        r.skip(audit)
    elif audit < -1:
        raise Malformed(f"audit entry id length {audit}")
    r.p += 4  # timeout hint
    if b[r.p : r.p + 3] == _NO_EXTENSION:
        r.p += 3
    else:
        r.extension_object()
    return {"request_handle": handle}


def response_header(r: Reader) -> Fields:
    b, p = r.b, r.p
    handle, status, diag = _RESP_FIXED.unpack_from(b, p)
    if diag:
        r.p = p + 16
        r.diagnostic_info()
    else:
        r.p = p + 17
    if b[r.p : r.p + 4] in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"):
        r.p += 4  # no string table
    else:
        r.strings()
    if b[r.p : r.p + 3] == _NO_EXTENSION:
        r.p += 3
    else:
        r.extension_object()
    return {"request_handle": handle, "status_code": status}


def _node(node_id: str, **kw: Any) -> Fields:
    return {"node_id": node_id, **{k: v for k, v in kw.items() if v is not None}}


def _read_value_id(r: Reader) -> Fields:
    node = r.nodeid()
    attr = r.u32()
    rng = r.string()
    r.qualified_name()
    return _node(node, attribute_id=attr, attribute=ATTRIBUTES.get(attr, f"unknown-{attr}"),
                 index_range=rng or None)  # fmt: skip


def _limited(r: Reader, fn: Any, f: Fields, key: str) -> None:
    """A structure array: the first MAX_ITEMS kept under `key`, all of them parsed."""
    n = r.count()
    items = [fn(r) for _ in range(n)]
    if n > MAX_ITEMS:
        f["items_omitted"] = n - MAX_ITEMS
        items = items[:MAX_ITEMS]
    f[key] = items
    f["item_count"] = n


def _read_request(r: Reader, f: Fields) -> None:
    f["max_age"] = r.f64()
    r.u32()
    _limited(r, _read_value_id, f, "nodes")


def _read_response(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        vt, value, status = r.data_value()
        return {"value_type": vt, "value": value, "status_code": status}

    _limited(r, one, f, "nodes")
    r.diagnostic_infos()


def _write_request(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        node = _read_value_id_no_encoding(r)
        vt, value, status = r.data_value()
        return {**node, "value_type": vt, "value": value, **({"status_code": status}
                                                              if status is not None else {})}  # fmt: skip

    _limited(r, one, f, "nodes")


def _read_value_id_no_encoding(r: Reader) -> Fields:
    node = r.nodeid()
    attr = r.u32()
    rng = r.string()
    return _node(node, attribute_id=attr, attribute=ATTRIBUTES.get(attr, f"unknown-{attr}"),
                 index_range=rng or None)  # fmt: skip


def _results(r: Reader, f: Fields) -> None:
    """A response that is an array of StatusCodes, then diagnostic infos."""
    codes = r.u32s()
    f["item_count"] = len(codes)
    f["results"] = codes[:MAX_ITEMS]
    r.diagnostic_infos()


def _call_request(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        obj = r.nodeid()
        method = r.nodeid()
        args = [r.variant() for _ in range(r.count())]
        return {"object_id": obj, "method_id": method, "arguments": args}

    _limited(r, one, f, "calls")


def _call_response(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        status = r.u32()
        r.u32s()
        r.diagnostic_infos()
        outs = [r.variant() for _ in range(r.count())]
        return {"status_code": status, "outputs": outs}

    _limited(r, one, f, "calls")
    r.diagnostic_infos()


def _browse_request(r: Reader, f: Fields) -> None:
    r.nodeid()  # view
    r.p += 8
    r.u32()
    r.u32()  # requested max references per node

    def one(r: Reader) -> Fields:
        node = r.nodeid()
        direction = r.u32()
        ref = r.nodeid()
        r.boolean()
        r.u32()
        r.u32()
        return _node(node, reference_type_id=ref, browse_direction=direction)

    _limited(r, one, f, "nodes")


def _reference_description(r: Reader) -> None:
    r.nodeid()
    r.boolean()
    r.expanded_nodeid()
    r.qualified_name()
    r.localized_text()
    r.u32()
    r.expanded_nodeid()


def _browse_response(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        status = r.u32()
        r.raw()
        n = r.count()
        for _ in range(n):
            _reference_description(r)
        return {"status_code": status, "references": n}

    _limited(r, one, f, "nodes")
    r.diagnostic_infos()


def _browse_next_request(r: Reader, f: Fields) -> None:
    f["release_continuation_points"] = r.boolean()
    f["item_count"] = len([r.raw() for _ in range(r.count())])


def _application(r: Reader) -> Fields:
    app: dict[str, Any] = {"application_uri": r.string(), "product_uri": r.string(),
           "application_name": r.localized_text()}  # fmt: skip
    app["application_type"] = {0: "server", 1: "client", 2: "client_and_server",
                               3: "discovery_server"}.get(t := r.u32(), f"unknown-{t}")  # fmt: skip
    r.string()
    r.string()
    app["discovery_urls"] = [u for u in r.strings() if u]
    return app


def _endpoint(r: Reader) -> Fields:
    url = r.string()
    app = _application(r)
    cert = r.raw()
    mode = r.u32()
    policy = r.string()
    tokens = []
    for _ in range(r.count()):
        r.string()
        t = r.u32()
        tokens.append(USER_TOKEN_TYPES.get(t, f"unknown-{t}"))
        r.string()
        r.string()
        r.string()
    profile = r.string()
    level = r.u8()
    return {"endpoint_url": url, "application": app, "certificate": cert,
            "security_mode": SECURITY_MODES.get(mode, f"unknown-{mode}"), "security_policy": policy,
            "user_token_types": sorted(set(tokens)), "transport_profile": profile,
            "security_level": level}  # fmt: skip


def _get_endpoints_request(r: Reader, f: Fields) -> None:
    f["endpoint_url"] = r.string()
    r.strings()
    r.strings()


def _get_endpoints_response(r: Reader, f: Fields) -> None:
    _limited(r, _endpoint, f, "endpoints")


def _find_servers_request(r: Reader, f: Fields) -> None:
    f["endpoint_url"] = r.string()


def _find_servers_response(r: Reader, f: Fields) -> None:
    _limited(r, _application, f, "applications")


def _create_session_request(r: Reader, f: Fields) -> None:
    f["application"] = _application(r)
    r.string()  # server uri
    f["endpoint_url"] = r.string()
    f["session_name"] = r.string()
    r.raw()  # nonce
    cert = r.raw()
    if cert:
        f["certificate"] = cert
    f["session_timeout"] = r.f64()
    r.u32()


def _create_session_response(r: Reader, f: Fields) -> None:
    f["session_id"] = r.nodeid()
    r.skip_nodeid()  # authentication token: a secret, not reported
    f["session_timeout"] = r.f64()
    r.raw()
    cert = r.raw()
    if cert:
        f["certificate"] = cert
    _limited(r, _endpoint, f, "endpoints")
    for _ in range(r.count()):  # signed software certificates
        r.raw()
        r.raw()
    r.string()
    r.raw()
    r.u32()


def _activate_session_request(r: Reader, f: Fields) -> None:
    r.string()
    r.raw()  # client signature
    for _ in range(r.count()):
        r.raw()
        r.raw()
    r.strings()  # locale ids
    num, text, body = r.extension_object()
    token = IDENTITY_TOKENS.get(num) if num is not None else None
    f["identity_token"] = token or (f"unknown-{text}" if body is not None else "none")
    if body is not None and token:
        t = Reader(body)
        f["policy_id"] = t.string()
        if token == "username":
            f["user_name"] = t.string()
            t.raw()  # password: never reported
            f["token_encryption"] = t.string() or ""
        elif token == "certificate":
            cert = t.raw()
            if cert:
                f["certificate"] = cert
    r.string()
    r.raw()  # user token signature


def _opn_request(r: Reader, f: Fields) -> None:
    r.u32()  # client protocol version
    rt = r.u32()
    f["request_type"] = {0: "issue", 1: "renew"}.get(rt, f"unknown-{rt}")
    mode = r.u32()
    f["security_mode"] = SECURITY_MODES.get(mode, f"unknown-{mode}")
    r.raw()
    f["requested_lifetime"] = r.u32()


def _opn_response(r: Reader, f: Fields) -> None:
    r.u32()
    f["secure_channel_id"] = r.u32()
    f["security_token_id"] = r.u32()
    r.p += 8
    f["revised_lifetime"] = r.u32()
    r.raw()


def _create_subscription_request(r: Reader, f: Fields) -> None:
    f["publishing_interval"] = r.f64()


def _create_subscription_response(r: Reader, f: Fields) -> None:
    f["subscription_id"] = r.u32()
    f["publishing_interval"] = r.f64()


def _subscription_id_first(r: Reader, f: Fields) -> None:
    f["subscription_id"] = r.u32()


def _create_monitored_items_request(r: Reader, f: Fields) -> None:
    f["subscription_id"] = r.u32()
    r.u32()

    def one(r: Reader) -> Fields:
        node = _read_value_id(r)
        r.u32()  # monitoring mode
        r.u32()  # client handle
        node["sampling_interval"] = r.f64()
        r.extension_object()
        r.u32()
        r.boolean()
        return node

    _limited(r, one, f, "nodes")


def _subscription_ids(r: Reader, f: Fields) -> None:
    ids = r.u32s()
    f["subscription_ids"] = ids[:MAX_ITEMS]
    f["item_count"] = len(ids)


def _publish_request(r: Reader, f: Fields) -> None:
    n = r.count()
    acks = [(r.u32(), r.u32()) for _ in range(n)]
    f["item_count"] = n
    if acks:
        f["subscription_ids"] = sorted({a for a, _ in acks})[:MAX_ITEMS]


def _publish_response(r: Reader, f: Fields) -> None:
    f["subscription_id"] = r.u32()
    r.u32s()
    r.boolean()
    f["notification_sequence"] = r.u32()
    r.p += 8
    n = r.count()
    kinds = []
    for _ in range(n):
        num, text, _ = r.extension_object()
        kinds.append(_NOTIFICATIONS.get(num, text) if num is not None else text)  # type: ignore[arg-type]
    f["notifications"] = kinds[:MAX_ITEMS]
    _results(r, {})


_NOTIFICATIONS = {811: "data_change", 916: "event", 820: "status_change"}


def _add_nodes_request(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        parent = r.expanded_nodeid()
        ref = r.nodeid()
        new = r.expanded_nodeid()
        name = r.qualified_name()
        nc = r.u32()
        r.extension_object()
        r.expanded_nodeid()
        return _node(new, parent_node_id=parent, reference_type_id=ref, browse_name=name,
                     node_class=NODE_CLASSES.get(nc, f"unknown-{nc}"))  # fmt: skip

    _limited(r, one, f, "nodes")


def _add_nodes_response(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        status = r.u32()
        return {"status_code": status, "node_id": r.nodeid()}

    _limited(r, one, f, "nodes")
    r.diagnostic_infos()


def _add_references_request(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        src = r.nodeid()
        ref = r.nodeid()
        r.boolean()
        r.string()
        target = r.expanded_nodeid()
        r.u32()
        return _node(src, reference_type_id=ref, target_node_id=target)

    _limited(r, one, f, "nodes")


def _delete_nodes_request(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        node = r.nodeid()
        r.boolean()
        return _node(node)

    _limited(r, one, f, "nodes")


def _delete_references_request(r: Reader, f: Fields) -> None:
    def one(r: Reader) -> Fields:
        src = r.nodeid()
        ref = r.nodeid()
        r.boolean()
        target = r.expanded_nodeid()
        r.boolean()
        return _node(src, reference_type_id=ref, target_node_id=target)

    _limited(r, one, f, "nodes")


def _close_session_request(r: Reader, f: Fields) -> None:
    f["delete_subscriptions"] = r.boolean()


def _register_nodes(r: Reader, f: Fields) -> None:
    _limited(r, lambda r: _node(r.nodeid()), f, "nodes")


def _history_read_request(r: Reader, f: Fields) -> None:
    r.extension_object()
    r.u32()
    r.boolean()

    def one(r: Reader) -> Fields:
        node = r.nodeid()
        rng = r.string()
        r.qualified_name()
        r.raw()
        return _node(node, index_range=rng or None)

    _limited(r, one, f, "nodes")


def _set_publishing_mode_request(r: Reader, f: Fields) -> None:
    f["publishing_enabled"] = r.boolean()
    _subscription_ids(r, f)


_REQUEST_BODIES = {
    631: _read_request, 673: _write_request, 712: _call_request, 527: _browse_request,
    533: _browse_next_request, 428: _get_endpoints_request, 422: _find_servers_request,
    461: _create_session_request, 467: _activate_session_request, 446: _opn_request,
    787: _create_subscription_request, 793: _subscription_id_first,
    751: _create_monitored_items_request, 763: _subscription_id_first,
    769: _subscription_id_first, 775: _subscription_id_first, 781: _subscription_id_first,
    799: _set_publishing_mode_request, 847: _subscription_ids, 832: _subscription_id_first, 826: _publish_request,
    488: _add_nodes_request, 494: _add_references_request, 500: _delete_nodes_request,
    506: _delete_references_request, 473: _close_session_request, 560: _register_nodes,
    566: _register_nodes, 664: _history_read_request,
}  # fmt: skip

_RESPONSE_BODIES = {
    634: _read_response, 676: _results, 715: _call_response, 530: _browse_response,
    536: _browse_response, 431: _get_endpoints_response, 425: _find_servers_response,
    464: _create_session_response, 449: _opn_response, 790: _create_subscription_response,
    829: _publish_response, 491: _add_nodes_response, 497: _results, 503: _results,
    509: _results, 850: _results, 784: _results, 772: _results, 802: _results,
}  # fmt: skip


MAX_CACHED = 4096
_DETAIL: dict[tuple[int, bool, bytes], Fields] = {}  # per process: polling repeats bodies


def service_body(sid: int, is_request: bool, body: bytes, pos: int) -> Fields:
    """The fields of one service request or response (`pos`: after the type id). The header's
    handle (and a response's service result) always; the service's detail where decoded.
    The detail (everything after the header) is a pure function of its bytes: it is cached per
    process, and callers must not change it."""
    r = Reader(body, pos)
    try:
        f = request_header(r) if is_request else response_header(r)
        fn = (_REQUEST_BODIES if is_request else _RESPONSE_BODIES).get(sid)
        if fn is None:
            if r.p > len(body):
                raise Malformed("service header ends early")
            return f
        key = (sid, is_request, body[r.p :])
        detail = _DETAIL.get(key)
        if detail is None:
            detail = {}
            fn(r, detail)
            if r.p > len(body):
                raise Malformed("service body ends early")
            if len(_DETAIL) >= MAX_CACHED:
                _DETAIL.clear()
            _DETAIL[key] = detail
        f.update(detail)
        return f
    except (StructError, IndexError, ValueError, RecursionError) as e:
        raise Malformed(f"service {sid}: {e}") from None
