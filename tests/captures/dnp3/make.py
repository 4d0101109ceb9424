"""Write the small deterministic DNP3 captures in tests/captures/dnp3/ and their SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/dnp3/make.py
Every capture is built with the public test kit (watchfloor.testing), nothing else.
"""

from __future__ import annotations

import struct
from pathlib import Path

from watchfloor.testing import TcpConversation, dnp3 as k, udp, write_pcap
from watchfloor.testing.frames import ethernet, ipv4

HERE = Path(__file__).resolve().parent
T0 = 1_700_000_000_123  # ms: 2023-11-14T22:13:20.123Z

CAPTURES: dict[str, str] = {}


def _save(name: str, records: list, what: str) -> None:
    write_pcap(HERE / name, records)
    CAPTURES[name] = what


def session() -> None:
    """A master polling and commanding an outstation on TCP 20000: every common function."""
    link = k.Dnp3Link()
    conv = link.conv
    r = conv.handshake()
    r += conv.client_send(k.link_frame(10, 1, control=k.REQUEST_LINK_STATUS))
    r += conv.server_send(k.link_frame(1, 10, control=k.LINK_STATUS))
    r += conv.client_send(k.link_frame(10, 1, control=k.RESET_LINK))
    r += conv.server_send(k.link_frame(1, 10, control=k.LINK_ACK))
    r += link.exchange(21, k.class_poll(1, 2, 3), iin=0x8000)  # disable unsolicited
    r += link.exchange(2, k.ranged(80, 1, 7, 7, b"\x00"))  # clear the restart IIN
    r += link.exchange(0x17)  # delay measure
    r += link.request(2, k.counted(50, 1, 1, k.time48(T0)))
    r += link.response()
    r += link.exchange(0x18)  # record current time (LAN)
    static = (k.ranged(1, 2, 0, 3, bytes([0x81, 0x01, 0x81, 0x01]))
              + k.ranged(10, 2, 0, 1, bytes([0x81, 0x01]))
              + k.ranged(20, 1, 0, 1, k.counter32(12345) + k.counter32(7))
              + k.ranged(30, 1, 0, 79, b"".join(k.analog_input32(i * 10) for i in range(80)))
              + k.ranged(30, 5, 100, 101, k.float_input(50.25) + k.float_input(-1.5))
              + k.ranged(40, 2, 0, 0, struct.pack("<Bh", 1, 300))
              + k.ranged(110, 4, 0, 0, b"ok!!"))  # fmt: skip
    r += link.exchange(1, k.class_poll(1, 2, 3, 0), static, iin=0x0200)  # 3 link frames
    r += link.exchange(3, k.indexed(12, 1, [(2, k.crob(0x41, on_ms=500))]),
                       k.indexed(12, 1, [(2, k.crob(0x41, on_ms=500))]))  # fmt: skip
    r += link.exchange(4, k.indexed(12, 1, [(2, k.crob(0x41, on_ms=500))]),
                       k.indexed(12, 1, [(2, k.crob(0x41, on_ms=500))]))  # fmt: skip
    r += link.exchange(5, k.indexed(41, 2, [(0, k.analog_output(-1200))], width=1),
                       k.indexed(41, 2, [(0, k.analog_output(-1200, status=7))], width=1))  # fmt: skip
    r += link.request(6, k.indexed(12, 1, [(5, k.crob(0x04))]))  # direct operate, no ack
    r += link.exchange(7, k.all_objects(20))  # immediate freeze
    r += link.exchange(22, k.class_poll(1) + k.all_objects(1))  # assign class
    r += link.exchange(1, k.all_objects(0, 254),
                       k.device_attributes([(252, k.attribute_string("Watchfloor Test Grid")),
                                            (250, k.attribute_string("RTU-42")),
                                            (242, k.attribute_string("3.1.4")),
                                            (248, k.attribute_string("WF-000123")),
                                            (240, k.attribute_uint(2048))]))  # fmt: skip
    name = b"/firmware/rtu.bin"
    open_req = struct.pack("<HHIHHIIHHH", 26, len(name), T0 & 0xFFFFFFFF, T0 >> 32, 0o644, 0,
                           65536, 1, 1024, 1) + name  # fmt: skip
    r += link.exchange(25, k.free_format(70, 3, [open_req]),
                       k.free_format(70, 4, [struct.pack("<IIHHB", 7, 65536, 1024, 1, 0)]))
    r += link.exchange(26, k.free_format(70, 4, [struct.pack("<IIHHB", 7, 0, 0, 2, 0)]))
    r += link.exchange(20, k.class_poll(1, 2, 3))  # enable unsolicited
    r += link.exchange(13, b"", k.counted(52, 2, 1, b"\x88\x13"))  # cold restart, 5000 ms
    r += conv.server_send(b"".join(k.segments(
        k.apdu(130, k.counted(51, 1, 1, k.time48(T0)) + k.indexed(2, 3, [(1, b"\x81\x10\x00")],
                                                                   width=2),
               con=True, uns=True, sequence=0), 1, 10, k.OUTSTATION_UNCONFIRMED)))  # fmt: skip
    r += conv.client_send(b"".join(k.segments(k.apdu(0, uns=True, sequence=0), 10, 1)))
    r += conv.fin()
    _save("dnp3_session.pcap", r, "TCP 20000: link status and reset, disable unsolicited, clear "
          "restart IIN, delay measure, write time, record current time, integrity poll answered "
          "in a 3-frame fragment (binary, counter, analog, float, analog output status, octet "
          "string), select/operate CROB, direct operate g41 (rejected: local), direct operate "
          "no ack, freeze, assign class, device attributes (asset observation), file open/close, "
          "enable unsolicited, cold restart, unsolicited response with CTO and its confirm")


def segmentation() -> None:
    """A non-standard port; several link frames per TCP segment and frames split across
    segments; a fragment whose transport sequence wraps from 63 to 0."""
    conv = TcpConversation(k.DEFAULT_MASTER, ("192.168.20.20", 4000, "02:00:00:14:00:14"))
    link = k.Dnp3Link(conv)
    link.tseq = [62, 62]
    r = conv.handshake()
    two = b"".join(k.segments(k.apdu(1, k.class_poll(0), sequence=0), 10, 1))
    two += b"".join(k.segments(k.apdu(1, k.class_poll(1), sequence=1), 10, 1, first_sequence=1))
    r += conv.client_send(two)  # two requests in one segment
    big = k.apdu(129, k.ranged(30, 1, 0, 99, b"".join(k.analog_input32(i) for i in range(100))),
                 sequence=0)  # fmt: skip
    frames = b"".join(k.segments(big, 1, 10, k.OUTSTATION_UNCONFIRMED, first_sequence=62))
    r += conv.server_send(frames, segment_sizes=[3, 9, 200, 250])  # header split at 3 octets
    r += conv.server_send(b"".join(k.segments(k.apdu(129, sequence=1), 1, 10,
                                              k.OUTSTATION_UNCONFIRMED, first_sequence=1)),
                          segment_sizes=[1, 1, 1])  # fmt: skip
    r += conv.fin()
    _save("dnp3_port_4000.pcap", r, "TCP 4000 (non-standard): two requests in one segment; a "
          "3-frame response cut into segments of 3, 9, 200, 250, ... octets, its transport "
          "sequence wrapping 62, 63, 0; a response delivered one octet per segment")


def gap_and_midstream() -> None:
    link = k.Dnp3Link()
    conv = link.conv
    r = conv.handshake()
    r += link.exchange(1, k.class_poll(0), k.ranged(1, 2, 0, 0, b"\x81"))
    r += conv.skip_bytes(b"".join(k.segments(k.apdu(1, k.class_poll(1), sequence=1), 10, 1))[:9])
    r += conv.client_send(b"".join(k.segments(k.apdu(1, k.class_poll(1), sequence=1), 10, 1))[9:])
    link.seq = 2
    r += link.exchange(1, k.class_poll(2), k.ranged(1, 2, 0, 0, b"\x01"))
    _save("dnp3_gap.pcap", r, "TCP 20000: a poll, then 9 octets of the next request lost by the "
          "capture (gap: the rest of that frame is skipped), then a poll that decodes again")
    conv = TcpConversation(k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION)  # no handshake
    link = k.Dnp3Link(conv)
    tail = b"".join(k.segments(k.apdu(129, k.ranged(30, 2, 0, 0, b"\x01\x05\x00")), 1, 10,
                               k.OUTSTATION_UNCONFIRMED))  # fmt: skip
    r = conv.server_send(tail[11:])  # the capture starts inside a response
    link.seq = 1
    r += link.exchange(1, k.all_objects(30, 2), k.ranged(30, 2, 0, 0, b"\x01\x06\x00"))
    _save("dnp3_midstream.pcap", r, "TCP 20000 without handshake: the first segment starts "
          "inside a link frame (skipped), then a read and its response")


def udp_capture() -> None:
    m, o = k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION

    def pkt(src, dst, payload):
        return ethernet(ipv4(src.ip, dst.ip, 17, udp(src.ip, dst.ip, 20000, 20000, payload)),
                        src=src.mac, dst=dst.mac)  # fmt: skip

    req = b"".join(k.segments(k.apdu(1, k.class_poll(1, 2, 3, 0), sequence=4), 10, 1))
    resp = b"".join(k.segments(k.apdu(129, k.ranged(20, 1, 0, 0, k.counter32(99)), sequence=4),
                               1, 10, k.OUTSTATION_UNCONFIRMED))  # fmt: skip
    t = 1_700_000_000 * 10**9
    _save("dnp3_udp.pcap", [(t, pkt(m, o, req)), (t + 2 * 10**6, pkt(o, m, resp))],
          "UDP 20000: a class poll and its response")


def edges() -> None:
    link = k.Dnp3Link()
    conv = link.conv
    r = conv.handshake()
    r += conv.client_send(k.link_frame(10, 1, b"\xc0\xc0\x01\x3c\x02\x06", bad_crc=True))
    r += link.exchange(0x50)  # unknown function code
    r += link.request(1, bytes([30, 1, 0x00, 5]))  # object header cut short
    r += link.response(iin=0x0002)  # object unknown
    r += conv.client_send(k.link_frame(10, 1, b"\xc0\xc5\x02\x3c\x02\x06", control=0xC5))
    frames = k.segments(k.apdu(129, k.ranged(30, 1, 0, 59, bytes(300))), 1, 10,
                        k.OUTSTATION_UNCONFIRMED, first_sequence=9)  # fmt: skip
    r += conv.server_send(frames[1])  # a middle segment without its first
    r += conv.client_send(b"".join(k.segments(k.apdu(1, k.class_poll(0), sequence=6),
                                              0xFFFF, 1)))  # broadcast  # fmt: skip
    _save("dnp3_edges.pcap", r, "TCP 20000: a frame whose data CRC is wrong (bad_crc), an "
          "unknown function code 0x50, a read whose object header is cut short, an IIN "
          "object-unknown response, user data in a reserved link function (5), a transport "
          "segment without its first, a broadcast request to 0xFFFF")


def main() -> None:
    session()
    segmentation()
    gap_and_midstream()
    udp_capture()
    edges()
    lines = ["# DNP3 project captures", "",
             "Written by `tests/captures/dnp3/make.py` (run `.venv/bin/python "
             "tests/captures/dnp3/make.py` from the repository root) with the public test kit "
             "`watchfloor.testing.dnp3`; deterministic, no third-party bytes. Compared with tshark "
             "by `tests/conformance/test_dnp3_conformance.py::test_project_captures`.", "",
             "| capture | content |", "|---|---|"]  # fmt: skip
    lines += [f"| `{n}` | {w} |" for n, w in CAPTURES.items()]
    (HERE / "SOURCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
