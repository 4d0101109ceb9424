"""Write the project's IEC 104 captures (deterministic) and their SOURCE.md.

    .venv/bin/python tests/captures/iec104/make.py

Every capture is built with `watchfloor.testing.iec104` over `TcpConversation`; nothing is copied
from a third-party capture. What each one holds is listed in SOURCE.md (written from CAPTURES).
"""

from __future__ import annotations

from pathlib import Path

from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import iec104 as iec
from watchfloor.testing.iec104 import (
    ACT, ACTCON, ACTTERM, DEACT, DEACTCON, INIT, INROGEN, PER, REQ, REQCOGEN, SPONT, UNKNOWN_IOA,
    UNKNOWN_TYPE, Link, Time, asdu, byte, io, sequence,
)  # fmt: skip
from watchfloor.testing.modbus import Endpoint

HERE = Path(__file__).parent
CA = 7
T0 = Time(2024, 3, 1, 12, 30, 15250)  # 2024-03-01T12:30:15.250
T_SUMMER = Time(2024, 7, 14, 9, 5, 1000, summer=True, weekday=7)
T_INVALID = Time(2024, 3, 1, 12, 30, 0, invalid=True)
START_NS = 1_709_296_215_000_000_000  # 2024-03-01T12:30:15Z
MS = 1_000_000


def _monitoring(link: Link) -> list:
    """Every monitoring type, SQ=0 and SQ=1, with and without time tags and quality flags."""
    r, sp = [], lambda *o: link.i(False, asdu(*o[:4], **(o[4] if len(o) > 4 else {})))
    r += sp(1, SPONT, CA, [io(100, iec.siq(1)), io(101, iec.siq(0, iec.IV | iec.NT))])
    r += sp(1, PER, CA, sequence(110, [iec.siq(1), iec.siq(0), iec.siq(1, iec.BL)]), {"sq": True, "count": 3})
    r += sp(3, SPONT, CA, [io(200, iec.diq(2)), io(201, iec.diq(0)), io(202, iec.diq(3, iec.SB))])
    r += sp(5, SPONT, CA, [io(300, iec.vti(-5, transient=True), iec.qds()), io(301, iec.vti(63), iec.qds(iec.OV))])
    r += sp(7, SPONT, CA, [io(400, iec.bsi(0x80000001), iec.qds())])
    r += sp(9, PER, CA, sequence(500, [iec.nva(0.5) + iec.qds(), iec.nva(-1.0) + iec.qds(iec.IV)]), {"sq": True, "count": 2})
    r += sp(11, SPONT, CA, [io(600, iec.sva(-1234), iec.qds()), io(601, iec.sva(32767), iec.qds(iec.NT))])
    r += sp(13, SPONT, CA, [io(700, iec.r32(230.7), iec.qds()), io(701, iec.r32(-0.001), iec.qds(iec.SB))])
    r += sp(15, SPONT, CA, [io(800, iec.bcr(123456, seq=3, carry=True))])
    r += sp(20, SPONT, CA, [io(900, iec.scd(0x00FF, 0x0001), iec.qds())])
    r += sp(21, PER, CA, [io(950, iec.nva(0.25)), io(951, iec.nva(-0.25))])
    t = iec.cp56(T0)
    r += sp(30, SPONT, CA, [io(100, iec.siq(1), t)])
    r += sp(31, SPONT, CA, [io(200, iec.diq(1), iec.cp56(T_SUMMER))])
    r += sp(32, SPONT, CA, [io(300, iec.vti(12), iec.qds(), t)])
    r += sp(33, SPONT, CA, [io(400, iec.bsi(5), iec.qds(), t)])
    r += sp(34, SPONT, CA, [io(500, iec.nva(0.125), iec.qds(), t)])
    r += sp(35, SPONT, CA, [io(600, iec.sva(42), iec.qds(), t)])
    r += sp(36, SPONT, CA, [io(700, iec.r32(49.95), iec.qds(), t), io(701, iec.r32(50.05), iec.qds(), iec.cp56(T_INVALID))])
    r += sp(37, SPONT, CA, [io(800, iec.bcr(-7, seq=31, invalid=True), t)])
    r += sp(38, SPONT, CA, [io(1000, bytes([0x02]), iec.cp16(150), t)])
    r += sp(39, SPONT, CA, [io(1001, bytes([0x03]), bytes([0x00]), iec.cp16(20), t)])
    r += sp(40, SPONT, CA, [io(1002, bytes([0x01]), bytes([0x08]), iec.cp16(35), t)])
    r += link.s(True)
    return r


def _exchange(link: Link, type_id: int, objects: list[bytes], *, cot: int = ACT, con: int = ACTCON,
              term: bool = True, negative: bool = False, ca: int = CA) -> list:  # fmt: skip
    """Activation from the controlling station, confirmation (and termination) from the RTU."""
    r = link.i(True, asdu(type_id, cot, ca, objects))
    link.conv.advance(3 * MS)
    r += link.i(False, asdu(type_id, con, ca, objects, negative=negative))
    if term and not negative:
        link.conv.advance(2 * MS)
        r += link.i(False, asdu(type_id, ACTTERM, ca, objects))
    return r


def _control(link: Link) -> list:
    """Commands and set-points with select/execute, a negative confirmation, system commands."""
    t = iec.cp56(T0)
    r = []
    for sel in (True, False):  # select, then execute
        r += _exchange(link, 45, [io(5000, iec.sco(1, select=sel, qu=1))], term=not sel)
    r += _exchange(link, 46, [io(5001, iec.dco(2, select=False, qu=2))])
    r += _exchange(link, 47, [io(5002, iec.rco(1))])
    r += _exchange(link, 48, [io(5003, iec.nva(-0.5), iec.qos(0, select=True))], term=False)
    r += _exchange(link, 48, [io(5003, iec.nva(-0.5), iec.qos(0))])
    r += _exchange(link, 49, [io(5004, iec.sva(1500), iec.qos(0))])
    r += _exchange(link, 50, [io(5005, iec.r32(12.5), iec.qos(0))])
    r += _exchange(link, 51, [io(5006, iec.bsi(0x0F0F0F0F))])
    r += _exchange(link, 45, [io(5099, iec.sco(1))], negative=True)  # refused
    r += _exchange(link, 58, [io(5000, iec.sco(0, select=True), t)], term=False)
    r += _exchange(link, 58, [io(5000, iec.sco(0), t)])
    r += _exchange(link, 59, [io(5001, iec.dco(1), t)])
    r += _exchange(link, 60, [io(5002, iec.rco(2), t)])
    r += _exchange(link, 61, [io(5003, iec.nva(0.75), iec.qos(0), t)])
    r += _exchange(link, 62, [io(5004, iec.sva(-20), iec.qos(0), t)])
    r += _exchange(link, 63, [io(5005, iec.r32(-3.25), iec.qos(0), t)])
    r += _exchange(link, 64, [io(5006, iec.bsi(1), t)])
    r += _exchange(link, 45, [io(5000, iec.sco(1))], cot=DEACT, con=DEACTCON, term=False)
    r += _exchange(link, 45, [io(123456, iec.sco(1))], con=UNKNOWN_IOA, term=False)  # refused
    # general interrogation: confirmation, the data, termination
    gi = [io(0, byte(20))]
    r += link.i(True, asdu(100, ACT, CA, gi))
    r += link.i(False, asdu(100, ACTCON, CA, gi))
    r += link.i(False, asdu(1, INROGEN, CA, sequence(100, [iec.siq(1), iec.siq(0)]), sq=True, count=2))
    r += link.i(False, asdu(13, INROGEN, CA, [io(700, iec.r32(230.5), iec.qds())]))
    r += link.i(False, asdu(100, ACTTERM, CA, gi))
    r += _exchange(link, 100, [io(0, byte(23))])  # group 3
    r += _exchange(link, 101, [io(0, iec.qcc(5, 1))], term=False)  # freeze counters
    r += link.i(False, asdu(15, REQCOGEN, CA, [io(800, iec.bcr(123460, seq=4))]))
    r += link.i(False, asdu(101, ACTTERM, CA, [io(0, iec.qcc(5, 1))]))
    r += link.i(True, asdu(102, REQ, CA, [io(700, b"")]))  # read: the data comes back
    r += link.i(False, asdu(13, REQ, CA, [io(700, iec.r32(230.6), iec.qds())]))
    r += _exchange(link, 103, [io(0, t)], term=False, ca=0xFFFF)  # broadcast clock sync
    r += _exchange(link, 105, [io(0, byte(1))], term=False)
    r += _exchange(link, 107, [io(0, iec.cp16(0x1234), t)], term=False)
    r += _exchange(link, 104, [io(0, iec.cp16(0x55AA))], term=False)  # 101 only: flagged on 104
    r += _exchange(link, 106, [io(0, iec.cp16(250))], term=False)  # 101 only: flagged on 104
    r += link.i(False, asdu(2, SPONT, CA, [io(100, iec.siq(1), b"\x10\x27\x05")]))  # CP24: 101 only
    r += _exchange(link, 110, [io(500, iec.nva(0.1), iec.qpm(1))], term=False)
    r += _exchange(link, 111, [io(600, iec.sva(10), iec.qpm(3))], term=False)
    r += _exchange(link, 112, [io(700, iec.r32(0.5), iec.qpm(1))], term=False)
    r += _exchange(link, 113, [io(700, byte(3))], term=False)
    r += link.i(False, asdu(70, INIT, CA, [io(0, byte(2))]))  # end of initialisation
    r += link.i(False, asdu(1, SPONT, CA, [io(100, iec.siq(0))], test=True))  # test bit
    r += link.i(True, asdu(77, ACT, CA, [io(1, b"\x00\x00")]))  # unknown type
    r += link.i(False, asdu(77, UNKNOWN_TYPE, CA, [io(1, b"\x00\x00")], negative=True))
    r += link.s(True) + link.u(True, "testfr_act") + link.u(False, "testfr_con")
    r += link.u(True, "stopdt_act") + link.u(False, "stopdt_con")
    return r


def all_types() -> list:
    link = Link(TcpConversation(iec.DEFAULT_CLIENT, iec.DEFAULT_SERVER, start_ns=START_NS))
    return link.start() + _monitoring(link) + _control(link) + link.conv.fin(True)


def segmented_port_12404() -> list:
    """Non-standard port; an APDU split in three (the first piece one octet); several APDUs per
    segment, one of them split across the next segment."""
    conv = TcpConversation(Endpoint("192.168.50.5", 41000), Endpoint("192.168.50.6", 12404), start_ns=START_NS)
    link = Link(conv)
    r = link.start()
    gi = asdu(100, ACT, CA, [io(0, byte(20))])
    r += link.i(True, gi, segment_sizes=[1, 5])
    burst = b"".join(link.frame(False, asdu(t, c, CA, [io(0, byte(20))])) for t, c in ((100, ACTCON),))
    burst += b"".join(link.frame(False, asdu(13, INROGEN, CA, [io(700 + k, iec.r32(k / 4), iec.qds())]))
                      for k in range(5))
    burst += link.frame(False, asdu(100, ACTTERM, CA, [io(0, byte(20))]))
    r += conv.send(False, burst, segment_sizes=[40, 33, 7])
    r += link.s(True)
    return r + conv.fin(False)


def gap() -> list:
    """The capture loses server bytes mid-stream (in the middle of an APDU), then resumes."""
    conv = TcpConversation(iec.DEFAULT_CLIENT, iec.DEFAULT_SERVER, start_ns=START_NS)
    link = Link(conv)
    r = link.start()
    for k in range(3):
        r += link.i(False, asdu(13, SPONT, CA, [io(700, iec.r32(230 + k), iec.qds())]))
    lost = link.frame(False, asdu(13, SPONT, CA, [io(700, iec.r32(1.5), iec.qds())]))
    nxt = link.frame(False, asdu(13, SPONT, CA, [io(701, iec.r32(2.5), iec.qds())]))
    r += conv.skip_bytes(lost + nxt[:9], from_client=False)
    r += conv.send(False, nxt[9:])  # the rest of a half-lost APDU: resynchronised past it
    for k in range(3):
        r += link.i(False, asdu(13, SPONT, CA, [io(700, iec.r32(240 + k), iec.qds())]))
    r += link.s(True)
    return r + conv.fin(True)


def midstream() -> list:
    """No handshake; the RTU listens on a high port and the client uses a lower one: only the
    messages can tell the controlling station."""
    conv = TcpConversation(Endpoint("172.16.0.10", 1500), Endpoint("172.16.0.20", 30000), start_ns=START_NS)
    link = Link(conv)
    link.sent = [812, 4090]
    r = link.i(False, asdu(36, SPONT, CA, [io(700, iec.r32(50.01), iec.qds(), iec.cp56(T0))]))
    r += link.s(True)
    r += _exchange(link, 45, [io(5000, iec.sco(1))])
    return r + link.u(True, "testfr_act") + link.u(False, "testfr_con")


def anomalies() -> list:
    """Sequence gaps and duplicates, an acknowledgement of unsent frames, data before STARTDT,
    octets before a start octet, a too-short APDU, a short ASDU, a body that does not match its
    VSQ, an invalid timestamp, an unknown cause, a bad U frame; an activation never confirmed."""
    conv = TcpConversation(iec.DEFAULT_CLIENT, iec.DEFAULT_SERVER, start_ns=START_NS)
    link = Link(conv)
    r = conv.handshake()
    r += link.i(False, asdu(1, SPONT, CA, [io(100, iec.siq(1))]))  # before STARTDT
    r += link.u(True, "startdt_act") + link.u(False, "startdt_con")
    r += link.i(False, asdu(1, SPONT, CA, [io(100, iec.siq(0))]), ns=5)  # 4 frames missing
    r += link.i(False, asdu(1, SPONT, CA, [io(100, iec.siq(1))]), ns=5)  # duplicate
    r += conv.send(True, iec.s_frame(40))  # acknowledges frames never sent
    r += conv.send(False, b"\x00\x11\x22" + iec.i_frame(link.sent[1], 0, asdu(3, SPONT, CA, [io(200, iec.diq(1))])))
    link.sent[1] += 1
    r += conv.send(False, bytes([0x68, 0x02, 0x01, 0x00]))  # APDU length 2
    r += conv.send(False, iec.i_frame(link.sent[1], 0, bytes([13, 1, 3])))  # ASDU of 3 octets
    link.sent[1] += 1
    r += link.i(False, asdu(13, SPONT, CA, [io(700, iec.r32(1.0))], count=1))  # QDS missing
    r += link.i(False, asdu(30, SPONT, CA, [io(100, iec.siq(1), bytes([0, 0, 61, 25, 32, 13, 24]))]))
    r += link.i(False, asdu(1, 33, CA, [io(100, iec.siq(1))]))  # cause 33 is group 13: fine
    r += link.i(False, asdu(1, 63, CA, [io(100, iec.siq(1))]))  # cause 63: unknown
    r += conv.send(True, iec.u_frame(0x0F))  # two U functions at once
    r += link.i(True, asdu(45, ACT, CA, [io(5000, iec.sco(1))]))  # never confirmed
    conv.advance(20 * 10**9)
    r += link.u(True, "testfr_act") + link.u(False, "testfr_con")
    return r + conv.rst(False)


CAPTURES = {
    "iec104_all_types.pcap": (all_types, "port 2404 with handshake: STARTDT, every monitoring type "
                              "(1, 3, 5, 7, 9, 11, 13, 15, 20, 21, 30-40) SQ=0 and SQ=1 with quality "
                              "flags, summer-time and invalid CP56Time2a; every command and set-point "
                              "(45-51, 58-64) with select then execute, deactivation, negative and "
                              "unknown-IOA confirmations; interrogation (station, group), counter "
                              "interrogation with freeze, read, broadcast clock sync, reset process, "
                              "test with and without time, delay acquisition, a CP24Time2a type, "
                              "parameters 110-113, end of initialisation, test bit, "
                              "an unknown type, S frames, TESTFR, STOPDT, FIN"),
    "iec104_segmented_port_12404.pcap": (segmented_port_12404, "non-standard port 12404: an APDU split "
                                         "over three segments (1 + 5 + rest octets), seven APDUs in "
                                         "three segments with APDUs straddling segment boundaries"),
    "iec104_gap.pcap": (gap, "server stream loses one APDU and the head of the next (capture gap), "
                        "then resumes mid-APDU"),
    "iec104_midstream.pcap": (midstream, "no handshake, sequence numbers mid-range, RTU on port 30000 "
                              "and the controlling station on port 1500"),
    "iec104_anomalies.pcap": (anomalies, "I frame before STARTDT, N(S) gap and duplicate, N(R) ahead of "
                              "the peer, junk before a start octet, APDU length 2, 3-octet ASDU, "
                              "element missing its QDS, CP56Time2a with minute 61, unknown cause 63, "
                              "U frame with two functions, a command never confirmed, RST"),
}


def main() -> None:
    lines = ["# IEC 104 project captures", "",
             "Made by `make.py` in this folder with the test kit (`watchfloor.testing.iec104`); "
             "deterministic, no third-party bytes. Regenerate with "
             "`.venv/bin/python tests/captures/iec104/make.py`.", "",
             "| file | packets | what it holds |", "|---|---|---|"]  # fmt: skip
    for name, (build, what) in CAPTURES.items():
        n = write_pcap(HERE / name, build())
        lines.append(f"| `{name}` | {n} | {what} |")
    (HERE / "SOURCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
