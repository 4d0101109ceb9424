"""Events → alerts: every event meets the rules of its log source; a match becomes an alert event.

An alert is an `Event` with `event.kind = "alert"`, stored with the events it came from: it keeps
the triggering event's time, endpoints, network and `ot` detail (what an analyst reads first),
names its rule, ATT&CK techniques and framework tags, and lists the triggering event in
`related.events`. Its id extends the event's, so re-ingesting a capture replaces both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..schema import Event, EventMeta, Related, RuleRef, Technique, Threat
from . import SEVERITY
from .rules import Rule, RuleIndex, event_logsource
from .sigma import View

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
# Tag namespaces that name a framework outcome rather than ATT&CK (see rules/README.md).
FRAMEWORK_NAMESPACES = ("caf.", "nis2.", "iec62443.")


def techniques(rule: Rule) -> list[str]:
    return [m.group(1).upper() for t in rule.tags if (m := _TECHNIQUE.match(t))]


def alert(rule: Rule, event: Event, n: int) -> Event:
    """The alert for `rule` matching `event` (the n-th alert of that event)."""
    found = techniques(rule)
    frameworks = [t for t in rule.tags if t.lower().startswith(FRAMEWORK_NAMESPACES)]
    return Event(
        timestamp=event.timestamp,
        event=EventMeta(id=f"{event.event.id}-a{n}", kind="alert", category=list(event.event.category),
                        action=event.event.action, dataset="watchfloor.detect",
                        severity=SEVERITY.get(rule.level or "", 3)),
        message=f"{rule.title}: {event.message}" if event.message else rule.title,
        source=event.source, destination=event.destination, network=event.network,
        observer=event.observer, ot=event.ot, pcap=event.pcap,
        rule=RuleRef(id=rule.id, name=rule.title, description=rule.description, ruleset=rule.path),
        threat=Threat(framework="MITRE ATT&CK", technique=Technique(id=found)) if found else None,
        tags=frameworks or None,
        related=Related(events=[event.event.id]),
    )  # fmt: skip


class Detector:
    """Callable on a batch of events; returns the alerts. Rules are compiled once, before workers
    fork, so every decoder process shares them."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.index = RuleIndex(rules)

    def __call__(self, batch: Sequence[Event]) -> list[Event]:
        out: list[Event] = []
        match = self.index.match_view
        for ev in batch:
            if ev.event.kind == "alert":
                continue
            ot = ev.ot
            source = event_logsource(ot.protocol if ot else None, ev.event.category)
            for n, rule in enumerate(match(View(ev), *source)):
                out.append(alert(rule, ev, n))
        return out

    def match_dict(self, event: Mapping[str, Any]) -> list[Rule]:
        """Rules matching an event given as JSON-shaped data (tests, `rules test`)."""
        ot, meta = event.get("ot") or {}, event.get("event") or {}
        return self.index.match(
            event, *event_logsource(ot.get("protocol"), meta.get("category") or ())
        )
