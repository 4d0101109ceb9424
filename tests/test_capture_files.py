"""Capture readers: every format variant the kit writes reads back exactly; damage is reported."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watchfloor.capture.files import CaptureError, read_packets
from watchfloor.testing import write_pcap, write_pcapng

PACKETS = [(1_700_000_000_123_456_000 + i * 1_000_000, bytes([i]) * (20 + i)) for i in range(50)]


def _read(path: Path) -> list[tuple[int, int, bytes]]:
    return [(frame, ts, data) for frame, ts, _, data, _ in read_packets(path)]


def _expected(packets=PACKETS) -> list[tuple[int, int, bytes]]:
    return [(i + 1, ts, data) for i, (ts, data) in enumerate(packets)]


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanosecond", [False, True])
@pytest.mark.parametrize("compress", [False, True])
def test_pcap_variants(tmp_path: Path, big_endian: bool, nanosecond: bool, compress: bool) -> None:
    path = tmp_path / "c.pcap"
    write_pcap(path, PACKETS, big_endian=big_endian, nanosecond=nanosecond, compress=compress)
    assert _read(path) == _expected()
    assert {p[2] for p in read_packets(path)} == {1}


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_interfaces_with_different_link_types_and_resolutions(tmp_path: Path,
                                                                    big_endian: bool) -> None:
    path = tmp_path / "c.pcapng"
    records = [(i % 2, ts, data) for i, (ts, data) in enumerate(PACKETS)]
    write_pcapng(path, [(1, 65535, 6), (101, 65535, 9)], records, big_endian=big_endian)
    got = list(read_packets(path))
    assert [(p[0], p[1], p[3]) for p in got] == _expected()
    assert [p[2] for p in got] == [1 if i % 2 == 0 else 101 for i in range(len(PACKETS))]


def test_pcapng_simple_packet_blocks(tmp_path: Path) -> None:
    path = tmp_path / "c.pcapng"
    write_pcapng(path, [(1, 65535)], [(0, ts, d) for ts, d in PACKETS], simple=True)
    assert [(p[0], p[3]) for p in read_packets(path)] == [(f, d) for f, _, d in _expected()]


def test_pcapng_sections_may_switch_byte_order(tmp_path: Path) -> None:
    a, b = io.BytesIO(), io.BytesIO()
    write_pcapng(a, [(1, 65535)], [(0, ts, d) for ts, d in PACKETS[:3]])
    write_pcapng(b, [(101, 65535)], [(0, ts, d) for ts, d in PACKETS[3:6]], big_endian=True)
    path = tmp_path / "two-sections.pcapng"
    path.write_bytes(a.getvalue() + b.getvalue())
    got = list(read_packets(path))
    assert [p[0] for p in got] == [1, 2, 3, 4, 5, 6]
    assert [p[2] for p in got] == [1, 1, 1, 101, 101, 101]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng", "pcap.gz"])
def test_truncated_capture_yields_good_packets_then_names_offset(tmp_path: Path, fmt: str) -> None:
    whole = tmp_path / f"whole.{fmt}"
    if fmt == "pcapng":
        write_pcapng(whole, [(1, 65535)], [(0, ts, d) for ts, d in PACKETS])
    else:
        write_pcap(whole, PACKETS, compress=fmt.endswith(".gz"))
    raw = gzip.decompress(whole.read_bytes()) if fmt.endswith(".gz") else whole.read_bytes()
    cut = len(raw) - 30  # inside the last packet
    broken = tmp_path / f"broken.{fmt}"
    broken.write_bytes(gzip.compress(raw[:cut]) if fmt.endswith(".gz") else raw[:cut])
    seen = []
    with pytest.raises(CaptureError) as err:
        for p in read_packets(broken):
            seen.append(p[3])
    assert seen == [d for _, d in PACKETS[:-1]]
    assert str(broken) in str(err.value) and "truncated" in err.value.reason
    assert 0 < err.value.offset < cut


def test_corrupt_record_length_is_reported_at_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    write_pcap(path, PACKETS[:5])
    raw = bytearray(path.read_bytes())
    third = 24 + sum(16 + len(d) for _, d in PACKETS[:2])
    raw[third + 8 : third + 12] = (0x7FFFFFFF).to_bytes(4, "little")
    path.write_bytes(raw)
    seen = []
    with pytest.raises(CaptureError) as err:
        for p in read_packets(path):
            seen.append(p[0])
    assert seen == [1, 2]
    assert err.value.offset == third and "impossible packet length" in str(err.value)


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a capture\n")
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        list(read_packets(path))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600), cut=st.integers(0, 2000), flips=st.lists(
    st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6), ng=st.booleans())
def test_random_and_mutated_files_raise_only_capture_error(tmp_path: Path, data: bytes, cut: int,
                                                            flips: list, ng: bool) -> None:
    buf = io.BytesIO()
    if ng:
        write_pcapng(buf, [(1, 65535), (113, 262144)], [(i % 2, i, data[: i * 7]) for i in range(8)])
    else:
        write_pcap(buf, [(i, data[: i * 7]) for i in range(8)])
    raw = bytearray(buf.getvalue()[:cut] if cut < len(buf.getvalue()) else buf.getvalue())
    for at, value in flips:
        if at < len(raw):
            raw[at] = value
    path = tmp_path / "fuzz.cap"
    path.write_bytes(bytes(raw) if cut % 3 else data)  # a third: plain random bytes
    try:
        for _ in read_packets(path):
            pass
    except CaptureError:
        pass
