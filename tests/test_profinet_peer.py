"""PROFINET IO-CM against a peer decoder: the ICSNPP (cisagov/icsnpp-profinet-io-cm) Zeek
baselines shipped next to six corpus captures (``*.zeek-baseline/*/profinet_io_cm.log``). The
logs carry no ``#fields`` header, so columns are taken by position (the connection's four id
columns, then source/destination host and port, transport, RPC version, packet type, nine flag
columns, data representation, ..., activity UUID (27), server boot time, interface version,
sequence number (31), operation name (32), ...).

Zeek logs every DCE/RPC packet (each fragment, pings, fragment acknowledgements, retransmitted
copies); we report each PNIO call once, when its last fragment arrives. So the comparison is on
the set of calls: (sender address, sender port, sequence number, request/response, operation)
for Zeek's Request and Response rows, against the same of our IO-CM events.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import tshark as T

TRACES = T.CORPUS / "pcaps" / "cisagov__icsnpp-profinet-io-cm" / "testing" / "traces"
CASES = ("profinet_io_cm_connect.pcapng", "profinet_io_cm_control.pcapng",
         "profinet_io_cm_device.pcapng", "profinet_io_cm_mixed_1.pcap",
         "profinet_io_cm_mixed_2.pcapng", "profinet_io_cm_write.pcapng")  # fmt: skip
ZEEK_OPERATIONS = {"Connect": "connect", "Release": "release", "Read": "read", "Write": "write",
                   "Control": "control", "ReadImplicit": "read_implicit"}  # fmt: skip


def _zeek_calls(log: Path) -> set[tuple]:
    calls = set()
    for line in log.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        c = line.split("\t")
        if c[10] in ("Request", "Response"):
            calls.add((c[4], int(c[5]), int(c[30]), c[10].lower(), ZEEK_OPERATIONS.get(c[31], c[31])))
    return calls


def _our_calls(events: list[dict]) -> set[tuple]:
    return {(T.get_path(e, "source.ip"), T.get_path(e, "source.port"),
             T.get_path(e, "ot.profinet_io.sequence"), T.get_path(e, "ot.profinet_io.packet_type_name"),
             T.get_path(e, "ot.profinet_io.operation"))
            for e in events if T.get_path(e, "ot.profinet_io") is not None}  # fmt: skip


@pytest.mark.corpus
@pytest.mark.parametrize("name", CASES)
def test_io_cm_calls_agree_with_icsnpp(name: str) -> None:
    cap = TRACES / name
    logs = sorted((TRACES / f"{name}.zeek-baseline").glob("*/profinet_io_cm.log"))
    if not cap.exists() or not logs:
        pytest.skip(f"{cap} or its ICSNPP baseline is not in the corpus")
    zeek, ours = _zeek_calls(logs[0]), _our_calls(T.run_decoder(cap))
    print(f"{name}: ICSNPP {len(zeek)} calls, ours {len(ours)}, common {len(zeek & ours)}")
    assert zeek, "the baseline holds no calls"
    assert ours == zeek, (sorted(zeek - ours)[:10], sorted(ours - zeek)[:10])
