"""The passive sensor: capture packets → flows → protocol decoders → events, in batches.

It only reads: files here (live interfaces will be opened read-only too); nothing is ever sent.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from struct import Struct
from typing import Any, Final

import msgspec

from .capture.files import CaptureError, RawPacket, read_packets
from .capture.flows import FlowTable
from .capture.packets import IPPROTO_TCP, Defragmenter, Passover, dissect, flow_bytes
from .decode import DECODERS, DecoderManifest
from .schema import Event, Observer, Pcap
from .schema.events import ANOMALY, FLOW


@dataclass
class Stats:
    packets: int = 0
    bytes: int = 0
    skipped: int = 0  # neither TCP/UDP over IP nor a decoder's EtherType (ARP, LLDP, broken headers)
    events: int = 0
    flows: int = 0
    alerts: int = 0
    signals: int = 0  # rule matches kept for correlations only
    flow_records: int = 0  # one per TCP/UDP conversation (event.action "flow")
    protocols: dict[str, int] = field(default_factory=dict)


def capture_id(path: str | Path) -> str:
    """A digest of the capture's size and first MiB: the same file gets the same id (and its
    events the same ids) however it is named; a truncated copy does not."""
    digest = hashlib.blake2b(str(Path(path).stat().st_size).encode(), digest_size=6)
    with open(path, "rb") as f:  # the bytes on disk: compressed files need not decompress
        digest.update(f.read(1 << 20))
    return digest.hexdigest()


class Sensor:
    """Decode one stream of packets. Events come out in batches of about `batch` events."""

    def __init__(self, *, decoders: Sequence[DecoderManifest] = DECODERS, observer: str | None = None,
                 batch: int = 256, max_flows: int = 100_000, messages_only: bool = False,
                 detector: Callable[[list[Event]], list[Event]] | None = None) -> None:  # fmt: skip
        """`batch`: small, so that a batch is encoded and freed while its events are still in the
        CPU's cache (a tenth to a sixth less time per event than batches of 4096).
        `messages_only`: leave out anomaly events and asset observations (their ids are still
        counted, so message ids are the same either way). `detector`: called on each batch, its
        alerts are added to the batch (see `detect.alerts.Detector`)."""
        self.decoders, self.batch, self.max_flows = decoders, batch, max_flows
        self.detector = detector
        self.messages_only = messages_only
        self.observer = Observer(name=observer) if observer else None
        self.stats = Stats()
        self.ethertypes: frozenset[int] = frozenset().union(*(dec.ethertypes for dec in decoders))
        self._last_frame = self._next_n = 0

    def passover(self) -> Passover:
        """For the reader of a shard's packets (`read_packets`, then `run(passover=...)`): the
        frames of other shards' flows, which it then skips without copying them out."""
        return Passover(self.ethertypes, self.max_flows)

    def run(self, packets: Iterable[RawPacket], *, source_id: str, file: str | None = None,
            shard: tuple[int, int] = (0, 1),
            passover: Passover | None = None) -> Iterator[list[Event]]:  # fmt: skip
        """Decode `packets`. With `shard=(k, n)` only flows whose `flow_shard` is k are decoded:
        n sensors with k = 0..n-1 together decode everything, each on its own core. `passover`:
        shared with the reader of `packets`, which then skips other shards' frames itself."""
        mine, shards = shard
        self._last_frame = self._next_n = 0
        # Flows, sessions and their caches live long and hold no reference cycles (a flow breaks
        # its one as it leaves the table), so the collector's full passes only re-visit them; at
        # Python's default rate those took a quarter of BACnet's decoding. This process makes them
        # a tenth as frequent (cyclic garbage elsewhere is still collected, a little later).
        young, middle, full = gc.get_threshold()
        gc.set_threshold(young, middle, max(full, 100))
        out: list[Event] = []
        flows = FlowTable(self.decoders, out, max_flows=self.max_flows)
        by_key = flows.by_key
        # other shards' flows: by the bytes that decide a frame's flow (skip), else by flow key
        skip = passover if passover is not None else self.passover()
        others: set[tuple] = set()  # bounded
        check = shards > 1 and passover is None  # (else the reader has skipped them)
        defrag = Defragmenter()
        stats, batch = self.stats, self.batch
        ethertypes = self.ethertypes
        frame = ts = last = size = 0
        done = 0  # events in `out` already stamped
        error: CaptureError | None = None
        try:
            for frame, ts, linktype, data, wire_len in packets:
                size += len(data)
                if check:
                    fb = flow_bytes(linktype, data, ethertypes)
                    if fb is not None and fb in skip.keys:
                        continue
                t = dissect(linktype, data, ts, defrag, wire_len, ethertypes)
                if t is None:
                    stats.skipped += 1
                    continue
                proto, src, sport, dst, dport, seq, flags, payload, missing, smac, dmac, vlan = t
                key = (src, sport, dst, dport, proto)
                hit = by_key.get(key)
                if hit is not None:  # a flow in the table is this shard's: no hash to compute
                    flow, d = hit
                else:
                    if shards > 1:
                        if key in others:
                            continue
                        if flow_shard(src, sport, dst, dport, shards) != mine:
                            fb = flow_bytes(linktype, data, ethertypes)
                            if fb is not None:
                                skip.add(fb)
                            else:
                                if len(others) >= self.max_flows:
                                    others.clear()
                                others.add(key)
                            continue
                    flow, d = flows.add(src, sport, dst, dport, proto, (smac, dmac), vlan, frame,
                                        ts)  # fmt: skip
                flow.packets[d] += 1
                flow.octets[d] += wire_len or len(data)
                if proto == IPPROTO_TCP:
                    flow.tcp(d, seq, flags, payload, missing, frame, ts)
                else:
                    flow.udp(d, payload, frame, ts)  # a datagram or a layer-2 frame
                last = frame  # events are attributed to frames of this shard only: ids never clash
                if ts >= flows.next_sweep:
                    flows.sweep(frame, ts)
                if len(out) > done:
                    done = self._stamp(out, done, frame, source_id, file)
                    if done >= batch:
                        # frames count every packet (those the reader skipped too)
                        stats.packets, stats.bytes = max(frame, skip.last_frame), size + skip.bytes
                        yield self._flush(out)
                        done = 0
        except CaptureError as e:  # the good packets before the damage still count
            error = e
        if skip.last_frame > frame:  # the capture ended in frames the reader skipped
            frame, ts = skip.last_frame, skip.last_ts
        stats.packets, stats.bytes = frame, size + skip.bytes
        flows.close_all(last, ts)
        stats.flows = flows.created
        self._stamp(out, done, last, source_id, file)
        if out:
            yield self._flush(out)
        if error is not None:
            raise error

    def _stamp(self, out: list[Event], start: int, frame: int, source_id: str,
               file: str | None) -> int:  # fmt: skip
        """Give new events their frame, stable id (capture, frame, n-th event of the frame)."""
        pcap = Pcap(frame=frame, file=file)
        observer = self.observer
        n = self._next_n if frame == self._last_frame else 0
        head = f"{source_id}-{frame}-"
        for i in range(start, len(out)):
            ev = out[i]
            ev.pcap = pcap
            meta = ev.event
            if meta.id:  # a flow record: named by its flow's first frame, stable across shards
                meta.id = f"{source_id}-{meta.id}"
            else:
                meta.id = head + (_DIGITS[n] if n < 10 else str(n))
                n += 1
            if observer is not None:
                ev.observer = observer
        self._last_frame, self._next_n = frame, n
        return len(out)

    def _flush(self, out: list[Event]) -> list[Event]:
        """`out`'s events (only the messages, if so asked) and the detector's alerts on them,
        counted in the stats; `out` is emptied."""
        messages_only = self.messages_only
        batch: list[Event] = []
        for ev in out:  # (each attribute read of an event is a lookup: each is read once)
            meta = ev.event
            kind, action = meta.kind, meta.action
            if messages_only and (kind != "event" or action == ANOMALY or action == FLOW):
                continue  # not a message (schema.is_message, inlined: this runs once per event)
            self._count(ev, kind, action)
            batch.append(ev)
        out.clear()
        if self.detector is not None:
            alerts = self.detector(batch)
            for ev in alerts:
                self._count(ev, ev.event.kind, ev.event.action)
            batch += alerts
        self.stats.events += len(batch)
        return batch

    def _count(self, ev: Event, kind: str, action: str | None) -> None:
        st = self.stats
        if kind == "alert":
            st.alerts += 1
        elif kind == "signal":
            st.signals += 1
        else:
            ot = ev.ot
            if ot is not None:
                proto = ot.protocol
            elif action == FLOW:
                st.flow_records += 1
                return
            else:  # IT naming protocols' observations: their dataset
                net = ev.network
                proto = (net.protocol if net is not None and net.protocol
                         else ev.event.dataset or "other")  # fmt: skip
            st.protocols[proto] = st.protocols.get(proto, 0) + 1


def flow_shard(src: bytes, sport: int, dst: bytes, dport: int, shards: int) -> int:
    """Which of `shards` sensors decodes a flow: a hash of both endpoints in a fixed order, so
    both directions agree. (Cheap XOR mixes fail on plants where client ports and server
    addresses both count up.) A layer-2 stream hashes its MACs and EtherType (its VLAN is
    above the low 16 bits of its tag and left out): all its frames go to one sensor."""
    a, b = src + (sport & 0xFFFF).to_bytes(2, "big"), dst + (dport & 0xFFFF).to_bytes(2, "big")
    return zlib.crc32(a + b if a < b else b + a) % shards


def decode_file(path: str | Path, sensor: Sensor | None = None) -> Iterator[list[Event]]:
    """Events of one capture file, in batches; raises CaptureError after the last good packet."""
    sensor = sensor or Sensor()
    return sensor.run(read_packets(path), source_id=capture_id(path), file=str(path))


# -- several cores ------------------------------------------------------------------------------
def _shard_worker(path: str, source_id: str, shard: tuple[int, int], sensor: Sensor,
                  conn: Connection, fd: int | None, lock: Any,
                  transform: Transform | None) -> None:  # fmt: skip
    """One process of `decode_jsonl`: its share of the flows as JSON lines (transformed if asked)
    through `conn` in chunks, or written to `fd` a whole batch at a time under `lock`; then its
    stats."""
    error = None
    try:
        st = sensor.stats
        passover = sensor.passover()
        batches = sensor.run(read_packets(path, passover), source_id=source_id, file=path,
                             shard=shard, passover=passover)  # fmt: skip
        if fd is None:
            for lines, events in _chunks(batches):
                head = _PROGRESS.pack(st.packets, st.bytes, events)
                conn.send_bytes(head + (transform(lines) if transform else lines))
        else:  # each batch as it is encoded (a few hundred kB): no chunk to join
            encode = msgspec.json.Encoder().encode_lines
            for batch in batches:
                view = memoryview(encode(batch))
                with lock:
                    while view:
                        written = os.write(fd, view)  # (not inside the slice: mypyc calls it twice)
                        view = view[written:]
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as it asked
        pass
    except CaptureError as e:
        error = (e.path, e.offset, e.reason)
    except BaseException as bug:  # say so in the parent rather than dying silently
        error = (path, -1, f"internal error in decoder process: {bug!r}")
    conn.send_bytes(_END + msgspec.msgpack.encode((sensor.stats, error)))
    conn.close()


def _chunks(batches: Iterable[list[Event]]) -> Iterator[tuple[bytes, int]]:
    """(JSON lines, events) of about CHUNK_EVENTS events each: every batch is encoded as it comes
    (while its events are in the cache), the chunks keep pipes, writes and inserts large."""
    encoder = msgspec.json.Encoder()
    parts: list[bytes] = []
    events = 0
    error: CaptureError | None = None
    try:
        for batch in batches:
            parts.append(encoder.encode_lines(batch))
            events += len(batch)
            if events >= CHUNK_EVENTS:
                yield b"".join(parts), events
                parts.clear()
                events = 0
    except CaptureError as e:  # the events decoded before the damage still go out
        error = e
    if parts:
        yield b"".join(parts), events
    if error is not None:
        raise error


CHUNK_EVENTS = 4096
_DIGITS: Final = tuple(str(n) for n in range(10))  # the n-th event of a frame: nearly always 0
_END = b"\x00end\x00"  # cannot start a chunk: those begin with the progress header
_Ending = tuple[Stats, tuple[str, int, str] | None]  # after _END: a worker's totals, its error
_PROGRESS = Struct("<QQQ")  # packets and bytes read so far, events in the chunk that follows
Transform = Callable[[bytes], bytes]


def decode_jsonl(path: str | Path, *, workers: int = 1, observer: str | None = None,
                 stats: Stats | None = None, fd: int | None = None,
                 transform: Transform | None = None, messages_only: bool = False,
                 detector: Callable[[list[Event]], list[Event]] | None = None,
                 ) -> Iterator[bytes]:  # fmt: skip
    """Events of one capture as JSON-lines chunks, decoded by `workers` processes, each taking a
    share of the flows. Chunks arrive in order per process, so within a flow lines come in the
    order of the frames that produced them (an anomaly found later, such as an unanswered
    request, carries the time of the request it is about), and flows interleave when workers > 1.

    `transform` is applied to each chunk where it was decoded (e.g. the store's conversion to
    its insert format), so that work too is spread over the processes. With `fd` and several
    workers, the workers write their lines to that file descriptor themselves, a batch at a time
    (saving a copy through this process), and nothing is yielded. `stats` receives the totals,
    `stats.events` as it goes. Raises CaptureError after all good packets were decoded."""
    stats = stats if stats is not None else Stats()
    if workers <= 1:
        sensor = Sensor(observer=observer, messages_only=messages_only, detector=detector)
        try:
            for lines, events in _chunks(decode_file(path, sensor)):
                stats.packets, stats.bytes = sensor.stats.packets, sensor.stats.bytes
                stats.events += events
                yield transform(lines) if transform else lines
        finally:
            stats.events = 0
            _merge(stats, sensor.stats, first=True)
        return
    ctx = multiprocessing.get_context("fork")
    conns, procs, lock, source_id = [], [], ctx.Lock(), capture_id(path)
    for k in range(workers):
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_shard_worker, daemon=True,  # fork: args are not pickled
                           args=(str(path), source_id, (k, workers),
                                 Sensor(observer=observer, messages_only=messages_only,
                                        detector=detector),
                                 child, fd, lock, transform))  # fmt: skip
        proc.start()
        child.close()
        conns.append(parent)
        procs.append(proc)
    errors: list[tuple[str, int, str]] = []  # (path, offset, reason) as CaptureError has them
    done = []
    try:
        live: list[Any] = list(conns)
        while live:
            for conn in wait(live):
                try:
                    chunk = conn.recv_bytes()  # type: ignore[union-attr]
                except EOFError:
                    live.remove(conn)
                    errors.append((str(path), -1, "a decoder process died"))
                    continue
                if chunk.startswith(_END):
                    worker_stats, error = msgspec.msgpack.decode(chunk[len(_END):], type=_Ending)
                    done.append((conn is conns[0], worker_stats))
                    if error is not None:
                        errors.append(error)
                    live.remove(conn)
                else:
                    packets, size, events = _PROGRESS.unpack_from(chunk)
                    if packets > stats.packets:  # every worker reads every packet
                        stats.packets, stats.bytes = packets, size
                    stats.events += events
                    yield chunk[_PROGRESS.size :]
        stats.events = 0  # the workers' own totals follow
        for first, worker_stats in done:
            _merge(stats, worker_stats, first=first)
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    if errors:
        raise CaptureError(*min(errors, key=lambda e: e[1] if e[1] >= 0 else 1 << 62))


def _merge(total: Stats, part: Stats, *, first: bool) -> None:
    """Add one shard's counts. Every shard reads every packet, so packets are counted once."""
    if first:
        total.packets, total.bytes, total.skipped = part.packets, part.bytes, part.skipped
    total.events += part.events
    total.flows += part.flows
    total.alerts += part.alerts
    total.signals += part.signals
    total.flow_records += part.flow_records
    for proto, n in part.protocols.items():
        total.protocols[proto] = total.protocols.get(proto, 0) + n
