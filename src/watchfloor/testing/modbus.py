"""Modbus/TCP traffic builders: PDUs for every public function code, the MBAP header, a TCP
conversation that tracks both sequence spaces, and an endless HMI↔PLC poll session.

PDU layouts follow the Modbus Application Protocol Specification V1.1b3 ("MAP", section
numbers in comments); the MBAP header follows the Modbus Messaging on TCP/IP
Implementation Guide V1.0b §3.1.3. Builders that serve as both request and normal
response (the spec's echo responses) say so; all return the PDU (function code + data).
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import IntEnum
from typing import NamedTuple

from watchfloor.testing import frames

Record = tuple[int, bytes]

# --- codes ---------------------------------------------------------------------------


class FunctionCode(IntEnum):
    """Public function codes (MAP §5.1)."""

    READ_COILS = 1
    READ_DISCRETE_INPUTS = 2
    READ_HOLDING_REGISTERS = 3
    READ_INPUT_REGISTERS = 4
    WRITE_SINGLE_COIL = 5
    WRITE_SINGLE_REGISTER = 6
    READ_EXCEPTION_STATUS = 7
    DIAGNOSTICS = 8
    GET_COMM_EVENT_COUNTER = 11
    GET_COMM_EVENT_LOG = 12
    WRITE_MULTIPLE_COILS = 15
    WRITE_MULTIPLE_REGISTERS = 16
    REPORT_SERVER_ID = 17
    READ_FILE_RECORD = 20
    WRITE_FILE_RECORD = 21
    MASK_WRITE_REGISTER = 22
    READ_WRITE_MULTIPLE_REGISTERS = 23
    READ_FIFO_QUEUE = 24
    ENCAPSULATED_INTERFACE_TRANSPORT = 43


class MeiType(IntEnum):
    """MEI types carried by function code 43 (MAP §6.19-6.21)."""

    CANOPEN_GENERAL_REFERENCE = 13
    READ_DEVICE_IDENTIFICATION = 14


class Diagnostic(IntEnum):
    """Sub-function codes of FC 8 (MAP §6.8.1)."""

    RETURN_QUERY_DATA = 0
    RESTART_COMMUNICATIONS_OPTION = 1
    RETURN_DIAGNOSTIC_REGISTER = 2
    CHANGE_ASCII_INPUT_DELIMITER = 3
    FORCE_LISTEN_ONLY_MODE = 4
    CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER = 10
    RETURN_BUS_MESSAGE_COUNT = 11
    RETURN_BUS_COMMUNICATION_ERROR_COUNT = 12
    RETURN_BUS_EXCEPTION_ERROR_COUNT = 13
    RETURN_SERVER_MESSAGE_COUNT = 14
    RETURN_SERVER_NO_RESPONSE_COUNT = 15
    RETURN_SERVER_NAK_COUNT = 16
    RETURN_SERVER_BUSY_COUNT = 17
    RETURN_BUS_CHARACTER_OVERRUN_COUNT = 18
    CLEAR_OVERRUN_COUNTER_AND_FLAG = 20


class ExceptionCode(IntEnum):
    """Exception codes (MAP §7)."""

    ILLEGAL_FUNCTION = 1
    ILLEGAL_DATA_ADDRESS = 2
    ILLEGAL_DATA_VALUE = 3
    SERVER_DEVICE_FAILURE = 4
    ACKNOWLEDGE = 5
    SERVER_DEVICE_BUSY = 6
    MEMORY_PARITY_ERROR = 8
    GATEWAY_PATH_UNAVAILABLE = 10
    GATEWAY_TARGET_FAILED_TO_RESPOND = 11


class ReadDeviceIdCode(IntEnum):
    """Read Device ID codes of FC 43/14 (MAP §6.21)."""

    BASIC = 1
    REGULAR = 2
    EXTENDED = 3
    SPECIFIC = 4


class DeviceObject(IntEnum):
    """Device identification object ids (MAP §6.21); 0x80-0xFF are private (extended)."""

    VENDOR_NAME = 0
    PRODUCT_CODE = 1
    MAJOR_MINOR_REVISION = 2
    VENDOR_URL = 3
    PRODUCT_NAME = 4
    MODEL_NAME = 5
    USER_APPLICATION_NAME = 6


_READ_FCS = frozenset(range(1, 5))
_ADDRESS_COUNT = struct.Struct(">BHH")
_MBAP = struct.Struct(">HHHB")


def _word(value: int) -> bytes:
    return (value & 0xFFFF).to_bytes(2, "big")


def _words(values: Iterable[int]) -> bytes:
    return b"".join(_word(v) for v in values)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- MBAP and generic PDUs -----------------------------------------------------------


def mbap(transaction_id: int, unit_id: int, pdu: bytes, *, protocol_id: int = 0) -> bytes:
    """ADU = MBAP header (transaction id, protocol id 0, length of unit id + PDU, unit id) + PDU."""
    return _MBAP.pack(transaction_id & 0xFFFF, protocol_id, len(pdu) + 1, unit_id) + pdu


def pdu(fc: int, data: bytes = b"") -> bytes:
    """Any PDU: function code + data (MAP §4.1). For body-less requests (FC 7, 11, 12, 17)
    and vendor-specific codes (e.g. 90) with opaque data."""
    return bytes((fc,)) + data


def exception(fc: int, code: int) -> bytes:
    """Exception response: function code with the high bit set, exception code (MAP §7)."""
    return bytes((fc | 0x80, code))


# --- bit and register access (FC 1-6, 15, 16, 22-24) ---------------------------------


def pack_bits(bits: Sequence[int | bool]) -> bytes:
    """Coil/input states, first bit in the LSB of the first byte, zero-padded (MAP §6.1)."""
    out = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            out[index >> 3] |= 1 << (index & 7)
    return bytes(out)


def read_request(fc: int, address: int, count: int) -> bytes:
    """FC 1-4 request: starting address, quantity (MAP §6.1-6.4)."""
    _require(fc in _READ_FCS, f"not a read function code: {fc}")
    return _ADDRESS_COUNT.pack(fc, address, count)


def read_bits_response(fc: int, bits: Sequence[int | bool]) -> bytes:
    """FC 1/2 response: byte count, packed bits (MAP §6.1, §6.2)."""
    packed = pack_bits(bits)
    return bytes((fc, len(packed))) + packed


def read_registers_response(fc: int, values: Sequence[int]) -> bytes:
    """FC 3/4/23 response: byte count, register values (MAP §6.3, §6.4, §6.17)."""
    return bytes((fc, 2 * len(values))) + _words(values)


def write_single_request(fc: int, address: int, value: int | bool) -> bytes:
    """FC 5 (a true value is written as 0xFF00, MAP §6.5) or FC 6 (MAP §6.6) request.
    The normal response is an echo of the request."""
    if fc == FunctionCode.WRITE_SINGLE_COIL:
        value = 0xFF00 if value else 0x0000
    else:
        _require(fc == FunctionCode.WRITE_SINGLE_REGISTER, f"not a single-write function code: {fc}")
    return _ADDRESS_COUNT.pack(fc, address, int(value))


write_single_response = write_single_request


def write_multiple_coils_request(address: int, bits: Sequence[int | bool]) -> bytes:
    """FC 15 request: starting address, quantity, byte count, packed bits (MAP §6.11)."""
    packed = pack_bits(bits)
    return _ADDRESS_COUNT.pack(FunctionCode.WRITE_MULTIPLE_COILS, address, len(bits)) + bytes((len(packed),)) + packed


def write_multiple_registers_request(address: int, values: Sequence[int]) -> bytes:
    """FC 16 request: starting address, quantity, byte count, values (MAP §6.12)."""
    return (_ADDRESS_COUNT.pack(FunctionCode.WRITE_MULTIPLE_REGISTERS, address, len(values))
            + bytes((2 * len(values),)) + _words(values))


def write_multiple_response(fc: int, address: int, count: int) -> bytes:
    """FC 15/16 response: starting address, quantity written (MAP §6.11, §6.12)."""
    return _ADDRESS_COUNT.pack(fc, address, count)


def mask_write_register(address: int, and_mask: int, or_mask: int) -> bytes:
    """FC 22 request; the normal response is an echo (MAP §6.16)."""
    return bytes((FunctionCode.MASK_WRITE_REGISTER,)) + _words((address, and_mask, or_mask))


def read_write_registers_request(read_address: int, read_count: int, write_address: int,
                                 values: Sequence[int]) -> bytes:
    """FC 23 request (MAP §6.17); the response is read_registers_response(23, values)."""
    return (bytes((FunctionCode.READ_WRITE_MULTIPLE_REGISTERS,))
            + _words((read_address, read_count, write_address, len(values)))
            + bytes((2 * len(values),)) + _words(values))


def read_fifo_queue_request(address: int) -> bytes:
    """FC 24 request: FIFO pointer address (MAP §6.18)."""
    return bytes((FunctionCode.READ_FIFO_QUEUE,)) + _word(address)


def read_fifo_queue_response(values: Sequence[int]) -> bytes:
    """FC 24 response: byte count (2 + 2N), FIFO count, values (MAP §6.18)."""
    return bytes((FunctionCode.READ_FIFO_QUEUE,)) + _words((2 + 2 * len(values), len(values), *values))


# --- serial-line diagnostics (FC 7, 8, 11, 12, 17) -----------------------------------


def read_exception_status_response(status: int) -> bytes:
    """FC 7 response: one byte of exception status outputs (MAP §6.7). Request: pdu(7)."""
    return bytes((FunctionCode.READ_EXCEPTION_STATUS, status & 0xFF))


def diagnostics(sub_function: int, data: bytes | int = 0) -> bytes:
    """FC 8 request or (echo-form) response: sub-function, data (MAP §6.8). An int is one
    16-bit data word; bytes are sent as given (e.g. query data for sub-function 0)."""
    body = _word(data) if isinstance(data, int) else data
    return bytes((FunctionCode.DIAGNOSTICS,)) + _word(sub_function) + body


def comm_event_counter_response(status: int, event_count: int) -> bytes:
    """FC 11 response: status (0xFFFF = busy), event count (MAP §6.9). Request: pdu(11)."""
    return bytes((FunctionCode.GET_COMM_EVENT_COUNTER,)) + _words((status, event_count))


def comm_event_log_response(status: int, event_count: int, message_count: int, events: bytes = b"") -> bytes:
    """FC 12 response: byte count, status, event count, message count, events (MAP §6.10).
    Request: pdu(12)."""
    return (bytes((FunctionCode.GET_COMM_EVENT_LOG, 6 + len(events)))
            + _words((status, event_count, message_count)) + events)


def report_server_id_response(server_id: bytes, *, running: bool = True, additional: bytes = b"") -> bytes:
    """FC 17 response: byte count, server id, run indicator (0xFF on), additional data
    (MAP §6.13). Request: pdu(17)."""
    body = server_id + (b"\xff" if running else b"\x00") + additional
    return bytes((FunctionCode.REPORT_SERVER_ID, len(body))) + body


# --- file records (FC 20, 21) --------------------------------------------------------

_FILE_REFERENCE_TYPE = 6  # MAP §6.14: the only reference type


def read_file_record_request(subrequests: Sequence[tuple[int, int, int]]) -> bytes:
    """FC 20 request; `subrequests` are (file number, record number, record length) (MAP §6.14)."""
    body = b"".join(struct.pack(">BHHH", _FILE_REFERENCE_TYPE, *sub) for sub in subrequests)
    return bytes((FunctionCode.READ_FILE_RECORD, len(body))) + body


def read_file_record_response(records: Sequence[Sequence[int]]) -> bytes:
    """FC 20 response: per sub-request its length (1 + 2N), reference type, words (MAP §6.14)."""
    body = b"".join(bytes((1 + 2 * len(words), _FILE_REFERENCE_TYPE)) + _words(words) for words in records)
    return bytes((FunctionCode.READ_FILE_RECORD, len(body))) + body


def write_file_record(subrequests: Sequence[tuple[int, int, Sequence[int]]]) -> bytes:
    """FC 21 request, and its echo response; `subrequests` are (file number, record number,
    words) (MAP §6.15)."""
    body = b"".join(struct.pack(">BHHH", _FILE_REFERENCE_TYPE, file, record, len(words)) + _words(words)
                    for file, record, words in subrequests)
    return bytes((FunctionCode.WRITE_FILE_RECORD, len(body))) + body


# --- encapsulated interface transport (FC 43) ----------------------------------------


def read_device_id_request(read_code: int = ReadDeviceIdCode.BASIC, object_id: int = 0) -> bytes:
    """FC 43/14 request: read device id code, object id to start from (MAP §6.21)."""
    return bytes((FunctionCode.ENCAPSULATED_INTERFACE_TRANSPORT, MeiType.READ_DEVICE_IDENTIFICATION,
                  read_code, object_id))


def read_device_id_response(
    read_code: int,
    objects: Mapping[int, str | bytes] | Sequence[tuple[int, str | bytes]],
    *,
    conformity: int = 0x83,
    more_follows: bool = False,
    next_object_id: int = 0,
) -> bytes:
    """FC 43/14 response: read code, conformity level (0x83 = extended + individual access),
    more follows (0xFF) and next object id, object count, then (id, length, value) per
    object (MAP §6.21)."""
    items = objects.items() if isinstance(objects, Mapping) else objects
    encoded = [(oid, value.encode("latin-1") if isinstance(value, str) else value) for oid, value in items]
    body = b"".join(bytes((oid, len(value))) + value for oid, value in encoded)
    return bytes((FunctionCode.ENCAPSULATED_INTERFACE_TRANSPORT, MeiType.READ_DEVICE_IDENTIFICATION, read_code,
                  conformity, 0xFF if more_follows else 0x00, next_object_id, len(encoded))) + body


def canopen_general_reference(data: bytes) -> bytes:
    """FC 43/13 request or response: MEI type 13, opaque CANopen data (MAP §6.19)."""
    return bytes((FunctionCode.ENCAPSULATED_INTERFACE_TRANSPORT, MeiType.CANOPEN_GENERAL_REFERENCE)) + data


# --- a reference session -------------------------------------------------------------

TEST_DEVICE: dict[int, str] = {
    DeviceObject.VENDOR_NAME: "Watchfloor Test PLC Co",
    DeviceObject.PRODUCT_CODE: "WF-PLC-1",
    DeviceObject.MAJOR_MINOR_REVISION: "v2.4.1",
    DeviceObject.VENDOR_URL: "https://plc.example.invalid/",
    DeviceObject.PRODUCT_NAME: "Watchfloor Test PLC",
    DeviceObject.MODEL_NAME: "WF-PLC-1/16",
    DeviceObject.USER_APPLICATION_NAME: "pump station 3",
    0x80: "serial=WF0001234",
}

VENDOR_FUNCTION_CODE = 90  # used by some vendors for proprietary services; opaque here


class Exchange(NamedTuple):
    """One request and its response PDU (None: the server stays silent, as for FC 8/4)."""

    request: bytes
    response: bytes | None
    unit_id: int = 1


def reference_exchanges(device: Mapping[int, str] = TEST_DEVICE) -> list[Exchange]:
    """One exchange (or more) for every public function code, exceptions, FC 43/13, a FC
    43/14 identification in all four read codes (with more-follows paging) and vendor FC 90."""
    fc, diag, exc, code = FunctionCode, Diagnostic, ExceptionCode, ReadDeviceIdCode
    basic = [(oid, device[oid]) for oid in sorted(device) if oid <= DeviceObject.MAJOR_MINOR_REVISION]
    regular = [(oid, device[oid]) for oid in sorted(device) if oid <= DeviceObject.USER_APPLICATION_NAME]
    extended = [(oid, device[oid]) for oid in sorted(device) if oid >= 0x80]
    product = DeviceObject.PRODUCT_NAME
    echo = [  # requests whose normal response repeats them
        write_single_request(fc.WRITE_SINGLE_COIL, 17, True),
        write_single_request(fc.WRITE_SINGLE_REGISTER, 1, 0x1234),
    ]
    return [
        Exchange(read_request(fc.READ_COILS, 0, 10), read_bits_response(fc.READ_COILS, [1, 0, 1, 1, 0, 0, 1, 0, 1, 1])),
        Exchange(read_request(fc.READ_DISCRETE_INPUTS, 100, 12),
                 read_bits_response(fc.READ_DISCRETE_INPUTS, [0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1])),
        Exchange(read_request(fc.READ_HOLDING_REGISTERS, 0, 5),
                 read_registers_response(fc.READ_HOLDING_REGISTERS, [0x0102, 500, 1000, 0xFFFF, 0])),
        Exchange(read_request(fc.READ_INPUT_REGISTERS, 30, 3),
                 read_registers_response(fc.READ_INPUT_REGISTERS, [215, 7, 4096])),
        *(Exchange(request, request) for request in echo),
        Exchange(pdu(fc.READ_EXCEPTION_STATUS), read_exception_status_response(0x6D)),
        Exchange(diagnostics(diag.RETURN_QUERY_DATA, b"\xa5\x37"), diagnostics(diag.RETURN_QUERY_DATA, b"\xa5\x37")),
        Exchange(diagnostics(diag.RESTART_COMMUNICATIONS_OPTION, 0xFF00),
                 diagnostics(diag.RESTART_COMMUNICATIONS_OPTION, 0xFF00)),
        Exchange(diagnostics(diag.RETURN_DIAGNOSTIC_REGISTER), diagnostics(diag.RETURN_DIAGNOSTIC_REGISTER, 0x0001)),
        Exchange(diagnostics(diag.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER),
                 diagnostics(diag.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER)),
        Exchange(diagnostics(diag.RETURN_BUS_MESSAGE_COUNT), diagnostics(diag.RETURN_BUS_MESSAGE_COUNT, 42)),
        # Listen-only mode silences the server until "restart communications", which is
        # itself unanswered while listen-only is active (MAP §6.8.1 sub-functions 01, 04).
        Exchange(diagnostics(diag.FORCE_LISTEN_ONLY_MODE), None),
        Exchange(diagnostics(diag.RESTART_COMMUNICATIONS_OPTION, 0x0000), None),
        Exchange(pdu(fc.GET_COMM_EVENT_COUNTER), comm_event_counter_response(0x0000, 0x0108)),
        Exchange(pdu(fc.GET_COMM_EVENT_LOG), comm_event_log_response(0x0000, 0x0108, 0x0121, b"\x20\x00")),
        Exchange(write_multiple_coils_request(19, [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]),
                 write_multiple_response(fc.WRITE_MULTIPLE_COILS, 19, 10)),
        Exchange(write_multiple_registers_request(1, [0x000A, 0x0102]),
                 write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 1, 2)),
        Exchange(pdu(fc.REPORT_SERVER_ID), report_server_id_response(b"WF-PLC-1", additional=b"fw 2.4.1")),
        Exchange(read_file_record_request([(4, 1, 2), (3, 9, 2)]),
                 read_file_record_response([[0x0DFE, 0x0020], [0x33CD, 0x0040]])),
        Exchange(write_file_record([(4, 7, [0x06AF, 0x04BE, 0x100D])]),
                 write_file_record([(4, 7, [0x06AF, 0x04BE, 0x100D])])),
        Exchange(mask_write_register(4, 0x00F2, 0x0025), mask_write_register(4, 0x00F2, 0x0025)),
        Exchange(read_write_registers_request(3, 6, 14, [0x00FF, 0x00FF, 0x00FF]),
                 read_registers_response(fc.READ_WRITE_MULTIPLE_REGISTERS, [0xFE, 0xACD, 1, 3, 0xD, 0xFF])),
        Exchange(read_fifo_queue_request(0x04DE), read_fifo_queue_response([0x01B8, 0x1284])),
        Exchange(read_device_id_request(code.BASIC, 0), read_device_id_response(code.BASIC, basic)),
        Exchange(read_device_id_request(code.REGULAR, 0),
                 read_device_id_response(code.REGULAR, regular[:4], more_follows=True, next_object_id=regular[4][0])),
        Exchange(read_device_id_request(code.REGULAR, regular[4][0]),
                 read_device_id_response(code.REGULAR, regular[4:])),
        Exchange(read_device_id_request(code.EXTENDED, 0x80), read_device_id_response(code.EXTENDED, extended)),
        Exchange(read_device_id_request(code.SPECIFIC, product),
                 read_device_id_response(code.SPECIFIC, [(product, device[product])])),
        Exchange(read_device_id_request(code.BASIC, 0),
                 exception(fc.ENCAPSULATED_INTERFACE_TRANSPORT, exc.SERVER_DEVICE_BUSY), unit_id=247),
        Exchange(canopen_general_reference(b"\x40\x00\x10\x00"),
                 canopen_general_reference(b"\x43\x00\x10\x00\x92\x01\x02\x00")),
        Exchange(read_request(fc.READ_HOLDING_REGISTERS, 9000, 10),
                 exception(fc.READ_HOLDING_REGISTERS, exc.ILLEGAL_DATA_ADDRESS)),
        Exchange(read_request(fc.READ_INPUT_REGISTERS, 0, 200),
                 exception(fc.READ_INPUT_REGISTERS, exc.ILLEGAL_DATA_VALUE)),
        Exchange(write_single_request(fc.WRITE_SINGLE_REGISTER, 9000, 1),
                 exception(fc.WRITE_SINGLE_REGISTER, exc.ILLEGAL_DATA_ADDRESS)),
        Exchange(pdu(VENDOR_FUNCTION_CODE, b"\x00\x02"), pdu(VENDOR_FUNCTION_CODE, b"\x00\xfe\x02\x0f\x00\x01")),
        Exchange(pdu(VENDOR_FUNCTION_CODE, b"\x00\x40\xff\x00"), exception(VENDOR_FUNCTION_CODE, exc.ILLEGAL_FUNCTION)),
    ]


# --- TCP conversation ----------------------------------------------------------------


class Endpoint(NamedTuple):
    ip: str
    port: int
    mac: str = "02:00:00:00:00:01"


DEFAULT_CLIENT = Endpoint("192.168.10.10", 49152, "02:00:00:0a:00:0a")
DEFAULT_SERVER = Endpoint("192.168.10.20", 502, "02:00:00:0a:00:14")
DEFAULT_START_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
LINKS = ("ethernet", "sll", "sll2", "raw")
_MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460 (RFC 9293 §3.2)
_HISTORY_LIMIT = 64 * 1024


class _Side:
    """One direction's sender state: next sequence number, IP id, link header, and a
    bounded history of its byte stream (for retransmissions)."""

    __slots__ = ("endpoint", "address", "nxt", "stream_start", "ident", "prefix", "history", "history_offset", "last")

    def __init__(self, endpoint: Endpoint, isn: int) -> None:
        self.endpoint = endpoint
        self.address = frames.ip_address(endpoint.ip)
        self.nxt = isn
        self.stream_start = isn  # sequence number of stream offset 0
        self.ident = 0
        self.prefix = b""
        self.history = bytearray()
        self.history_offset = 0  # stream offset of history[0]
        self.last: tuple[int, bytes, str] | None = None  # last data segment (seq, payload, flags)

    @property
    def offset(self) -> int:
        return self.nxt - self.stream_start

    def remember(self, data: bytes) -> None:
        self.history += data
        if len(self.history) > 2 * _HISTORY_LIMIT:  # trim rarely: amortised O(1) per byte
            cut = len(self.history) - _HISTORY_LIMIT
            del self.history[:cut]
            self.history_offset += cut


def _split(length: int, sizes: Sequence[int] | None, mss: int) -> list[tuple[int, int]]:
    """(start, end) of each segment; sizes that sum to less than `length` get a remainder segment."""
    sizes = list(sizes) if sizes else []
    _require(all(s > 0 for s in sizes) and sum(sizes) <= length, f"bad segment sizes {sizes} for {length} bytes")
    rest = length - sum(sizes)
    sizes += [mss] * (rest // mss) + ([rest % mss] if rest % mss else [])
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def _link_header(link: str, ethertype: int, src: str, dst: str, packet_type: int, vlans: Sequence[int]) -> bytes:
    # Constant per direction, so built once. A cooked capture is taken on the server host:
    # client packets are "to us" (packet type 0), server packets "outgoing" (4).
    if link == "ethernet":
        return frames.ethernet(b"", src=src, dst=dst, ethertype=ethertype, vlans=vlans)
    if link == "sll":
        return frames.sll(b"", protocol=ethertype, packet_type=packet_type, addr=src)
    if link == "sll2":
        return frames.sll2(b"", protocol=ethertype, packet_type=packet_type, addr=src, ifindex=2)
    return b""


class TcpConversation:
    """A TCP connection between `client` and `server` seen by a passive sensor.

    Each method emits the packets of one event and returns them as `(ts_ns, frame)`
    records; nothing is accumulated, so a conversation can run for millions of packets.
    Timestamps start at `start_ns` and grow by `step_ns` per packet (advance() adds idle
    time). Without handshake() the capture starts mid-stream at the given ISNs.

    Knobs that apply to the packets that follow (plain attributes, change them any time):
    `fragment_size` (IP payload bytes per fragment, None = no fragmentation),
    `fragments_reversed` (emit fragments last-first), `ext_headers` (IPv6 extension
    headers in every packet, before any Fragment header), `window`, `ttl`.
    """

    def __init__(
        self,
        client: Endpoint | tuple = DEFAULT_CLIENT,
        server: Endpoint | tuple = DEFAULT_SERVER,
        *,
        start_ns: int = DEFAULT_START_NS,
        step_ns: int = 100_000,
        client_isn: int = 0x10000000,
        server_isn: int = 0x20000000,
        link: str = "ethernet",
        vlans: Sequence[int] = (),
        mss: int = 1460,
    ) -> None:
        _require(link in LINKS, f"link must be one of {LINKS}: {link!r}")
        self._client = _Side(Endpoint(*client), client_isn)
        self._server = _Side(Endpoint(*server), server_isn)
        _require(self._client.address.version == self._server.address.version, "client and server families differ")
        self.now = start_ns
        self.step_ns = step_ns
        self.mss = mss
        self.window = 65535
        self.ttl = 64
        self.fragment_size: int | None = None
        self.fragments_reversed = False
        self.ext_headers: Sequence[frames.ExtHeader] = ()
        ethertype = frames.ETHERTYPE_IPV4 if self._client.address.version == 4 else frames.ETHERTYPE_IPV6
        for sender, receiver, packet_type in ((self._client, self._server, 0), (self._server, self._client, 4)):
            sender.prefix = _link_header(link, ethertype, sender.endpoint.mac, receiver.endpoint.mac, packet_type,
                                         vlans)

    # -- helpers --

    def _sides(self, from_client: bool) -> tuple[_Side, _Side]:
        return (self._client, self._server) if from_client else (self._server, self._client)

    def advance(self, ns: int) -> None:
        """Let `ns` nanoseconds pass before the next packet."""
        self.now += ns

    def next_seq(self, from_client: bool = True) -> int:
        """The sequence number that side's next byte will carry (mod 2**32)."""
        return self._sides(from_client)[0].nxt & 0xFFFFFFFF

    def stream_offset(self, from_client: bool = True) -> int:
        """Bytes of stream sent so far by that side (skipped bytes included)."""
        return self._sides(from_client)[0].offset

    def _segment(self, sender: _Side, flags: str, seq: int, payload: bytes = b"", options: bytes = b"") -> list[Record]:
        receiver = self._server if sender is self._client else self._client
        segment = frames.tcp(sender.address, receiver.address, sender.endpoint.port, receiver.endpoint.port,
                             seq=seq, ack=receiver.nxt if "A" in flags else 0, flags=flags, payload=payload,
                             window=self.window, options=options)
        records = []
        for packet in self._ip_packets(sender, receiver, segment):
            records.append((self.now, sender.prefix + packet))
            self.now += self.step_ns
        return records

    def _ip_packets(self, sender: _Side, receiver: _Side, segment: bytes) -> list[bytes]:
        sender.ident = (sender.ident + 1) & 0xFFFF
        src, dst, size, tcp = sender.address, receiver.address, self.fragment_size, frames.IPPROTO_TCP
        if size is None or len(segment) <= size:
            if src.version == 4:  # DF as Linux sets it, unless fragmentation is being exercised
                return [frames.ipv4(src, dst, tcp, segment, ident=sender.ident, ttl=self.ttl, flags_df=size is None)]
            return [frames.ipv6(src, dst, tcp, segment, ext_headers=self.ext_headers, hop_limit=self.ttl)]
        if src.version == 4:
            packets = frames.ipv4_fragments(src, dst, tcp, segment, fragment_size=size, ident=sender.ident,
                                            ttl=self.ttl)
        else:
            packets = frames.ipv6_fragments(src, dst, tcp, segment, fragment_size=size, ident=sender.ident,
                                            ext_headers=self.ext_headers, hop_limit=self.ttl)
        return packets[::-1] if self.fragments_reversed else packets

    # -- connection events --

    def handshake(self) -> list[Record]:
        """SYN, SYN/ACK, ACK (with MSS options); each SYN consumes one sequence number."""
        client, server = self._client, self._server
        records = self._segment(client, "S", client.nxt, options=_MSS_OPTION)
        client.nxt += 1
        client.stream_start = client.nxt
        records += self._segment(server, "SA", server.nxt, options=_MSS_OPTION)
        server.nxt += 1
        server.stream_start = server.nxt
        return records + self._segment(client, "A", client.nxt)

    def send(self, from_client: bool, data: bytes, *, segment_sizes: Sequence[int] | None = None,
             order: Sequence[int] | None = None) -> list[Record]:
        """Send `data` in segments of `segment_sizes` bytes (remainder, and the default,
        cut at the MSS). `order` lists segment indices in emission order: a permutation
        delivers out of order, a repeated index retransmits, a missing one is never
        captured. PSH is set on the segment that ends the data."""
        sender = self._sides(from_client)[0]
        if segment_sizes is None and order is None and len(data) <= self.mss:
            bounds = [(0, len(data))]  # the common case, kept cheap for long sessions
        else:
            bounds = _split(len(data), segment_sizes, self.mss)
        base = sender.nxt
        sender.remember(data)
        sender.nxt += len(data)
        records: list[Record] = []
        for index in order if order is not None else range(len(bounds)):
            start, end = bounds[index]
            flags = "PA" if end == len(data) else "A"
            records += self._segment(sender, flags, base + start, data[start:end])
            sender.last = (base + start, data[start:end], flags)
        return records

    def client_send(self, data: bytes, *, segment_sizes: Sequence[int] | None = None,
                    order: Sequence[int] | None = None) -> list[Record]:
        return self.send(True, data, segment_sizes=segment_sizes, order=order)

    def server_send(self, data: bytes, *, segment_sizes: Sequence[int] | None = None,
                    order: Sequence[int] | None = None) -> list[Record]:
        return self.send(False, data, segment_sizes=segment_sizes, order=order)

    def ack(self, from_client: bool = True) -> list[Record]:
        """A pure ACK (no data) acknowledging everything the peer sent."""
        sender = self._sides(from_client)[0]
        return self._segment(sender, "A", sender.nxt)

    def retransmit_last(self, from_client: bool = True) -> list[Record]:
        """Send that side's last data segment again, byte for byte."""
        sender = self._sides(from_client)[0]
        _require(sender.last is not None, "nothing to retransmit")
        seq, payload, flags = sender.last  # type: ignore[misc]
        return self._segment(sender, flags, seq, payload)

    def retransmit(self, from_client: bool, start: int, end: int) -> list[Record]:
        """Send stream bytes [start, end) again as one segment at their original sequence
        numbers; with bounds unlike the original segments this is an overlapping
        retransmission of a different length."""
        sender = self._sides(from_client)[0]
        _require(sender.history_offset <= start < end <= sender.offset, f"range {start}..{end} not in history")
        data = bytes(sender.history[start - sender.history_offset : end - sender.history_offset])
        return self._segment(sender, "PA", sender.stream_start + start, data)

    def skip_bytes(self, data: int | bytes, from_client: bool = True) -> list[Record]:
        """Bytes the sender sent but the capture lost: sequence numbers advance, nothing is
        emitted (the peer's ACKs cover them). Given as bytes they can be retransmitted later."""
        sender = self._sides(from_client)[0]
        data = bytes(data) if isinstance(data, int) else data
        sender.remember(data)
        sender.nxt += len(data)
        return []

    def fin(self, from_client: bool = True) -> list[Record]:
        """Orderly close: FIN/ACK from one side, FIN/ACK from the other, final ACK."""
        closer, peer = self._sides(from_client)
        records = self._segment(closer, "FA", closer.nxt)
        closer.nxt += 1
        records += self._segment(peer, "FA", peer.nxt)
        peer.nxt += 1
        return records + self._segment(closer, "A", closer.nxt)

    def rst(self, from_client: bool = True) -> list[Record]:
        """Abort: RST/ACK from one side."""
        sender = self._sides(from_client)[0]
        return self._segment(sender, "RA", sender.nxt)


def exchange(conv: TcpConversation, transaction_id: int, request: bytes, response: bytes | None, *,
             unit_id: int = 1, response_ns: int = 1_000_000) -> list[Record]:
    """Request ADU from the client, then (after `response_ns`) the response ADU if any."""
    records = conv.client_send(mbap(transaction_id, unit_id, request))
    if response is not None:
        conv.advance(response_ns)
        records += conv.server_send(mbap(transaction_id, unit_id, response))
    return records


# --- a long-running poll session -----------------------------------------------------


class _Plant:
    """A small process behind the PLC: 16 analogue inputs (scaled ×10) that drift and
    follow setpoints with noise, 20 holding registers, 16 coils, 16 discrete inputs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.holding = [650, 350, 1200, 80, *range(1000, 1016)]  # setpoints, then a recipe block
        self.coils = [1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        self.inputs = [640, 352, 1190, 81, 215, 1013, 4500, 730, 2210, 98, 455, 3300, 12, 870, 505, 600]
        self.targets = list(self.inputs)

    def step(self) -> None:
        random_ = self.rng.random
        inputs, targets = self.inputs, self.targets
        for i in range(4):  # controlled loops follow their setpoints
            targets[i] = self.holding[i]
        for i in range(16):
            if i >= 4 and random_() < 0.1:  # slow drift of uncontrolled values
                targets[i] += 1 if random_() < 0.5 else -1
            inputs[i] = max(0, min(0xFFFF, inputs[i] + (targets[i] - inputs[i]) // 8 + int(random_() * 5) - 2))

    def discrete_inputs(self) -> list[int]:
        # run feedback mirrors the coils; high-level alarm on input 14
        return [*self.coils[:8], int(self.inputs[14] > 520), 0, 1, 0, 0, 0, 0, 0]


def poll_session(
    *,
    packets: int | None = None,
    cycles: int | None = None,
    seed: int = 0,
    client: Endpoint | tuple = Endpoint("10.10.1.50", 49500, "02:00:00:01:00:32"),
    server: Endpoint | tuple = Endpoint("10.10.2.10", 502, "02:00:00:02:00:0a"),
    unit_id: int = 1,
    start_ns: int = DEFAULT_START_NS,
    poll_interval_ns: int = 250_000_000,
    handshake: bool = True,
    link: str = "ethernet",
    vlans: Sequence[int] = (),
) -> Iterator[Record]:
    """An HMI polling a PLC, lazily: each cycle reads holding registers (FC 3), input
    registers (FC 4), coils (FC 1) and discrete inputs (FC 2); about one cycle in eight
    also writes (FC 5, 6, 15, 16 or 23); about one in a hundred reads a missing block and
    gets exception 2, fewer get "server busy" (6). The client's delayed ACK shows as a
    pure ACK after each cycle's last response; a slow response is preceded by the
    server's pure ACK. Stops after `packets` packets (exactly), or after `cycles` cycles
    with a FIN exchange, or never. Deterministic for a given `seed`; constant memory."""
    generator = _poll(cycles, seed, client, server, unit_id, start_ns, poll_interval_ns, handshake, link, vlans)
    return generator if packets is None else itertools.islice(generator, packets)


def _poll(cycles: int | None, seed: int, client: Endpoint | tuple, server: Endpoint | tuple, unit_id: int,
          start_ns: int, poll_interval_ns: int, handshake: bool, link: str, vlans: Sequence[int]) -> Iterator[Record]:
    rng = random.Random(seed)
    plant = _Plant(rng)
    conv = TcpConversation(client, server, start_ns=start_ns, step_ns=40_000, link=link, vlans=vlans,
                           client_isn=rng.getrandbits(32), server_isn=rng.getrandbits(32))
    fc = FunctionCode
    reads = (  # request PDUs are constant; responses are built from the plant each time
        (read_request(fc.READ_HOLDING_REGISTERS, 0, 10),
         lambda: read_registers_response(fc.READ_HOLDING_REGISTERS, plant.holding[:10])),
        (read_request(fc.READ_INPUT_REGISTERS, 0, 16),
         lambda: read_registers_response(fc.READ_INPUT_REGISTERS, plant.inputs)),
        (read_request(fc.READ_COILS, 0, 16),
         lambda: read_bits_response(fc.READ_COILS, plant.coils)),
        (read_request(fc.READ_DISCRETE_INPUTS, 0, 16),
         lambda: read_bits_response(fc.READ_DISCRETE_INPUTS, plant.discrete_inputs())),
    )
    missing_block = read_request(fc.READ_HOLDING_REGISTERS, 1000, 20)
    transaction_id = 0
    if handshake:
        yield from conv.handshake()
    for _ in itertools.count() if cycles is None else range(cycles):
        plant.step()
        exchanges = [(request, respond()) for request, respond in reads]
        roll = rng.random()
        if roll < 0.125:
            exchanges.append(_write(plant, rng))
        elif roll < 0.135:
            exchanges.append((missing_block, exception(fc.READ_HOLDING_REGISTERS, ExceptionCode.ILLEGAL_DATA_ADDRESS)))
        elif roll < 0.137:
            exchanges[0] = (exchanges[0][0], exception(fc.READ_HOLDING_REGISTERS, ExceptionCode.SERVER_DEVICE_BUSY))
        for request, response in exchanges:
            transaction_id = (transaction_id + 1) & 0xFFFF
            yield from conv.client_send(mbap(transaction_id, unit_id, request))
            if rng.random() < 0.02:  # a slow scan: the server's delayed ACK fires first
                conv.advance(40_000_000)
                yield from conv.ack(from_client=False)
            conv.advance(500_000 + int(rng.random() * 2_500_000))
            yield from conv.server_send(mbap(transaction_id, unit_id, response))
        conv.advance(40_000_000)  # the client's delayed ACK before the next poll
        yield from conv.ack(from_client=True)
        conv.advance(poll_interval_ns - 40_000_000)
    yield from conv.fin()


def _write(plant: _Plant, rng: random.Random) -> tuple[bytes, bytes]:
    """An operator action: apply it to the plant, return (request, response)."""
    fc = FunctionCode
    kind = int(rng.random() * 5)
    if kind == 0:  # new setpoint
        register = int(rng.random() * 4)
        plant.holding[register] = max(0, plant.holding[register] + int(rng.random() * 41) - 20)
        request = write_single_request(fc.WRITE_SINGLE_REGISTER, register, plant.holding[register])
        return request, request
    if kind == 1:  # start/stop a pump
        coil = int(rng.random() * 8)
        plant.coils[coil] ^= 1
        request = write_single_request(fc.WRITE_SINGLE_COIL, coil, plant.coils[coil])
        return request, request
    if kind == 2:  # download a recipe
        values = [int(rng.random() * 2000) for _ in range(4)]
        plant.holding[10:14] = values
        return write_multiple_registers_request(10, values), write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 10, 4)
    if kind == 3:  # valve bank
        plant.coils[8:16] = [int(rng.random() < 0.5) for _ in range(8)]
        return (write_multiple_coils_request(8, plant.coils[8:16]),
                write_multiple_response(fc.WRITE_MULTIPLE_COILS, 8, 8))
    values = [int(rng.random() * 100) for _ in range(2)]  # write limits, read setpoints back
    plant.holding[14:16] = values
    return (read_write_registers_request(0, 4, 14, values),
            read_registers_response(fc.READ_WRITE_MULTIPLE_REGISTERS, plant.holding[:4]))
