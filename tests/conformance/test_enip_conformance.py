"""EtherNet/IP + CIP conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.enip.command`` / ``ot.cip.service`` vs ``enip.command`` / ``cip.sc``. One record
per encapsulation message (command, outer service), then one ``(None, service)`` record per
service nested in a Multiple Service Packet or an Unconnected Send, depth first -- Wireshark's
order of its repeated ``cip.sc`` (read from PDML, see ``tshark.ProtocolSpec.nested``). Class 0/1
I/O datagrams carry no ``enip.command``: our per-connection I/O summaries give no record either.

Captures:
  (a) the EtherNet/IP captures of ``../shared/corpus`` (SOURCES.md, tshark column ``enip`` or
      ``cip``) and ``../shared/corpus/generated/enip_*.pcap``;
  (b) captures made now with the real cpppo server and cpppo/pycomm3 clients on loopback
      (``../shared/tools/traffic/enip_cpppo_pycomm3.py``; root + tcpdump);
  (c) the project's own ``tests/captures/enip/*.pcap``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["enip"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4


def _check(capture: Path, ports: set[int] | None = None, events: list | None = None) -> T.Comparison:
    cmp = C.conforms(capture, "enip", ports=ports, events=events)
    n_ours, n_theirs = cmp.counts()
    assert n_ours == n_theirs
    return cmp


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"enip", "cip"}, generated="enip_*.pcap"))
def test_corpus(capture: Path) -> None:
    _check(capture)


@pytest.mark.corpus
def test_mislabelled_capture_is_not_enip() -> None:
    """ITI's ``openics/EIP-ViewDeviceStatus.pcap`` is malformed DNP3 (SOURCES.md): not ENIP."""
    cap = T.CORPUS / "pcaps/ITI__ICS-Security-Tools/pcaps/openics/EIP-ViewDeviceStatus.pcap"
    if not cap.exists():
        pytest.skip(f"{cap} not in the corpus")
    events = T.run_decoder(cap)
    assert not [e for e in events if T.get_path(e, "ot.protocol") == "enip"]


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("enip/*.pcap"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


STACKS = {
    # cpppo Logix simulator, cpppo client then pycomm3 LogixDriver; non-standard and standard port
    "cpppo-pycomm3": ("enip_cpppo_pycomm3.py", 44820),
    "cpppo-pycomm3-44818": ("enip_cpppo_pycomm3.py", 44818),
}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("cpppo, pycomm3")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("enip-stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    """Both stacks in one test, so one process runs them (parallel workers would clash on ports)."""
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            _check(pcap, ports={port}, events=events)
            assert port in T.server_ports(events, SPEC), f"{stack}: server port {port} not found"
            services = {T.get_path(e, "event.action") for e in events}
            assert {"register_session", "large_forward_open", "forward_close"} <= services, services
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)
