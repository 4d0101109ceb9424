"""Per-stream Sampled Values state: a summary per svID (publisher streams run at thousands of
frames a second, so each ASDU is counted, not reported). A summary is emitted once a minute per
stream and when the layer-2 stream ends; smpCnt is checked for lost and out-of-order samples.

smpCnt counts samples and restarts at 0 (every second for the usual 4000/4800 samples/s
streams): a step to 0 is a wrap, a step forward by more than one counts the samples skipped, a
step back (other than to 0) or a repeat counts as out of order. At most MAX_STREAMS svIDs are
tracked per layer-2 stream; more are summarised early and dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schema import Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Sv
from ...schema.time import rfc3339
from .._contract import WireError
from .._events import anomaly_event
from ..goose.constants import MAX_STREAMS, SIMULATE_BIT, SV_SUMMARY_NS
from ..goose.wire import Header
from .wire import Asdu, Spans, parse

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap

_CATEGORY, _TYPE = ["network"], ["protocol"]


class _Stream:
    __slots__ = ("sv_id", "appid", "simulation", "dat_set", "conf_rev", "smp_rate", "smp_synch",
                 "synch_changes", "rev_changes", "packets", "asdus", "first_frame", "last_frame",
                 "first_ts", "last_ts", "first_cnt", "last_cnt", "gaps", "lost", "out_of_order",
                 "d", "synch_lost", "asdu")  # fmt: skip

    def __init__(self, d: int, sv_id: str, appid: int, frame: int, ts_ns: int) -> None:
        self.d, self.sv_id, self.appid = d, sv_id, appid
        self.simulation = False
        self.dat_set: str | None = None
        self.conf_rev: int | None = None
        self.smp_rate: int | None = None
        self.smp_synch: int | None = None
        self.first_cnt: int | None = None
        self.last_cnt: int | None = None
        self.synch_changes = self.rev_changes = self.packets = self.asdus = 0
        self.gaps = self.lost = self.out_of_order = 0
        self.synch_lost = False
        self.asdu: Asdu | None = None  # the parse last counted (a reused one repeats its fields)
        self.first_frame = self.last_frame = frame
        self.first_ts = self.last_ts = ts_ns


class SvSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.net = Network(transport=flow.transport, protocol="sv", vlan_id=flow.vlan)
        self.streams: dict[str, _Stream] = {}
        # APPID → (length, fixed byte ranges, header, ASDUs, smpCnt span per ASDU) of its last
        # complete frame: a merging unit's frames differ only in smpCnt and samples
        self.last: dict[bytes, tuple[int, list[tuple[int, int, bytes]], Header, list[Asdu],
                                     list[tuple[int, int]]]] = {}  # fmt: skip

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        last = self.last.get(data[:2])
        if last is not None and len(data) == last[0]:
            for s, e, b in last[1]:
                if data[s:e] != b:
                    break
            else:  # the publisher's next frame: only smpCnt and the samples (not decoded) differ
                h, asdus, cnt = last[2], last[3], last[4]
                if len(asdus) == 1:  # the usual 9-2LE frame, without the bookkeeping of several
                    s, e = cnt[0]
                    a = asdus[0]
                    self._count(self._stream(d, a, h, frame, ts_ns), a, h.reserved1, frame, ts_ns,
                                True, int.from_bytes(data[s:e], "big") if s >= 0 else a.smp_cnt)  # fmt: skip
                    return
                self._asdus(d, h, asdus, data, cnt, frame, ts_ns)
                return
        spans: Spans = []
        try:
            h, asdus, complete = parse(data, spans)
        except WireError as bad:
            self._anomaly(d, ts_ns, "malformed_pdu", f"SV frame {frame}: {bad}")
            return
        if complete:
            cnt = self._remember(data, h, asdus, spans)
        else:
            self._anomaly(d, ts_ns, "malformed_pdu", f"SV frame {frame}: truncated or malformed ASDU")
            cnt = [(-1, -1)] * len(asdus)
        self._asdus(d, h, asdus, data, cnt, frame, ts_ns)

    def _asdus(self, d: int, h: Header, asdus: list[Asdu], data: bytes, cnt: list[tuple[int, int]],
               frame: int, ts_ns: int) -> None:  # fmt: skip
        """Count a frame's ASDUs; smpCnt is read from `data` where `cnt` has its span (-1: the
        ASDU's own)."""
        counted: set[str] = set()  # a frame counts once per stream, however many ASDUs it has
        for a, (s, e) in zip(asdus, cnt):
            st = self._stream(d, a, h, frame, ts_ns)
            self._count(st, a, h.reserved1, frame, ts_ns, st.sv_id not in counted,
                        int.from_bytes(data[s:e], "big") if s >= 0 else a.smp_cnt)  # fmt: skip
            counted.add(st.sv_id)

    def _stream(self, d: int, a: Asdu, h: Header, frame: int, ts_ns: int) -> _Stream:
        sv_id = a.sv_id if a.sv_id is not None else ""
        st = self.streams.get(sv_id)
        if st is None:
            if len(self.streams) >= MAX_STREAMS:
                self._summary(self.streams.pop(next(iter(self.streams))))
            st = self.streams[sv_id] = _Stream(d, sv_id, h.appid, frame, ts_ns)
        elif ts_ns - st.first_ts >= SV_SUMMARY_NS:
            self._summary(st)
            st = self.streams[sv_id] = _Stream(d, sv_id, h.appid, frame, ts_ns)
        return st

    def _remember(self, data: bytes, h: Header, asdus: list[Asdu],
                  spans: Spans) -> list[tuple[int, int]]:  # fmt: skip
        """Keep a complete frame's layout by its APPID: the bytes outside `spans` must match for
        a later frame to reuse its ASDUs with its own smpCnt values. Returns each ASDU's smpCnt
        span ((-1, -1) if it has none)."""
        fixed, at = [], 0
        cnt = [(-1, -1)] * len(asdus)
        for s, e, i in spans:
            fixed.append((at, s, data[at:s]))
            at = e
            if i >= 0:
                cnt[i] = (s, e)
        fixed.append((at, len(data), data[at:]))
        if len(self.last) >= MAX_STREAMS:
            self.last.clear()
        self.last[data[:2]] = (len(data), fixed, h, asdus, cnt)
        return cnt

    def _count(self, st: _Stream, a: Asdu, reserved1: int, frame: int, ts_ns: int, new_packet: bool,
               cnt: int | None) -> None:  # fmt: skip
        st.asdus += 1
        if new_packet:
            st.packets += 1
        st.last_frame, st.last_ts = frame, ts_ns
        if st.asdu is not a:  # a parse not counted last time: its fields may have changed
            st.asdu = a
            st.simulation = st.simulation or bool(reserved1 & SIMULATE_BIT)
            if a.dat_set is not None:
                st.dat_set = a.dat_set
            if a.smp_rate is not None:
                st.smp_rate = a.smp_rate
            if a.conf_rev is not None:
                if st.conf_rev is not None and a.conf_rev != st.conf_rev:
                    st.rev_changes += 1
                st.conf_rev = a.conf_rev
            if a.smp_synch is not None:
                if st.smp_synch is not None and a.smp_synch != st.smp_synch:
                    st.synch_changes += 1
                    st.synch_lost = st.synch_lost or a.smp_synch == 0
                st.smp_synch = a.smp_synch
        if cnt is None:
            return
        last = st.last_cnt
        if last is None:
            st.first_cnt = cnt
        elif cnt > last + 1:
            st.gaps += 1
            st.lost += cnt - last - 1
        elif cnt <= last and cnt != 0:
            st.out_of_order += 1
        st.last_cnt = cnt

    def _summary(self, st: _Stream) -> None:
        anomalies = []
        if st.lost:
            anomalies.append("samples_lost")
        if st.out_of_order:
            anomalies.append("out_of_order")
        if st.rev_changes:
            anomalies.append("conf_rev_changed")
        if st.synch_lost:
            anomalies.append("synchronisation_lost")
        if st.simulation:
            anomalies.append("simulated")
        sv = Sv(sv_id=st.sv_id, appid=st.appid, packets=st.packets, asdus=st.asdus,
                first_frame=st.first_frame, last_frame=st.last_frame, first_seen=rfc3339(st.first_ts),
                last_seen=rfc3339(st.last_ts), simulation=st.simulation, dat_set=st.dat_set,
                conf_rev=st.conf_rev, smp_rate=st.smp_rate, smp_synch=st.smp_synch,
                smp_synch_changes=st.synch_changes, conf_rev_changes=st.rev_changes,
                first_smp_cnt=st.first_cnt, last_smp_cnt=st.last_cnt, smp_cnt_gaps=st.gaps,
                samples_lost=st.lost, out_of_order=st.out_of_order)  # fmt: skip
        ends = self.flow.ends
        self.out.append(Event(
            timestamp=rfc3339(st.last_ts),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_TYPE, action="sv_stream",
                            dataset="ot.sv", duration=st.last_ts - st.first_ts),  # fmt: skip
            source=ends[st.d], destination=ends[1 - st.d], network=self.net,
            ot=Ot(protocol="sv", action=OtAction(operation="read", target=Target(object=st.sv_id)),
                  anomalies=anomalies or None, sv=sv),  # fmt: skip
        ))

    def _anomaly(self, d: int, ts_ns: int, code: str, text: str) -> None:
        self.out.append(anomaly_event(self.flow, self.net, "sv", d, ts_ns, code, text))

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:  # frames have no gaps
        pass

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        for st in self.streams.values():
            self._summary(st)
        self.streams.clear()
