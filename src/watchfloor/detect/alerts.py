"""Events → alerts: every event meets the rules of its log source; a match becomes an alert event.

An alert is an `Event` with `event.kind = "alert"`, stored with the events it came from: it keeps
the triggering event's time, endpoints, network and `ot` detail (what an analyst reads first),
names its rule, ATT&CK techniques and framework tags, and lists the triggering event in
`related.events`. Its id extends the event's, so re-ingesting a capture replaces both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from ..schema import Event, EventMeta
from .record import alert_event
from .rules import Rule, RuleIndex, event_logsource
from .sigma import View


def alert(rule: Rule, event: Event, n: int, kind: Literal["alert", "signal"] = "alert") -> Event:
    """The alert for `rule` matching `event` (the n-th alert of that event); kind `signal` for a
    match that only feeds correlations (see `correlate`)."""
    meta = EventMeta(
        id=f"{event.event.id}-a{n}",
        kind=kind,
        category=list(event.event.category),
        action=event.event.action,
        dataset="watchfloor.detect",
        severity=rule.severity,
    )
    message = f"{rule.title}: {event.message}" if event.message else rule.title
    return alert_event(
        event, meta, message, rule.ref(), rule.threat(), rule.frameworks(), [event.event.id]
    )


class Detector:
    """Callable on a batch of events; returns the alerts. Rules are compiled once, before workers
    fork, so every decoder process shares them."""

    def __init__(self, rules: Sequence[Rule], signals: Collection[str] = ()) -> None:
        """`signals`: ids of rules whose matches only feed correlations (stored as signals)."""
        self.index = RuleIndex(rules)
        self.signals = frozenset(signals)

    def __call__(self, batch: Sequence[Event]) -> list[Event]:
        out: list[Event] = []
        match = self.index.match_view
        for ev in batch:
            if ev.event.kind in ("alert", "signal"):
                continue
            ot = ev.ot
            source = event_logsource(ot.protocol if ot else None, ev.event.category, ev.winlog)
            for n, rule in enumerate(match(View(ev), *source)):
                out.append(alert(rule, ev, n, "signal" if rule.id in self.signals else "alert"))
        return out

    def match_dict(self, event: Mapping[str, Any]) -> list[Rule]:
        """Rules matching an event given as JSON-shaped data (tests, `rules test`)."""
        ot, meta = event.get("ot") or {}, event.get("event") or {}
        return self.index.match(
            event, *event_logsource(ot.get("protocol"), meta.get("category") or (),
                                    event.get("winlog"))
        )
