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

from collections import Counter
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


def _io_opnums(capture: Path, events: list) -> int:
    """Every IO-CM call we report is a PNIO call at the same frame in Wireshark, with its
    ``dcerpc.opnum`` and, for record reads and writes, its (first) ``pn_io.index``. Returns the
    number of calls compared."""
    ours = {T.get_path(e, "pcap.frame"): (T.get_path(e, "ot.profinet_io.opnum"),
                                          T.get_path(e, "ot.profinet_io.index"))
            for e in events if T.get_path(e, "ot.profinet_io") is not None}  # fmt: skip
    if not ours:
        return 0
    out = T._tshark(["-r", str(capture), "-Y", "dcerpc.opnum && (pn_io_device || pn_io_controller "
                     "|| pn_io_supervisor || pn_io_parameterserver)", "-T", "fields", "-e", "frame.number", "-e", "dcerpc.opnum", "-e",
                     "pn_io.index"], timeout=600)  # fmt: skip
    theirs = {}
    for line in out.splitlines():
        num, op, index = (line.split("\t") + ["", ""])[:3]
        if num.strip() and op.strip():
            theirs[int(num)] = (int(op.split(",")[0]), int(index.split(",")[0], 0) if index else None)
    wrong = {f: (v, theirs.get(f)) for f, v in ours.items()
             if f not in theirs or v[0] != theirs[f][0] or (v[1] is not None and v[1] != theirs[f][1])}
    assert not wrong, sorted(wrong.items())[:10]
    missed = sorted(set(theirs) - set(ours))
    assert not missed, f"PNIO calls Wireshark decodes and we do not, at frames {missed[:10]}"
    return len(ours)


_CYCLIC = ("(pn_rt.frame_id >= 0x0100 && pn_rt.frame_id <= 0x0fff) || "
           "(pn_rt.frame_id >= 0x8000 && pn_rt.frame_id <= 0xfbff)")


def _rt_counts(capture: Path, events: list) -> int:
    """Our cyclic summaries count, per sender and frame id, the frames Wireshark shows as PROFINET
    RT with a cyclic frame id. Returns the number of frames compared."""
    ours: Counter = Counter()
    for e in events:
        if T.get_path(e, "ot.profinet_rt") is not None:
            ours[(T.get_path(e, "source.mac"), T.get_path(e, "ot.profinet_rt.frame_id"))] += \
                T.get_path(e, "ot.profinet_rt.packets")
    out = T._tshark(["-r", str(capture), "-Y", _CYCLIC, "-T", "fields", "-e", "eth.src", "-e",
                     "sll.src.eth", "-e", "pn_rt.frame_id"], timeout=600)  # fmt: skip
    theirs: Counter = Counter()
    for line in out.splitlines():
        eth, sll, fid = (line.split("\t") + ["", ""])[:3]
        if fid.strip():
            theirs[((eth or sll).strip() or None, int(fid.split(",")[0], 0))] += 1
    assert ours == theirs, (sorted((ours - theirs).items())[:5], sorted((theirs - ours).items())[:5])
    return sum(ours.values())


_DCP_DEEP = (("xid", "pn_dcp.xid"), ("name_of_station", "pn_dcp.suboption_device_nameofstation"),
             ("vendor_id", "pn_dcp.suboption_vendor_id"), ("device_id", "pn_dcp.suboption_device_id"),
             ("ip", "pn_dcp.suboption_ip_ip"))  # fmt: skip


def _dcp_deep(capture: Path, events: list) -> int:
    """Beyond the contract: Xid, NameOfStation, vendor and device id, IP address of every DCP
    message equal Wireshark's on the same frame. Returns the number of values compared."""
    ours = {T.get_path(e, "pcap.frame"): tuple(T.normalize(T.get_path(e, f"ot.profinet_dcp.{f}"))
                                               for f, _ in _DCP_DEEP)
            for e in events if T.get_path(e, "ot.profinet_dcp") is not None}  # fmt: skip
    if not ours:
        return 0
    args = ["-r", str(capture), "-Y", "pn_dcp", "-T", "fields", "-e", "frame.number"]
    for _, ws in _DCP_DEEP:
        args += ["-e", ws]
    theirs = {}
    for line in T._tshark(args, timeout=600).splitlines():
        cols = line.split("\t")
        theirs[int(cols[0])] = tuple(T.normalize(c.split(",")[0]) for c in cols[1 : 1 + len(_DCP_DEEP)])
    wrong = {f: (v, theirs.get(f)) for f, v in ours.items() if theirs.get(f) != v}
    assert not wrong, sorted(wrong.items())[:5]
    return sum(v is not None for vals in ours.values() for v in vals)


def _alarms(capture: Path, events: list) -> int:
    """RTA alarm PDUs: the same frames as Wireshark, with its PDU type and alarm type."""
    ours = {T.get_path(e, "pcap.frame"): (T.get_path(e, "ot.profinet_alarm.pdu_type"),
                                          T.get_path(e, "ot.profinet_alarm.alarm_type"))
            for e in events if T.get_path(e, "ot.profinet_alarm") is not None}  # fmt: skip
    out = T._tshark(["-r", str(capture), "-Y", "pn_rt.frame_id == 0xfc01 || pn_rt.frame_id == 0xfe01",
                     "-T", "fields", "-e", "frame.number", "-e", "pn_io.pdu_type.type", "-e",
                     "pn_io.alarm_type"], timeout=600)  # fmt: skip
    theirs = {}
    for line in out.splitlines():
        num, ptype, atype = (line.split("\t") + ["", ""])[:3]
        theirs[int(num)] = (int(ptype, 0) if ptype else None, int(atype, 0) if atype else None)
    assert ours == theirs, (sorted(ours.items())[:5], sorted(theirs.items())[:5])
    return len(ours)


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", CORPUS)
def test_corpus(capture: Path) -> None:
    events = T.run_decoder(capture)
    _check(capture, events)
    print(f"dcp: {_dcp_deep(capture, events)} deeper values agree")
    print(f"io-cm: {capture}: {_io_opnums(capture, events)} calls agree with Wireshark; "
          f"rt: {_rt_counts(capture, events)} cyclic frames counted alike; "
          f"{_alarms(capture, events)} alarm PDUs agree")


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("profinet/*.pcap"))
def test_project_captures(capture: Path) -> None:
    events = T.run_decoder(capture)
    _check(capture, events)
    print(f"dcp: {_dcp_deep(capture, events)} deeper values agree")
    print(f"io-cm: {capture}: {_io_opnums(capture, events)} calls agree with Wireshark; "
          f"rt: {_rt_counts(capture, events)} cyclic frames counted alike; "
          f"{_alarms(capture, events)} alarm PDUs agree")


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
