"""Generate the EtherNet/IP project captures (deterministic): ``python tests/captures/enip/make.py``.

Writes ``tests/captures/enip/*.pcap`` and ``SOURCE.md`` next to this file. Built with the public
test kit (``watchfloor.testing.enip``); every capture is also checked against tshark by
``tests/conformance/test_enip_conformance.py``.
"""
from __future__ import annotations

import struct
from pathlib import Path

from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import enip as E
from watchfloor.testing.modbus import Endpoint

HERE = Path(__file__).resolve().parent
CLIENT = Endpoint("192.168.50.10", 50123, "02:00:00:32:00:0a")
PLC = Endpoint("192.168.50.20", 44818, "02:00:00:32:00:14")
SESSION = 0x11223344
IDENTITY = E.identity_attributes(1, 0x0E, 54, (20, 11), 0x006C061A, "1756-L61/B LOGIX5561")


def _ctx(n: int) -> bytes:
    return struct.pack("<Q", n)


def session_capture() -> list:
    """The standard port: discovery, session, explicit messaging of every decoded kind,
    several messages in one segment and one message split across segments (header too)."""
    conv = TcpConversation(CLIENT, PLC)
    r = conv.handshake()
    r += E.exchange(conv, E.encap(E.LIST_IDENTITY), E.list_identity_reply(PLC.ip, IDENTITY))
    r += E.exchange(conv, E.encap(E.LIST_SERVICES),
                    E.encap(E.LIST_SERVICES, E.cpf([(0x0100, struct.pack("<HH", 1, 0x0120)
                                                     + b"Communications\0\0")])))  # fmt: skip
    r += E.exchange(conv, E.register_session(), E.register_session(SESSION))
    n = 0

    def rr(request: bytes, reply: bytes | None, **kw) -> list:
        nonlocal n
        n += 1
        return E.exchange(conv, E.send_rr_data(request, session=SESSION, context=_ctx(n)),
                          None if reply is None else
                          E.send_rr_data(reply, session=SESSION, context=_ctx(n)), **kw)  # fmt: skip

    r += rr(E.unconnected_send(E.cip_request(0x01, E.class_path(1, 1))),
            E.cip_response(0x01, 0, IDENTITY))
    r += rr(E.forward_open(0x80000001, 7), E.forward_open_reply(0x40000001, 0x80000001, 7))
    conn = 0x40000001
    seq = 0
    reads = [E.read_tag("Temp[0]"), E.read_tag("Program:Main.Count"), E.read_tag("Recipe[2,3]")]
    replies = [E.read_tag_reply(0xCA, [21.5]), E.read_tag_reply(0xC4, [-7]),
               E.read_tag_reply(0xC3, [300])]  # fmt: skip
    for _ in range(2):
        seq += 1
        r += E.exchange(conv, E.send_unit_data(conn, seq, E.multiple_service_packet(reads), session=SESSION),
                        E.send_unit_data(0x80000001, seq, E.multiple_service_reply(replies), session=SESSION))  # fmt: skip
    seq += 1  # a write, split across three segments (the header itself cut after 10 bytes)
    write = E.send_unit_data(conn, seq, E.write_tag("Setpoint", 0xC4, [1500]), session=SESSION)
    r += conv.client_send(write, segment_sizes=[10, 20])
    r += conv.server_send(E.send_unit_data(0x80000001, seq, E.cip_response(0x4D), session=SESSION))
    # two requests in one segment, their replies in one segment
    seq += 1
    a = E.send_unit_data(conn, seq, E.read_tag("Temp[1]"), session=SESSION)
    b = E.send_unit_data(conn, seq + 1, E.read_tag("Temp[2]"), session=SESSION)
    r += conv.client_send(a + b)
    r += conv.server_send(E.send_unit_data(0x80000001, seq, E.read_tag_reply(0xCA, [1.0]), session=SESSION)
                          + E.send_unit_data(0x80000001, seq + 1, E.read_tag_reply(0xCA, [2.0]), session=SESSION))  # fmt: skip
    # configuration, control, program transfer, an error with extended status
    r += rr(E.cip_request(0x10, E.class_path(0xF5, 1, 5), b"\x01\x02\x03\x04"), E.cip_response(0x10))
    r += rr(E.cip_request(0x05, E.class_path(1, 1), b"\x00"), E.cip_response(0x05))
    r += rr(E.cip_request(0x4C, E.class_path(0x37, 0xC8), struct.pack("<IB", 4096, 1)),
            E.cip_response(0x4C, 0, struct.pack("<IBB", 4096, 1, 0)))  # fmt: skip
    r += rr(E.cip_request(0x0E, E.class_path(0x99, 1, 1)), E.cip_response(0x0E, 0x05))
    r += rr(E.cip_request(0x10, E.class_path(1, 1, 7), b"x"), E.cip_response(0x10, 0x0E, b"", [0x0107]))
    r += rr(E.forward_close(7), E.cip_response(0x4E, 0, struct.pack("<HHIBB", 7, 0x1234, 0x5678, 0, 0)))
    r += conv.client_send(E.encap(E.UNREGISTER_SESSION, session=SESSION))
    return r + conv.fin()


def port_midstream_capture() -> list:
    """A non-standard port (44900) joined mid-stream: no handshake; roles from the CIP bit."""
    conv = TcpConversation(Endpoint("10.20.0.5", 40100, "02:00:00:14:00:05"),
                           Endpoint("10.20.0.9", 44900, "02:00:00:14:00:09"))  # fmt: skip
    r = []
    for n in range(4):
        r += E.exchange(conv, E.send_rr_data(E.cip_request(0x0E, E.class_path(1, 1, 1 + n)),
                                             session=9, context=_ctx(n)),
                        E.send_rr_data(E.cip_response(0x0E, 0, struct.pack("<H", n)),
                                       session=9, context=_ctx(n)))  # fmt: skip
    return r


def gap_capture() -> list:
    """A request lost by the capture (sequence numbers jump): resynchronise on the next header."""
    conv = TcpConversation(CLIENT._replace(port=50200), PLC)
    r = conv.handshake() + E.exchange(conv, E.register_session(), E.register_session(SESSION))
    for n in range(6):
        req = E.send_rr_data(E.cip_request(0x0E, E.class_path(1, 1, 7)), session=SESSION, context=_ctx(n))
        rep = E.send_rr_data(E.cip_response(0x0E, 0, b"\x05ABCDE"), session=SESSION, context=_ctx(n))
        if n == 2:
            r += conv.skip_bytes(req)
            conv.advance(1_000_000)
            r += conv.server_send(rep)
        else:
            r += E.exchange(conv, req, rep)
    return r + conv.fin()


def udp_capture() -> list:
    """UDP: a ListIdentity broadcast and the device's reply; class 1 I/O in both directions
    with a lost packet and a late one."""
    t = 1_700_000_100_000_000_000
    scanner = Endpoint("192.168.50.10", 52000, "02:00:00:32:00:0a")
    bcast = Endpoint("255.255.255.255", 44818, "ff:ff:ff:ff:ff:ff")
    r = [E.udp_record(t, scanner, bcast, E.encap(E.LIST_IDENTITY, context=_ctx(0xBEEF)))]
    reply = E.list_identity_reply(PLC.ip, IDENTITY)
    r.append(E.udp_record(t + 2_000_000, PLC._replace(port=44818), scanner, reply))
    o = Endpoint("192.168.50.10", 2222, "02:00:00:32:00:0a")
    a = Endpoint("192.168.50.30", 2222, "02:00:00:32:00:1e")
    t += 10_000_000
    order = [*range(1, 6), 7, 6, *range(8, 13)]  # 6 arrives late; 13 is lost in the other direction
    for i, s in enumerate(order):
        r.append(E.udp_record(t + i * 10_000_000, o, a, E.io_datagram(0x00A1B2C3, 1000 + s, b"\x01\x00\x00\x00", cip_sequence=s)))
        if s != 9:
            r.append(E.udp_record(t + i * 10_000_000 + 500_000, a, o,
                                  E.io_datagram(0x00D4E5F6, 5000 + i, bytes(8), cip_sequence=i)))  # fmt: skip
    return sorted(r, key=lambda rec: rec[0])


CAPTURES = {
    "enip_session.pcap": (session_capture, "standard port 44818: ListIdentity, ListServices, "
                          "RegisterSession, Unconnected Send (identity), Forward Open, connected "
                          "Multiple Service Packets of Logix reads, a write split across three "
                          "segments (header cut), two messages per segment, Set Attribute, "
                          "identity Reset, file object download, error replies, Forward Close"),
    "enip_port_44900.pcap": (port_midstream_capture, "non-standard port 44900, mid-stream start"),
    "enip_gap.pcap": (gap_capture, "a lost request (TCP sequence gap), resynchronisation"),
    "enip_udp.pcap": (udp_capture, "UDP ListIdentity broadcast + reply; class 1 I/O on 2222 "
                      "with a late packet and a lost one"),
}


def main() -> None:
    lines = ["# EtherNet/IP project captures", "",
             "Generated by `make.py` in this folder with `watchfloor.testing.enip` (deterministic; "
             "no third-party bytes).", "", "| file | content |", "|---|---|"]  # fmt: skip
    for name, (build, what) in CAPTURES.items():
        write_pcap(HERE / name, build())
        lines.append(f"| `{name}` | {what} |")
    (HERE / "SOURCE.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
