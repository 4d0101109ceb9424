"""Generate the PROFINET project captures (deterministic): ``python tests/captures/profinet/make.py``.

Writes ``tests/captures/profinet/*.pcap`` and ``SOURCE.md`` next to this file. Built with the
public test kit (``watchfloor.testing.profinet``); every capture is also checked against tshark
by ``tests/conformance/test_profinet_conformance.py``.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from watchfloor.testing import frames, write_pcap
from watchfloor.testing import profinet as pn

HERE = Path(__file__).resolve().parent
PC, PLC, IO1, IO2 = ("02:00:00:44:00:01", "02:00:00:44:00:02", "02:00:00:44:00:03",
                     "02:00:00:44:00:04")  # fmt: skip
T0 = 1_700_000_000 * 10**9
MS = 10**6


def _eth(src: str, dst: str, payload: bytes, vlans: tuple[int, ...] = ()) -> bytes:
    return frames.ethernet(payload, src=src, dst=dst, ethertype=pn.ETHERTYPE, vlans=vlans)


def _dcp_exchange() -> list[tuple[str, str, bytes]]:
    return [
        (PC, pn.DCP_MULTICAST, pn.dcp(5, 0, 0x100, [pn.block(255, 255)], delay=1)),
        (IO1, PC, pn.identify_response(0x100, "io-device-1", 0x002A, 0x0313, ip="192.168.0.11",
                                       vendor_value="ET 200SP")),
        (IO2, PC, pn.identify_response(0x100, "io-device-2", 0x00B0, 0x0102, role=1)),
        (PC, pn.DCP_MULTICAST, pn.dcp(5, 0, 0x101, [pn.name_block("io-device-2")], delay=255)),
        (IO2, PC, pn.identify_response(0x101, "io-device-2", 0x00B0, 0x0102, role=1)),
        (PC, IO2, pn.dcp(3, 0, 0x102, [b"\x02\x02", b"\x01\x02", b"\x02\x03"])),
        (IO2, PC, pn.dcp(3, 1, 0x102, [pn.name_block("io-device-2", info=0),
                                      pn.ip_block("0.0.0.0", "0.0.0.0", "0.0.0.0", info=0)])),
        (PC, IO2, pn.dcp(4, 0, 0x103, [pn.block(5, 1, info=1), pn.name_block("line-3-io", info=1),
                                      pn.block(5, 2, info=0)])),
        (IO2, PC, pn.set_response(0x103, 2, 2)),
        (PC, IO2, pn.dcp(4, 0, 0x104, [pn.ip_block("192.168.0.12", "255.255.255.0",
                                                   "192.168.0.1", info=1)])),
        (IO2, PC, pn.set_response(0x104, 1, 2, error=5)),
        (PC, IO2, pn.dcp(4, 0, 0x105, [pn.block(5, 3, b"\x01\x00", info=0)])),
        (IO2, PC, pn.set_response(0x105, 5, 3)),
        (PC, IO1, pn.dcp(4, 0, 0x106, [pn.block(5, 6, info=2 << 1)])),
        (IO1, PC, pn.set_response(0x106, 5, 6)),
        (PC, IO1, pn.dcp(4, 0, 0x107, [pn.block(5, 5, info=0)])),
        (IO1, PC, pn.set_response(0x107, 5, 5, error=1)),
        (IO2, pn.DCP_MULTICAST, pn.dcp(6, 0, 0x200, [pn.name_block("line-3-io", info=0),
                                                    pn.ip_block("192.168.0.12", "255.255.255.0",
                                                                "192.168.0.1", info=1),
                                                    pn.block(2, 3, b"\x00\xb0\x01\x02", info=0)])),
        (PC, IO1, pn.dcp(4, 0, 0x108, [pn.block(200, 1, b"vendor", info=0)])),  # manufacturer option
        (PC, IO1, pn.dcp(7, 0, 0x109, [])),  # unknown service
    ]


def dcp_capture() -> list:
    """Identify All / by name, Get, Set name and IP (with start/stop), signal, reset to factory,
    factory reset refused, Hello, manufacturer option, unknown service; every other frame
    priority-tagged (VLAN 0, as PROFINET stacks send)."""
    return [(T0 + i * 10 * MS, _eth(s, d, p, (0,) if i % 2 else ()))
            for i, (s, d, p) in enumerate(_dcp_exchange())]


def sll_capture() -> list:
    """The same DCP exchange as a Linux cooked (v1) capture: the sender's address only."""
    return [(T0 + i * 10 * MS, frames.sll(p, protocol=pn.ETHERTYPE, addr=s, packet_type=4 if s == PC else 0))
            for i, (s, _, p) in enumerate(_dcp_exchange())]


def rt_capture() -> list:
    """Cyclic data both ways for 2.5 minutes at 128 ms (RT class 1 and 2 frame ids), the device
    going to STOP and back, a repeated and a backward cycle counter, a high-priority diagnosis
    alarm and its acknowledgement, and DCP in between (the only per-frame messages)."""
    out = []
    t = T0
    for n in range(1175):
        t = T0 + n * 128 * MS
        status = 0x25 if 500 <= n < 525 else 0x35  # provider stopped for 25 cycles
        cycle = n * 4096 if n != 700 else 699 * 4096  # one repeated counter
        out.append((t, _eth(PLC, IO1, pn.rt_frame(0x8002, cycle), (0,))))
        out.append((t + MS, _eth(IO1, PLC, pn.rt_frame(0xC003, n * 4096, status), (0,))))
        if n == 250:
            out.append((t + 2 * MS, _eth(IO1, PLC, pn.alarm(0xFC01, alarm_type=1, slot=2, subslot=1))))
            out.append((t + 3 * MS, _eth(PLC, IO1, pn.alarm(0xFC01, pdu_type=3, alarm_type=None,
                                                            send_seq=0xFFFF, ack_seq=0))))
        if n == 400:
            out.append((t + 2 * MS, _eth(PC, pn.DCP_MULTICAST, pn.dcp(5, 0, 0x300, [pn.block(255, 255)]))))
            out.append((t + 4 * MS, _eth(IO1, PC, pn.identify_response(0x300, "io-device-1", 0x2A, 0x313))))
    out.append((t + 40 * MS, _eth(IO1, PLC, pn.rt_frame(0xC003, 5, 0x35), (0,))))  # backwards
    return out


A, B = "192.168.0.1", "192.168.0.11"
AR = uuid.UUID("6d1b2c3a-0000-1000-8000-020000440001")


def _udp(t: int, to_dev: bool, payload: bytes, cport: int, dport: int) -> tuple[int, bytes]:
    src, dst, sp, dp = (A, B, cport, dport) if to_dev else (B, A, dport, cport)
    return (t, frames.ethernet(frames.ipv4(src, dst, 17, frames.udp(src, dst, sp, dp, payload)),
                               src=PLC if to_dev else IO1, dst=IO1 if to_dev else PLC))


def io_cm_capture() -> list:
    """Connect, a record write split over three DCE/RPC fragments, a record read answered with
    an error, PrmEnd and ApplicationReady (the device calls the controller's interface),
    Release, a big-endian response; on the standard port 34964 and a second AR on 50000 that
    starts mid-call (a response whose request was not captured)."""
    act1, act2, act3 = (uuid.UUID(int=0x1111), uuid.UUID(int=0x2222), uuid.UUID(int=0x3333))
    r: list = []
    t = T0

    def call(to_dev: bool, payload: bytes, port: int = 34964) -> None:
        nonlocal t
        t += 2 * MS
        r.append(_udp(t, to_dev, payload, 49152, port))

    call(True, pn.rpc(0, 0, pn.ndr(pn.ar_block(AR, "plc-line-3")), activity=act1, seq=0))
    call(False, pn.rpc(2, 0, pn.ndr(b"", status=0), activity=act1, seq=0, little=False))
    body = pn.ndr(pn.record_header(AR, 0x8071, 900, write=True) + bytes(900))
    for i, part in enumerate((body[:400], body[400:800], body[800:])):
        call(True, pn.rpc(0, 3, part, activity=act1, seq=1, frag=i, flags1=0x24 | (0x02 if i == 2 else 0)))
    call(False, pn.rpc(2, 3, pn.ndr(pn.record_header(AR, 0x8071, 900, write=True, response=True),
                                    status=0), activity=act1, seq=1))
    call(True, pn.rpc(0, 2, pn.ndr(pn.record_header(AR, 0xAFF0, 64)), activity=act1, seq=2))
    call(False, pn.rpc(2, 2, pn.ndr(pn.record_header(AR, 0xAFF0, 0, response=True),
                                    status=0xDE80B000), activity=act1, seq=2))
    call(True, pn.rpc(0, 4, pn.ndr(pn.control_block(AR, 0x0001)), activity=act1, seq=3))
    call(False, pn.rpc(2, 4, pn.ndr(pn.control_block(AR, 0x0008, response=True), status=0),
                       activity=act1, seq=3))
    # ApplicationReady: the device calls the controller's interface
    call(False, pn.rpc(0, 4, pn.ndr(pn.control_block(AR, 0x0002, block_type=0x0112)),
                       activity=act2, seq=0, interface=pn.CONTROLLER_INTERFACE))
    call(True, pn.rpc(2, 4, pn.ndr(pn.control_block(AR, 0x0008, response=True, block_type=0x0112),
                                   status=0),
                      activity=act2, seq=0, interface=pn.CONTROLLER_INTERFACE))
    call(True, pn.rpc(2, 3, pn.ndr(pn.record_header(AR, 0x8030, 4, write=True, response=True),
                                   status=0), activity=act3, seq=9), port=50000)  # mid-call
    call(True, pn.rpc(0, 1, pn.ndr(pn.pnio_block(0x0114, b"\x00\x00" + AR.bytes + b"\x00\x01\x00\x00\x00\x04\x00\x00")),
                      activity=act3, seq=10), port=50000)
    call(False, pn.rpc(2, 1, pn.ndr(pn.pnio_block(0x8114, b"\x00\x00" + AR.bytes + b"\x00\x01\x00\x00\x00\x08\x00\x00"),
                                    status=0), activity=act3, seq=10), port=50000)
    return r


CAPTURES = {
    "profinet_dcp.pcap": (dcp_capture, 1, "DCP: Identify All and by name (multicast), Get, Set "
                          "NameOfStation and IP (start/stop brackets), refused Set, Signal, "
                          "ResetToFactory, refused FactoryReset, Hello, manufacturer option, "
                          "unknown service; every other frame priority-tagged (VLAN 0)"),
    "profinet_dcp_sll.pcap": (sll_capture, 113, "the same DCP exchange, Linux cooked capture v1"),
    "profinet_rt.pcap": (rt_capture, 1, "2.5 minutes of cyclic RT class 1/2 frames both ways "
                         "(per-minute summaries), provider STOP, a repeated and a backward cycle "
                         "counter, a diagnosis alarm and its ACK, Identify in between"),
    "profinet_io_cm.pcap": (io_cm_capture, 1, "IO-CM over DCE/RPC: Connect (big-endian "
                            "response), a fragmented record Write, a failed Read, PrmEnd, "
                            "ApplicationReady on the controller interface, Release on a "
                            "non-standard port 50000 after a mid-call start"),
}


def main() -> None:
    lines = ["# PROFINET project captures", "",
             "Generated by `make.py` in this folder with `watchfloor.testing.profinet` "
             "(deterministic; no third-party bytes).", "", "| file | content |", "|---|---|"]  # fmt: skip
    for name, (build, linktype, what) in CAPTURES.items():
        write_pcap(HERE / name, build(), linktype=linktype)
        lines.append(f"| `{name}` | {what} |")
    (HERE / "SOURCE.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
