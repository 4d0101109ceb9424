"""IEC 61850 MMS conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.mms.invoke_id / service`` vs ``mms.invokeID / mms.confirmedServiceRequest |
mms.confirmedServiceResponse`` for every confirmed request, response and error PDU (an error has
no service on either side). MMS PDUs reassembled from several COTP DTs or TCP segments are
reported at the frame that completes them.

Captures:
  (a) the MMS captures of ``../shared/corpus`` (SOURCES.md table 1: tshark found ``mms``) and
      ``generated/iec61850_mms*.pcap``;
  (b) captures made now with libiec61850 (pyiec61850-ng: IedServer and IedConnection) on loopback;
  (c) the project's own ``tests/captures/mms/*.pcap``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["mms"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 3


def _check(capture: Path, label: str | None = None, ports: set[int] | None = None,
           events: list | None = None) -> T.Comparison:
    return C.conforms(capture, "mms", label=label, ports=ports, events=events)


# -- (a) corpus -----------------------------------------------------------------------------
@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"mms"}, generated="iec61850_mms*.pcap"))
def test_corpus(capture: Path) -> None:
    _check(capture)


# -- (c) the project's own captures -----------------------------------------------------------
@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("mms/*.pcap*"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


# -- (b) live stacks --------------------------------------------------------------------------
STACKS = {"libiec61850": ("iec61850_mms_pyiec61850.py", 10200)}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("pyiec61850.pyiec61850")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            cmp = _check(pcap, ports={port}, events=events)
            assert sum(map(len, cmp.theirs.values())) > 20, "the stack produced too little MMS"
            derived = T.server_ports(events, SPEC)
            assert port in derived, f"{stack}: server port {port} not found: {sorted(derived)}"
            kinds = {e["event"]["action"] for e in events if "mms" in e.get("ot", {})}
            assert {"initiate", "get_name_list", "read", "write", "information_report"} <= kinds, kinds
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)


# -- harness ------------------------------------------------------------------------------------
@pytest.mark.tshark
@needs_tshark
def test_harness_reads_mms_records() -> None:
    """Requests carry confirmedServiceRequest, responses confirmedServiceResponse, errors only
    the invoke id: each frame is one (invoke id, service) record; initiate and conclude are none."""
    cap = T.REPO / "tests" / "captures" / "mms" / "mms_session.pcap"
    got = T.wireshark_records(cap, SPEC)
    assert got[8] == [(1, 2)]  # identify request
    assert got[18] == [(6, 5)]  # write (Oper) request
    assert got[23] == [(8, None)]  # confirmed error
    assert 6 not in got and 31 not in got  # initiate, conclude
