"""Bidirectional flows: TCP/UDP conversations, their byte streams, and the decoder attached to each.

Direction 0 is the side that sent the first packet seen, 1 the other. `initiator` is the side that
opened the connection when the handshake was seen (None for a mid-stream start), so decoders can
tell client from server by session state rather than by port.

A layer-2 stream (`proto == ETHER`: frames of one EtherType between two MAC addresses in one
VLAN, see `packets.dissect`) is a flow too, with the same table, bounds and idle expiry: it has
MAC-only endpoints, no ports and no Community ID, and each frame is fed to the session whole,
like a UDP datagram. Its decoder is the one that declared its EtherType.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Sequence
from struct import pack
from typing import TYPE_CHECKING, Final

from ..schema import Endpoint, Event, EventMeta, Network
from ..schema.events import FLOW
from ..schema.time import rfc3339
from .packets import ACK, ETHER, FIN, RST, SYN, l2_ethertype
from .tcp import MASK, Chunk, Gap, TcpStream

if TYPE_CHECKING:
    from ..decode._contract import DecoderManifest, Session

PROBE_CHUNKS: Final = 8  # payload chunks a flow may offer to the probes before it is left undecoded
# The first bytes of each direction that the probes turned down are kept (at most PREAMBLE_BYTES,
# contiguous) for decoders that declare `preamble`: a message split into small segments at the
# start of a flow, or connection set-up that only announces the protocol (COTP connection
# requests before S7comm data), is then probed and decoded whole.
PREAMBLE_BYTES: Final = 256


def ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def mac_text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.hex(":")


def community_id(src: bytes, sport: int, dst: bytes, dport: int, proto: int) -> str:
    """Community ID v1 (seed 0): a flow hash other tools (Zeek, Suricata) compute identically."""
    if (src, sport) > (dst, dport):
        src, sport, dst, dport = dst, dport, src, sport
    digest = hashlib.sha1(pack("!H", 0) + src + dst + pack("!BBHH", proto, 0, sport, dport))
    return "1:" + base64.b64encode(digest.digest()).decode()


class Flow:
    __slots__ = (
        "ips", "ports", "proto", "vlan", "ends", "community_id", "initiator", "streams",
        "last_ts", "fin", "app", "probes_left", "decoders", "out", "closed", "preamble",
        "ethertype",
        "first_frame", "first_ts", "packets", "octets", "protocol",
    )  # fmt: skip

    def __init__(self, src: bytes, sport: int, dst: bytes, dport: int, proto: int,
                 macs: tuple[bytes | None, bytes | None], vlan: int | None, ts_ns: int,
                 decoders: Sequence[DecoderManifest], out: list[Event]) -> None:  # fmt: skip
        self.ips, self.ports, self.proto, self.vlan = (src, dst), (sport, dport), proto, vlan
        self.ethertype: int | None = None
        if proto == ETHER:  # src/dst are the MACs, the ports the stream's tag
            self.ethertype = l2_ethertype(sport)
            self.ends = (Endpoint(mac=mac_text(macs[0])), Endpoint(mac=mac_text(macs[1])))
            self.community_id: str | None = None  # Community ID hashes IP flows only
        else:
            self.ends = (
                Endpoint(ip=ip_text(src), port=sport, mac=mac_text(macs[0])),
                Endpoint(ip=ip_text(dst), port=dport, mac=mac_text(macs[1])),
            )
            self.community_id = community_id(src, sport, dst, dport, proto)
        self.initiator: int | None = None
        self.streams = (TcpStream(), TcpStream()) if proto == 6 else None
        self.last_ts = ts_ns
        self.fin = [False, False]
        self.app: Session | None = None
        self.probes_left = PROBE_CHUNKS
        self.decoders, self.out, self.closed = decoders, out, False
        self.preamble: list[bytes | None] | None = None  # per direction; None once broken
        # for the flow record written at close; the sensor counts packets and wire bytes
        self.first_frame, self.first_ts = 0, ts_ns
        self.packets, self.octets = [0, 0], [0, 0]
        self.protocol: str | None = None  # the decoder's name once one recognised the flow

    @property
    def transport(self) -> str:
        proto = self.proto
        return "tcp" if proto == 6 else "udp" if proto == 17 else "ether"

    def src(self, d: int) -> Endpoint:
        return self.ends[d]

    def dst(self, d: int) -> Endpoint:
        return self.ends[1 - d]

    def tcp(self, d: int, seq: int, flags: int, payload: bytes, missing: int, frame: int,
            ts_ns: int) -> None:  # fmt: skip
        self.last_ts = ts_ns
        streams = self.streams
        assert streams is not None
        if flags & SYN and not flags & (FIN | RST):  # SYN with FIN or RST is no handshake
            streams[d].syn(seq)
            if self.initiator is None:
                self.initiator = d if not flags & ACK else 1 - d
        if payload or missing:
            stream, app = streams[d], self.app
            if app is not None and stream.next == seq and not missing and not stream.holes:
                stream.next = (seq + len(payload)) & MASK  # in order: TcpStream.add's first case
                app.feed(d, payload, frame, ts_ns)
            elif app is not None or self.probes_left:  # else nobody reads this stream
                for chunk in stream.add(seq, payload, missing):
                    self._deliver(d, chunk, frame, ts_ns)
        if flags & (FIN | RST):
            self.fin[d] = True
            if flags & RST or self.fin[1 - d]:
                self.close(frame, ts_ns, "closed")

    def udp(self, d: int, payload: bytes, frame: int, ts_ns: int) -> None:
        """One UDP datagram's payload, or one layer-2 frame's: a message each, no stream."""
        self.last_ts = ts_ns
        app = self.app
        if app is not None:  # a decoded flow (the common case): straight to its session
            app.feed(d, payload, frame, ts_ns)
        else:
            self._deliver(d, payload, frame, ts_ns)

    def _deliver(self, d: int, chunk: Chunk, frame: int, ts_ns: int) -> None:
        app = self.app
        if app is not None:
            if isinstance(chunk, Gap):
                app.gap(d, chunk, frame, ts_ns)
            else:
                app.feed(d, chunk, frame, ts_ns)
        elif self.probes_left and chunk:
            pre = self.preamble
            if isinstance(chunk, Gap):
                if pre is not None:
                    pre[d] = None  # what follows is not contiguous with what was kept
                return
            self.probes_left -= 1
            transport, (p0, p1), etype = self.transport, self.ports, self.ethertype
            if etype is not None:  # the EtherType is the "port": its decoders are asked
                candidates = [(True, dec) for dec in self.decoders if etype in dec.ethertypes]
            else:
                candidates = [(p0 in dec.default_ports or p1 in dec.default_ports, dec)
                              for dec in self.decoders if transport in dec.transports]
            # The protocol registered for the port is asked first: another decoder's probe may
            # also accept these bytes, but the port is the better evidence when both fit.
            candidates.sort(key=lambda c: not c[0])
            for hint, dec in candidates:
                early = pre[d] if dec.preamble and pre is not None else None
                for data in (early + chunk, chunk) if early else (chunk,):
                    if dec.probe(data, hint):
                        self.app = app = dec.session(self, self.out)
                        self.protocol = dec.name
                        if dec.preamble and pre is not None and pre[1 - d]:
                            app.preamble(1 - d, pre[1 - d])  # type: ignore[attr-defined]
                        self.preamble = None
                        app.feed(d, data, frame, ts_ns)
                        return
            if not self.probes_left:  # the flow stays undecoded: nothing more to keep
                self.preamble = None
                return
            if pre is None:
                pre = self.preamble = [b"", b""]
            kept = pre[d]
            if kept is not None:
                pre[d] = kept + chunk if len(kept) + len(chunk) <= PREAMBLE_BYTES else None

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        """End of the conversation (FIN/RST, idle expiry, eviction, end of capture)."""
        if self.closed:
            return
        self.closed = True
        if self.app is not None:
            self.app.close(frame, ts_ns, reason)

    def record(self, service_ports: frozenset[int]) -> Event:
        """The flow record: initiator → responder with packets and bytes each way, first and last
        packet. Its id is the flow's first frame (`f<frame>`; the sensor prefixes the capture).
        `service_ports`: the decoders' default ports."""
        a = self.initiator if self.initiator is not None else self._likely_initiator(service_ports)
        ends = []
        for d in (a, 1 - a):
            e = self.ends[d]
            ends.append(Endpoint(ip=e.ip, port=e.port, mac=e.mac, bytes=self.octets[d],
                                 packets=self.packets[d]))  # fmt: skip
        return Event(
            timestamp=rfc3339(self.last_ts),
            event=EventMeta(id=f"f{self.first_frame}", kind="event", category=["network"],
                            type=["connection", "end"], action=FLOW, dataset="network.flow",
                            start=rfc3339(self.first_ts)),  # fmt: skip
            source=ends[0], destination=ends[1],
            network=Network(transport=self.transport, protocol=self.protocol,
                            community_id=self.community_id, vlan_id=self.vlan),  # fmt: skip
        )

    def _likely_initiator(self, service_ports: frozenset[int]) -> int:
        """No handshake seen (UDP, or a TCP flow that started before the capture): the side that
        sent first, unless only the other side's port is a service port (below 1024 or a
        decoder's default) — then the side with the client port."""
        service = [p < 1024 or p in service_ports for p in self.ports]
        if service[0] and not service[1]:
            return 1
        return 0


class FlowTable:
    """Flows by 5-tuple, both directions. Idle flows expire; the table never exceeds `max_flows`."""

    def __init__(self, decoders: Sequence[DecoderManifest], out: list[Event], *,
                 max_flows: int = 100_000, idle_ns: int = 600 * 10**9,
                 closed_ns: int = 10 * 10**9) -> None:  # fmt: skip
        self.decoders, self.out = decoders, out
        self.max_flows, self.idle_ns, self.closed_ns = max_flows, idle_ns, closed_ns
        self.by_key: dict[tuple, tuple[Flow, int]] = {}
        self.service_ports: frozenset[int] = frozenset().union(*(d.default_ports for d in decoders))
        self.count = 0  # flows in the table now
        self.created = 0
        self.next_sweep = 0  # capture time of the next sweep; the sensor calls sweep() then

    def add(self, src: bytes, sport: int, dst: bytes, dport: int, proto: int,
            macs: tuple[bytes | None, bytes | None], vlan: int | None, frame: int,
            ts_ns: int) -> tuple[Flow, int]:  # fmt: skip
        """A new flow, first seen from `src` (look flows up in `by_key`, both directions are
        there); makes room first if the table is full."""
        if self.count >= self.max_flows:
            self.sweep(frame, ts_ns)
        flow = Flow(src, sport, dst, dport, proto, macs, vlan, ts_ns, self.decoders, self.out)
        flow.first_frame = frame
        self.by_key[(src, sport, dst, dport, proto)] = (flow, 0)
        self.by_key[(dst, dport, src, sport, proto)] = (flow, 1)
        self.count += 1
        self.created += 1
        return flow, 0

    def _remove(self, flow: Flow, frame: int, ts_ns: int, reason: str) -> None:
        flow.close(frame, ts_ns, reason)
        # the record on leaving the table: the last ACK after a FIN counts too
        self.out.append(flow.record(self.service_ports))
        flow.app = None  # the session points back at its flow: without this cycle, both go now
        (src, dst), (sport, dport) = flow.ips, flow.ports
        self.by_key.pop((src, sport, dst, dport, flow.proto), None)
        self.by_key.pop((dst, dport, src, sport, flow.proto), None)
        self.count -= 1

    def flows(self) -> list[Flow]:
        return [f for f, d in self.by_key.values() if d == 0]

    def sweep(self, frame: int, ts_ns: int) -> None:
        """Expire idle and closed flows; if still full, evict the least recently active tenth."""
        self.next_sweep = ts_ns + 30 * 10**9  # a sweep visits every flow: not too often
        for f in self.flows():
            idle = ts_ns - f.last_ts
            if idle > self.idle_ns or (f.closed and idle > self.closed_ns):
                self._remove(f, frame, ts_ns, "idle")
        if self.count >= self.max_flows:
            victims = sorted(self.flows(), key=lambda f: f.last_ts)[: max(1, self.max_flows // 10)]
            for f in victims:
                self._remove(f, frame, ts_ns, "evicted")

    def close_all(self, frame: int, ts_ns: int) -> None:
        for f in self.flows():
            self._remove(f, frame, ts_ns, "end of capture")
