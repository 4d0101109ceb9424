"""Per-stream GOOSE state: one entry per GOOSE control block (gocbRef) seen on the layer-2
stream, to check the publisher's state and sequence numbers, its timestamps and its
time-allowed-to-live across messages.

IEC 61850-8-1 §18.1: a publisher repeats its message (sqNum + 1) until the data set changes;
then stNum + 1, sqNum restarts at 0 (1 in some Ed.1 stacks) and `t` takes the time of the change.
A subscriber declares the data invalid when no message comes within the last one's TTL. At most
MAX_STREAMS control blocks are tracked; more drop the oldest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple

from msgspec.structs import replace

from ...schema import OtAction
from ...schema.events import Goose
from .._contract import WireError
from ..ber import unsigned
from .constants import MAX_STREAMS
from .emit import Emitter
from .wire import Header, parse

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

WRAP: Final = 0xFFFFFFFF
_REQUIRED: Final = ("gocb_ref", "time_allowed_to_live", "dat_set", "t", "st_num", "sq_num", "test",
                    "conf_rev", "nds_com", "num_dat_set_entries")  # fmt: skip

# gocbRef → (stNum, sqNum, t without quality, TTL ms, capture time, confRev)
State = tuple[int | None, int | None, bytes | None, int | None, int, int | None]


class _Parsed(NamedTuple):
    """What one parse of a message yields for its event and its sequence checks; a
    retransmission reuses it with its own sqNum."""

    goose: Goose
    action: OtAction
    anomalies: list[str]  # those of the message itself (not of the sequence)
    ref: str | None
    st: int | None
    t: bytes | None  # without quality
    ttl: int | None
    rev: int | None


class GooseSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = Emitter(flow)
        self.state: dict[str, State] = {}
        # APPID → (length, sqNum start, sqNum end, bytes before it, bytes after it, _Parsed) of
        # the last complete message: its retransmissions differ only in sqNum
        self.last: dict[bytes, tuple[int, int, int, bytes, bytes, _Parsed]] = {}

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        last = self.last.get(data[:2])
        if last is not None and len(data) == last[0] and data[: last[1]] == last[3] and \
                data[last[2] :] == last[4]:  # fmt: skip
            m = last[5]
            sq: int | None = unsigned(data, last[1], last[2])
            goose = replace(m.goose, sq_num=sq)
        else:
            try:
                h, f, scalars, complete = parse(data)
            except WireError as e:
                self.out.append(self.emitter.anomaly(d, ts_ns, "malformed_pdu", f"GOOSE frame {frame}: {e}"))
                return
            m = self._parsed(h, f, scalars, complete)
            goose, sq = m.goose, f.get("sq_num")
            span = f.get("sq_span")
            if span is not None and complete:
                if len(self.last) >= MAX_STREAMS:
                    self.last.clear()
                self.last[data[:2]] = (len(data), span[0], span[1], data[: span[0]],
                                       data[span[1] :], m)  # fmt: skip
        if m.ref is not None:
            anomalies = m.anomalies + self._sequence(m.ref, m, sq, ts_ns)
        else:
            anomalies = m.anomalies[:]
        self.out.append(self.emitter.message(d, goose, m.action, ts_ns, anomalies or None))

    def _parsed(self, h: Header, f: dict, scalars: list[int | None], complete: bool) -> _Parsed:
        anomalies: list[str] = [] if complete else ["malformed_pdu"]
        if complete:
            anomalies += [f"missing_{k}" for k in _REQUIRED if k not in f]
        entries = f.get("num_dat_set_entries")
        if entries is not None and "data_entries" in f and entries != f["data_entries"]:
            anomalies.append("entries_mismatch")
        if "unknown_elements" in f:
            anomalies.append("unknown_element")
        if f.get("nds_com"):
            anomalies.append("needs_commissioning")
        goose, action = self.emitter.prepare(h, f, scalars)
        return _Parsed(goose, action, anomalies, f.get("gocb_ref"), f.get("st_num"), f.get("t_raw"),
                       f.get("time_allowed_to_live"), f.get("conf_rev"))  # fmt: skip

    def _sequence(self, ref: str, m: _Parsed, sq: int | None, ts_ns: int) -> list[str]:
        """Anomalies of this message against the previous one of its control block `ref`."""
        st, t, ttl, rev = m.st, m.t, m.ttl, m.rev
        prev = self.state.pop(ref, None)
        if len(self.state) >= MAX_STREAMS:
            del self.state[next(iter(self.state))]
        self.state[ref] = (st, sq, t, ttl, ts_ns, rev)
        if prev is None:
            return []
        out = []
        pst, psq, pt, pttl, pts, prev_rev = prev
        if pttl is not None and ts_ns - pts > pttl * 1_000_000:
            out.append("ttl_expired")  # subscribers held stale data in between
        if st is not None and pst is not None and st != pst:
            if st < pst and not (pst == WRAP and st <= 1):
                out.append("st_num_backwards")
            elif st > pst + 1:
                out.append("st_num_jump")  # state changes never seen
        elif st is not None and st == pst and sq is not None and psq is not None:
            if sq < psq and not (psq == WRAP and sq <= 1):
                out.append("sq_num_reset")  # a new sequence without a new state: replay or restart
            elif t is not None and pt is not None and t != pt:
                out.append("time_changed_without_state_change")
        if t is not None and pt is not None and t < pt:
            out.append("time_backwards")
        if rev is not None and prev_rev is not None and rev != prev_rev:
            out.append("conf_rev_changed")
        return out

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:  # frames have no gaps
        pass

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        if reason == "evicted":
            self.out.append(self.emitter.anomaly(0, ts_ns, "flow_evicted", "the flow table was full: this "
                                                 "GOOSE stream was evicted and its state dropped"))  # fmt: skip
        self.state.clear()
