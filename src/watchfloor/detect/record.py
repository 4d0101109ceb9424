"""What every detection shares: the header of a rule (Sigma rule or correlation) and the alert
record built from the event behind it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..schema import Event, EventMeta, Related, RuleRef, Technique, Threat
from ..schema.events import Tactic
from . import FRAMEWORK_NAMESPACES, SEVERITY, tactics, techniques


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    description: str | None
    path: str

    @staticmethod
    def fields(item: Any, path: str, default_id: str) -> dict[str, Any]:
        """The header fields of a pySigma rule or correlation (`default_id` when it has no id)."""
        return {
            "id": str(item.id) if item.id else default_id,
            "title": item.title,
            "level": item.level.name.lower() if item.level else None,
            "tags": tuple(f"{t.namespace}.{t.name}" for t in item.tags),
            "description": item.description,
            "path": path,
        }

    @property
    def severity(self) -> int:
        return SEVERITY.get(self.level or "", 3)

    def ref(self) -> RuleRef:
        return RuleRef(id=self.id, name=self.title, description=self.description, ruleset=self.path)

    def threat(self) -> Threat:
        """ATT&CK techniques of the rule: always a list (empty when the rule names none), as the
        alert output contract requires; its tactics when its tags name them."""
        stages = tactics(self.tags)
        return Threat(framework="MITRE ATT&CK", tactic=Tactic(name=stages) if stages else None,
                      technique=Technique(id=techniques(self.tags)))  # fmt: skip

    def frameworks(self) -> list[str] | None:
        return [t for t in self.tags if t.lower().startswith(FRAMEWORK_NAMESPACES)] or None


def alert_event(base: Event, meta: EventMeta, message: str, rule: RuleRef, threat: Threat | None,
                tags: list[str] | None, related: Sequence[str]) -> Event:  # fmt: skip
    """An alert carrying the facts of the event behind it: its time, endpoints, network, sensor,
    OT detail and frame, and for IT events the host, user, process, file, registry, winlog and
    cloud fields (not the original record: `related.events` leads to it)."""
    return Event(
        timestamp=base.timestamp, event=meta, message=message, source=base.source,
        destination=base.destination, network=base.network, observer=base.observer, ot=base.ot,
        pcap=base.pcap, rule=rule, threat=threat, tags=tags, related=Related(events=list(related)),
        host=base.host, user=base.user, process=base.process, file=base.file, dll=base.dll,
        registry=base.registry, url=base.url, user_agent=base.user_agent, winlog=base.winlog,
        cloud=base.cloud,
    )  # fmt: skip
