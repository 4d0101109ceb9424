"""OPC UA binary builders for tests: built-in type encodings, UACP messages (HEL/ACK/ERR,
OPN/MSG/CLO with their security and sequence headers, chunking) and service bodies, plus a
client/server conversation that numbers sequences and request ids. Standard library only.

Layouts: OPC 10000-6 §5.2 (built-in types), §6.7.2 (security headers), §7.1.2 (UACP);
OPC 10000-4 (service structures).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from watchfloor.testing.modbus import Endpoint, TcpConversation

Record = tuple[int, bytes]
POLICY_NONE = "http://opcfoundation.org/UA/SecurityPolicy#None"
POLICY_BASIC256SHA256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"

# service encoding ids (DefaultBinary)
OPN_REQ, OPN_RESP, CLO_REQ = 446, 449, 452
GET_ENDPOINTS_REQ, GET_ENDPOINTS_RESP = 428, 431
CREATE_SESSION_REQ, CREATE_SESSION_RESP = 461, 464
ACTIVATE_SESSION_REQ, ACTIVATE_SESSION_RESP = 467, 470
CLOSE_SESSION_REQ, CLOSE_SESSION_RESP = 473, 476
READ_REQ, READ_RESP = 631, 634
WRITE_REQ, WRITE_RESP = 673, 676
CALL_REQ, CALL_RESP = 712, 715
BROWSE_REQ, BROWSE_RESP = 527, 530
ADD_NODES_REQ, ADD_NODES_RESP = 488, 491
DELETE_NODES_REQ, DELETE_NODES_RESP = 500, 503
CREATE_SUBSCRIPTION_REQ, CREATE_SUBSCRIPTION_RESP = 787, 790
PUBLISH_REQ, PUBLISH_RESP = 826, 829
SERVICE_FAULT = 397
ANONYMOUS_TOKEN, USERNAME_TOKEN, X509_TOKEN = 321, 324, 327

BOOLEAN, INT32, INT64, DOUBLE, STRING = 1, 6, 8, 11, 12


# -- built-in types ------------------------------------------------------------------------------
def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def string(s: str | bytes | None) -> bytes:
    if s is None:
        return struct.pack("<i", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<i", len(b)) + b


def nodeid(i: int | str, ns: int = 0) -> bytes:
    """Numeric NodeIds in their shortest form; a str is a string NodeId."""
    if isinstance(i, str):
        return b"\x03" + struct.pack("<H", ns) + string(i)
    if ns == 0 and i < 256:
        return bytes((0, i))
    if ns < 256 and i < 65536:
        return struct.pack("<BBH", 1, ns, i)
    return struct.pack("<BHI", 2, ns, i)


def array(items: Sequence[bytes]) -> bytes:
    return struct.pack("<i", len(items)) + b"".join(items)


def localized_text(text: str) -> bytes:
    return b"\x02" + string(text)


def qualified_name(name: str, ns: int = 0) -> bytes:
    return struct.pack("<H", ns) + string(name)


def extension_object(type_id: int, body: bytes | None) -> bytes:
    if body is None:
        return nodeid(0) + b"\x00"
    return nodeid(type_id) + b"\x01" + string(body)


def variant(type_id: int, value: Any) -> bytes:
    enc = {BOOLEAN: "<?", INT32: "<i", INT64: "<q", DOUBLE: "<d"}
    if type_id == STRING:
        return bytes((STRING,)) + string(value)
    return bytes((type_id,)) + struct.pack(enc[type_id], value)


def data_value(type_id: int | None = None, value: Any = None, status: int | None = None) -> bytes:
    mask = (0x01 if type_id is not None else 0) | (0x02 if status is not None else 0)
    out = bytes((mask,))
    if type_id is not None:
        out += variant(type_id, value)
    if status is not None:
        out += u32(status)
    return out


def request_header(handle: int, token: int = 0) -> bytes:
    return nodeid(token) + struct.pack("<qIIi", 0, handle, 0, -1) + u32(10000) + \
        extension_object(0, None)  # fmt: skip


def response_header(handle: int, status: int = 0) -> bytes:
    return struct.pack("<qII", 0, handle, status) + b"\x00" + array([]) + extension_object(0, None)


# -- UACP messages ------------------------------------------------------------------------------
def message(mt: bytes, body: bytes, chunk: bytes = b"F") -> bytes:
    return mt + chunk + u32(8 + len(body)) + body


def hello(url: str, buffer: int = 65536) -> bytes:
    return message(b"HEL", struct.pack("<IIIII", 0, buffer, buffer, 0, 0) + string(url))


def acknowledge(buffer: int = 65536) -> bytes:
    return message(b"ACK", struct.pack("<IIIII", 0, buffer, buffer, 1 << 24, 0))


def error(code: int, reason: str) -> bytes:
    return message(b"ERR", u32(code) + string(reason))


def opn(channel: int, seq: int, rid: int, body: bytes, *, policy: str = POLICY_NONE,
        cert: bytes | None = None, thumbprint: bytes | None = None) -> bytes:  # fmt: skip
    return message(b"OPN", u32(channel) + string(policy) + string(cert) + string(thumbprint) +
                   struct.pack("<II", seq, rid) + body)  # fmt: skip


def secure(mt: bytes, channel: int, token: int, seq: int, rid: int, body: bytes,
           chunk: bytes = b"F") -> bytes:  # fmt: skip
    return message(mt, struct.pack("<IIII", channel, token, seq, rid) + body, chunk)


def service(sid: int, body: bytes) -> bytes:
    return nodeid(sid) + body


# -- service bodies ------------------------------------------------------------------------------
def opn_request(handle: int, mode: int = 1, renew: bool = False) -> bytes:
    return service(OPN_REQ, request_header(handle) + struct.pack("<III", 0, int(renew), mode) +
                   string(b"") + u32(3600000))  # fmt: skip


def opn_response(handle: int, channel: int, token: int) -> bytes:
    return service(OPN_RESP, response_header(handle) + u32(0) + struct.pack("<IIqI", channel,
                   token, 0, 3600000) + string(b""))  # fmt: skip


def application(uri: str, product: str, name: str, kind: int = 0) -> bytes:
    return string(uri) + string(product) + localized_text(name) + u32(kind) + string(None) + \
        string(None) + array([string("opc.tcp://plc:4840")])  # fmt: skip


def endpoint(url: str, app: bytes, cert: bytes | None, mode: int, policy: str,
             tokens: Sequence[int] = (0,)) -> bytes:  # fmt: skip
    policies = [string(f"p{t}") + u32(t) + string(None) + string(None) + string(None) for t in tokens]
    return string(url) + app + string(cert) + u32(mode) + string(policy) + array(policies) + \
        string("http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary") + b"\x00"  # fmt: skip


def get_endpoints_request(handle: int, url: str) -> bytes:
    return service(GET_ENDPOINTS_REQ, request_header(handle) + string(url) + array([]) + array([]))


def get_endpoints_response(handle: int, endpoints: Sequence[bytes]) -> bytes:
    return service(GET_ENDPOINTS_RESP, response_header(handle) + array(list(endpoints)))


def create_session_request(handle: int, app: bytes, url: str, name: str) -> bytes:
    return service(CREATE_SESSION_REQ, request_header(handle) + app + string(None) + string(url) +
                   string(name) + string(b"n" * 32) + string(None) + struct.pack("<dI", 1200000.0,
                                                                                 0))  # fmt: skip


def create_session_response(handle: int, session: int, cert: bytes | None,
                            endpoints: Sequence[bytes] = ()) -> bytes:  # fmt: skip
    return service(CREATE_SESSION_RESP, response_header(handle) + nodeid(session, 1) +
                   nodeid(session + 1, 1) + struct.pack("<d", 1200000.0) + string(b"s" * 32) +
                   string(cert) + array(list(endpoints)) + array([]) + string(None) + string(None) +
                   u32(0))  # fmt: skip


def activate_session_request(handle: int, token: str = "anonymous", user: str = "operator",
                             password: bytes = b"secret", encryption: str | None = None) -> bytes:  # fmt: skip
    if token == "anonymous":
        ident = extension_object(ANONYMOUS_TOKEN, string("anonymous"))
    elif token == "username":
        ident = extension_object(USERNAME_TOKEN, string("username") + string(user) +
                                 string(password) + string(encryption))  # fmt: skip
    else:
        ident = extension_object(X509_TOKEN, string("certificate") + string(b"\x30\x82cert"))
    return service(ACTIVATE_SESSION_REQ, request_header(handle) + string(None) + string(None) +
                   array([]) + array([]) + ident + string(None) + string(None))  # fmt: skip


def simple_response(sid: int, handle: int, status: int = 0, codes: Sequence[int] | None = None) -> bytes:
    body = response_header(handle, status)
    if codes is not None:
        body += array([u32(c) for c in codes]) + array([])
    return service(sid, body)


def read_request(handle: int, nodes: Sequence[tuple[int | str, int, int]]) -> bytes:
    """nodes: (id, namespace, attribute id)."""
    items = [nodeid(i, ns) + u32(attr) + string(None) + qualified_name("") for i, ns, attr in nodes]
    return service(READ_REQ, request_header(handle) + struct.pack("<dI", 0.0, 2) + array(items))


def read_response(handle: int, values: Sequence[bytes]) -> bytes:
    return service(READ_RESP, response_header(handle) + array(list(values)) + array([]))


def write_request(handle: int, nodes: Sequence[tuple[int | str, int, int, Any]]) -> bytes:
    """nodes: (id, namespace, variant type, value); attribute Value."""
    items = [nodeid(i, ns) + u32(13) + string(None) + data_value(t, v) for i, ns, t, v in nodes]
    return service(WRITE_REQ, request_header(handle) + array(items))


def call_request(handle: int, obj: tuple[int | str, int], method: tuple[int | str, int],
                 args: Sequence[bytes]) -> bytes:  # fmt: skip
    item = nodeid(*obj) + nodeid(*method) + array(list(args))
    return service(CALL_REQ, request_header(handle) + array([item]))


def call_response(handle: int, status: int, outputs: Sequence[bytes]) -> bytes:
    item = u32(status) + array([]) + array([]) + array(list(outputs))
    return service(CALL_RESP, response_header(handle) + array([item]) + array([]))


def browse_request(handle: int, node: int) -> bytes:
    item = nodeid(node) + u32(0) + nodeid(33) + b"\x01" + u32(0) + u32(63)
    return service(BROWSE_REQ, request_header(handle) + nodeid(0) + struct.pack("<qII", 0, 0, 0) +
                   array([item]))  # fmt: skip


def add_nodes_request(handle: int, parent: int, new: str, name: str) -> bytes:
    item = nodeid(parent) + nodeid(35) + nodeid(new, 2) + qualified_name(name, 2) + u32(1) + \
        extension_object(0, None) + nodeid(58)  # fmt: skip
    return service(ADD_NODES_REQ, request_header(handle) + array([item]))


def delete_nodes_request(handle: int, node: str) -> bytes:
    return service(DELETE_NODES_REQ, request_header(handle) + array([nodeid(node, 2) + b"\x01"]))


def create_subscription_request(handle: int, interval: float) -> bytes:
    return service(CREATE_SUBSCRIPTION_REQ, request_header(handle) +
                   struct.pack("<dIIIBB", interval, 60, 10, 0, 1, 0))  # fmt: skip


def create_subscription_response(handle: int, sub: int, interval: float) -> bytes:
    return service(CREATE_SUBSCRIPTION_RESP, response_header(handle) +
                   struct.pack("<IdII", sub, interval, 60, 10))  # fmt: skip


def service_fault(handle: int, status: int) -> bytes:
    return service(SERVICE_FAULT, response_header(handle, status))


# -- a conversation ------------------------------------------------------------------------------
class UaConversation:
    """One client/server connection: numbers sequence numbers and request ids, splits messages
    into chunks on request."""

    def __init__(self, client: Endpoint | tuple = Endpoint("192.168.20.10", 50000, "02:00:00:14:00:0a"),
                 server: Endpoint | tuple = Endpoint("192.168.20.20", 4840, "02:00:00:14:00:14"),
                 **kw: Any) -> None:  # fmt: skip
        self.conv = TcpConversation(client, server, **kw)
        self.channel, self.token = 0, 0
        self.seq = [1, 1]
        self.rid = 0
        self.handle = 0

    def _seq(self, from_client: bool) -> int:
        i = 0 if from_client else 1
        self.seq[i] += 1
        return self.seq[i] - 1

    def open(self, url: str = "opc.tcp://plc:4840") -> list[Record]:
        c = self.conv
        r = c.handshake()
        r += c.client_send(hello(url))
        r += c.server_send(acknowledge())
        self.rid += 1
        self.handle += 1
        r += c.client_send(opn(0, self._seq(True), self.rid, opn_request(self.handle)))
        self.channel, self.token = 7, 1
        r += c.server_send(opn(7, self._seq(False), self.rid, opn_response(self.handle, 7, 1)))
        return r

    def encode(self, from_client: bool, body: bytes, rid: int, *, chunk_size: int | None = None,
               mt: bytes = b"MSG") -> bytes:  # fmt: skip
        """One message's bytes, as one chunk or as chunks of at most `chunk_size` body bytes."""
        parts = [body] if not chunk_size else [body[i : i + chunk_size]
                                                for i in range(0, len(body), chunk_size)]  # fmt: skip
        return b"".join(secure(mt, self.channel, self.token, self._seq(from_client), rid, p,
                               b"F" if i == len(parts) - 1 else b"C")
                        for i, p in enumerate(parts))  # fmt: skip

    def msg(self, from_client: bool, body: bytes, rid: int, *, chunk_size: int | None = None,
            mt: bytes = b"MSG", **send: Any) -> list[Record]:  # fmt: skip
        data = self.encode(from_client, body, rid, chunk_size=chunk_size, mt=mt)
        return self.conv.send(from_client, data, **send)

    def exchange(self, request: bytes, response: bytes | None, **kw: Any) -> list[Record]:
        """A request and its response (bodies built with `self.handle`, see `next_handle`)."""
        self.rid += 1
        r = self.msg(True, request, self.rid, **kw)
        if response is not None:
            r += self.msg(False, response, self.rid, **kw)
        return r

    def next_handle(self) -> int:
        self.handle += 1
        return self.handle

    def close(self) -> list[Record]:
        self.rid += 1
        h = self.next_handle()
        r = self.msg(True, service(CLO_REQ, request_header(h)), self.rid, mt=b"CLO")
        return r + self.conv.fin(True) + self.conv.fin(False)
