"""The behavioural baseline: what normal looked like, learned from stored events.

Protocol-neutral: everything is read from the fields every OT decoder fills in — endpoints,
`ot.protocol`, `ot.role`, `event.action` (the function), `ot.action` (operation, target unit /
object, address range, values). A new decoder needs no change here.

Cost follows the number of distinct behaviours (edges, functions, address intervals, points,
cadence keys), never the number of packets: per behaviour the learner keeps a few counters and at
most `SAMPLE` numbers (a uniform reservoir) from which robust statistics (median, MAD) are taken.
"""

from __future__ import annotations

import random
import statistics
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Struct

SAMPLE = 256  # reservoir size per cadence key / rate
MAX_POINTS = 200_000  # value envelopes kept per baseline (bounded memory)
MAX_STATES = 16  # distinct values remembered per point
MAX_PORTS = 4096  # initiator ports remembered per edge while learning
RATE_BUCKET_NS = 10 * 1_000_000_000  # message rate is counted per 10 s
WINDOW, MIN_WINDOW = 8, 5  # polling speed is the median of the latest (up to) 8 intervals
SECOND = 1_000_000_000


class Row(NamedTuple):
    """The fields of one stored event the baseline reads (see `Store.behaviour_rows`)."""

    ts: int  # ns
    id: str
    action: str | None  # event.action: the function
    role: str | None  # request | response | None
    protocol: str
    src: str | None  # IP address, or MAC address for layer-2 protocols (GOOSE, SV, DCP)
    sport: int | None
    dst: str | None
    dport: int | None
    operation: str | None
    unit: int | None
    station: str | None
    object: str | None
    start: int | None
    end: int | None
    values: list[int] | None


# -- robust statistics -------------------------------------------------------------------------
def median_mad(xs: list[float]) -> tuple[float, float]:
    """Median and median absolute deviation (unscaled)."""
    if not xs:
        return 0.0, 0.0
    m = statistics.median(xs)
    return m, statistics.median(abs(x - m) for x in xs)


class Reservoir:
    """A uniform sample of at most SAMPLE numbers from a stream (Vitter's algorithm R), seeded so
    learning is reproducible."""

    __slots__ = ("items", "seen", "_rng")

    def __init__(self, seed: int = 0) -> None:
        self.items: list[float] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, x: float) -> None:
        self.seen += 1
        if len(self.items) < SAMPLE:
            self.items.append(x)
        else:
            j = self._rng.randrange(self.seen)
            if j < SAMPLE:
                self.items[j] = x


# -- address intervals -------------------------------------------------------------------------
def add_interval(intervals: list[list[int]], start: int, end: int) -> list[list[int]]:
    """Insert [start, end] and merge touching/overlapping intervals (kept sorted)."""
    out: list[list[int]] = []
    placed = False
    for s, e in intervals:
        if e + 1 < start:
            out.append([s, e])
        elif end + 1 < s:
            if not placed:
                out.append([start, end])
                placed = True
            out.append([s, e])
        else:
            start, end = min(s, start), max(e, end)
    if not placed:
        out.append([start, end])
    out.sort()
    return out


def covered(intervals: list[list[int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in intervals)


def show_intervals(intervals: list[list[int]]) -> str:
    return ", ".join(f"{s}" if s == e else f"{s}–{e}" for s, e in intervals) or "none"


# -- the model (what is stored) ----------------------------------------------------------------
class Envelope(Struct, omit_defaults=True):
    """Values seen at one point (unit / object / address) of a responder."""

    n: int = 0
    min: float = 0
    max: float = 0
    max_rate: float = 0  # largest |Δvalue| per second between consecutive observations
    states: list[int] | None = None  # distinct values seen, while there are at most MAX_STATES
    monotonic: bool = True  # never decreased (counters): judged by rate only
    written: bool = False  # values came from commands (setpoints, command words)
    writes: int = 0  # commands that wrote it

    @property
    def enumerated(self) -> bool:
        """Judge by the set of values seen: binary points, and written points whose commands
        repeat a few values (command words, modes) rather than set a new setpoint each time."""
        if self.states is None:
            return False
        return set(self.states) <= {0, 1} or (self.written and self.writes >= 2 * len(self.states))


class Cadence(Struct, omit_defaults=True):
    """Inter-request interval of one (function, target, address range) on an edge."""

    n: int
    period: float  # median interval, s
    jitter: float  # MAD of the interval, s
    fastest: float | None = None  # the fastest and slowest polling speed (window median) seen:
    slowest: float | None = None  # bursts a protocol makes in normal operation stay normal

    @property
    def regular(self) -> bool:
        """Polling worth watching: enough intervals, and a jitter small against the period."""
        return self.n >= 20 and self.period > 0 and self.jitter <= 0.25 * self.period

    def tolerance(self) -> float:
        return max(6 * 1.4826 * self.jitter, 0.5 * self.period, 0.05)

    def normal(self, speed: float) -> bool:
        """Whether a polling speed (median of recent intervals) is one seen while learning."""
        tol = self.tolerance()
        lo, hi = self.period - tol, self.period + tol
        if self.fastest is not None and self.slowest is not None:
            lo, hi = min(lo, self.fastest), max(hi, self.slowest)
        return lo <= speed <= hi


def window_speed(recent: deque[float]) -> float | None:
    """Polling speed over the latest intervals, once there are enough of them."""
    return statistics.median(recent) if len(recent) >= MIN_WINDOW else None


class Rate(Struct, omit_defaults=True):
    """Messages per 10 s window while the edge was active."""

    windows: int = 0
    median: float = 0
    mad: float = 0
    max: float = 0

    def threshold(self) -> float:
        return max(2 * self.max, self.median + 10 * max(1.4826 * self.mad, 1.0), 20.0)


class Edge(Struct, omit_defaults=True):
    initiator: str
    responder: str
    protocol: str
    first_seen: int
    last_seen: int
    messages: int = 0
    operations: dict[str, int] = {}
    functions: dict[str, str] = {}  # function (event.action) → its operation
    ranges: dict[str, list[list[int]]] = {}  # "function|unit|object" → address intervals
    points: dict[str, Envelope] = {}  # "unit|object|address" → envelope
    cadence: dict[str, Cadence] = {}  # "function|unit|object|start-end" → cadence
    rate: Rate = msgspec.field(default_factory=Rate)
    hours: list[int] = []  # 168 counters: messages per hour of the week (Monday 00 first)
    sessions: int = 0  # distinct initiator ports seen (capped at MAX_PORTS)
    pattern: str = "persistent"  # or per_request

    @property
    def key(self) -> str:
        return edge_key(self.initiator, self.responder, self.protocol)


class Settings(Struct, omit_defaults=True):
    grace_s: int = 3600  # newly seen assets: behaviours other than commands learned silently
    realert_s: int = 3600  # the same deviation alerts again after this much quiet
    command_realert_s: int = 60  # ... and an unapproved edge's command after this much (per burst)


class Baseline(Struct, omit_defaults=True):
    version: int
    site: str
    learned_from: int
    learned_until: int
    events: int
    assets: dict[str, int]  # ip → first seen (ns)
    edges: dict[str, Edge]
    settings: Settings = msgspec.field(default_factory=Settings)
    timezone: str = "UTC"  # the site's: hours of activity are local hours
    points_dropped: int = 0  # envelopes not kept beyond MAX_POINTS
    parent: int | None = None
    note: str | None = None

    @property
    def span_s(self) -> float:
        return max(self.learned_until - self.learned_from, 0) / SECOND

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @staticmethod
    def decode(data: bytes | str) -> Baseline:
        return msgspec.json.decode(data, type=Baseline)


def edge_key(initiator: str, responder: str, protocol: str) -> str:
    return f"{initiator}>{responder}|{protocol}"


def orient(r: Row) -> tuple[str, str, int | None]:
    """(initiator, responder, initiator port): responses travel responder → initiator."""
    if r.role == "response":
        return r.dst or "?", r.src or "?", r.dport
    return r.src or "?", r.dst or "?", r.sport


def target(r: Row) -> str:
    return f"{r.unit if r.unit is not None else r.station or '-'}|{r.object or '-'}"


def is_command(r: Row) -> bool:
    return r.role != "response"


class Clock:
    """Hour of the week (Monday 00 = 0) on the site's local clock. Every UTC offset in use is a
    multiple of 15 minutes, so the answer is constant within a UTC quarter hour: it is cached by
    quarter hour (bounded), which keeps learning at a dictionary lookup per message."""

    QUARTER = 900 * SECOND

    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self._cache: dict[int, int] = {}

    def hour_of_week(self, ts: int) -> int:
        q = ts // self.QUARTER
        how = self._cache.get(q)
        if how is None:
            local = datetime.fromtimestamp(q * 900, self.zone)
            how = local.weekday() * 24 + local.hour
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[q] = how
        return how


def point_values(r: Row) -> Iterator[tuple[int, int]]:
    """(address, value) pairs: values align with the address range only when their counts match."""
    v = r.values
    if not v or r.start is None or r.end is None or r.end - r.start + 1 != len(v):
        return iter(())
    return zip(range(r.start, r.end + 1), v)


# -- learning ----------------------------------------------------------------------------------
class _EdgeState:
    """Learning state of one edge beyond what the model keeps."""

    __slots__ = ("edge", "last", "samples", "recent", "speeds", "bucket", "count", "rates", "ports",
                 "last_val", "point_keys")  # fmt: skip

    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.last: dict[tuple, int] = {}  # cadence key → last request time
        self.samples: dict[tuple, Reservoir] = {}
        self.recent: dict[tuple, deque[float]] = {}  # cadence key → latest intervals
        self.speeds: dict[tuple, list[float]] = {}  # cadence key → [fastest, slowest] window
        self.bucket = -1
        self.count = 0
        self.rates = Reservoir(1)
        self.ports: set[int] = set()
        self.last_val: dict[str, tuple[int, int]] = {}  # point → (ts, value)
        self.point_keys: dict[tuple, list[str]] = {}  # (target, start, end) → point keys


class Learner:
    """Feed rows in time order; `result()` is the baseline."""

    def __init__(self, site: str = "default", settings: Settings | None = None,
                 base: Baseline | None = None, timezone: str | None = None) -> None:  # fmt: skip
        self.site = site
        self.settings = settings or (base.settings if base else Settings())
        self.clock = Clock(timezone or (base.timezone if base else "UTC"))
        self.assets: dict[str, int] = dict(base.assets) if base else {}
        self.state: dict[str, _EdgeState] = {}
        self._by_tuple: dict[tuple[str, str, str], _EdgeState] = {}
        self._targets: dict[tuple, str] = {}
        self.first = base.learned_from if base else None
        self.last = base.learned_until if base else None
        self.events = base.events if base else 0
        self.points = sum(len(e.points) for e in base.edges.values()) if base else 0
        self.dropped = base.points_dropped if base else 0
        if base:
            for k, e in base.edges.items():
                self.state[k] = _EdgeState(msgspec.json.decode(msgspec.json.encode(e), type=Edge))

    def feed(self, rows: Iterable[Row]) -> None:
        for r in rows:
            self.add(r)

    def add(self, r: Row) -> None:
        ts = r.ts
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts
        self.events += 1
        init, resp, port = orient(r)
        assets = self.assets
        if init not in assets:
            assets[init] = ts
        if resp not in assets:
            assets[resp] = ts
        fast = (init, resp, r.protocol)
        st = self._by_tuple.get(fast)
        if st is None:
            key = edge_key(init, resp, r.protocol)
            st = self.state.get(key)
            if st is None:
                st = self.state[key] = _EdgeState(Edge(initiator=init, responder=resp,
                                                       protocol=r.protocol, first_seen=ts,
                                                       last_seen=ts, hours=[0] * 168))  # fmt: skip
            self._by_tuple[fast] = st
        e = st.edge
        if ts > e.last_seen:
            e.last_seen = ts
        e.messages += 1
        if not e.hours:
            e.hours = [0] * 168
        e.hours[self.clock.hour_of_week(ts)] += 1
        op = r.operation or "other"
        ops = e.operations
        ops[op] = ops.get(op, 0) + 1
        b = ts // RATE_BUCKET_NS
        if b != st.bucket:
            if st.bucket >= 0:
                st.rates.add(st.count)
            st.bucket, st.count = b, 0
        st.count += 1
        if port is not None and len(st.ports) < MAX_PORTS:
            st.ports.add(port)
        place = (r.unit, r.station, r.object)
        tgt = self._targets.get(place)
        if tgt is None:
            tgt = self._targets[place] = target(r)
        command = is_command(r)
        start, end = r.start, r.end
        if command and r.action:
            fn = r.action
            if fn not in e.functions:
                e.functions[fn] = op
            if start is not None and end is not None:
                rk = f"{fn}|{tgt}"
                have = e.ranges.get(rk)
                if have is None or not covered(have, start, end):
                    e.ranges[rk] = add_interval(have or [], start, end)
            ck = (fn, tgt, start, end)
            prev = st.last.get(ck)
            st.last[ck] = ts
            if prev is not None:
                res = st.samples.get(ck)
                if res is None:
                    res = st.samples[ck] = Reservoir(len(st.samples))
                    st.recent[ck] = deque(maxlen=WINDOW)
                interval = (ts - prev) / SECOND
                res.add(interval)
                recent = st.recent[ck]
                recent.append(interval)
                speed = window_speed(recent)
                if speed is not None:
                    seen = st.speeds.get(ck)
                    if seen is None:
                        st.speeds[ck] = [speed, speed]
                    elif speed < seen[0]:
                        seen[0] = speed
                    elif speed > seen[1]:
                        seen[1] = speed
        values = r.values
        if values and start is not None and end is not None and end - start + 1 == len(values):
            keys = st.point_keys.get((tgt, start, end))
            if keys is None:
                keys = st.point_keys[(tgt, start, end)] = [f"{tgt}|{a}" for a in range(start, end + 1)]
            for pk, v in zip(keys, values):
                self._point(st, pk, ts, v, command)

    def _point(self, st: _EdgeState, pk: str, ts: int, v: int, command: bool = False) -> None:
        env = st.edge.points.get(pk)
        if env is None:
            if self.points >= MAX_POINTS:
                self.dropped += 1
                return
            self.points += 1
            env = st.edge.points[pk] = Envelope(n=0, min=v, max=v, states=[v])
        env.n += 1
        if v < env.min:
            env.min = v
        elif v > env.max:
            env.max = v
        if command:
            env.written = True
            env.writes += 1
        states = env.states
        if states is not None and v not in states:
            env.states = sorted([*states, v]) if len(states) < MAX_STATES else None
        last = st.last_val.get(pk)
        st.last_val[pk] = (ts, v)
        if last is not None and last[1] != v:
            if v < last[1]:
                env.monotonic = False
            dt = (ts - last[0]) / SECOND
            rate = abs(v - last[1]) / (dt if dt > 1e-3 else 1e-3)
            if rate > env.max_rate:
                env.max_rate = rate

    def result(self, version: int = 0, note: str | None = None,
               parent: int | None = None) -> Baseline:  # fmt: skip
        edges: dict[str, Edge] = {}
        for key, st in self.state.items():
            e = st.edge
            for (fn, tgt, start, end), res in st.samples.items():
                ck = f"{fn}|{tgt}|{start}-{end}"
                med, mad = median_mad(res.items)
                old_c = e.cadence.get(ck)
                c = e.cadence[ck] = Cadence(n=res.seen + (old_c.n if old_c else 0),
                                            period=round(med, 6), jitter=round(mad, 6))
                speeds = st.speeds.get((fn, tgt, start, end))
                if old_c is not None and old_c.fastest is not None and old_c.slowest is not None:
                    speeds = [min(old_c.fastest, speeds[0]), max(old_c.slowest, speeds[1])] \
                        if speeds else [old_c.fastest, old_c.slowest]  # fmt: skip
                if speeds:
                    c.fastest, c.slowest = round(speeds[0], 6), round(speeds[1], 6)
            rates = list(st.rates.items) + ([st.count] if st.bucket >= 0 else [])
            if rates and (st.rates.seen >= 4 or not e.rate.windows):
                seen = st.rates.seen + (1 if st.bucket >= 0 else 0)
                old = e.rate
                med, mad = median_mad([float(x) for x in rates])
                e.rate = Rate(windows=old.windows + seen, median=med, mad=mad,
                              max=max(old.max, max(rates)))  # fmt: skip
            e.sessions = max(e.sessions, len(st.ports))
            e.pattern = pattern(e.sessions, e.messages)
            edges[key] = e
        return Baseline(version=version, site=self.site, learned_from=self.first or 0,
                        learned_until=self.last or 0, events=self.events, assets=self.assets,
                        edges=edges, settings=self.settings, timezone=self.clock.timezone,
                        points_dropped=self.dropped,
                        parent=parent, note=note)  # fmt: skip


def pattern(sessions: int, messages: int) -> str:
    """Persistent: few connections carry many messages; per_request: a connection per exchange."""
    return "persistent" if sessions * 20 <= max(messages, 1) else "per_request"


def learn(rows: Iterable[Row], site: str = "default", settings: Settings | None = None) -> Baseline:
    learner = Learner(site, settings)
    learner.feed(rows)
    return learner.result()
