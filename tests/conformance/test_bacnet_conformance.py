"""BACnet/IP conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.bacnet.bvlc_function / apdu_type / service`` vs ``bvlc.function / bacapp.type /
bacapp.confirmed_service | bacapp.unconfirmed_service`` (one record per BVLL message; BACnet
frames without a BVLC, i.e. BACnet over Ethernet, ARCNET or MS/TP, are on neither side).

Captures:
  (a) the BACnet captures of ``../shared/corpus`` (SOURCES.md, tshark column ``bvlc``) and
      ``../shared/corpus/generated/bacnet_*.pcap``;
  (b) a capture made now with the real bacpypes3 device and client on loopback
      (``../shared/tools/traffic/bacnet_bacpypes3.py``; root + tcpdump);
  (c) the project's own ``tests/captures/bacnet/*.pcap``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["bacnet"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4


def _check(capture: Path, ports: set[int] | None = None, events: list | None = None) -> T.Comparison:
    cmp = C.conforms(capture, "bacnet", ports=ports, events=events)
    n_ours, n_theirs = cmp.counts()
    assert n_ours == n_theirs
    return cmp


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"bvlc"}, generated="bacnet_*.pcap"))
def test_corpus(capture: Path) -> None:
    _check(capture)


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("bacnet/*.pcap"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


STACKS = {
    # bacpypes3 device on the port, bacpypes3 client on port + 1 (both non-standard)
    "bacpypes3": ("bacnet_bacpypes3.py", 47809),
}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("bacpypes3")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("bacnet-stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            _check(pcap, ports={port, port + 1}, events=events)
            assert port in T.server_ports(events, SPEC), f"{stack}: device port {port} not found"
            actions = {T.get_path(e, "event.action") for e in events}
            want = {"who_is", "i_am", "read_property", "read_property_multiple", "write_property",
                    "subscribe_cov", "confirmed_cov_notification"}  # fmt: skip
            assert want <= actions, want - actions
            errors = [e for e in events if T.get_path(e, "ot.bacnet.error_code_name")]
            assert any(T.get_path(e, "ot.bacnet.error_code_name") == "unknown_object" for e in errors), errors
            writes = [e for e in events if T.get_path(e, "event.action") == "write_property"
                      and T.get_path(e, "ot.role") == "request"]  # fmt: skip
            assert writes and all(T.get_path(e, "ot.bacnet.values") for e in writes)
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)
