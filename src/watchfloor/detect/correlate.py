"""Sigma correlation rules: counts, distinct values and sequences of rule matches in a time window.

Correlations run after a capture is decoded, over the matches of the rules they reference, read
back from the store in time order. That makes them exact however the decoding was spread over
processes (flows are sharded; a scan or a brute force spans many flows). A referenced rule's own
matches are stored as `event.kind: signal` (hidden from `watchfloor alerts`) unless a correlation
referencing it says `generate: true`.

Streaming semantics, per correlation and group (the `group-by` values, with `aliases`):
* event_count: matches in the last `timespan` meet the condition (gt, gte, eq, neq);
* value_count: distinct values of `condition.field` in the last `timespan` meet the condition;
* temporal: every referenced rule matched within `timespan`, in any order;
* temporal_ordered: they matched in the listed order within `timespan`.
When a group fires, its window starts afresh (one alert per burst, not one per further match).
State is bounded: at most `MAX_GROUPS` groups per correlation (the least recently active go) and
at most `MAX_WINDOW` matches per group window. Conditions that can only be judged when a window
closes (lt, lte) and the value_sum/avg/percentile/median types are refused at load, with the reason.
"""

from __future__ import annotations

import operator
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition

from ..schema import Event, EventMeta
from ..schema.time import parse_rfc3339
from .record import RuleInfo, alert_event
from .sigma import View

MAX_GROUPS = 10_000
MAX_WINDOW = 10_000
SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")
_OPS = {"gt": operator.gt, "gte": operator.ge, "eq": operator.eq, "neq": operator.ne}


class CorrelationError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Correlation(RuleInfo):
    type: str
    rules: tuple[str, ...]  # ids of the referenced rules, in order
    group_by: tuple[str, ...]
    aliases: Mapping[str, Mapping[str, str]]  # alias → rule id → field
    timespan_ns: int
    op: str | None = None
    count: float | None = None
    field: str | None = None
    generate: bool = False


def from_sigma(item: SigmaCorrelationRule, path: str, rule_id: Mapping[int, str]) -> Correlation:
    """Our form of a pySigma correlation whose references are resolved; `rule_id` maps the
    referenced SigmaRule objects (by `id()`) to our rule ids."""
    kind = item.type.name.lower()
    if kind not in SUPPORTED:
        raise CorrelationError(
            f"correlation type {kind} not supported (supported: {', '.join(SUPPORTED)})"
        )
    refs = []
    for ref in item.referenced_rules or item.rules or []:
        target = getattr(ref, "rule", None)
        if target is None or id(target) not in rule_id:
            raise CorrelationError(
                f"referenced rule {ref.reference!r} is not a loaded detection rule"
            )
        refs.append(rule_id[id(target)])
    if not refs:
        raise CorrelationError("no referenced rules")
    op = count = fieldname = None
    cond = item.condition
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        raise CorrelationError("extended correlation conditions are not supported")
    if kind in ("event_count", "value_count"):
        op = cond.op.name.lower()
        if op not in _OPS:
            raise CorrelationError(
                f"condition {op} can only be judged when a window closes; not supported"
            )
        count = cond.count
        if kind == "value_count":
            fieldname = cond.fieldref if isinstance(cond.fieldref, str) else None
            if fieldname is None:
                raise CorrelationError("value_count needs one condition field")
    aliases: dict[str, dict[str, str]] = {}
    for name, alias in (item.aliases.aliases or {}).items():
        aliases[name] = {
            rule_id[id(r.rule)]: f
            for r, f in alias.mapping.items()
            if id(getattr(r, "rule", None)) in rule_id
        }
    return Correlation(
        **RuleInfo.fields(item, path, str(item.name or item.title)), type=kind, rules=tuple(refs), group_by=tuple(item.group_by or ()), aliases=aliases,
        timespan_ns=item.timespan.seconds * 1_000_000_000, op=op, count=count, field=fieldname,
        generate=bool(item.generate),
    )  # fmt: skip


@dataclass
class _Group:
    window: deque = field(default_factory=deque)  # (ts_ns, event id, value)
    values: Counter = field(default_factory=Counter)
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)  # temporal: rule → (ts, id)
    stages: list = field(default_factory=list)  # temporal_ordered: stage → (start ts, ids)


class Correlator:
    """Feeds matches (alert or signal events as stored, in time order) through every correlation."""

    def __init__(self, correlations: Iterable[Correlation]) -> None:
        self.correlations = list(correlations)
        self.groups: list[OrderedDict[tuple, _Group]] = [OrderedDict() for _ in self.correlations]
        self.by_rule: dict[str, list[int]] = {}
        for i, c in enumerate(self.correlations):
            for r in set(c.rules):
                self.by_rule.setdefault(r, []).append(i)

    def _field(self, c: Correlation, rule: str, name: str) -> str:
        return c.aliases.get(name, {}).get(rule, name)

    def feed(self, match: Mapping[str, Any]) -> Iterator[Event]:
        rule = match["rule"]["id"]
        view = View(match)
        ts = parse_rfc3339(match["@timestamp"])
        if ts is None:  # stored events always carry a valid time; anything else is not a match
            return
        for i in self.by_rule.get(rule, ()):
            c = self.correlations[i]
            key = tuple(view.values(self._field(c, rule, g))[:1] or (None,) for g in c.group_by)
            groups = self.groups[i]
            g = groups.get(key)
            if g is None:
                g = groups[key] = _Group()
                if len(groups) > MAX_GROUPS:
                    groups.popitem(last=False)
            else:
                groups.move_to_end(key)
            related = (match.get("related") or {}).get("events") or [match["event"]["id"]]
            fired = self._step(c, g, rule, view, ts, related[0])
            if fired is not None:
                yield correlation_alert(c, i, match, key, fired)

    def _step(
        self, c: Correlation, g: _Group, rule: str, view: View, ts: int, mid: str
    ) -> list[str] | None:
        start = ts - c.timespan_ns
        if c.type in ("event_count", "value_count"):
            value = None
            if c.type == "value_count":
                got = view.values(self._field(c, rule, c.field or ""))
                if not got:
                    return None
                value = str(got[0])
                g.values[value] += 1
            g.window.append((ts, mid, value))
            while g.window and (g.window[0][0] < start or len(g.window) > MAX_WINDOW):
                _, _, old = g.window.popleft()
                if old is not None:
                    g.values[old] -= 1
                    if not g.values[old]:
                        del g.values[old]
            n = len(g.window) if c.type == "event_count" else len(g.values)
            if _OPS[c.op or "gte"](n, c.count or 0):
                ids = [m for _, m, _ in g.window]
                g.window.clear()
                g.values.clear()
                return ids
            return None
        if c.type == "temporal":
            g.seen[rule] = (ts, mid)
            for r in [r for r, (t, _) in g.seen.items() if t < start]:
                del g.seen[r]
            if all(r in g.seen for r in c.rules):
                ids = [g.seen[r][1] for r in c.rules]
                g.seen.clear()
                return ids
            return None
        # temporal_ordered: stages[k] = (start ts, ids) of the latest-starting chain that matched
        # rules[0..k] in order; a match of rules[k] extends stage k-1 (or starts stage 0).
        if not g.stages:
            g.stages = [None] * len(c.rules)
        for k in reversed([k for k, r in enumerate(c.rules) if r == rule]):
            if k == 0:
                g.stages[0] = (ts, [mid])
            else:
                prev = g.stages[k - 1]
                if prev is not None and prev[0] >= start:
                    g.stages[k] = (prev[0], [*prev[1], mid])
        last = g.stages[-1]
        if last is not None and last[0] >= start:
            g.stages = []
            return last[1]
        return None


def correlation_alert(
    c: Correlation, i: int, match: Mapping[str, Any], key: tuple, ids: list[str]
) -> Event:
    base = msgspec.convert(match, Event)
    groups = ", ".join(f"{g}={v[0] if v else '-'}" for g, v in zip(c.group_by, key, strict=True))
    span = c.timespan_ns // 1_000_000_000
    what = {
        "event_count": f"{len(ids)} matches",
        "value_count": f"{c.field} took {c.count:g}+ distinct values",
        "temporal": "all rules matched",
        "temporal_ordered": "rules matched in order",
    }[c.type]
    meta = EventMeta(
        id=f"{match['event']['id']}-c{i}",
        kind="alert",
        category=list(base.event.category),
        action="correlation",
        dataset="watchfloor.detect",
        severity=c.severity,
    )
    message = f"{c.title}: {what} within {span} s" + (f" ({groups})" if groups else "")
    return alert_event(base, meta, message, c.ref(), c.threat(), c.frameworks(), ids[-100:])
