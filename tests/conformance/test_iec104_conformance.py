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
from .test_modbus_conformance import _PcapWriter
from watchfloor.decode.iec104.wire import ELEMENTS

SPEC = T.PROTOCOLS["iec104"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4


def _check(capture: Path, label: str | None = None, ports: set[int] | None = None,
           events: list | None = None) -> T.Comparison:
    cmp = C.conforms(capture, "iec104", label=label, ports=ports, events=events)
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


# Information elements: deeper than the contract ---------------------------------------------------
# Per frame, each Wireshark element field's occurrences (document order) against the same values
# taken from our objects of the types that carry that element. Frames where either side flags the
# ASDU as not matching its VSQ are left out: Wireshark then decodes as many objects as fit, we keep
# the bytes raw (README).

_QDS_BITS = {"overflow": 0x01, "blocked": 0x10, "substituted": 0x20, "not_topical": 0x40, "invalid": 0x80}
_SP, _DP, _VTI = {1, 30}, {3, 31}, {5, 32}
# Wireshark 4.0 shows M_PS_NA_1 (20), M_EP_TD/TE/TF_1 (38-40) and C_TS_TA_1 (107) as raw data;
# of an unknown type it shows the first IOA, we keep the body raw (its element size is unknown).
_QDS_TYPES = {5, 7, 9, 11, 13, 32, 33, 34, 35, 36}
_TIMED = frozenset(range(30, 38)) | frozenset(range(58, 65)) | {103}
_IOA_TYPES = frozenset(ELEMENTS) - {20, 38, 39, 40, 107}


def _raw_flags(o: dict) -> int:
    return sum(_QDS_BITS.get(q, 0) for q in o.get("quality") or ())


DEEP: dict[str, tuple[str, frozenset[int], object]] = {
    # name: (Wireshark field, our type ids, how to read our object)
    "ioa": ("iec60870_asdu.ioa", _IOA_TYPES, lambda o: o["ioa"]),
    "siq": ("iec60870_asdu.siq", frozenset(_SP), lambda o: o["value"] | _raw_flags(o)),
    "diq": ("iec60870_asdu.diq", frozenset(_DP), lambda o: o["value"] | _raw_flags(o)),
    "vti": ("iec60870_asdu.vti.v", frozenset(_VTI), lambda o: o["value"]),
    "qds": ("iec60870_asdu.qds", frozenset(_QDS_TYPES), _raw_flags),
    # BSI is little-endian like every multi-octet element (101 §7.2.6.13, lib60870 agrees);
    # Wireshark 4.0 reads it big-endian, so its value is compared byte-swapped.
    "bitstring": ("iec60870_asdu.bitstring", frozenset({7, 33, 51, 64}),
                  lambda o: int.from_bytes(o["value"].to_bytes(4, "little"), "big")),
    "normval": ("iec60870_asdu.normval", frozenset({9, 21, 34, 48, 61, 110}), lambda o: o["float_value"]),
    "scalval": ("iec60870_asdu.scalval", frozenset({11, 35, 49, 62, 111}), lambda o: o["value"]),
    "float": ("iec60870_asdu.float", frozenset({13, 36, 50, 63, 112}), lambda o: o["float_value"]),
    "bcr": ("iec60870_asdu.bcr.count", frozenset({15, 37}), lambda o: o["value"]),
    "bcr_seq": ("iec60870_asdu.bcr.sq", frozenset({15, 37}), lambda o: o["sequence"]),
    "sco": ("iec60870_asdu.sco.on", frozenset({45, 58}), lambda o: o["value"]),
    "sco_se": ("iec60870_asdu.sco.se", frozenset({45, 58}), lambda o: int(o["select"])),
    "dco": ("iec60870_asdu.dco.on", frozenset({46, 59}), lambda o: o["value"]),
    "rco": ("iec60870_asdu.rco.up", frozenset({47, 60}), lambda o: o["value"]),
    "qos_se": ("iec60870_asdu.qos.se", frozenset({48, 49, 50, 61, 62, 63}), lambda o: int(o["select"])),
    "qoi": ("iec60870_asdu.qoi", frozenset({100}), lambda o: o["value"]),
    "rqt": ("iec60870_asdu.rqt", frozenset({101}), lambda o: o["value"]),
    "frz": ("iec60870_asdu.frz", frozenset({101}), lambda o: o["qualifier"]),
    # Wireshark moves a summer-time clock back one hour.
    "time": ("iec60870_asdu.cp56time", _TIMED,
             lambda o: _winter(o.get("time")) if o.get("summer_time") else o.get("time")),
}
_BAD = {"length_mismatch", "short_asdu"}


def _winter(time: str | None) -> str | None:
    import datetime as dt

    if time is None:
        return None
    t = dt.datetime.strptime(time, "%Y-%m-%dT%H:%M:%S.%fZ") - dt.timedelta(hours=1)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _wireshark_time(text: str) -> str | None:
    import datetime as dt

    t = dt.datetime.strptime(text.replace("  ", " ").rsplit(" ", 1)[0][:-3], "%b %d, %Y %H:%M:%S.%f")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-5 * max(1.0, abs(float(b)))  # tshark: 6 digits
    return a == b


def deep_compare(capture: Path, events: list, ports: set[int]) -> tuple[int, list[str]]:
    """(values compared, mismatch descriptions)."""
    names = list(DEEP)
    ours: dict[int, dict[str, list]] = {}
    skip: set[int] = set()
    no_time: set[int] = set()
    skip_ioa: set[int] = set()
    for ev in T.protocol_events(events, SPEC):
        frame, iec = ev["pcap"]["frame"], ev["ot"]["iec104"]
        flags = set(ev["ot"].get("anomalies") or ())
        if _BAD & flags:
            skip.add(frame)
        if "invalid_time" in flags:  # e.g. year 109: Wireshark reads years since 1900
            no_time.add(frame)
        per = ours.setdefault(frame, {n: [] for n in names})
        t = iec.get("type_id")
        if t is not None and t not in _IOA_TYPES:
            # a type whose objects one side does not decode: its IOAs are left out
            skip_ioa.add(frame)
        if t is not None and t not in ELEMENTS:  # kept raw (unknown, CP24Time2a types of 101)
            skip.add(frame)
        for o in iec.get("objects") or ():
            for n in names:
                _, types, get = DEEP[n]
                if t in types:
                    per[n].append(get(o))
    raw = T.tshark_fields(capture, [DEEP[n][0] for n in names], SPEC.options(ports), SPEC.filter())
    compared, bad = 0, []
    for frame in sorted(set(ours) | set(raw)):
        if frame in skip:
            continue
        mine = ours.get(frame, {n: [] for n in names})
        theirs = raw.get(frame, [[] for _ in names])
        for n, occ in zip(names, theirs):
            if (n == "time" and frame in no_time) or (n == "ioa" and frame in skip_ioa):
                continue
            if n == "time":
                want = [_wireshark_time(v) for v in occ]
            elif n in ("normval", "float"):
                want = [float(v) for v in occ]
            else:
                want = [T.normalize(v) for v in occ]
            got = mine[n]
            if len(got) != len(want) or not all(_same(a, b) for a, b in zip(got, want)):
                bad.append(f"frame {frame} {n}: ours {got[:8]} wireshark {want[:8]}")
            compared += len(want)
    return compared, bad


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"iec60870_104"}, generated="iec104_*.pcap")
                         + C.project_params("iec104/*.pcap*"))
def test_information_elements(capture: Path) -> None:
    events = T.run_decoder(capture)
    compared, bad = deep_compare(capture, events, T.server_ports(events, SPEC))
    print(f"{capture.name}: {compared} element values compared, {len(bad)} mismatches")
    assert not bad, "\n".join(bad[:30])


# nDPI's expected output: which flows it classifies as IEC 60870-5-104 ----------------------------

def _ndpi_flows(expected: Path) -> set[frozenset]:
    import re

    flows = set()
    for line in expected.read_text(encoding="utf-8").splitlines():
        m = re.search(r"TCP (\S+):(\d+) <-> (\S+):(\d+) \[proto: [\d.]+/([\w.]+)\]", line)
        if m and "IEC60870" in m.group(5):
            flows.add(frozenset({(m.group(1), int(m.group(2))), (m.group(3), int(m.group(4)))}))
    return flows


@pytest.mark.corpus
@pytest.mark.parametrize("capture", [p for p in C.corpus_params({"iec60870_104"})
                                     if p.values[0] is None or Path(f"{p.values[0]}.ndpi-expected.out").is_file()])
def test_flows_agree_with_ndpi(capture: Path) -> None:
    """The flows we decode as IEC 104 are the flows nDPI classifies as IEC60870, and no others."""
    theirs = _ndpi_flows(Path(f"{capture}.ndpi-expected.out"))
    ours = {frozenset({(e["source"]["ip"], e["source"]["port"]), (e["destination"]["ip"], e["destination"]["port"])})
            for e in T.protocol_events(T.run_decoder(capture), SPEC)}
    print(f"{capture.name}: nDPI {len(theirs)} IEC60870 flows, ours {len(ours)}")
    assert theirs and ours == theirs
