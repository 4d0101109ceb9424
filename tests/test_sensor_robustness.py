"""The whole sensor on hostile input: random frames and random Modbus-looking streams never crash it,
and every event it emits is a valid schema event."""

from __future__ import annotations

import gc

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watchfloor.schema import Event
from watchfloor.sensor import Sensor
from watchfloor.testing import frames

CLIENT, SERVER = "192.0.2.1", "192.0.2.2"

segment = st.tuples(
    st.booleans(),  # from the client?
    st.integers(0, 2**32 - 1),  # sequence number
    st.sampled_from(["S", "SA", "A", "PA", "FA", "R", "SF"]),
    st.one_of(
        st.binary(max_size=80),
        # bytes that look like MBAP headers, with random lengths and function codes
        st.builds(lambda tid, length, unit, fc, body: tid + b"\x00\x00" + length + unit + fc + body,
                  st.binary(min_size=2, max_size=2), st.binary(min_size=2, max_size=2),
                  st.binary(min_size=1, max_size=1), st.binary(min_size=1, max_size=1),
                  st.binary(max_size=40)),
    ),
    st.integers(0, 40),  # bytes cut off by a snap length
)


def _run(packets: list[tuple[int, int, int, bytes, int]]) -> list[Event]:
    events = [e for batch in Sensor(batch=7).run(iter(packets), source_id="t") for e in batch]
    lines = msgspec.json.Encoder().encode_lines(events)
    for line in lines.splitlines():  # what was emitted reads back as a schema event
        msgspec.json.decode(line, type=Event)
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment, max_size=25), st.sampled_from([502, 5020]))
def test_random_tcp_streams_never_crash_the_sensor(segments: list, port: int) -> None:
    packets = []
    for i, (from_client, seq, flags, payload, cut) in enumerate(segments, start=1):
        src, dst, sport, dport = (CLIENT, SERVER, 40000, port) if from_client else (
            SERVER, CLIENT, port, 40000)
        frame = frames.ethernet(frames.ipv4(src, dst, 6, frames.tcp(
            src, dst, sport, dport, seq=seq, flags=flags, payload=payload)))
        packets.append((i, i * 1_000_000, 1, frame[: len(frame) - cut], len(frame)))
    _run(packets)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1, 101, 113, 276]), st.binary(max_size=120)),
                max_size=20))
def test_random_frames_never_crash_the_sensor(items: list[tuple[int, bytes]]) -> None:
    _run([(i, i, linktype, data, len(data)) for i, (linktype, data) in enumerate(items, start=1)])


def test_decoding_leaves_no_cyclic_garbage() -> None:
    """A flow and its session point at each other: the table breaks that cycle when the flow
    leaves, so flows are freed as they go rather than piling up for the cyclic collector
    (whose passes over a long capture's state cost time on every protocol)."""
    from pathlib import Path

    from watchfloor.sensor import decode_file

    captures = sorted(p for p in (Path(__file__).parent / "captures").rglob("*")
                      if p.suffix in (".pcap", ".pcapng", ".gz"))  # fmt: skip
    assert len(captures) > 20
    gc.collect()
    gc.disable()
    try:
        for path in captures:
            for _batch in decode_file(path):
                pass
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("shards", [2, 3])
def test_shards_together_decode_what_one_sensor_decodes(shards: int) -> None:
    """Every project capture (TCP, UDP, fragments, VLANs, layer-2 streams): the shards' events
    together are exactly one sensor's, however a shard passes over the others' frames. (A flow
    record written at the end of the capture names the last frame its shard read.)"""
    from pathlib import Path

    from watchfloor.capture.files import read_packets

    enc = msgspec.json.Encoder()
    for path in sorted(p for p in (Path(__file__).parent / "captures").rglob("*")
                       if p.suffix in (".pcap", ".pcapng", ".gz")):  # fmt: skip
        def run(shard: tuple[int, int], path: Path = path) -> list[bytes]:
            batches = Sensor().run(read_packets(path), source_id="t", shard=shard)
            events = [e for batch in batches for e in batch]
            for e in events:
                if e.event.action == "flow" and e.pcap is not None:
                    e.pcap = None
            return [enc.encode(e) for e in events]

        together = sorted(line for k in range(shards) for line in run((k, shards)))
        assert together == sorted(run((0, 1))), path
