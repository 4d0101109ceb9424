"""Modbus/TCP conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.modbus.transaction_id / unit_id / function_code`` vs ``mbtcp.trans_id /
mbtcp.unit_id / modbus.func_code`` (several PDUs per frame zipped in stream order).

Captures:
  (a) the Modbus captures of ``../shared/corpus`` (SOURCES.md table 1, tshark protocol column
      contains ``modbus``), ``../shared/corpus/generated/modbus_*.pcap`` and the labelled Lemay
      data set (``labeled/lemay_modbus``: two pcaps and a zipped 10 MB pcap);
  (b) captures made now with the real pymodbus and pyModbusTCP stacks on loopback
      (``../shared/tools/traffic/modbus_*.py``; root + tcpdump);
  (c) the project's own ``tests/captures/modbus_*.pcap*``.

The harness itself (tshark parsing, grouping, diff) is checked first on a hand-built capture.
"""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["modbus"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 3


# --------------------------------------------------------------------------------------------
# Shared checking
# --------------------------------------------------------------------------------------------

def _check(capture: Path, label: str | None = None, ports: set[int] | None = None,
           events: list | None = None) -> T.Comparison:
    return C.conforms(capture, "modbus", label=label, ports=ports, events=events)


@pytest.fixture(scope="session")
def zip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zips")


# --------------------------------------------------------------------------------------------
# (a) corpus
# --------------------------------------------------------------------------------------------

@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"modbus", "mbtcp"}, generated="modbus_*.pcap",
                                                   labeled=("lemay_modbus",)))
def test_corpus(capture: Path, zip_dir: Path) -> None:
    for cap in C.resolve_capture(capture, zip_dir):
        # zip members are matched in exceptions as "<zip path>/<member>"
        label = f"{capture.as_posix()}/{cap.name}" if cap != capture else None
        _check(cap, label=label)


# --------------------------------------------------------------------------------------------
# (c) the project's own committed captures
# --------------------------------------------------------------------------------------------

@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("modbus_*.pcap*"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


# --------------------------------------------------------------------------------------------
# (b) live stacks on loopback
# --------------------------------------------------------------------------------------------

STACKS = {
    # name: (script, preferred port)  -- default ports of the scripts; both non-standard
    "pymodbus": ("modbus_pymodbus.py", 15020),
    "pyModbusTCP": ("modbus_pymodbustcp.py", 15021),
    # the standard port, so the default (no-preference) path is exercised too
    "pymodbus-502": ("modbus_pymodbus.py", 502),
}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("pymodbus, pyModbusTCP")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    """All stacks in one test, so that one process runs them (test-parallel runs would start them
    twice, on the same ports)."""
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        if pcap is None and info.startswith("port 502 is in use"):
            continue  # the host runs a Modbus server: the other stacks still cover the decoder
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            derived = T.server_ports(events, SPEC)
            # Wireshark is told the true server port; our decoder must find it without being told.
            _check(pcap, ports={port}, events=events)
            assert port in derived, (
                f"{stack}: our decoder did not mark traffic to the server port {port} as requests "
                f"(request destination / response source ports seen: {sorted(derived)})")
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)


# --------------------------------------------------------------------------------------------
# Harness self-tests (no decoder needed)
# --------------------------------------------------------------------------------------------

def _csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class _PcapWriter:
    """Minimal Ethernet/IPv4/TCP pcap writer for hand-built harness cases."""

    def __init__(self, path: Path):
        self.fh = open(path, "wb")
        self.fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.seq: dict[tuple, int] = {}
        self.n = 0

    def tcp(self, src: bytes, dst: bytes, sport: int, dport: int, payload: bytes = b"", flags: int = 0x18):
        seq = self.seq.setdefault((src, sport), 1000)
        ack = self.seq.setdefault((dst, dport), 5000)
        th = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
        self.seq[(src, sport)] = seq + len(payload) + (1 if flags & 0x03 else 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), self.n, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        pkt = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + ip + th + payload
        self.n += 1
        self.fh.write(struct.pack("<IIII", self.n, 0, len(pkt), len(pkt)) + pkt)

    def close(self):
        self.fh.close()


def _mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack("!HHHB", tid, 0, len(pdu) + 1, unit) + pdu


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> Path:
    """Frames: 4 one request; 5 two requests; 6/7 a request split in two segments (reported at 7);
    8 a normal response + an exception response in one segment; 9 a response on the server side."""
    path = tmp_path_factory.mktemp("crafted") / "modbus_crafted.pcap"
    w = _PcapWriter(path)
    c, s, port = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 1502
    w.tcp(c, s, 40000, port, flags=0x02)
    w.tcp(s, c, port, 40000, flags=0x12)
    w.tcp(c, s, 40000, port, flags=0x10)
    w.tcp(c, s, 40000, port, _mbap(1, 1, bytes([3, 0, 0, 0, 2])))
    w.tcp(c, s, 40000, port, _mbap(2, 1, bytes([3, 0, 0, 0, 2])) + _mbap(3, 2, bytes([4, 0, 0, 0, 1])))
    split = _mbap(4, 7, bytes([16, 0, 0, 0, 1, 2, 0, 5]))
    w.tcp(c, s, 40000, port, split[:9])
    w.tcp(c, s, 40000, port, split[9:])
    w.tcp(s, c, port, 40000, _mbap(2, 1, bytes([3, 4, 0, 1, 0, 2])) + _mbap(3, 2, bytes([0x84, 2])))
    w.tcp(s, c, port, 40000, _mbap(4, 7, bytes([16, 0, 0, 0, 1])))
    w.close()
    return path


@pytest.mark.tshark
@needs_tshark
def test_harness_wireshark_records(crafted: Path) -> None:
    got = T.wireshark_records(crafted, SPEC, ports=[1502])
    assert got == {
        4: [(1, 1, 3)],
        5: [(2, 1, 3), (3, 2, 4)],
        7: [(4, 7, 16)],
        8: [(2, 1, 3), (3, 2, 4)],  # exception 0x84: Wireshark's func_code is masked to 7 bits
        9: [(4, 7, 16)],
    }
    # Without the port preference Wireshark does not dissect port 1502 at all.
    assert T.wireshark_records(crafted, SPEC, ports=[]) == {}


@pytest.mark.tshark
@needs_tshark
def test_harness_ragged_occurrences(crafted: Path) -> None:
    """A field absent on some occurrences (exception_code) forces the PDML path; zipping stays right."""
    spec = T.ProtocolSpec(name="modbus", fields=(("ot.modbus.transaction_id", "mbtcp.trans_id"),
                                                 ("ot.modbus.exception_code", "modbus.exception_code")),
                          port_options=SPEC.port_options)
    got = T.wireshark_records(crafted, spec, ports=[1502])
    assert got[8] == [(2, None), (3, 2)]
    assert got[5] == [(2, None), (3, None)]


def test_harness_grouping_and_report() -> None:
    def ev(frame, tid, fc, role="request", port=1502, **extra):
        e = {"pcap": {"frame": frame}, "source": {"port": 40000}, "destination": {"port": port},
             "network": {"transport": "tcp"},
             "ot": {"protocol": "modbus", "role": role,
                    "modbus": {"transaction_id": tid, "unit_id": 1, "function_code": fc}}}
        e.update(extra)
        return e

    events = [ev(5, 2, 3), ev(5, 3, 4), {"event": {"kind": "alert"}, "pcap": {"frame": 5}}, ev(7, 4, 16)]
    ours = T.our_records(events, SPEC)
    assert ours == {5: [(2, 1, 3), (3, 1, 4)], 7: [(4, 1, 16)]}
    assert T.server_ports(events, SPEC) == {1502}
    theirs = {5: [(2, 1, 3), (3, 2, 4)], 7: [(4, 1, 16)], 9: [(4, 1, 16)]}
    cmp = T.compare(ours, theirs, SPEC, "x.pcap")
    assert [f for f, _, _ in cmp.mismatches] == [5, 9]
    text = cmp.report()
    assert "frame 5:" in text and "(3, 2, 4)" in text and "(nothing)" in text
    # an exception without expected values removes the frame from the comparison
    cmp = T.compare(ours, theirs, SPEC, "x.pcap", exceptions={9: "reason", 7: ("reason", [(4, 1, 16)])})
    assert [f for f, _, _ in cmp.mismatches] == [5] and set(cmp.excepted) == {7, 9}
    assert cmp.stale_exceptions == [7]
    assert T.normalize("0x0065") == 101 and T.normalize(True) == 1 and T.normalize("") is None
