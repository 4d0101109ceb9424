"""Write the small deterministic Modbus/TCP captures in tests/captures/ and their SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/make_captures.py
Everything comes from watchfloor.testing; the same code always writes the same bytes.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Sequence
from pathlib import Path

from watchfloor.testing import frames, modbus, pcapfile
from watchfloor.testing.modbus import Endpoint, Exchange, FunctionCode, TcpConversation, mbap

HERE = Path(__file__).resolve().parent
CLIENT = Endpoint("192.168.10.10", 50123, "02:00:00:0a:00:0a")
SERVER = Endpoint("192.168.10.20", 502, "02:00:00:0a:00:14")
Record = tuple[int, bytes]


class Scenario:
    """The packets of one capture and notes on its notable frames."""

    def __init__(self, name: str, summary: str, *, snaplen: int = 65535) -> None:
        self.name = name
        self.summary = summary
        self.snaplen = snaplen
        self.flows: list[list[tuple[Record, int]]] = []  # per flow: (record, interface)
        self.notes: list[tuple[list[int], str]] = []  # ids of records, text

    def flow(self, interface: int = 0) -> Callable[..., list[Record]]:
        """A function that appends records to a new flow (flows are merged by timestamp)."""
        records: list[tuple[Record, int]] = []
        self.flows.append(records)

        def add(new: list[Record], note: str | None = None) -> list[Record]:
            records.extend((record, interface) for record in new)
            if note:
                self.note(new, note)
            return new

        return add

    def note(self, records: list[Record], text: str) -> None:
        """Note frames already added."""
        self.notes.append(([id(record) for record in records], text))

    def merged(self) -> list[tuple[Record, int]]:
        return list(heapq.merge(*self.flows, key=lambda item: item[0][0]))

    def frame_notes(self) -> list[str]:
        numbers = {id(record): number for number, (record, _) in enumerate(self.merged(), start=1)}
        lines = []
        for ids, text in self.notes:
            found = [numbers[i] for i in ids]
            span = str(found[0]) if len(found) == 1 else f"{found[0]}-{found[-1]}" if found == list(
                range(found[0], found[-1] + 1)) else ", ".join(map(str, found))
            lines.append(f"frame{'s' if len(found) > 1 else ''} {span}: {text}")
        return lines


def label(exchange: Exchange) -> str:
    """'FC 8/4 diagnostics' style name of an exchange, with its outcome."""
    fc = exchange.request[0]
    name = FunctionCode(fc).name.lower() if fc in FunctionCode._value2member_map_ else "vendor"
    if fc == FunctionCode.DIAGNOSTICS:
        sub_function = int.from_bytes(exchange.request[1:3], "big")
        name = f"8/{sub_function} {modbus.Diagnostic(sub_function).name.lower()}"
    elif fc == FunctionCode.ENCAPSULATED_INTERFACE_TRANSPORT:
        name = f"43/{exchange.request[1]} {modbus.MeiType(exchange.request[1]).name.lower()}"
        if exchange.request[1] == modbus.MeiType.READ_DEVICE_IDENTIFICATION:
            name += f" read code {exchange.request[2]} object {exchange.request[3]:#x}"
    else:
        name = f"{fc} {name}"
    if exchange.response is None:
        outcome = "no response"
    elif exchange.response[0] & 0x80:
        outcome = f"exception {exchange.response[1]}"
    else:
        outcome = "response"
    unit = f", unit {exchange.unit_id}" if exchange.unit_id != 1 else ""
    return f"FC {name} ({outcome}{unit})"


def reference_session(add: Callable[..., list[Record]], conv: TcpConversation, *, first_tid: int = 1,
                      notes: bool = True) -> int:
    """Every exchange of modbus.reference_exchanges(); returns the next transaction id."""
    for tid, exchange in enumerate(modbus.reference_exchanges(), start=first_tid):
        add(modbus.exchange(conv, tid, exchange.request, exchange.response, unit_id=exchange.unit_id),
            f"tid {tid}: {label(exchange)}" if notes else None)
    return first_tid + len(modbus.reference_exchanges())


def short_session(add: Callable[..., list[Record]], conv: TcpConversation, *, first_tid: int = 1) -> list[Record]:
    """Handshake, a handful of typical exchanges, FIN; returns all its records."""
    fc = FunctionCode
    records = add(conv.handshake(), "handshake")
    setpoint = modbus.write_single_request(fc.WRITE_SINGLE_REGISTER, 2, 1250)
    exchanges = [
        Exchange(modbus.read_request(fc.READ_HOLDING_REGISTERS, 0, 4),
                 modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, [650, 350, 1200, 80])),
        Exchange(modbus.read_request(fc.READ_COILS, 0, 8),
                 modbus.read_bits_response(fc.READ_COILS, [1, 1, 0, 1, 0, 0, 0, 1])),
        Exchange(setpoint, setpoint),
        Exchange(modbus.read_request(fc.READ_INPUT_REGISTERS, 0, 3),
                 modbus.read_registers_response(fc.READ_INPUT_REGISTERS, [641, 351, 1191])),
    ]
    for tid, exchange in enumerate(exchanges, start=first_tid):
        records += add(modbus.exchange(conv, tid, exchange.request, exchange.response), f"tid {tid}: {label(exchange)}")
    return records + add(conv.fin(), "FIN")


# --- scenarios -----------------------------------------------------------------------


def all_functions() -> Scenario:
    scenario = Scenario("modbus_all_functions.pcap",
                        "Ethernet, port 502: handshake, one or more exchanges for every public function code "
                        "(requests and responses), exceptions, FC 43/13, FC 43/14 device identification "
                        "(vendor 'Watchfloor Test PLC Co', product code 'WF-PLC-1', revision 'v2.4.1'; basic, "
                        "regular with more-follows paging, extended, specific), vendor FC 90, FIN.")
    add = scenario.flow()
    conv = TcpConversation(CLIENT, SERVER)
    add(conv.handshake(), "TCP handshake")
    reference_session(add, conv)
    add(conv.fin(), "FIN/ACK, FIN/ACK, ACK")
    return scenario


def port_5020() -> Scenario:
    scenario = Scenario("modbus_port_5020.pcapng",
                        "pcapng, one Ethernet interface: the reference session of modbus_all_functions.pcap on "
                        "the non-standard server port 5020 (read with `tshark -o mbtcp.tcp.port:5020`).")
    add = scenario.flow()
    conv = TcpConversation(Endpoint("10.1.1.5", 41000, "02:00:00:01:01:05"),
                           Endpoint("10.1.1.9", 5020, "02:00:00:01:01:09"))
    add(conv.handshake(), "TCP handshake to port 5020")
    reference_session(add, conv, first_tid=100)
    add(conv.fin(), "FIN")
    return scenario


def gap() -> Scenario:
    scenario = Scenario("modbus_gap.pcap",
                        "Ethernet, port 502: bytes of the client->server stream (and one whole response) are "
                        "missing from the capture (the peer's ACKs cover them); traffic then resumes normally.")
    add = scenario.flow()
    fc = FunctionCode
    conv = TcpConversation(CLIENT, SERVER)
    add(conv.handshake())
    holding = modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, [650, 350, 1200, 80])
    read = modbus.read_request(fc.READ_HOLDING_REGISTERS, 0, 4)
    for tid in (1, 2):
        add(modbus.exchange(conv, tid, read, holding), f"tid {tid}: normal FC 3 exchange")

    lost = mbap(3, 1, read)
    add(conv.skip_bytes(lost), None)
    add(conv.server_send(mbap(3, 1, holding)),
        f"tid 3: response whose whole request ({len(lost)} bytes) is lost in a gap just before it")
    add(modbus.exchange(conv, 4, read, holding), "tid 4: normal exchange")

    write = mbap(5, 1, modbus.write_multiple_registers_request(10, list(range(500, 510))))
    add(conv.client_send(write[:9]), "tid 5: FC 16 request head (MBAP + 2 PDU bytes)")
    add(conv.skip_bytes(write[9:21]))
    add(conv.client_send(write[21:]), "tid 5: FC 16 request tail after a 12-byte gap inside the PDU")
    conv.advance(1_000_000)
    add(conv.server_send(mbap(5, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 10, 10))),
        "tid 5: response to the split request")

    coils = mbap(6, 1, modbus.write_multiple_coils_request(0, [1, 0, 1, 1, 0, 1, 0, 1, 1]))
    add(conv.client_send(coils[:8]), "tid 6: FC 15 request, first 8 bytes; its tail is lost")
    add(conv.skip_bytes(coils[8:]))
    conv.advance(1_000_000)
    add(conv.server_send(mbap(6, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_COILS, 0, 9))),
        "tid 6: response to the request with the lost tail")

    single = mbap(7, 1, modbus.write_single_request(fc.WRITE_SINGLE_REGISTER, 3, 99))
    add(conv.skip_bytes(single[:5]))
    add(conv.client_send(single[5:]), "tid 7: FC 6 request whose first 5 bytes are lost (segment starts mid-MBAP)")
    conv.advance(1_000_000)
    add(conv.server_send(single), "tid 7: echo response")

    add(conv.client_send(mbap(8, 1, read)), "tid 8: request whose response is lost (server->client gap)")
    add(conv.skip_bytes(mbap(8, 1, holding), from_client=False))
    add(conv.ack(from_client=True), "client ACK covering the lost response")
    for tid in (9, 10, 11):
        add(modbus.exchange(conv, tid, read, holding), f"tid {tid}: normal exchange after the gaps")
    add(conv.fin())
    return scenario


def midstream() -> Scenario:
    scenario = Scenario("modbus_midstream.pcap",
                        "Ethernet, port 502, no handshake: the capture starts in an established session and its "
                        "first segment begins in the middle of a FC 16 request; the client sequence number wraps "
                        "past 2**32 during the capture; no FIN.")
    add = scenario.flow()
    fc = FunctionCode
    conv = TcpConversation(CLIENT, SERVER, client_isn=0xFFFFFF80, server_isn=0x7A000000)
    request = mbap(41, 1, modbus.write_multiple_registers_request(20, [1, 2, 3, 4, 5, 6]))
    add(conv.skip_bytes(request[:10]))
    add(conv.client_send(request[10:]), "tid 41: tail of a FC 16 request (first 10 bytes before the capture)")
    conv.advance(1_000_000)
    add(conv.server_send(mbap(41, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 20, 6))),
        "tid 41: response")
    read = modbus.read_request(fc.READ_INPUT_REGISTERS, 0, 8)
    for tid in range(42, 62):
        wraps = conv.next_seq() > (conv.next_seq() + 12) & 0xFFFFFFFF
        records = modbus.exchange(conv, tid, read, modbus.read_registers_response(fc.READ_INPUT_REGISTERS, [tid] * 8))
        add(records, f"tid {tid}: client sequence number wraps past 2**32 in this request" if wraps else None)
    add(conv.ack(), "client delayed ACK; capture ends without FIN")
    return scenario


def segmented() -> Scenario:
    scenario = Scenario("modbus_segmented.pcap",
                        "Ethernet, port 502: ADUs split across TCP segments (also inside the MBAP header), "
                        "several ADUs per segment in both directions, an exact retransmission, out-of-order "
                        "segments, an overlapping retransmission with different bounds, FIN.")
    add = scenario.flow()
    fc = FunctionCode
    conv = TcpConversation(CLIENT, SERVER)
    add(conv.handshake())

    write = mbap(1, 1, modbus.write_multiple_registers_request(0, list(range(100, 112))))
    add(conv.client_send(write, segment_sizes=[10, 12]), "tid 1: FC 16 request in 3 segments (10, 12, 15 bytes)")
    add(conv.server_send(mbap(1, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 0, 12))),
        "tid 1: response")

    requests = [mbap(tid, 1, modbus.read_request(fc.READ_HOLDING_REGISTERS, 10 * tid, 2)) for tid in (2, 3, 4)]
    responses = [mbap(tid, 1, modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, [tid, tid]))
                 for tid in (2, 3, 4)]
    add(conv.client_send(b"".join(requests)), "tids 2, 3, 4: three FC 3 requests in one segment")
    add(conv.server_send(b"".join(responses), segment_sizes=[len(responses[0]) + 5]),
        "tids 2-4: responses in two segments: tid 2 + head of tid 3, then tail of tid 3 + tid 4")

    request = mbap(5, 1, modbus.read_request(fc.READ_COILS, 0, 16))
    add(conv.client_send(request), "tid 5: FC 1 request")
    add(conv.retransmit_last(), "tid 5: exact retransmission of the request")
    add(conv.server_send(mbap(5, 1, modbus.read_bits_response(fc.READ_COILS, [1, 0] * 8))), "tid 5: response")

    write = mbap(6, 1, modbus.write_multiple_registers_request(40, [7] * 8))
    add(conv.client_send(write, segment_sizes=[10, 10], order=[0, 2, 1]),
        "tid 6: FC 16 request in 3 segments sent in order 1, 3, 2 (out of order); tshark decodes it "
        "(in the last of these frames) only with `-o tcp.reassemble_out_of_order:TRUE`")
    add(conv.server_send(mbap(6, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 40, 8))),
        "tid 6: response")

    start = conv.stream_offset()
    readwrite = mbap(7, 1, modbus.read_write_registers_request(0, 4, 14, [1, 2, 3, 4]))
    add(conv.client_send(readwrite, segment_sizes=[12]), "tid 7: FC 23 request in 2 segments (12, 13 bytes)")
    add(conv.retransmit(True, start + 4, start + 20),
        "tid 7: overlapping retransmission of request bytes 4..20 (spans both original segments; with default "
        "preferences tshark adds the expert error 'New fragment overlaps old data (retransmission?)')")
    add(conv.server_send(mbap(7, 1, modbus.read_registers_response(fc.READ_WRITE_MULTIPLE_REGISTERS, [9, 8, 7, 6]))),
        "tid 7: response")

    request = mbap(8, 1, modbus.read_request(fc.READ_INPUT_REGISTERS, 0, 40))
    add(conv.client_send(request), "tid 8: FC 4 request for 40 registers")
    response = mbap(8, 1, modbus.read_registers_response(fc.READ_INPUT_REGISTERS, list(range(1000, 1040))))
    add(conv.server_send(response, segment_sizes=[20, 30], order=[0, 1, 1, 2]),
        "tid 8: 89-byte response in 3 segments, the second one retransmitted")

    write = mbap(9, 1, modbus.write_multiple_registers_request(60, [9] * 4))
    add(conv.client_send(write, segment_sizes=[3, 3]),
        f"tid 9: FC 16 request in 3 segments (3, 3, {len(write) - 6} bytes) that split the MBAP header; "
        "Wireshark 4.0 does not decode this ADU (its Modbus/TCP dissector gives up on a segment start shorter "
        "than 8 bytes), a stream reassembler does")
    add(conv.server_send(mbap(9, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 60, 4))),
        "tid 9: response")
    add(conv.fin())
    return scenario


def vlan_qinq() -> Scenario:
    scenario = Scenario("modbus_vlan_qinq.pcap",
                        "Ethernet with VLAN tags: one session on 802.1Q VLAN 100, one on QinQ (802.1ad S-tag "
                        "200 outer, 802.1Q C-tag 10 inner), interleaved.")
    first = TcpConversation(CLIENT, SERVER, vlans=(100,), step_ns=300_000)
    second = TcpConversation(Endpoint("192.168.20.10", 50200, "02:00:00:14:00:0a"),
                             Endpoint("192.168.20.20", 502, "02:00:00:14:00:14"), vlans=(200, 10),
                             start_ns=modbus.DEFAULT_START_NS + 150_000, step_ns=300_000)
    scenario.note(short_session(scenario.flow(), first), "session on VLAN 100 (802.1Q), tids 1-4")
    scenario.note(short_session(scenario.flow(), second, first_tid=50),
                  "session on S-VLAN 200 / C-VLAN 10 (QinQ), tids 50-53")
    return scenario


def cooked(version: int) -> Scenario:
    name, link = ("modbus_sll.pcap", "sll") if version == 1 else ("modbus_sll2.pcap", "sll2")
    linktype = 113 if version == 1 else 276
    scenario = Scenario(name, f"Linux cooked capture v{version} (LINKTYPE {linktype}) taken on the server host: "
                              "client packets have packet type 0 (to us), server packets 4 (outgoing)"
                              + ("; interface index 2." if version == 2 else "."))
    add = scenario.flow()
    short_session(add, TcpConversation(CLIENT, SERVER, link=link))
    return scenario


def raw_ipv6() -> Scenario:
    scenario = Scenario("modbus_raw_ipv6.pcap",
                        "LINKTYPE_RAW (101), IPv6 only: a session between fd00:10::10 and fd00:10::20 port 502 "
                        "with extension headers (hop-by-hop with router alert, segment routing header with "
                        "segments left 0, destination options, an atomic fragment) and a request and a "
                        "response sent as IPv6 fragments (one set in reverse order).")
    add = scenario.flow()
    fc = FunctionCode
    client = Endpoint("fd00:10::10", 50300, "02:00:00:00:00:10")
    server = Endpoint("fd00:10::20", 502, "02:00:00:00:00:20")
    conv = TcpConversation(client, server, link="raw")
    add(conv.handshake(), "handshake, no extension headers")
    read = modbus.read_request(fc.READ_HOLDING_REGISTERS, 0, 4)
    holding = modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, [1, 2, 3, 4])
    router_alert = bytes((5, 2, 0, 0))  # RFC 2711
    experiment = bytes((0x1E, 2, 0xAB, 0xCD))  # RFC 4727 experimental type, "skip if unknown"
    conv.ext_headers = [frames.hop_by_hop(router_alert), frames.routing_header([server.ip]),
                        frames.destination_options(experiment)]
    add(conv.client_send(mbap(1, 1, read)), "tid 1: request with hop-by-hop, routing (SRH) and destination options")
    conv.ext_headers = [frames.destination_options(experiment)]
    add(conv.server_send(mbap(1, 1, holding)), "tid 1: response with destination options")
    conv.ext_headers = [frames.fragment_header(ident=0x1234)]
    add(modbus.exchange(conv, 2, read, holding), "tid 2: exchange in atomic fragments (RFC 6946)")
    conv.ext_headers = [frames.hop_by_hop(router_alert)]
    conv.fragment_size = 24
    write = modbus.write_multiple_registers_request(0, list(range(12)))
    add(conv.client_send(mbap(3, 1, write)),
        "tid 3: FC 16 request in 3 IPv6 fragments (hop-by-hop before the fragment header)")
    conv.fragments_reversed = True
    add(conv.server_send(mbap(3, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 0, 12))),
        "tid 3: response in 2 IPv6 fragments, last fragment first")
    conv.ext_headers, conv.fragment_size, conv.fragments_reversed = (), None, False
    add(modbus.exchange(conv, 4, read, holding), "tid 4: plain exchange")
    add(conv.fin())
    return scenario


def ipv4_fragments() -> Scenario:
    scenario = Scenario("modbus_ipv4_fragments.pcap",
                        "Ethernet, port 502: TCP segments carried in IPv4 fragments, in order and out of order.")
    add = scenario.flow()
    fc = FunctionCode
    conv = TcpConversation(CLIENT, SERVER)
    add(conv.handshake())
    read = modbus.read_request(fc.READ_HOLDING_REGISTERS, 0, 4)
    holding = modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, [1, 2, 3, 4])
    add(modbus.exchange(conv, 1, read, holding), "tid 1: unfragmented exchange")
    conv.fragment_size = 24
    write = modbus.write_multiple_registers_request(0, list(range(16)))
    add(conv.client_send(mbap(2, 1, write)), "tid 2: FC 16 request in 3 fragments, in order")
    add(conv.server_send(mbap(2, 1, modbus.write_multiple_response(fc.WRITE_MULTIPLE_REGISTERS, 0, 16))),
        "tid 2: response in 2 fragments, in order")
    conv.fragments_reversed = True
    add(conv.client_send(mbap(3, 1, modbus.read_request(fc.READ_INPUT_REGISTERS, 0, 20))),
        "tid 3: request in 2 fragments, last fragment first")
    conv.fragment_size = 32
    add(conv.server_send(mbap(3, 1, modbus.read_registers_response(fc.READ_INPUT_REGISTERS, list(range(20))))),
        "tid 3: response in 3 fragments, reverse order")
    conv.fragment_size, conv.fragments_reversed = None, False
    add(modbus.exchange(conv, 4, read, holding), "tid 4: unfragmented exchange")
    add(conv.fin())
    return scenario


def be_ns() -> Scenario:
    scenario = Scenario("modbus_be_ns.pcap",
                        "Big-endian pcap with nanosecond timestamps (magic a1b23c4d written big-endian); "
                        "timestamps are not multiples of a microsecond.")
    add = scenario.flow()
    short_session(add, TcpConversation(CLIENT, SERVER, start_ns=1_700_000_000_123_456_789, step_ns=1_000_001))
    return scenario


def multi_if() -> Scenario:
    scenario = Scenario("modbus_multi_if_be.pcapng",
                        "Big-endian pcapng, two interfaces: 0 = Ethernet (no if_tsresol: microseconds), "
                        "1 = LINKTYPE_RAW IPv4 with if_tsresol 9 (nanoseconds); two sessions whose EPBs "
                        "are interleaved.")
    first = TcpConversation(CLIENT, SERVER, step_ns=200_000)
    second = TcpConversation(Endpoint("172.16.0.10", 50400), Endpoint("172.16.0.20", 502), link="raw",
                             start_ns=modbus.DEFAULT_START_NS + 100_001, step_ns=200_003)
    scenario.note(short_session(scenario.flow(0), first), "interface 0 (Ethernet) session, tids 1-4")
    scenario.note(short_session(scenario.flow(1), second, first_tid=200),
                  "interface 1 (raw IPv4, ns timestamps) session, tids 200-203")
    return scenario


def spb() -> Scenario:
    scenario = Scenario("modbus_spb.pcapng",
                        "pcapng with one Ethernet interface and Simple Packet Blocks (no timestamps).")
    short_session(scenario.flow(), TcpConversation(CLIENT, SERVER))
    return scenario


def gzip_pcap() -> Scenario:
    scenario = Scenario("modbus_gzip.pcap.gz", "gzip-compressed Ethernet pcap of a short session.")
    short_session(scenario.flow(), TcpConversation(CLIENT, SERVER))
    return scenario


def not_modbus() -> Scenario:
    scenario = Scenario("modbus_not_modbus_502.pcap",
                        "Ethernet: an HTTP-like text exchange on TCP port 502 (not Modbus) next to one real "
                        "Modbus/TCP session to the same server.")
    text = TcpConversation(Endpoint("192.168.10.30", 51000, "02:00:00:0a:00:1e"), SERVER, step_ns=300_000)
    add = scenario.flow()
    add(text.handshake(), "non-Modbus session: handshake")
    add(text.client_send(b"GET /status HTTP/1.1\r\nHost: 192.168.10.20:502\r\nUser-Agent: probe/1.0\r\n\r\n"),
        "non-Modbus: HTTP request text to port 502")
    add(text.server_send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        "non-Modbus: HTTP response text from port 502")
    add(text.fin(from_client=False))
    real = TcpConversation(CLIENT, SERVER, start_ns=modbus.DEFAULT_START_NS + 150_000, step_ns=300_000)
    scenario.note(short_session(scenario.flow(), real), "Modbus/TCP session, tids 1-4")
    return scenario


def snaplen() -> Scenario:
    scenario = Scenario("modbus_snaplen96.pcap",
                        "Ethernet, port 502, captured with a snap length of 96 bytes: long read responses "
                        "are cut short (their MBAP header and function code survive), short ones are whole.",
                        snaplen=96)
    add = scenario.flow()
    conv = TcpConversation(CLIENT, SERVER)
    add(conv.handshake(), "TCP handshake")
    fc = FunctionCode
    for tid in range(1, 4):
        add(modbus.exchange(conv, tid, modbus.read_request(fc.READ_HOLDING_REGISTERS, 0, 100),
                            modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, list(range(100)))),
            f"tid {tid}: FC 3 of 100 registers; the 263-byte response frame keeps 96 bytes")
    add(modbus.exchange(conv, 4, modbus.read_request(fc.READ_HOLDING_REGISTERS, 0, 2),
                        modbus.read_registers_response(fc.READ_HOLDING_REGISTERS, [7, 8])),
        "tid 4: short exchange, captured whole")
    add(conv.fin())
    return scenario


def udp() -> Scenario:
    scenario = Scenario("modbus_udp.pcap",
                        "Ethernet, Modbus/UDP on port 502: request/response datagrams with no handshake "
                        "(roles from message layout), two ADUs in one datagram, and a datagram that ends "
                        "inside the ADU it announces.")
    add = scenario.flow()
    fc = FunctionCode
    client, server = ("192.168.10.10", 40001), ("192.168.10.20", 502)

    def datagram(ts: int, src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> list[Record]:
        udp_packet = frames.udp(src[0], dst[0], src[1], dst[1], payload)
        return [(ts, frames.ethernet(frames.ipv4(src[0], dst[0], 17, udp_packet)))]

    t = modbus.DEFAULT_START_NS
    for tid in range(1, 4):
        add(datagram(t, client, server, mbap(tid, 1, modbus.read_request(fc.READ_INPUT_REGISTERS, 0, 3))),
            f"tid {tid}: FC 4 request")
        add(datagram(t + 1_000_000, server, client,
                     mbap(tid, 1, modbus.read_registers_response(fc.READ_INPUT_REGISTERS, [tid, 2, 3]))),
            f"tid {tid}: response")
        t += 100_000_000
    both = mbap(4, 1, modbus.read_request(fc.READ_COILS, 0, 8)) + mbap(5, 1, modbus.read_request(fc.READ_COILS, 8, 8))
    add(datagram(t, client, server, both), "tids 4 and 5: two requests in one datagram")
    add(datagram(t + 1_000_000, server, client, mbap(4, 1, modbus.read_bits_response(fc.READ_COILS, [1] * 8))),
        "tid 4: response")
    add(datagram(t + 2_000_000, server, client, mbap(5, 1, modbus.read_bits_response(fc.READ_COILS, [0] * 8))[:-1]),
        "tid 5: response datagram one byte short of its MBAP length")
    return scenario


# --- writing -------------------------------------------------------------------------


def write(scenario: Scenario, directory: Path) -> None:
    path = directory / scenario.name
    items = scenario.merged()
    records = [record for record, _ in items]
    if scenario.name == "modbus_port_5020.pcapng":
        pcapfile.write_pcapng(path, [(pcapfile.LINKTYPE_ETHERNET, 65535)], ((0, ts, data) for ts, data in records),
                              comment="Modbus/TCP on non-standard port 5020")
    elif scenario.name == "modbus_multi_if_be.pcapng":
        pcapfile.write_pcapng(path, [(pcapfile.LINKTYPE_ETHERNET, 65535), (pcapfile.LINKTYPE_RAW, 65535, 9)],
                              ((interface, ts, data) for (ts, data), interface in items), big_endian=True)
    elif scenario.name == "modbus_spb.pcapng":
        pcapfile.write_pcapng(path, [(pcapfile.LINKTYPE_ETHERNET, 65535)], ((0, ts, data) for ts, data in records),
                              simple=True)
    else:
        linktype = {"modbus_sll.pcap": pcapfile.LINKTYPE_LINUX_SLL, "modbus_sll2.pcap": pcapfile.LINKTYPE_LINUX_SLL2,
                    "modbus_raw_ipv6.pcap": pcapfile.LINKTYPE_RAW}.get(scenario.name, pcapfile.LINKTYPE_ETHERNET)
        be_ns = scenario.name == "modbus_be_ns.pcap"
        pcapfile.write_pcap(path, records, linktype=linktype, nanosecond=be_ns, big_endian=be_ns,
                            compress=scenario.name.endswith(".gz"), snaplen=scenario.snaplen)


SCENARIOS: Sequence[Callable[[], Scenario]] = (
    all_functions, port_5020, gap, midstream, segmented, vlan_qinq, lambda: cooked(1), lambda: cooked(2),
    raw_ipv6, ipv4_fragments, be_ns, multi_if, spb, gzip_pcap, not_modbus, snaplen, udp,
)


def main(directory: Path = HERE) -> None:
    """Write every capture and SOURCE.md into `directory`."""
    sections = []
    for make in SCENARIOS:
        scenario = make()
        write(scenario, directory)
        data = (directory / scenario.name).read_bytes()
        assert len(data) < 50_000, f"{scenario.name} is {len(data)} bytes"
        notes = "\n".join(f"- {line}" for line in scenario.frame_notes())
        sections.append(f"### `{scenario.name}`\n\n{scenario.summary}\n\n"
                        f"{len(scenario.merged())} packets, {len(data)} bytes, "
                        f"SHA-256 `{hashlib.sha256(data).hexdigest()}`\n\n{notes}\n")
    (directory / "SOURCE.md").write_text(
        "# Test captures\n\n"
        "Every capture in this directory was generated by `make_captures.py` (run "
        "`.venv/bin/python tests/captures/make_captures.py` from the repository root) with the "
        "synthetic traffic builders of `watchfloor.testing`; no real network traffic is included. "
        "The output is deterministic: re-running the script reproduces the files byte for byte, "
        "so the hashes below change only when the script or the kit changes. Frame numbers are "
        "1-based, as Wireshark shows them.\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
