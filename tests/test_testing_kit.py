"""watchfloor.testing checked against spec examples and against its oracle, Wireshark's tshark."""

from __future__ import annotations

import concurrent.futures
import gzip
import importlib.util
import io
import itertools
import random
import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.testing import frames, modbus, pcapfile
from watchfloor.testing.modbus import Endpoint, FunctionCode, TcpConversation, mbap

TSHARK = shutil.which("tshark")
CAPTURES = Path(__file__).parent / "captures"
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark (Wireshark) is not on PATH")
CHECKSUMS = ("ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE")
GOOD = "1"  # Wireshark checksum status: 0 bad, 1 good, 2 unverified


def tshark(path: Path, *fields: str, options: tuple[str, ...] = (), two_pass: bool = False) -> list[list[str]]:
    """One row per frame, one cell per field; repeated fields are joined with ','."""
    command = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
               "-E", "aggregator=,"]
    command += ["-2"] if two_pass else []
    for option in options:
        command += ["-o", option]
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, check=True)  # type: ignore[arg-type]
    return [line.split("|") for line in result.stdout.splitlines()]


def udp_frame(payload: bytes) -> bytes:
    return frames.ethernet(frames.ipv4("10.0.0.1", "10.0.0.2", 17, frames.udp("10.0.0.1", "10.0.0.2", 1, 2, payload)))


def column(rows: list[list[str]], index: int) -> list[str]:
    return [row[index] for row in rows]


# --- checksums and builders (no oracle needed) ---------------------------------------


def reference_checksum(data: bytes) -> int:
    """RFC 1071 §4.1, word by word with end-around carry."""
    data += b"\x00" * (len(data) % 2)
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_checksum_rfc1071_example() -> None:
    # RFC 1071 §3: these words sum to 0xDDF2, so the checksum is its complement.
    assert frames.internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


@given(st.binary(max_size=300))
def test_checksum_matches_word_by_word_sum(data: bytes) -> None:
    assert frames.internet_checksum(data) == reference_checksum(data)


def test_headers_checksum_to_zero() -> None:
    packet = frames.ipv4("10.0.0.1", "10.0.0.2", 6, b"xyz", ident=7, flags_df=True)
    assert frames.internet_checksum(packet[:20]) == 0
    segment = frames.tcp("fd00::1", "fd00::2", 1, 502, seq=2**32 + 5, flags="PA", payload=b"odd")
    addresses = frames.ip_address("fd00::1").packed + frames.ip_address("fd00::2").packed
    pseudo = addresses + struct.pack(">I3xB", len(segment), 6)  # RFC 8200 §8.1
    assert reference_checksum(pseudo + segment) == 0
    assert struct.unpack(">I", segment[4:8])[0] == 5  # sequence numbers wrap modulo 2**32


def test_ipv6_extension_headers_chain() -> None:
    chain = [frames.hop_by_hop(), frames.fragment_header(ident=9)]
    packet = frames.ipv6("fd00::1", "fd00::2", 6, b"", ext_headers=chain)
    assert packet[6] == frames.IPPROTO_HOPOPTS  # IPv6 Next Header names the first extension
    assert packet[40] == frames.IPPROTO_FRAGMENT and packet[41] == 0  # 8-octet hop-by-hop header
    assert packet[48] == 6 and struct.unpack(">H", packet[4:6])[0] == 16


def test_modbus_pdus_match_spec_examples() -> None:
    # Examples from the Modbus Application Protocol Specification V1.1b3, §6.
    coils = [int(bit) for byte in (0xCD, 0x6B, 0x05) for bit in f"{byte:08b}"[::-1]][:19]
    examples = [
        (modbus.read_request(1, 0x13, 0x13), "01 0013 0013"),
        (modbus.read_bits_response(1, coils), "01 03 cd6b05"),
        (modbus.read_request(3, 0x6B, 3), "03 006b 0003"),
        (modbus.read_registers_response(3, [0x022B, 0, 0x64]), "03 06 022b 0000 0064"),
        (modbus.write_single_request(5, 0xAC, True), "05 00ac ff00"),
        (modbus.write_single_request(6, 1, 3), "06 0001 0003"),
        (modbus.diagnostics(0, b"\xa5\x37"), "08 0000 a537"),
        (modbus.comm_event_counter_response(0xFFFF, 0x108), "0b ffff 0108"),
        (modbus.comm_event_log_response(0, 0x108, 0x121, b"\x20\x00"), "0c 08 0000 0108 0121 2000"),
        (modbus.write_multiple_coils_request(0x13, [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]), "0f 0013 000a 02 cd01"),
        (modbus.write_multiple_registers_request(1, [0x000A, 0x0102]), "10 0001 0002 04 000a 0102"),
        (modbus.write_multiple_response(16, 1, 2), "10 0001 0002"),
        (modbus.read_file_record_request([(4, 1, 2), (3, 9, 2)]), "14 0e 06 0004 0001 0002 06 0003 0009 0002"),
        (modbus.read_file_record_response([[0x0DFE, 0x20], [0x33CD, 0x40]]), "14 0c 05 06 0dfe 0020 05 06 33cd 0040"),
        (modbus.write_file_record([(4, 7, [0x06AF, 0x04BE, 0x100D])]), "15 0d 06 0004 0007 0003 06af 04be 100d"),
        (modbus.mask_write_register(4, 0xF2, 0x25), "16 0004 00f2 0025"),
        (modbus.read_write_registers_request(3, 6, 0x0E, [0xFF] * 3), "17 0003 0006 000e 0003 06 00ff 00ff 00ff"),
        (modbus.read_fifo_queue_request(0x04DE), "18 04de"),
        (modbus.read_fifo_queue_response([0x01B8, 0x1284]), "18 0006 0002 01b8 1284"),
        (modbus.read_device_id_request(1, 0), "2b 0e 01 00"),
        (modbus.read_device_id_response(1, {0: "AB"}, conformity=1), "2b 0e 01 01 00 00 01 00 02 4142"),
        (modbus.exception(1, 2), "81 02"),
        (mbap(0x1234, 0xFF, modbus.read_request(3, 0, 1)), "1234 0000 0006 ff 03 0000 0001"),
    ]
    for built, expected in examples:
        assert built == bytes.fromhex(expected), expected


def test_pcapng_blocks_are_well_formed() -> None:
    out = io.BytesIO()
    count = pcapfile.write_pcapng(out, [(1, 0), (101, 100, 9)], [(0, 1, b"abc"), (1, 2, b"de")], big_endian=True,
                                  comment="hello")
    data, offset, blocks = out.getvalue(), 0, []
    while offset < len(data):
        block_type, length = struct.unpack_from(">II", data, offset)
        assert length % 4 == 0 and struct.unpack_from(">I", data, offset + length - 4)[0] == length
        blocks.append(block_type)
        offset += length
    assert count == 2 and blocks == [pcapfile.BLOCK_SHB, 1, 1, 6, 6] and offset == len(data)
    assert b"hello\x00\x00\x00" in data  # option value padded to 32 bits
    with pytest.raises(ValueError):
        pcapfile.write_pcapng(io.BytesIO(), [(1, 0), (1, 0)], [], simple=True)


def test_writers_stream_and_gzip_is_reproducible() -> None:
    packets = ((i, b"\x00" * 60) for i in range(30_000))  # a generator: nothing is listed first
    first, second = io.BytesIO(), io.BytesIO()
    assert pcapfile.write_pcap(first, packets, compress=True) == 30_000
    pcapfile.write_pcap(second, ((i, b"\x00" * 60) for i in range(30_000)), compress=True)
    assert first.getvalue() == second.getvalue()
    assert len(gzip.decompress(first.getvalue())) == 24 + 30_000 * (16 + 60)


def test_poll_session_is_lazy_and_deterministic() -> None:
    endless = modbus.poll_session()
    assert len(list(itertools.islice(endless, 50))) == 50
    a = list(modbus.poll_session(packets=500, seed=3))
    assert a == list(modbus.poll_session(packets=500, seed=3)) and len(a) == 500
    assert all(x[0] < y[0] for x, y in itertools.pairwise(a))
    last = list(modbus.poll_session(cycles=2))[-3:]
    assert [frame[14 + 20 + 13] & 0x3F for _, frame in last] == [0x11, 0x11, 0x10]  # FIN/ACK, FIN/ACK, ACK


def test_committed_captures_are_reproducible(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_captures", CAPTURES / "make_captures.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(tmp_path)
    for made in sorted(tmp_path.iterdir()):
        assert made.read_bytes() == (CAPTURES / made.name).read_bytes(), f"{made.name}: re-run make_captures.py"


# --- against tshark ------------------------------------------------------------------


@pytest.mark.tshark
@needs_tshark
def test_checksums_and_lengths_agree_with_tshark(tmp_path: Path) -> None:
    v4, v6 = ("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")
    base = frames.udp(*v4, 1000, 2000, b"\x00\x00")
    zero = frames.udp(*v4, 1000, 2000, base[6:8])  # payload cancels the sum: computed 0, sent 0xFFFF
    assert zero[6:8] == b"\xff\xff"
    packets = [
        frames.ethernet(frames.ipv4(*v4, 6, frames.tcp(*v4, 4000, 502, seq=1, ack=2, flags="PA", payload=b"odd"))),
        frames.ethernet(frames.ipv4(*v4, 6, frames.tcp(*v4, 4000, 502, seq=9, flags="S", options=b"\x02\x04\x05\xb4"))),
        frames.ethernet(frames.ipv4(*v4, 17, frames.udp(*v4, 5000, 53, b"hello"), ttl=1)),
        frames.ethernet(frames.ipv4(*v4, 17, zero)),
        frames.ethernet(frames.ipv6(*v6, 6, frames.tcp(*v6, 1, 2, seq=3, payload=b"x" * 101),
                                    ext_headers=[frames.hop_by_hop(b"\x05\x02\x00\x00"),
                                                 frames.routing_header([v6[1]]),
                                                 frames.destination_options(b"\x1e\x01\x00")]),
                        ethertype=frames.ETHERTYPE_IPV6),
        frames.ethernet(frames.ipv6(*v6, 17, frames.udp(*v6, 7, 8, b"")), ethertype=frames.ETHERTYPE_IPV6),
    ]
    path = tmp_path / "checksums.pcap"
    pcapfile.write_pcap(path, enumerate(packets))
    rows = tshark(path, "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "ip.len", "ipv6.plen",
                  "ipv6.routing.type", options=CHECKSUMS)
    assert [row[1] or row[2] for row in rows] == [GOOD] * 6
    assert column(rows, 0)[:4] == [GOOD] * 4
    assert column(rows, 3)[:4] == [str(len(p) - 14) for p in packets[:4]]
    assert column(rows, 4)[4:] == [str(len(p) - 14 - 40) for p in packets[4:]] and rows[4][5] == "4"


@pytest.mark.tshark
@needs_tshark
def test_vlan_tags_and_cooked_headers(tmp_path: Path) -> None:
    ip = frames.ipv4("10.0.0.1", "10.0.0.2", 17, frames.udp("10.0.0.1", "10.0.0.2", 1, 2, b"v"))
    path = tmp_path / "links.pcapng"
    packets = [(0, 0, frames.ethernet(ip)), (0, 1, frames.ethernet(ip, vlans=[100])),
               (0, 2, frames.ethernet(ip, vlans=[200, 10])), (0, 3, frames.ethernet(ip, vlans=[300, 20, 5])),
               (1, 4, frames.sll(ip, packet_type=4, addr="02:00:00:00:00:09")),
               (2, 5, frames.sll2(ip, packet_type=0, ifindex=7, addr="02:00:00:00:00:0a"))]
    pcapfile.write_pcapng(path, [(1, 0), (113, 0), (276, 0)], packets)
    rows = tshark(path, "ieee8021ad.id", "vlan.id", "sll.pkttype", "sll.ifindex", "sll.src.eth", "udp.srcport")
    assert [row[:2] for row in rows[:4]] == [["", ""], ["", "100"], ["200", "10"], ["300", "20,5"]]
    assert rows[4][2:5] == ["4", "", "02:00:00:00:00:09"] and rows[5][2:5] == ["0", "7", "02:00:00:00:00:0a"]
    assert column(rows, 5) == ["1"] * 6


@pytest.mark.tshark
@needs_tshark
def test_fragments_are_reassembled_by_tshark(tmp_path: Path) -> None:
    adu = mbap(77, 1, modbus.write_multiple_registers_request(0, list(range(30))))
    v4, v6 = ("10.1.0.1", "10.1.0.2"), ("fd00::a", "fd00::b")
    fragments4 = frames.ipv4_fragments(*v4, 6, frames.tcp(*v4, 40000, 502, seq=1, flags="PA", payload=adu),
                                       fragment_size=24, ident=0x4242)
    fragments6 = frames.ipv6_fragments(*v6, 6, frames.tcp(*v6, 40001, 502, seq=1, flags="PA", payload=adu),
                                       fragment_size=32, ident=0x4343, ext_headers=[frames.hop_by_hop()])
    random.Random(1).shuffle(fragments4)
    fragments6.reverse()
    path = tmp_path / "fragments.pcap"
    pcapfile.write_pcap(path, enumerate(fragments4 + fragments6), linktype=pcapfile.LINKTYPE_RAW)
    rows = tshark(path, "ip.checksum.status", "ip.fragment.count", "ipv6.fragment.count", "tcp.checksum.status",
                  "mbtcp.trans_id", "modbus.func_code", options=CHECKSUMS, two_pass=True)
    assert column(rows, 0)[: len(fragments4)] == [GOOD] * len(fragments4)
    completed = [row for row in rows if row[4]]
    assert len(completed) == 2
    assert completed[0][1] == str(len(fragments4)) and completed[1][2] == str(len(fragments6))
    assert [row[3:] for row in completed] == [[GOOD, "77", "16"]] * 2


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize(("nanosecond", "big_endian", "compress"),
                         [(False, False, False), (True, False, False), (True, True, False), (False, True, True)])
def test_pcap_variants(tmp_path: Path, nanosecond: bool, big_endian: bool, compress: bool) -> None:
    ts = 1_700_000_000_123_456_789
    frame = udp_frame(bytes(100))
    path = tmp_path / "variant.pcap"
    records: list[pcapfile.PcapRecord] = [(ts, frame), (ts + 1_001, frame[:60], 999), (ts + 2_000_000_000, frame)]
    packets = iter(records)
    pcapfile.write_pcap(path, packets, nanosecond=nanosecond, big_endian=big_endian, compress=compress, snaplen=100)
    rows = tshark(path, "frame.time_epoch", "frame.len", "frame.cap_len")
    scale = 1 if nanosecond else 1000
    expected = [Decimal(t // scale * scale) / 10**9 for t in (ts, ts + 1_001, ts + 2_000_000_000)]
    assert [Decimal(row[0]) for row in rows] == expected
    assert [row[1:] for row in rows] == [[str(len(frame)), "100"], ["999", "60"], [str(len(frame)), "100"]]


@pytest.mark.tshark
@needs_tshark
def test_pcapng_interfaces_resolution_and_simple_blocks(tmp_path: Path) -> None:
    ip = frames.ipv4("10.0.0.1", "10.0.0.2", 17, frames.udp("10.0.0.1", "10.0.0.2", 1, 2, b"z"))
    ts = 1_700_000_000_987_654_321
    path = tmp_path / "multi.pcapng"
    pcapfile.write_pcapng(path, [(1, 65535), (101, 65535, 9)],
                          iter([(0, ts, frames.ethernet(ip)), (1, ts + 1, ip), (0, ts + 2_000, frames.ethernet(ip))]),
                          big_endian=True, comment="kit")
    rows = tshark(path, "frame.interface_id", "frame.time_epoch", "udp.length")
    assert rows == [["0", "1700000000.987654000", "9"], ["1", "1700000000.987654322", "9"],
                    ["0", "1700000000.987656000", "9"]]
    simple = tmp_path / "simple.pcapng"
    frame = udp_frame(bytes(30))
    pcapfile.write_pcapng(simple, [(1, 50)], [(0, 0, frame)] * 3, simple=True)
    assert tshark(simple, "frame.len", "frame.cap_len") == [[str(len(frame)), "50"]] * 3


@pytest.mark.tshark
@needs_tshark
def test_reference_exchanges_decode_as_built(tmp_path: Path) -> None:
    conv = TcpConversation(Endpoint("fd00:1::1", 40000), Endpoint("fd00:1::2", 502), vlans=(5,))
    records, expected = conv.handshake(), []
    for tid, exchange in enumerate(modbus.reference_exchanges(), start=1000):
        records += modbus.exchange(conv, tid, exchange.request, exchange.response, unit_id=exchange.unit_id)
        for pdu in (exchange.request, exchange.response):
            if pdu is not None:  # modbus.func_code is the 7-bit code; the exception bit is separate
                exception_code = str(pdu[1]) if pdu[0] & 0x80 else ""
                expected.append([str(tid), str(exchange.unit_id), str(pdu[0] & 0x7F), exception_code])
    records += conv.fin()
    path = tmp_path / "reference.pcap"
    pcapfile.write_pcap(path, records)
    rows = tshark(path, "mbtcp.trans_id", "mbtcp.unit_id", "modbus.func_code", "modbus.exception_code",
                  "modbus.object_str_value", "tcp.checksum.status", options=CHECKSUMS)
    assert column(rows, 5) == [GOOD] * len(rows)
    assert [row[:4] for row in rows if row[0]] == expected
    strings = [row[4] for row in rows if row[4]]
    assert strings[0] == "Watchfloor Test PLC Co,WF-PLC-1,v2.4.1"
    assert {FunctionCode.READ_FILE_RECORD, 90} <= {int(row[2]) for row in rows if row[2]}


@pytest.mark.tshark
@needs_tshark
def test_conversation_knobs_show_as_tcp_analysis(tmp_path: Path) -> None:
    conv = TcpConversation(step_ns=1_000)
    write = mbap(1, 1, modbus.write_multiple_registers_request(0, [1] * 10))
    read = mbap(2, 1, modbus.read_request(3, 0, 1))
    records = conv.handshake()  # frames 1-3
    records += conv.client_send(write, segment_sizes=[10, 10])  # 4-6
    records += conv.retransmit_last()  # 7: exact retransmission
    records += conv.server_send(mbap(1, 1, modbus.write_multiple_response(16, 0, 10)))  # 8
    records += conv.client_send(read * 2, segment_sizes=[8, 8], order=[0, 2, 1])  # 9-11: out of order
    records += conv.skip_bytes(len(read))  # never captured
    records += conv.client_send(read)  # 12: after the gap
    start = conv.stream_offset()
    records += conv.client_send(read * 2)  # 13
    records += conv.retransmit(True, start + 6, start + 18)  # 14: overlaps both ADUs of frame 13
    records += conv.ack(from_client=False) + conv.rst()  # 15, 16
    path = tmp_path / "knobs.pcap"
    pcapfile.write_pcap(path, records, nanosecond=True)
    rows = tshark(path, "tcp.flags.str", "tcp.seq", "tcp.ack", "tcp.len", "tcp.analysis.retransmission",
                  "tcp.analysis.out_of_order", "tcp.analysis.lost_segment", "mbtcp.trans_id", "frame.time_epoch")
    flagged = {name: [n for n, row in enumerate(rows, start=1) if row[index]] for name, index in
               (("retransmission", 4), ("out_of_order", 5), ("lost", 6))}
    assert column(rows, 1)[:4] == ["0", "0", "1", "1"] and rows[2][2] == "1"
    assert flagged["retransmission"] == [7] and flagged["out_of_order"] == [11, 14] and flagged["lost"] == [10, 12]
    assert rows[11][1] == str(1 + len(write) + 3 * len(read))  # sequence numbers cover the skipped bytes
    assert rows[13][1:4] == [str(1 + start + 6), str(1 + 12), "12"]
    assert rows[5][7] == "1" and rows[15][0].count("R") == 1
    times = [Decimal(t) for t in column(rows, 8)]
    assert all(b - a == Decimal("0.000001") for a, b in itertools.pairwise(times))


@pytest.mark.tshark
@needs_tshark
def test_poll_session_decodes_as_modbus(tmp_path: Path) -> None:
    path = tmp_path / "poll.pcap"
    pcapfile.write_pcap(path, modbus.poll_session(packets=3000, seed=7))
    rows = tshark(path, "tcp.checksum.status", "ip.checksum.status", "mbtcp.trans_id", "modbus.func_code",
                  "modbus.exception_code", "tcp.srcport", options=CHECKSUMS)
    assert len(rows) == 3000 and {row[0] for row in rows} == {GOOD} and {row[1] for row in rows} == {GOOD}
    requests = {row[2]: row[3] for row in rows if row[2] and row[5] != "502"}
    responses = {row[2]: row[3] for row in rows if row[2] and row[5] == "502"}
    assert responses.items() <= requests.items() and len(responses) >= len(requests) - 1
    assert {"1", "2", "3", "4"} <= set(requests.values()) <= {"1", "2", "3", "4", "5", "6", "15", "16", "23"}
    assert any(row[4] for row in rows)  # some exception responses


def _expert_errors(capture: Path) -> tuple[str, list[str]]:
    options = ["-o", "mbtcp.tcp.port:5020"] if "5020" in capture.name else []
    command = [str(TSHARK), "-n", "-r", str(capture), *options, "-q", "-z", "expert,error"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return capture.name, [line.strip() for line in result.stdout.splitlines() if "Malformed" in line]


@pytest.mark.tshark
@needs_tshark
def test_committed_captures_open_cleanly() -> None:
    # A sample with capture artefacts; all fifteen pass, but tshark costs ~0.2 s a file.
    names = ("gap", "segmented", "raw_ipv6", "multi_if_be")
    captures = [next(CAPTURES.glob(f"modbus_{name}.pcap*")) for name in names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        errors = dict(pool.map(_expert_errors, captures))
    # The only intended one: the overlapping retransmission of modbus_segmented.pcap (see SOURCE.md).
    assert {name: lines for name, lines in errors.items() if lines} == {
        "modbus_segmented.pcap": ["1  Malformed                TCP  New fragment overlaps old data (retransmission?)"]}
