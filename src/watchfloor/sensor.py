"""The passive sensor: capture packets → flows → protocol decoders → events, in batches.

It only reads: files here (live interfaces will be opened read-only too); nothing is ever sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .capture.files import CaptureError, RawPacket, open_stream, read_packets
from .capture.flows import FlowTable
from .capture.packets import IPPROTO_TCP, Defragmenter, dissect
from .decode import DECODERS, DecoderManifest
from .schema import Event, Observer, Pcap


@dataclass
class Stats:
    packets: int = 0
    bytes: int = 0
    skipped: int = 0  # neither TCP nor UDP over IP (ARP, LLDP, layer-2 protocols, broken headers)
    events: int = 0
    flows: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    protocols: dict[str, int] = field(default_factory=dict)


def capture_id(path: str | Path) -> str:
    """A short digest of the capture's first MiB: ids stay the same however the file is named."""
    with open_stream(path) as f:
        return hashlib.blake2b(f.read(1 << 20), digest_size=6).hexdigest()


class Sensor:
    """Decode one stream of packets. Events come out in batches of about `batch` events."""

    def __init__(self, *, decoders: Sequence[DecoderManifest] = DECODERS, observer: str | None = None,
                 batch: int = 4096) -> None:  # fmt: skip
        self.decoders, self.batch = decoders, batch
        self.observer = Observer(name=observer) if observer else None
        self.stats = Stats()
        self._last_frame = self._next_n = 0

    def run(self, packets: Iterable[RawPacket], *, source_id: str,
            file: str | None = None) -> Iterator[list[Event]]:  # fmt: skip
        out: list[Event] = []
        flows = FlowTable(self.decoders, out)
        by_key = flows.by_key
        defrag = Defragmenter()
        stats, observer, batch = self.stats, self.observer, self.batch
        frame = ts = 0
        done = 0  # events in `out` already stamped
        error: CaptureError | None = None
        try:
            for frame, ts, linktype, data, _ in packets:
                stats.packets += 1
                stats.bytes += len(data)
                t = dissect(linktype, data, ts, defrag)
                if t is None:
                    stats.skipped += 1
                else:
                    proto, src, sport, dst, dport, seq, flags, payload, smac, dmac, vlan = t
                    hit = by_key.get((src, sport, dst, dport, proto))
                    flow, d = hit if hit is not None else flows.add(
                        src, sport, dst, dport, proto, (smac, dmac), vlan, frame, ts)  # fmt: skip
                    if proto == IPPROTO_TCP:
                        flow.tcp(d, seq, flags, payload, frame, ts)
                    else:
                        flow.udp(d, payload, frame, ts)
                if ts >= flows.next_sweep:
                    flows.sweep(frame, ts)
                if len(out) > done:
                    done = self._stamp(out, done, frame, source_id, file)
                    if done >= batch:
                        yield self._flush(out)
                        done = 0
        except CaptureError as e:  # the good packets before the damage still count
            error = e
        flows.close_all(frame, ts)
        stats.flows = flows.created
        self._stamp(out, done, frame, source_id, file)
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
        for i in range(start, len(out)):
            ev = out[i]
            ev.pcap = pcap
            ev.event.id = f"{source_id}-{frame}-{n}"
            n += 1
            if observer is not None:
                ev.observer = observer
        self._last_frame, self._next_n = frame, n
        return len(out)

    def _flush(self, out: list[Event]) -> list[Event]:
        batch = out[:]
        out.clear()
        st = self.stats
        st.events += len(batch)
        for ev in batch:
            proto = ev.ot.protocol if ev.ot is not None else "other"
            st.protocols[proto] = st.protocols.get(proto, 0) + 1
        return batch


def decode_file(path: str | Path, sensor: Sensor | None = None) -> Iterator[list[Event]]:
    """Events of one capture file, in batches; raises CaptureError after the last good packet."""
    sensor = sensor or Sensor()
    return sensor.run(read_packets(path), source_id=capture_id(path), file=str(path))
