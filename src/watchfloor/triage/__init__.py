"""Triage: what each alert means for the plant. Security severity comes from the detector;
operational impact from the asset it touches (criticality, safety function, Purdue level) and the
operation (a read is not a write is not a PLC stop); confidence from the evidence. Together they
give a priority P1-P4, each factor stated in words. Context (schedules, maintenance windows with
their approved engineering hosts, exceptions) suppresses alerts without deleting them, and
duplicates merge into the open alert with the same identity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..schema.events import Triage
from ..schema.time import parse_rfc3339
from .killchain import place

Mode = Literal["converged", "context-free", "it-only"]
PRIORITIES = ("P1", "P2", "P3", "P4")

# Operation classes of `ot.action.operation`, by what they can do to the process.
_OBSERVE = frozenset(("read", "discovery", "session", "diagnostic"))
_CHANGE = frozenset(("write", "config"))
_COMMAND = frozenset(("control", "program", "firmware"))
# Declared roles whose OT commands are expected inside a maintenance window.
ENGINEERING_ROLES = frozenset(("hmi", "scada_server", "engineering_workstation"))
_LEVEL_IMPACT = {0: 4, 1: 4, 2: 3, 3: 3}  # Purdue level → impact when criticality is not declared


@dataclass(frozen=True)
class Dedup:
    """Alerts with equal values of `fields` merge while they recur within `interval_s` of the
    last one; a recurrence after a quiet interval opens a new alert."""

    fields: tuple[str, ...] = ("rule.id", "source.ip", "destination.ip", "host.name", "user.name")
    interval_s: float = 900.0


@dataclass
class Triaged:
    alert: dict[str, Any]
    triage: Triage
    ts: float = field(default=0.0)

    @property
    def id(self) -> str:
        return self.alert["event"]["id"]

    @property
    def open(self) -> bool:
        """An alert an analyst must read: neither suppressed nor merged into another."""
        return self.triage.suppressed_by is None and self.triage.duplicate_of is None


def get(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)  # type: ignore[assignment]
    return doc


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def triage(alerts: Iterable[dict[str, Any]], site: Any = None, *, mode: Mode = "converged",
           dedup: Dedup = Dedup(), related: Callable[[Sequence[str]], list[dict[str, Any]]] | None = None,
           ) -> list[Triaged]:  # fmt: skip
    """Triage stored alerts (any order) into time order. `site` is a `site.SiteModel` or None;
    in context-free mode it is ignored and priority follows security severity alone."""
    out = []
    for alert in alerts:
        if related is not None and not (alert.get("host") or alert.get("user")):
            _borrow(alert, related(get(alert, "related.events") or []))
        ts = (parse_rfc3339(alert["@timestamp"]) or 0) / 1e9
        out.append(Triaged(alert, _assess(alert, site if mode != "context-free" else None, mode), ts))
    out.sort(key=lambda t: (t.ts, t.id))
    _merge_duplicates(out, dedup)
    return out


def _borrow(alert: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """An alert on log telemetry names its host and user through the events behind it."""
    for ev in events:
        for key in ("host", "user", "process"):
            if ev.get(key) and not alert.get(key):
                alert[key] = ev[key]


def _assess(alert: dict[str, Any], site: Any, mode: Mode) -> Triage:
    where = place(alert)
    severity = int(get(alert, "event.severity") or 3)
    reasons = [f"security severity {severity}/5 from {get(alert, 'rule.name') or 'the detector'}"]
    if site is None:
        priority = PRIORITIES[max(0, min(3, 5 - severity))]
        reasons.append("priority from security severity alone (no site context)" if mode == "context-free"
                       else "no site model: priority from security severity alone")  # fmt: skip
        return Triage(priority=priority, severity=severity, impact=3, confidence="medium",
                      reasons=reasons, leg=where.leg, tactic=where.tactic,
                      sans_stage=where.sans_stage)  # fmt: skip
    initiator, target = _parties(alert, where.leg)
    src = site.asset(ip=initiator) if initiator else None
    dst = _asset(site, alert, target, where.leg)
    impact, why = _impact(alert, site, dst, target, where.leg)
    reasons += why
    confidence, why = _confidence(alert, site, src, initiator, where.leg)
    reasons += why
    at = PRIORITIES.index(_matrix(severity, impact))
    at += {"low": 1, "medium": 0, "high": -1}[confidence]
    priority = PRIORITIES[max(0, min(3, at))]
    suppressed = _suppression(alert, site, src, dst, initiator, target)
    if suppressed:
        reasons.append(f"suppressed: {suppressed}")
    return Triage(priority=priority, severity=severity, impact=impact, confidence=confidence,
                  reasons=reasons, leg=where.leg, tactic=where.tactic, sans_stage=where.sans_stage,
                  asset=dst.name if dst else None, suppressed_by=suppressed)  # fmt: skip


def ot_parties(alert: dict[str, Any]) -> tuple[str | None, str | None]:
    """(client IP, device IP) of an OT alert, whichever direction its message went."""
    s, d = get(alert, "source.ip"), get(alert, "destination.ip")
    return (d, s) if get(alert, "ot.role") == "response" else (s, d)


def _parties(alert: dict[str, Any], leg: str) -> tuple[str | None, str | None]:
    """(initiator IP, target IP): for OT the client and the device it commands; for IT the
    remote peer, if any, and the host the record is about."""
    if leg == "ot":
        return ot_parties(alert)
    s, d = get(alert, "source.ip"), get(alert, "destination.ip")
    host_ip = _first(get(alert, "host.ip"))
    return s if s != host_ip else None, host_ip or d


def _asset(site: Any, alert: dict[str, Any], ip: str | None, leg: str) -> Any:
    found = site.asset(ip=ip) if ip else None
    if found is None and leg == "it" and get(alert, "host.name"):
        found = site.asset(name=str(get(alert, "host.name")).split(".")[0])
    return found


def _level(site: Any, asset: Any, ip: str | None) -> float | None:
    zone = (site.asset_zone(asset) if asset is not None else None) or site.zone_of(ip)
    return zone.purdue_level if zone is not None else None


def _impact(alert: dict[str, Any], site: Any, asset: Any, ip: str | None,
            leg: str) -> tuple[int, list[str]]:  # fmt: skip
    why = []
    level = _level(site, asset, ip)
    name = asset.name if asset is not None else ip or get(alert, "host.name") or "the target"
    if asset is not None and asset.criticality:
        impact = int(asset.criticality)
        why.append(f"{name} has declared criticality {impact}/5"
                   + (f" ({asset.process})" if getattr(asset, "process", None) else ""))  # fmt: skip
    elif level is not None:
        impact = _LEVEL_IMPACT.get(int(level), 2)
        why.append(f"{name} sits at Purdue level {level:g}: impact {impact}/5")
    else:
        impact = 3 if leg == "ot" else 2
        why.append(f"{name} is not in the site model: impact {impact}/5 for an "
                   + ("industrial device" if leg == "ot" else "IT host"))  # fmt: skip
    if asset is not None and asset.safety:
        impact += 1
        why.append(f"{name} performs a safety function ({asset.safety_function or 'safety controller'}): +1")
    impact = max(1, min(5, impact))
    op = get(alert, "ot.action.operation")
    if op in _COMMAND:
        impact = min(5, impact + 1)
        why.append(f"the operation is {op}: it changes what the device does (+1)")
    elif op in _OBSERVE:
        impact = max(1, impact - 2)
        why.append(f"the operation is {op}: it observes, it does not change the process (-2)")
    elif op in _CHANGE:
        why.append(f"the operation is a {op}: it changes process values")
    return impact, why


def _confidence(alert: dict[str, Any], site: Any, src: Any, initiator: str | None,
                leg: str) -> tuple[Literal["low", "medium", "high"], list[str]]:  # fmt: skip
    changes = get(alert, "ot.action.operation") in _CHANGE | _COMMAND
    if leg == "ot" and changes and initiator and src is None and site.zone_of(initiator) is not None:
        return "high", [f"{initiator} is not a declared asset yet commands devices in a declared zone: +1"]
    if leg == "ot" and changes and src is not None and src.role not in ENGINEERING_ROLES:
        return "high", [(f"{src.name} is a declared {_words(src.role)}: it has no business "
                         "commanding devices (+1)")]  # fmt: skip
    if len(get(alert, "related.events") or []) > 1:
        return "high", ["several events corroborate it (a correlation): +1"]
    if leg == "ot" and src is not None and src.role in ENGINEERING_ROLES:
        return "medium", [f"from {src.name}, a declared {_words(src.role)}"]
    return "medium", []


def _words(role: str | None) -> str:
    return (role or "unknown").replace("_", " ")


def _matrix(severity: int, impact: int) -> str:
    if impact >= 4 and severity >= 4 or impact >= 5 and severity >= 3:
        return "P1"
    if impact >= 4 and severity >= 3 or severity >= 4 and impact >= 3:
        return "P2"
    if severity >= 3 or impact >= 3:
        return "P3"
    return "P4"


def _suppression(alert: dict[str, Any], site: Any, src: Any, dst: Any, initiator: str | None,
                 target: str | None) -> str | None:  # fmt: skip
    ts = alert["@timestamp"]
    proto = get(alert, "ot.protocol") or get(alert, "network.protocol")
    if initiator and target and (job := site.schedule_for(ts, initiator, target, proto)):
        return f"schedule '{job.name}'"
    window = site.in_maintenance(ts, ip=target, asset=dst.name if dst else None) if target or dst else None
    if window is not None and src is not None and src.role in ENGINEERING_ROLES:
        return f"maintenance window '{window.name}': {src.name} is a declared {_words(src.role)}"
    found = site.exception_for(ts, get(alert, "rule.id"), initiator, target)
    if found is not None:
        return f"exception '{found.name or found.reason or 'unnamed'}'" + (
            f": {found.reason}" if found.reason and found.name else "")
    return None


def _merge_duplicates(items: list[Triaged], dedup: Dedup) -> None:
    opened: dict[tuple, tuple[Triaged, float]] = {}
    for it in items:
        if it.triage.suppressed_by is not None:
            continue
        key = tuple(str(_first(get(it.alert, f))) for f in dedup.fields)
        prior = opened.get(key)
        if prior is not None and it.ts - prior[1] <= dedup.interval_s:
            primary = prior[0]
            it.triage.duplicate_of = primary.id
            primary.triage.occurrences += 1
            if PRIORITIES.index(it.triage.priority) < PRIORITIES.index(primary.triage.priority):
                primary.triage.priority = it.triage.priority  # the worst occurrence decides
            opened[key] = (primary, it.ts)
        else:
            opened[key] = (it, it.ts)
