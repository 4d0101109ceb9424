"""Write examples/plant.pcap.gz: a small water plant's control network, for the demo.

A SCADA server polls three PLCs (reads, some writes, the odd exception); an engineering
workstation identifies one PLC, changes a setpoint, forces a coil, restarts the PLC's
communications and finally puts it in listen-only mode (a request that is never answered). Deterministic: re-running reproduces the file byte for byte.
Run: .venv/bin/python examples/make_plant.py
"""

from __future__ import annotations

import heapq
from pathlib import Path

from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import modbus as mb
from watchfloor.testing.modbus import Endpoint, poll_session

START = 1_767_250_800_000_000_000  # 2026-01-01T07:00:00Z
SCADA = "10.20.1.10"
PLCS = [("10.20.2.11", "02:00:00:20:02:0b"), ("10.20.2.12", "02:00:00:20:02:0c"),
        ("10.20.2.13", "02:00:00:20:02:0d")]  # fmt: skip


def engineering_session():
    ews = Endpoint("10.20.1.30", 51000, "02:00:00:20:01:1e")
    plc = Endpoint(PLCS[1][0], 502, PLCS[1][1])
    conv = TcpConversation(ews, plc, start_ns=START + 20 * 10**9, step_ns=2_000_000)
    yield from conv.handshake()
    steps = [
        (mb.read_device_id_request(1, 0), mb.read_device_id_response(1, [
            (0, "Acme Automation"), (1, "AC-500"), (2, "v3.1.7")])),
        (mb.read_request(3, 0, 4), mb.read_registers_response(3, [650, 350, 1200, 80])),
        (mb.write_single_request(6, 1, 420), mb.write_single_response(6, 1, 420)),
        (mb.write_single_request(5, 7, True), mb.write_single_response(5, 7, True)),
        (mb.diagnostics(1, 0xFF00), mb.diagnostics(1, 0xFF00)),
        (mb.diagnostics(4), None),  # force listen-only: the PLC falls silent, as the spec says
    ]
    for tid, (request, response) in enumerate(steps, start=1):
        yield from mb.exchange(conv, tid, request, response)
        conv.advance(1_500_000_000)
    yield from conv.fin()


def main() -> None:
    polls = [poll_session(cycles=120, seed=i, start_ns=START + i * 37_000_000,
                          client=Endpoint(SCADA, 49152 + i, "02:00:00:20:01:0a"),
                          server=Endpoint(ip, 502, mac)) for i, (ip, mac) in enumerate(PLCS)]  # fmt: skip
    records = heapq.merge(*polls, engineering_session(), key=lambda r: r[0])
    out = Path(__file__).with_name("plant.pcap.gz")
    n = write_pcap(out, records, compress=True)
    print(f"{out}: {n} packets")


if __name__ == "__main__":
    main()
