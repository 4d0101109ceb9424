"""PROFINET DCP conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.profinet_dcp.service_id`` / ``service_type`` vs ``pn_dcp.service_id`` /
``pn_dcp.service_type``. Cyclic RT frames are summarised per stream (no per-frame record), so
only DCP is compared frame by frame; IO-CM calls are checked against ``dcerpc.opnum`` below.

Captures:
  (a) the PROFINET captures of ``../shared/corpus`` (SOURCES.md, tshark column ``pn_dcp``,
      ``pn_rt``, ``pn_io``, ``pn_io_device``) and ``../shared/corpus/generated/pn_dcp_*.pcap``;
  (b) a capture made now with the scapy DCP generator on loopback
      (``../shared/tools/traffic/pn_dcp_scapy.py``; root + tcpdump);
  (c) the project's own ``tests/captures/profinet/*.pcap``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4
CORPUS = C.corpus_params({"pn_dcp", "pn_rt", "pn_io", "pn_io_device"}, generated="pn_dcp_*.pcap")


def _check(capture: Path, events: list | None = None) -> T.Comparison:
    cmp = C.conforms(capture, "profinet_dcp", events=events)
    n_ours, n_theirs = cmp.counts()
    assert n_ours == n_theirs
    return cmp


def _io_opnums(capture: Path, events: list) -> None:
    """Every IO-CM call we report is a PNIO DCE/RPC request/response with Wireshark's opnum."""
    ours = {(T.get_path(e, "pcap.frame"), T.get_path(e, "ot.profinet_io.opnum"))
            for e in events if T.get_path(e, "ot.profinet_io") is not None}
    if not ours:
        return
    out = T._tshark(["-r", str(capture), "-Y", "dcerpc.opnum && (pn_io_device || pn_io_controller "
                     "|| pn_io_supervisor || pn_io_parameterserver)", "-T", "fields", "-e",
                     "frame.number", "-e", "dcerpc.opnum"], timeout=600)
    theirs = set()
    for line in out.splitlines():
        num, _, op = line.partition("\t")
        if num.strip() and op.strip():
            theirs.add((int(num), int(op.split(",")[0])))
    assert ours <= theirs, sorted(ours - theirs)[:10]


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", CORPUS)
def test_corpus(capture: Path) -> None:
    events = T.run_decoder(capture)
    _check(capture, events)
    _io_opnums(capture, events)


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("profinet/*.pcap"))
def test_project_captures(capture: Path) -> None:
    events = T.run_decoder(capture)
    _check(capture, events)
    _io_opnums(capture, events)


STACKS = {"pn-dcp-scapy": ("pn_dcp_scapy.py", 0)}  # layer 2: the port is unused


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("scapy")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("profinet-stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    """The scapy DCP controller and device emulation (the only DCP stack on PyPI)."""
    failures = []
    for stack in STACKS:
        pcap, _, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            cmp = _check(pcap, events)
            assert cmp.counts()[0] >= 8, "too few DCP messages captured"
            actions = {T.get_path(e, "event.action") for e in events}
            assert {"dcp_identify", "dcp_get", "dcp_set"} <= actions, actions
            names = {T.get_path(e, "ot.profinet_dcp.name_of_station") for e in events
                     if T.get_path(e, "ot.role") == "response"}
            assert "loop-io-device" in names, names
            paired = [e for e in events if T.get_path(e, "ot.profinet_dcp.request_frame")]
            assert paired, "no DCP response was paired with its request"
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)
