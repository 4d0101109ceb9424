"""IEC 60870-5-104 conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.iec104.apci_type / type_id / cot / common_address`` vs ``iec60870_104.type /
iec60870_asdu.typeid / iec60870_asdu.causetx / iec60870_asdu.addr``. Several APDUs per TCP
segment are zipped in stream order; S and U frames have no ASDU fields (None on both sides).

Captures:
  (a) the IEC 104 captures of ``../shared/corpus`` (SOURCES.md table 1, tshark protocol column
      contains ``iec60870_104``) and ``../shared/corpus/generated/iec104_*.pcap``;
  (b) a capture made now with the real c104 stack (lib60870) on loopback
      (``../shared/tools/traffic/iec104_c104.py``; root + tcpdump);
  (c) the project's own ``tests/captures/iec104/*.pcap``.

The harness's handling of S/U frames mixed with I frames is checked on a hand-built capture.
"""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T
from .exceptions import exceptions_for
from .test_modbus_conformance import _PcapWriter

SPEC = T.PROTOCOLS["iec104"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4


def _check(capture: Path, label: str | None = None, ports: set[int] | None = None,
           events: list | None = None) -> T.Comparison:
    if events is None:
        events = T.run_decoder(capture)
    derived = T.server_ports(events, SPEC)
    cmp = T.check_capture(capture, "iec104", ports=derived | (ports or set()),
                          exceptions=exceptions_for(label or capture, "iec104"), events=events)
    print(cmp.summary())
    if cmp.stale_exceptions:
        print(f"note: recorded exceptions now agree with Wireshark at frames {cmp.stale_exceptions}")
    assert cmp.ok, "\n" + cmp.report(limit=20)
    assert sum(map(len, cmp.theirs.values())) > 0, "Wireshark found no IEC 104 in the capture"
    return cmp


# (a) corpus ------------------------------------------------------------------------------------

@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"iec60870_104"}, generated="iec104_*.pcap"))
def test_corpus(capture: Path) -> None:
    _check(capture)


# (c) the project's own committed captures -------------------------------------------------------

@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("iec104/*.pcap*"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


# (b) live stack on loopback ---------------------------------------------------------------------

STACKS = {"c104": ("iec104_c104.py", 24040)}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("c104")
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
            derived = T.server_ports(events, SPEC)
            _check(pcap, ports={port}, events=events)
            assert derived == {port}, (
                f"{stack}: our decoder must find the controlled station on port {port} without "
                f"being told (request destination / response source ports seen: {sorted(derived)})")
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)


# Harness self-test ------------------------------------------------------------------------------

def _apdu(ctrl: bytes, asdu: bytes = b"") -> bytes:
    return bytes([0x68, 4 + len(asdu)]) + ctrl + asdu


def _i(ns: int, nr: int, asdu: bytes) -> bytes:
    return _apdu(struct.pack("<HH", ns << 1, nr << 1), asdu)


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> Path:
    """Frames: 4 STARTDT act; 5 STARTDT con + I(M_SP_NA_1) + S in one segment; 6 an I frame
    (C_IC_NA_1 act) split over 6 and 7 (reported at 7); 8 two I frames, the second a negative
    confirmation (COT 7 with P/N set)."""
    path = tmp_path_factory.mktemp("crafted") / "iec104_crafted.pcap"
    w = _PcapWriter(path)
    c, s, port = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 12404
    w.tcp(c, s, 40000, port, flags=0x02)
    w.tcp(s, c, port, 40000, flags=0x12)
    w.tcp(c, s, 40000, port, flags=0x10)
    w.tcp(c, s, 40000, port, _apdu(b"\x07\0\0\0"))
    sp = bytes([1, 1, 3, 0, 0, 7, 0]) + b"\x01\x00\x00\x01"
    w.tcp(s, c, port, 40000, _apdu(b"\x0b\0\0\0") + _i(0, 0, sp[:4] + b"\x05\x00" + sp[6:])
          + _apdu(b"\x01\0\x02\0"))
    gi = _i(0, 1, bytes([100, 1, 6, 0, 9, 0, 0, 0, 0, 20]))
    w.tcp(c, s, 40000, port, gi[:5])
    w.tcp(c, s, 40000, port, gi[5:])
    w.tcp(s, c, port, 40000, _i(1, 1, bytes([100, 1, 7, 0, 9, 0, 0, 0, 0, 20]))
          + _i(2, 1, bytes([45, 1, 0x47, 0, 9, 1, 1, 0, 0, 0x81])))
    w.close()
    return path


@pytest.mark.tshark
@needs_tshark
def test_harness_wireshark_records(crafted: Path) -> None:
    got = T.wireshark_records(crafted, SPEC, ports=[12404])
    assert got == {
        4: [(3, None, None, None)],
        5: [(3, None, None, None), (0, 1, 3, 5), (1, None, None, None)],
        7: [(0, 100, 6, 9)],
        8: [(0, 100, 7, 9), (0, 45, 7, 265)],  # causetx is the 6-bit cause: P/N is separate
    }
    ours = T.our_records(T.run_decoder(crafted), SPEC)
    assert ours == got
