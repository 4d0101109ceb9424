"""OPC UA binary conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.opcua.message_type`` / ``ot.opcua.service_id`` vs ``opcua.transport.type`` /
``opcua.servicenodeid.numeric``: one record per UACP message chunk (HEL, ACK, OPN, MSG, CLO, ERR;
each chunk of a chunked message, the service id on the final one), the service id only where the
body is visible (not on encrypted OPN/MSG bodies, where Wireshark finds no numeric type id either).

Captures:
  (a) the OPC UA captures of ``../shared/corpus`` (SOURCES.md, tshark column ``opcua``) and
      ``../shared/corpus/generated/opcua_*.pcap``;
  (b) captures made now with the real asyncua server and client on loopback
      (``../shared/tools/traffic/opcua_asyncua.py``; root + tcpdump), on a non-standard port and
      on 4840;
  (c) the project's own ``tests/captures/opcua/*.pcap``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["opcua"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4


def _check(capture: Path, ports: set[int] | None = None, events: list | None = None) -> T.Comparison:
    cmp = C.conforms(capture, "opcua", ports=ports, events=events)
    assert cmp.counts()[1] > 0, "Wireshark found no OPC UA message: nothing was compared"
    return cmp


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"opcua"}, generated="opcua_*.pcap"))
def test_corpus(capture: Path) -> None:
    _check(capture)


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("opcua/*.pcap"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


STACKS = {
    "asyncua": ("opcua_asyncua.py", 48400),
    "asyncua-4840": ("opcua_asyncua.py", 4840),
}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("asyncua")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("opcua-stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    """Both runs in one test, so one process runs them (parallel workers would clash on ports)."""
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            _check(pcap, ports={port}, events=events)
            assert port in T.server_ports(events, SPEC), f"{stack}: server port {port} not found"
            actions = {T.get_path(e, "event.action") for e in events}
            want = {"hello", "open_secure_channel", "create_session", "activate_session", "read",
                    "write", "call", "browse", "create_subscription", "publish",
                    "close_secure_channel"}
            assert want <= actions, want - actions
            writes = [e for e in events if T.get_path(e, "event.action") == "write"
                      and T.get_path(e, "ot.role") == "request"]
            assert all(T.get_path(e, "ot.action.operation") == "write" for e in writes)
            assert all(T.get_path(e, "ot.opcua.nodes") for e in writes), "write without nodes"
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)
