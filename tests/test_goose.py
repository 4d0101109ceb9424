"""IEC 61850 GOOSE and Sampled Values: wire layer on annotated bytes, per-control-block anomalies
and per-stream SV summaries on captures built with the kit, routing over the layer-2 path
(VLAN tags included), and property tests."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._flows import l2_flow
from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.goose.probe import probe as goose_probe
from watchfloor.decode.goose.session import GooseSession
from watchfloor.decode.goose.wire import parse as parse_goose
from watchfloor.decode.sv.probe import probe as sv_probe
from watchfloor.decode.sv.session import SvSession
from watchfloor.decode.sv.wire import parse as parse_sv
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import goose as g
from watchfloor.testing import write_pcap

CAPTURES = Path(__file__).parent / "captures" / "goose"
REF = "IED1PROT/LLN0$GO$gcbTrip"


def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _payload(frame: bytes) -> bytes:
    """The bytes after the EtherType of an untagged frame (what a layer-2 session is fed)."""
    return frame[14:]


# -- wire -----------------------------------------------------------------------------------
def test_goose_pdu_fields() -> None:
    data = bytes.fromhex(
        "1001 0033 8000 0000"  # APPID 0x1001, length 51, Reserved 1 with the Simulate bit
        "61 29"  # goosePdu
        "80 05 4c442f4c4e"  # gocbRef "LD/LN"
        "81 02 07d0"  # TTL 2000
        "84 08 6553f100 800000 0a"  # t: 2023-11-14T22:13:20.5Z, quality 0x0a
        "85 01 03 86 01 00"  # stNum 3, sqNum 0
        "87 01 ff"  # test / simulation element: true
        "8a 01 02"  # numDatSetEntries 2
        "ab 06 8301ff 850105"  # allData: true, 5
        .replace(" ", ""))  # fmt: skip
    h, f, scalars, complete = parse_goose(data)
    assert (h.appid, h.length, f["simulation"], complete) == (0x1001, 51, True, True)
    assert (f["gocb_ref"], f["time_allowed_to_live"], f["st_num"], f["sq_num"], f["test"]) == ("LD/LN", 2000, 3, 0, True)
    assert f["t"] == "2023-11-14T22:13:20.500000Z" and f["time_quality"] == 0x0A
    assert (f["values"], scalars, f["data_entries"]) == (["true", "5"], [1, 5], 2)


def test_goose_truncated_keeps_leading_fields() -> None:
    whole = _payload(g.goose_frame(REF, 4, 9, [g.boolean(True)]))
    h, f, _, complete = parse_goose(whole[:40])
    assert not complete and f["gocb_ref"] == REF and "st_num" not in f
    with pytest.raises(Malformed):
        parse_goose(b"\x10\x01\x00\x10\x00\x00\x00\x00\x30\x00")  # not a goosePdu


def test_sv_asdus() -> None:
    frame = _payload(g.sv_frame([g.sv_asdu("MU01", 7, smp_rate=4000), g.sv_asdu("MU01", 8)]))
    h, asdus, complete = parse_sv(frame)
    assert complete and h.appid == 0x4001
    assert [(a.sv_id, a.smp_cnt, a.conf_rev, a.smp_synch, a.smp_rate) for a in asdus] == [
        ("MU01", 7, 1, 2, 4000), ("MU01", 8, 1, 2, None)]


def test_probes() -> None:
    assert goose_probe(_payload(g.goose_frame(REF, 1, 0, [])))
    assert sv_probe(_payload(g.sv_frame([g.sv_asdu("A", 0)])))
    assert not goose_probe(_payload(g.sv_frame([g.sv_asdu("A", 0)]))) and not sv_probe(b"\x00" * 20)


# -- sessions on captures ---------------------------------------------------------------------
def test_goose_sequence_capture() -> None:
    events = _events(CAPTURES / "goose_sequence.pcap")
    msgs = [e for e in events if e.ot and e.ot.goose]
    assert len(msgs) == 14
    by_frame = {e.pcap.frame: e for e in msgs}  # type: ignore[union-attr]
    expected = {8: ["ttl_expired"], 9: ["st_num_jump"], 10: ["sq_num_reset"], 11: ["time_backwards"],
                12: ["entries_mismatch", "needs_commissioning"], 13: ["missing_conf_rev"], 14: ["malformed_pdu"]}
    assert {f: e.ot.anomalies for f, e in by_frame.items() if e.ot.anomalies} == expected  # type: ignore[union-attr]
    first = by_frame[1]
    assert (first.network.transport, first.network.vlan_id, first.source.mac, first.destination.mac) == (  # type: ignore[union-attr]
        "ether", 10, g.PUBLISHER_MAC, g.GOOSE_MAC)
    assert first.ot.action.operation == "read" and first.ot.action.target.station == "IED1PROT"  # type: ignore[union-attr]
    assert by_frame[4].ot.action.values is None  # type: ignore[union-attr]  # a float among the entries
    assert by_frame[12].ot.action.values == [1]  # type: ignore[union-attr]  # one boolean entry
    flags = by_frame[12].ot.goose  # type: ignore[union-attr]
    assert (flags.test, flags.simulation, flags.nds_com, flags.go_id) == (True, True, True, None)  # type: ignore[union-attr]


def test_sv_summaries_capture() -> None:
    events = _events(CAPTURES / "sv_streams.pcap")
    sums = {e.ot.sv.sv_id: e for e in events if e.ot and e.ot.sv}  # type: ignore[union-attr]
    mu1, mu2 = sums["MU01"].ot.sv, sums["MU02"].ot.sv  # type: ignore[union-attr]
    assert (mu1.asdus, mu1.samples_lost, mu1.smp_cnt_gaps, mu1.out_of_order, mu1.first_smp_cnt, mu1.last_smp_cnt) == (
        14, 2, 1, 1, 3995, 8)
    assert sums["MU01"].ot.anomalies == ["samples_lost", "out_of_order"]  # type: ignore[union-attr]
    assert (mu2.packets, mu2.asdus, mu2.simulation, mu2.samples_lost) == (4, 8, True, 0)
    assert sums["MU01"].network.vlan_id == 4  # type: ignore[union-attr]


def test_many_control_blocks_are_bounded(tmp_path: Path) -> None:
    from watchfloor.decode.goose.constants import MAX_STREAMS

    recs = [(10**18 + i * 10**6, g.goose_frame(f"LD/LLN0$GO$g{i}", 1, 0, [])) for i in range(MAX_STREAMS + 20)]
    write_pcap(tmp_path / "many.pcap", recs)
    out: list[Event] = []
    session = GooseSession(l2_flow(g.PUBLISHER_MAC, g.GOOSE_MAC, 0x88B8), out)
    for i, (ts, frame) in enumerate(recs):
        session.feed(0, _payload(frame), i + 1, ts)
    assert len(session.state) == MAX_STREAMS and len(out) == len(recs)
    assert len([e for e in _events(tmp_path / "many.pcap") if e.ot and e.ot.goose]) == len(recs)


# -- properties --------------------------------------------------------------------------------
_SAMPLES = [_payload(g.goose_frame(REF, 2, 3, [g.boolean(True), g.float32(1.5), g.int_data(-4)])),
            _payload(g.goose_frame(REF, 1, 0, [], omit=(3, 8))),
            _payload(g.sv_frame([g.sv_asdu("MU", 1, smp_rate=80, dat_set="x"), g.sv_asdu("MU", 2)]))]
GOOSE_DOC = {"malformed_pdu", "unknown_element", "entries_mismatch", "needs_commissioning", "ttl_expired",
             "st_num_backwards", "st_num_jump", "sq_num_reset", "time_changed_without_state_change",
             "time_backwards", "conf_rev_changed", "flow_evicted"} | {
    f"missing_{k}" for k in ("gocb_ref", "time_allowed_to_live", "dat_set", "t", "st_num", "sq_num", "test",
                             "conf_rev", "nds_com", "num_dat_set_entries")}  # fmt: skip
SV_DOC = {"malformed_pdu", "samples_lost", "out_of_order", "conf_rev_changed", "synchronisation_lost", "simulated"}


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_SAMPLES), st.integers(0, 400), st.integers(0, 255), st.integers(0, 60))
def test_mutated_frames_give_only_documented_outcomes(sample: bytes, at: int, value: int, cut: int) -> None:
    mutated = bytearray(sample)
    mutated[at % len(mutated)] = value
    data = bytes(mutated[: max(1, len(mutated) - cut)])
    for wire in (parse_goose, parse_sv):
        try:
            wire(data)
        except (Malformed, NeedMoreData):
            pass
    for cls, doc in ((GooseSession, GOOSE_DOC), (SvSession, SV_DOC)):
        out: list[Event] = []
        session = cls(l2_flow(g.PUBLISHER_MAC, g.GOOSE_MAC, 0x88B8), out)
        session.feed(0, sample, 1, 0)
        session.feed(0, data, 2, 10**6)
        session.close(3, 2 * 10**6, "end")
        for e in out:
            assert set(e.ot.anomalies or ()) <= doc  # type: ignore[union-attr]


def _fed(cls: type, frames: list[bytes], reuse: bool) -> list[bytes]:
    out: list[Event] = []
    session = cls(l2_flow(g.PUBLISHER_MAC, g.GOOSE_MAC, 0x88B8), out)
    for i, frame in enumerate(frames):
        if not reuse:
            session.last.clear()  # every frame parsed from scratch
        session.feed(0, frame, i + 1, i * 10**6)
    session.close(len(frames) + 1, len(frames) * 10**6, "end")
    return [msgspec.json.encode(e) for e in out]


_SV_SAMPLES = [_payload(g.sv_frame([g.sv_asdu("MU", 7, values=range(-4, 4), dat_set="d")])),
               _payload(g.sv_frame([g.sv_asdu("MU", 9, smp_rate=80), g.sv_asdu("MU", 10, smp_rate=80)]))]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([(GooseSession, s) for s in _SAMPLES[:2]] + [(SvSession, s) for s in _SV_SAMPLES]),
       st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=12))
def test_reusing_the_last_parse_changes_no_event(case: tuple, edits: list[tuple[int, int]]) -> None:
    """A GOOSE retransmission or the next SV frame of a stream reuses the previous parse where
    only sqNum / smpCnt / samples differ: the events must be those of parsing every frame."""
    cls, sample = case
    frames = [sample]
    for at, value in edits:  # each a one-byte change of the last frame (same length: the reuse check runs)
        frame = bytearray(frames[-1])
        frame[at % len(frame)] = value
        frames.append(bytes(frame))
    assert _fed(cls, frames, reuse=True) == _fed(cls, frames, reuse=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_never_escape(data: bytes) -> None:
    for cls in (GooseSession, SvSession):
        out: list[Event] = []
        session = cls(l2_flow(g.PUBLISHER_MAC, g.GOOSE_MAC, 0x88B8), out)
        session.feed(0, data, 1, 0)
        session.close(2, 1, "end")
