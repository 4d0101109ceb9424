"""Monitoring: new traffic against an approved baseline → deviation alerts that explain themselves.

Deviation types (rule id `baseline.<type>`), each with a severity and ATT&CK for ICS techniques:

  new_asset       an address never seen during learning (a grace period then starts for it)
  new_edge        initiator → responder over a protocol never seen
  new_function    a known edge uses a function (event.action) it never used
  new_address     a known edge + function touches addresses outside its learned intervals
  value           a value outside a point's envelope: state never seen (binary points),
                  range, or rate of change
  cadence         periodic polling that speeds up, slows down or stops
  rate            messages per 10 s far above the edge's robust maximum
  off_hours       activity in an hour of the week (or day) in which the edge was never active
                  while other OT traffic was seen
  connection      a persistent session turning into many short connections

One alert per behaviour (its key) per episode: the same deviation alerts again only after
`settings.realert_s` of quiet, or once approved into a new version it no longer deviates. For a
command (write, control, program, firmware, config) over an edge outside the baseline — a master
never approved — the episode is one burst of it: it alerts again after
`settings.command_realert_s` of quiet, because each new burst acts on the process again; a
continuous flood of it stays one alert.
Newly seen assets get `settings.grace_s` during which their reads, diagnostics and sessions are
learned silently (so a new device's polling is learned), but commands — write, control,
program, firmware, config — always alert.
"""

from __future__ import annotations

from collections import deque
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..schema import AddressRange, Endpoint, Event, EventMeta, Ot, OtAction, RuleRef, Target, Technique, Threat
from ..detect.record import alert_event
from .model import (
    RATE_BUCKET_NS,
    SECOND,
    WINDOW,
    Baseline,
    Cadence,
    Edge,
    Learner,
    Row,
    covered,
    edge_key,
    orient,
    point_values,
    show_intervals,
    target,
    window_speed,
)

FAMILY_LIMIT = 5
COMMANDS = frozenset({"write", "control", "program", "firmware", "config"})

#: ATT&CK for ICS techniques by operation (a proposal an analyst can read, not ground truth).
OP_TECHNIQUES = {
    "read": ["T0861"], "write": ["T0855", "T0836"], "control": ["T0855", "T0831"],
    "program": ["T0843"], "firmware": ["T0839"], "config": ["T0836"], "diagnostic": ["T0888"],
    "discovery": ["T0846"], "session": ["T0886"], "other": ["T0855"],
}  # fmt: skip

RULES = {
    "new_asset": "Baseline deviation: new asset",
    "new_edge": "Baseline deviation: new communication edge",
    "new_function": "Baseline deviation: new function on an edge",
    "new_address": "Baseline deviation: addresses outside the learned ranges",
    "value": "Baseline deviation: value outside its envelope",
    "cadence": "Baseline deviation: polling cadence changed",
    "rate": "Baseline deviation: message rate",
    "off_hours": "Baseline deviation: activity at an unusual time",
    "connection": "Baseline deviation: connection pattern changed",
}
FRAMEWORK_TAGS = ["caf.C1.c", "iec62443.sr6.2"]

_VERBS = {"read": "read", "write": "wrote", "control": "sent a control command to",
          "program": "transferred program blocks with", "firmware": "transferred firmware with",
          "config": "changed the configuration of", "diagnostic": "ran diagnostics on",
          "discovery": "probed", "session": "opened a session with", "other": "used"}  # fmt: skip


def _techniques(r: Row) -> list[str]:
    """Techniques of a new behaviour: by operation for requests; a responder (outstation, PLC)
    reporting something new suggests spoofed reporting / manipulated view."""
    if r.role == "response":
        return ["T0856", "T0832"]
    return OP_TECHNIQUES.get(r.operation or "other", [])


def _severity(op: str, high: int = 4, low: int = 2) -> int:
    return high if op in COMMANDS else 3 if op == "discovery" else low


def span_words(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


# S7 data blocks: the target's `unit` is the block's number and the address counts its bytes.
_BLOCKS = {"data_block": "DB", "instance_data_block": "instance DB"}


def _what(r: Row) -> str:
    """`holding registers 400–410 on unit 1`, `DB 1 bytes 20–23`, in the decoder's own names."""
    addr = "" if r.start is None else f" {r.start}" if r.end == r.start else f" {r.start}–{r.end}"
    block = _BLOCKS.get(r.object or "")
    if block is not None and r.unit is not None:
        return f"{block} {r.unit}" + (f" byte{'' if r.end == r.start else 's'}{addr}" if addr else "")
    obj = (r.object or "").replace("_", " ")
    if obj and not obj.endswith("s") and r.start is not None and r.end != r.start:
        obj += "s"
    unit = f"unit {r.unit}" if r.unit is not None else r.station or ""
    if not obj and not addr:
        return unit or r.action or "it"
    return f"{obj}{addr}" + (f" on {unit}" if unit else "")


def _edge_summary(e: Edge, fn: str | None = None, tgt: str | None = None) -> str:
    if fn is not None and tgt is not None:
        iv = e.ranges.get(f"{fn}|{tgt}")
        if iv:
            return f"this edge only used {fn} on {show_intervals(iv)}"
    fns = sorted(e.functions)
    shown = ", ".join(fns[:6]) + (f" and {len(fns) - 6} more" if len(fns) > 6 else "")
    return f"this edge only used {shown or 'no functions'} ({e.messages:,} messages)"


@dataclass
class Deviation:
    type: str
    key: str
    severity: int
    techniques: list[str]
    message: str
    row: Row
    extra: dict[str, Any] = field(default_factory=dict)  # what approving it changes beyond the row
    family: str | None = None  # deviations of one family alert FAMILY_LIMIT times per episode


class Poll(msgspec.Struct, array_like=True):
    """A polled behaviour's cadence state, carried from one monitoring run to the next."""

    last: int  # its last request (ns)
    recent: list[float]  # its latest intervals (s)
    row: Row  # that request


class _Live:
    """Per-edge monitoring state: polling cadence is persisted (`MonitorState.polls`), the rest
    is rebuilt per monitoring run."""

    __slots__ = ("last", "recent", "bucket", "count", "ports", "port_window", "new_ports",
                 "values", "rows")  # fmt: skip

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.recent: dict[str, deque[float]] = {}
        self.rows: dict[str, Row] = {}
        self.bucket = -1
        self.count = 0
        self.ports: set[int] = set()
        self.port_window = -1
        self.new_ports = 0
        self.values: dict[str, tuple[int, int]] = {}


class MonitorState(msgspec.Struct, omit_defaults=True):
    """What monitoring keeps between runs (persisted next to the version it monitors)."""

    version: int
    alerted: dict[str, list[int]] = {}  # deviation key → [first alert, last occurrence] (ns)
    grace: dict[str, int] = {}  # asset → end of its grace period (ns)
    overlay: Baseline | None = None  # edges outside the baseline: what they did since they appeared
    polls: dict[str, dict[str, Poll]] = {}  # edge → cadence key → its polling so far
    seen_until: int = 0  # the last message monitored (ns)


def _stop_limit(c: Cadence) -> float:
    """Seconds without a request after which regular polling counts as stopped."""
    return max(5 * c.period, c.period + 5 * c.tolerance(), 10.0)


class Monitor:
    def __init__(self, baseline: Baseline, state: MonitorState | None = None) -> None:
        self.b = baseline
        self.state = state if state is not None and state.version == baseline.version else \
            MonitorState(version=baseline.version)  # fmt: skip
        self.overlay = Learner(baseline.site, baseline.settings, self.state.overlay, baseline.timezone)
        self.live: dict[str, _Live] = {}
        self.next_sweep = 0
        self.resumed = False
        span = baseline.span_s
        self.hours = "week" if span >= 7 * 86400 else "day" if span >= 86400 else None
        # hours of the week in which the sensor saw any OT traffic while learning: an edge's
        # silence means something only in an hour that was watched
        counts = [e.hours for e in baseline.edges.values() if e.hours]
        week = [any(h[i] for h in counts) for i in range(168)] if counts else [True] * 168
        self.watched = week if self.hours == "week" else [any(week[h::24]) for h in range(24)]
        self.clock = self.overlay.clock
        self.span = span_words(span)

    # -- the loop --------------------------------------------------------------------------
    def feed(self, rows: Iterable[Row]) -> Iterator[Deviation]:
        for r in rows:
            yield from self.check(r)

    def check(self, r: Row) -> list[Deviation]:
        out: list[Deviation] = []
        ts = r.ts
        if not self.resumed:
            self._resume(ts)
        if ts > self.state.seen_until:
            self.state.seen_until = ts
        init, resp, port = orient(r)
        b, st = self.b, self.state
        grace = False
        for ip in (init, resp):
            if ip not in b.assets and ip not in self.overlay.assets:
                role = "initiator" if ip == init else "responder"
                op = r.operation or "other"
                techs = (["T0848"] if role == "initiator" and op in COMMANDS else []) + \
                    OP_TECHNIQUES.get(op, [])  # fmt: skip
                out.append(Deviation(
                    "new_asset", f"new_asset|{ip}", 4 if role == "initiator" and op in COMMANDS else 3,
                    techs, f"{ip} was never seen during {self.span} of baseline; first seen as "
                    f"{role} of {r.protocol} {r.action or op} "
                    f"({init} → {resp}); learning its reads and polling for "
                    f"{span_words(b.settings.grace_s)}, commands still alert", r, {"asset": ip}))  # fmt: skip
                st.grace[ip] = ts + b.settings.grace_s * SECOND
            if st.grace.get(ip, 0) > ts:
                grace = True
        key = edge_key(init, resp, r.protocol)
        known = b.edges.get(key)
        op = r.operation or "other"
        command = r.role != "response"
        silent = grace and op not in COMMANDS  # a new asset's reads and polling: learned quietly
        if known is None:
            # An edge outside the baseline: its first message alerts as a new edge; what it does
            # next is kept as pending (with what assets in grace do), so each further new
            # behaviour on it alerts once until the edge is approved.
            pending = self.overlay.state.get(key)
            if pending is None:
                if not silent and not out:  # (a new asset's alert already names this edge)
                    techs = (["T0848"] if op in COMMANDS else []) + _techniques(r)
                    out.append(Deviation(
                        "new_edge", f"new_edge|{key}", _severity(op, 4, 3), techs,
                        f"{init} {_VERBS.get(op, 'used')} {resp} over {r.protocol} "
                        f"({r.action or op}, {_what(r)}); during {self.span} of baseline {init} "
                        f"never talked {r.protocol} to {resp}", r, {"edge": key}))  # fmt: skip
            elif not silent:
                first = f"{_iso(pending.edge.first_seen)[:19]}Z"
                during = f"since this edge first appeared ({first})"
                tgt = target(r)
                found = []
                if command and r.action:
                    found += self._structure(r, pending.edge, key, tgt, op, during)
                live = self.live.setdefault(key, _Live())
                found += self._values(r, pending.edge, live, key, tgt, command,
                                      min_n=1 if command else 5, during=during,
                                      strict=command)  # fmt: skip
                if not found and command and r.action:
                    # not approved: the same command alerts again once its episode expired
                    found.append(Deviation(
                        "new_edge", f"new_edge|{key}|{r.action}|{tgt}|{r.start}-{r.end}",
                        _severity(op, 4, 3), _techniques(r),
                        f"{init} {_VERBS.get(op, 'used')} {_what(r)} of {resp} ({r.action}, "
                        f"{r.protocol}) over an edge that is not in the baseline (first seen "
                        f"{first}, {pending.edge.messages:,} messages since, not approved)", r,
                        {"edge": key}, family=f"new_edge|{key}"))  # fmt: skip
                out += found
            self.overlay.add(r)
            return self._emit(out, ts)
        live = self.live.get(key)
        if live is None:
            live = self.live[key] = _Live()
        tgt = target(r)
        if command and r.action:
            out += self._structure(r, known, key, tgt, op)
            out += self._cadence(r, known, live, key, tgt)
        out += self._values(r, known, live, key, tgt, command)
        out += self._rate(r, known, live, key)
        out += self._hours(r, known, key)
        out += self._connection(r, known, live, key, port)
        if ts >= self.next_sweep:
            out += self._stopped(ts)
            self.next_sweep = ts + SECOND
        return self._emit(out, ts)

    def _resume(self, ts: int) -> None:
        """Continue the polling cadence of the previous run, unless nothing was monitored for
        longer than a poll may pause: what happened in that unobserved gap is unknown, so the
        cadence starts afresh rather than reporting polling that stopped."""
        self.resumed = True
        gap = (ts - self.state.seen_until) / SECOND
        for key, polls in self.state.polls.items():
            e = self.b.edges.get(key)
            live = self.live.setdefault(key, _Live())
            for ck, p in polls.items():
                c = e.cadence.get(ck) if e else None
                if c is not None and gap <= _stop_limit(c):
                    live.last[ck], live.rows[ck] = p.last, p.row
                    live.recent[ck] = deque(p.recent, maxlen=WINDOW)

    def suspend(self) -> MonitorState:
        """The state to persist: grace, episodes, overlay, and each polled behaviour's cadence."""
        st = self.state
        st.overlay = self.overlay.result(version=self.b.version) if self.overlay.events else None
        st.polls = {}
        for key, live in self.live.items():
            polls = {ck: Poll(last, list(live.recent.get(ck, ())), live.rows[ck])
                     for ck, last in live.last.items() if last < 1 << 62}  # fmt: skip
            if polls:
                st.polls[key] = polls
        return st

    def _emit(self, found: list[Deviation], ts: int) -> list[Deviation]:
        """Drop deviations already alerted in this episode; remember the rest. Deviations of one
        family (new addresses of one edge/function/target, new values of one point) alert
        FAMILY_LIMIT times per episode only (a scan or a fuzzer is one finding, not thousands)."""
        alerted = self.state.alerted
        settings = self.b.settings
        out = []
        for d in found:
            r = d.row
            rogue = r.role != "response" and r.operation in COMMANDS and \
                edge_key(*orient(r)[:2], r.protocol) not in self.b.edges  # fmt: skip
            quiet = (settings.command_realert_s if rogue else settings.realert_s) * SECOND
            seen = alerted.get(d.key)
            if seen is not None and ts - seen[1] < quiet:
                seen[1] = max(seen[1], ts)
                continue
            if d.family is not None:
                family = alerted.setdefault(d.family + "|#", [0, ts])
                if ts - family[1] >= quiet:
                    family[0] = 0
                family[1] = ts
                family[0] += 1
                if family[0] > FAMILY_LIMIT:
                    alerted[d.key] = [ts, ts]
                    continue
            alerted[d.key] = [ts, ts]
            out.append(d)
        return out

    # -- checks ----------------------------------------------------------------------------
    def _structure(self, r: Row, e: Edge, key: str, tgt: str, op: str,
                   during: str | None = None) -> list[Deviation]:  # fmt: skip
        fn = r.action or ""
        during = during or f"during {self.span} of baseline"
        if fn not in e.functions:
            return [Deviation(
                "new_function", f"{key}|fn|{fn}", _severity(op), _techniques(r),
                f"{r.src} {_VERBS.get(op, 'used')} {_what(r)} of {r.dst} with {fn} ({r.protocol}); "
                f"{during} {_edge_summary(e)}", r)]  # fmt: skip
        if r.start is not None and r.end is not None:
            iv = e.ranges.get(f"{fn}|{tgt}")
            if iv is None or not covered(iv, r.start, r.end):
                prior = f"this edge only used {fn} on {show_intervals(iv)}" if iv else \
                    f"this edge never used {fn} on {_what(r._replace(start=None))}"  # fmt: skip
                return [Deviation(
                    "new_address", f"{key}|addr|{fn}|{tgt}|{r.start}-{r.end}", _severity(op, 4, 2),
                    _techniques(r),
                    f"{r.src} {_VERBS.get(op, 'used')} {_what(r)} of {r.dst} ({fn}); "
                    f"{during} {prior}", r,
                    family=f"{key}|addr|{fn}|{tgt}")]  # fmt: skip
        return []

    def _values(self, r: Row, e: Edge, live: _Live, key: str, tgt: str, command: bool,
                min_n: int = 5, during: str | None = None,
                strict: bool = False) -> list[Deviation]:  # fmt: skip
        """`strict` (edges not approved): any value not seen before on the edge deviates."""
        out = []
        techs = ["T0836", "T0855"] if command else ["T0832", "T0856"]
        during = during or f"during {self.span} of baseline"
        for addr, v in point_values(r):
            pk = f"{tgt}|{addr}"
            env = e.points.get(pk)
            last = live.values.get(pk)
            live.values[pk] = (r.ts, v)
            if env is None or env.n < min_n:
                continue
            if not command and env.written and last is not None and last[1] == v:
                continue  # the responder echoes the value just written: the command was judged
            where = f"{_what(r._replace(start=addr, end=addr))} of {e.responder}"
            why = None
            dkey = f"{key}|value|{pk}|range"
            if (env.enumerated or strict) and env.states is not None and (command or not env.written):
                if v not in env.states:  # type: ignore[operator]
                    why = (f"{where} is {v}; {during} it was only "
                           f"{'/'.join(map(str, env.states or ()))} ({env.n:,} observations)")
                    dkey = f"{key}|value|{pk}|={v}"
            else:
                margin = max(0.5 * (env.max - env.min), 0.02 * max(abs(env.min), abs(env.max)), 1.0)
                top = env.max + margin
                if env.monotonic:  # a counter: it may have grown since learning ended, at its rate
                    top += 2 * env.max_rate * max(r.ts - self.b.learned_until, 0) / SECOND
                if v < env.min - margin or v > top:
                    why = (f"{where} is {v}; {during} it stayed within "
                           f"{env.min:g}–{env.max:g} ({env.n:,} observations)"
                           + (", only ever increasing" if env.monotonic and env.max > env.min else ""))
                elif last is not None and env.n >= 10:
                    dt = max((r.ts - last[0]) / SECOND, 1e-3)
                    rate = abs(v - last[1]) / dt
                    if rate > 3 * env.max_rate + margin:
                        why = (f"{where} changed by {v - last[1]:+g} in {dt:.2f} s; {during} "
                               f"it never changed faster than "
                               f"{env.max_rate:.3g} per second")  # fmt: skip
            if why:
                verb = "written" if command else "reported"
                out.append(Deviation("value", dkey, 4 if command else 3, techs,
                                     f"Value {verb} by {r.src}: {why}", r,
                                     family=f"{key}|value|{pk}"))  # fmt: skip
        return out

    def _cadence(self, r: Row, e: Edge, live: _Live, key: str, tgt: str) -> list[Deviation]:
        ck = f"{r.action}|{tgt}|{r.start}-{r.end}"
        prev = live.last.get(ck)
        if prev is not None and prev > r.ts:  # reported as stopped: it came back
            prev = None
        live.last[ck] = r.ts
        live.rows[ck] = r
        c = e.cadence.get(ck)
        if prev is None or c is None or not c.regular:
            return []
        recent = live.recent.get(ck)
        if recent is None:
            recent = live.recent[ck] = deque(maxlen=WINDOW)
        recent.append((r.ts - prev) / SECOND)
        now = window_speed(recent)
        if now is None or c.normal(now):
            return []
        how = "sped up" if now < c.period else "slowed down"
        return [Deviation(
            "cadence", f"{key}|cadence|{ck}", 3, ["T0814"] if now < c.period else ["T0815"],
            f"Polling of {_what(r)} of {e.responder} by {e.initiator} ({r.action}) {how}: every "
            f"{now:.3g} s over the last {len(recent)} requests; during {self.span} of baseline "
            f"every {c.period:.3g} s (jitter {c.jitter:.2g} s, {c.n:,} intervals)", r,
            {"cadence": ck, "period": now})]  # fmt: skip

    def _stopped(self, now: int) -> list[Deviation]:
        out = []
        for key, live in self.live.items():
            e = self.b.edges.get(key)
            if e is None:
                continue
            for ck, last in live.last.items():
                c = e.cadence.get(ck)
                if c is None or not c.regular:
                    continue
                limit = _stop_limit(c)
                if (now - last) / SECOND > limit:
                    r = live.rows[ck]
                    at = last + int(limit * SECOND)
                    out.append(Deviation(
                        "cadence", f"{key}|cadence|{ck}", 3, ["T0815"],
                        f"Polling of {_what(r)} of {e.responder} by {e.initiator} ({r.action}) "
                        f"stopped: no request for {(now - last) / SECOND:.0f} s since "
                        f"{_iso(last)}; during {self.span} of baseline every {c.period:.3g} s",
                        r._replace(ts=at), {"stopped": ck}))  # fmt: skip
                    live.last[ck] = 1 << 62  # reported; wait for it to come back
        return out

    def _rate(self, r: Row, e: Edge, live: _Live, key: str) -> list[Deviation]:
        b = r.ts // RATE_BUCKET_NS
        if b != live.bucket:
            live.bucket, live.count = b, 0
        live.count += 1
        if e.rate.windows < 5:
            return []
        limit = e.rate.threshold()
        if live.count != int(limit) + 1:
            return []
        return [Deviation(
            "rate", f"{key}|rate", 3, ["T0814"],
            f"{e.initiator} → {e.responder} ({r.protocol}) exceeded {limit:.0f} messages in "
            f"{RATE_BUCKET_NS // SECOND} s; during {self.span} of baseline the median was "
            f"{e.rate.median:g} and the maximum {e.rate.max:g} per {RATE_BUCKET_NS // SECOND} s",
            r, {"rate": limit})]  # fmt: skip

    def _hours(self, r: Row, e: Edge, key: str) -> list[Deviation]:
        if self.hours is None or not e.hours:
            return []
        how = self.clock.hour_of_week(r.ts)
        if self.hours == "week":
            seen, slot = e.hours[how], f"{_DAYS[how // 24]} {how % 24:02d}:00"
        else:
            how %= 24
            seen, slot = sum(e.hours[how::24]), f"{how:02d}:00"
        if seen or not self.watched[how]:
            return []
        return [Deviation(
            "off_hours", f"{key}|hour|{slot}", 2, OP_TECHNIQUES.get(r.operation or "other", []),
            f"{e.initiator} → {e.responder} ({r.protocol}, {r.action}) active at {slot} {self.b.timezone}; during "
            f"{self.span} of baseline this edge was never active in that hour, while other traffic was", r)]  # fmt: skip

    def _connection(self, r: Row, e: Edge, live: _Live, key: str,
                    port: int | None) -> list[Deviation]:  # fmt: skip
        if port is None or e.pattern != "persistent" or port in live.ports:
            return []
        live.ports.add(port)
        window = r.ts // (3600 * SECOND)
        if window != live.port_window:
            live.port_window, live.new_ports = window, 0
        live.new_ports += 1
        hours = max((e.last_seen - e.first_seen) / (3600 * SECOND), 1.0)
        limit = max(10, int(3 * e.sessions / hours))
        if live.new_ports != limit + 1:
            return []
        return [Deviation(
            "connection", f"{key}|connection", 2, ["T0886"],
            f"{e.initiator} opened {live.new_ports} new connections to {e.responder} "
            f"({r.protocol}) within the hour; during {self.span} of baseline it kept "
            f"{e.sessions} persistent session(s) for {e.messages:,} messages", r,
            {"pattern": "per_request"})]  # fmt: skip


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _iso(ts: int) -> str:
    from ..schema.time import rfc3339

    return rfc3339(ts)


# -- alerts -----------------------------------------------------------------------------------
def named(message: str, ips: Iterable[str | None], label: Callable[[str], str | None]) -> str:
    """`10.0.1.5` → `10.0.1.5 (PLC-3)` for the addresses the site model names."""
    for ip in {i for i in ips if i}:
        name = label(ip)
        if name:
            message = re.sub(rf"(?<![\w.]){re.escape(ip)}(?![\w.])", f"{ip} ({name})", message)
    return message


def alert(d: Deviation, n: int = 0, label: Callable[[str], str | None] | None = None) -> Event:
    """The alert event of a deviation (the contract of `watchfloor alerts`)."""
    from ..schema.time import rfc3339

    r = d.row
    if label is not None:
        d.message = named(d.message, (r.src, r.dst), label)
    base = Event(
        timestamp=rfc3339(r.ts),
        event=EventMeta(id=r.id, kind="event", category=["network"]),
        source=Endpoint(ip=r.src, port=r.sport) if r.src else None,
        destination=Endpoint(ip=r.dst, port=r.dport) if r.dst else None,
        ot=Ot(protocol=r.protocol, role=r.role,  # type: ignore[arg-type]
              action=OtAction(operation=r.operation or "other",  # type: ignore[arg-type]
                              target=Target(unit=r.unit, station=r.station, object=r.object)
                              if (r.unit is not None or r.station or r.object) else None,
                              address=AddressRange(start=r.start, end=r.end)
                              if r.start is not None and r.end is not None else None,
                              values=r.values[:64] if r.values else None)),
    )  # fmt: skip
    meta = EventMeta(id=f"{r.id}-b{n}", kind="alert", category=["intrusion_detection"],
                     type=["info"], action=d.type, dataset="watchfloor.baseline",
                     severity=d.severity)  # fmt: skip
    rule = RuleRef(id=f"baseline.{d.type}", name=RULES[d.type],
                   description="Deviation from the approved behavioural baseline",
                   ruleset="baseline")  # fmt: skip
    threat = Threat(framework="MITRE ATT&CK", technique=Technique(id=list(d.techniques)))
    return alert_event(base, meta, d.message, rule, threat, FRAMEWORK_TAGS, [r.id])
