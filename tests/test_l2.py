"""The layer-2 path: frames of a decoder's EtherTypes reach one session per (MACs, EtherType, VLAN)
stream, tagged or not, over Ethernet and Linux cooked captures, and one worker per stream."""

from __future__ import annotations

import json
from collections import Counter

from watchfloor.capture.flows import Flow
from watchfloor.capture.packets import ETHER, Defragmenter, dissect, l2_ethertype, l2_tag
from watchfloor.decode import DecoderManifest
from watchfloor.schema import Event, EventMeta, Network, Ot
from watchfloor.schema.events import FLOW
from watchfloor.schema.time import rfc3339
from watchfloor.sensor import Sensor
from watchfloor.testing import frames

STUB_TYPE = 0x88B5  # IEEE 802 local experimental EtherType 1
A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"


class StubSession:
    """Emits one event per frame naming the session (its number of creation) and the payload."""

    made = 0

    def __init__(self, flow: Flow, out: list[Event]) -> None:
        StubSession.made += 1
        self.flow, self.out, self.id, self.closed = flow, out, StubSession.made, None

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        f = self.flow
        self.out.append(Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=["network"], action=f"s{self.id}-d{d}"),
            message=data[:4].hex(),
            source=f.src(d), destination=f.dst(d),
            network=Network(transport=f.transport, vlan_id=f.vlan,
                            community_id=f.community_id),
            ot=Ot(protocol="stub"),
        ))  # fmt: skip

    def gap(self, d: int, gap: object, frame: int, ts_ns: int) -> None:
        raise AssertionError("a layer-2 stream has no gaps")

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        self.out.append(Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=["network"], action=f"close-s{self.id}"),
            message=reason, ot=Ot(protocol="stub"),
        ))  # fmt: skip


STUB = DecoderManifest(
    name="stub", transports=("ether",), default_ports=frozenset(), spec="test",
    probe=lambda data, hint: data[:1] != b"\xff",  # one frame kind it refuses
    session=StubSession, ethertypes=frozenset({STUB_TYPE}),
)  # fmt: skip


def _run(packets: list[tuple[int, int, int, bytes, int]], shard: tuple[int, int] = (0, 1),
         **kw: int) -> list[Event]:  # fmt: skip
    sensor = Sensor(decoders=(STUB,), **kw)
    return [e for b in sensor.run(iter(packets), source_id="t", shard=shard) for e in b]


def _eth(payload: bytes, src: str, dst: str, vlans: tuple[int, ...] = (),
         etype: int = STUB_TYPE) -> bytes:  # fmt: skip
    return frames.ethernet(payload, src=src, dst=dst, ethertype=etype, vlans=vlans)


def test_dissect_routes_declared_ethertypes_only() -> None:
    types = frozenset({STUB_TYPE})
    t = dissect(1, _eth(b"\x01\x02", A, B, (7,)), 0, Defragmenter(), None, types)
    assert t is not None
    proto, src, sport, dst, dport, _, _, payload, missing, smac, dmac, vlan = t
    assert (proto, src, dst, payload, missing, vlan) == (ETHER, smac, dmac, b"\x01\x02", 0, 7)
    assert sport == dport == l2_tag(STUB_TYPE, 7) and l2_ethertype(sport) == STUB_TYPE
    assert l2_tag(STUB_TYPE, None) != l2_tag(STUB_TYPE, 0)  # untagged and priority-tagged differ
    assert dissect(1, _eth(b"\x01", A, B, etype=0x88CC), 0, Defragmenter(), None, types) is None
    assert dissect(1, _eth(b"\x01", A, B), 0, Defragmenter()) is None  # nobody asked for it
    ip = frames.ethernet(frames.ipv4("192.0.2.1", "192.0.2.2", 17,
                                     frames.udp("192.0.2.1", "192.0.2.2", 1, 2, b"x")))
    assert dissect(1, ip, 0, Defragmenter(), None, types)[0] == 17  # type: ignore[index]


def test_one_session_per_stream_both_directions() -> None:
    StubSession.made = 0
    packets = [
        (1, 1000, 1, _eth(b"\x01req", A, B), 0),
        (2, 2000, 1, _eth(b"\x02rsp", B, A), 0),  # reply: same stream, direction 1
        (3, 3000, 1, _eth(b"\x03", A, B, (10,)), 0),  # same MACs, VLAN 10: another stream
        (4, 4000, 1, _eth(b"\x04", A, B, (20, 10)), 0),  # QinQ: outer tag 20 names it
        (5, 5000, 1, _eth(b"\x05", A, C), 0),
        (6, 6000, 1, _eth(b"\x06", A, B, etype=0x88CC), 0),  # LLDP: no decoder, skipped
        (7, 7000, 1, _eth(b"\x07", A, B), 0),
    ]
    events = _run([(f, t, lt, d, len(d)) for f, t, lt, d, _ in packets])
    msgs = [e for e in events if not e.event.action.startswith("close") and e.event.action != FLOW]
    assert [(e.event.action, e.pcap.frame) for e in msgs] == [  # type: ignore[union-attr]
        ("s1-d0", 1), ("s1-d1", 2), ("s2-d0", 3), ("s3-d0", 4), ("s4-d0", 5), ("s1-d0", 7)]
    first, reply = msgs[0], msgs[1]
    assert (first.source.mac, first.destination.mac) == (A, B)  # type: ignore[union-attr]
    assert (reply.source.mac, reply.destination.mac) == (B, A)  # type: ignore[union-attr]
    assert first.source.ip is None and first.source.port is None  # type: ignore[union-attr]
    assert first.network == Network(transport="ether")
    assert [e.network.vlan_id for e in msgs] == [None, None, 10, 20, None, None]  # type: ignore[union-attr]
    assert sorted(e.event.action for e in events if e.event.action.startswith("close")) == [
        "close-s1", "close-s2", "close-s3", "close-s4"]


def test_cooked_captures_and_probe_refusal() -> None:
    StubSession.made = 0
    v1 = frames.sll(b"\x01", protocol=STUB_TYPE, addr=A)
    v2 = frames.sll2(b"\x02", protocol=STUB_TYPE, addr=B)
    tagged = frames.sll(b"\x00\x05" + STUB_TYPE.to_bytes(2, "big") + b"\x03",
                        protocol=0x8100, addr=A)  # a tag the kernel did not strip
    refused = _eth(b"\xff", C, A)
    events = _run([(1, 1, 113, v1, len(v1)), (2, 2, 276, v2, len(v2)),
                   (3, 3, 113, tagged, len(tagged)), (4, 4, 1, refused, len(refused))])
    msgs = [e for e in events if not e.event.action.startswith("close") and e.event.action != FLOW]
    assert [(e.source.mac, e.destination.mac, e.network.vlan_id, e.message)  # type: ignore[union-attr]
            for e in msgs] == [(A, None, None, "01"), (B, None, None, "02"), (A, None, 5, "03")]


def test_idle_streams_expire_and_the_table_stays_bounded() -> None:
    StubSession.made = 0
    minute = 60 * 10**9
    packets = [(1, 0, 1, _eth(b"\x01", A, B), 20)]
    packets += [(i, i * 2 * minute, 1, _eth(b"\x01", C, f"02:00:00:00:01:{i:02x}"), 20)
                for i in range(2, 40)]  # fmt: skip
    events = _run(packets, max_flows=8)
    closes = Counter(e.message for e in events if e.event.action.startswith("close"))
    assert closes["idle"] + closes["evicted"] >= 30  # old streams left the table as it went
    assert sum(closes.values()) == 39  # and every stream was closed exactly once


def test_every_stream_goes_to_exactly_one_worker() -> None:
    macs = [f"02:00:00:00:00:{i:02x}" for i in range(12)]
    packets = []
    for i in range(300):
        s, d = macs[i % 12], macs[(i // 12 + i) % 12]
        if s == d:
            continue
        vlans = () if i % 3 else (i % 5,)
        data = _eth(bytes([i % 200]), s, d, vlans)
        packets.append((len(packets) + 1, i * 1000, 1, data, len(data)))

    def streams(events: list[Event]) -> dict[tuple, set[int]]:
        out: dict[tuple, set[int]] = {}
        for e in events:
            if e.source is not None and e.event.action != FLOW:
                key = (frozenset((e.source.mac, e.destination.mac)), e.network.vlan_id)  # type: ignore[union-attr]
                out.setdefault(key, set()).add(e.pcap.frame)  # type: ignore[union-attr]
        return out

    whole = streams(_run(packets))
    parts = [streams(_run(packets, shard=(k, 3))) for k in range(3)]
    assert sum(len(p) for p in parts) == len(whole)  # no stream split across workers
    merged = {k: v for p in parts for k, v in p.items()}
    assert merged == whole and len(whole) > 20
    assert all(parts)  # the streams were spread over the workers


def test_worker_processes_decode_layer2_streams_like_one(tmp_path) -> None:
    """Real worker processes (`decode_jsonl`), every event kind: each stream decoded whole by one
    worker gives the same events (summaries, pairing, identities) as a single process."""
    from watchfloor.sensor import decode_jsonl
    from watchfloor.testing import profinet as pn, write_pcap

    records = []
    for i in range(200):
        dev = f"02:00:00:00:01:{i % 9:02x}"
        ctrl = "02:00:00:00:00:01"
        records.append((i * 10**6, frames.ethernet(pn.rt_frame(0x8000 + i % 9, i), src=dev, dst=ctrl,
                                                   ethertype=pn.ETHERTYPE, vlans=(i % 2,))))  # fmt: skip
        if i % 20 == 0:
            records.append((i * 10**6 + 1, frames.ethernet(pn.dcp(3, 0, i, [b"\x02\x02"]), src=ctrl,
                                                           dst=dev, ethertype=pn.ETHERTYPE)))  # fmt: skip
            get_rsp = pn.dcp(3, 1, i, [pn.name_block(f"d{i % 9}", info=0)])
            records.append((i * 10**6 + 2, frames.ethernet(get_rsp, src=dev, dst=ctrl,
                                                           ethertype=pn.ETHERTYPE)))  # fmt: skip
    capture = tmp_path / "l2.pcap"
    write_pcap(capture, records)

    def events(workers: int) -> list[str]:
        """Events without id and pcap: what the end of the capture closes is stamped with the
        last frame its worker read, which depends on the worker count."""
        out = []
        for line in b"".join(decode_jsonl(capture, workers=workers)).splitlines():
            ev = json.loads(line)
            del ev["event"]["id"], ev["pcap"]
            out.append(json.dumps(ev, sort_keys=True))
        return sorted(out)

    one, two = events(1), events(2)
    assert one == two and len(one) > 40
    assert sum('"request_frame"' in line for line in one) == 10  # Get responses paired
