"""Correlation: entities resolved across IT and OT (entities.py), alerts grouped into incidents
(incidents.py) along one kill chain (triage/killchain.py), told as a timeline (story.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from ..decode import OT_PROTOCOLS
from ..schema.events import Incident
from ..store.base import EventFilter, Store
from ..triage import Dedup, Mode, Triaged, triage
from .entities import Entities
from .incidents import build


@dataclass
class Result:
    items: list[Triaged]
    incidents: list[Incident]


def run(store: Store, site: Any = None, *, mode: Mode = "converged", dedup: Dedup = Dedup(),
        window_s: float = 86400.0, persist: bool = True) -> Result:  # fmt: skip
    """Triage every stored alert and group them into incidents; with `persist`, the result
    replaces the store's previous triage. `it-only` leaves the OT side out entirely, as an
    IT-only SOC would; `context-free` ignores the site model."""
    alerts = list(store.events(EventFilter(kind="alert")))
    if mode == "it-only":
        alerts = [a for a in alerts if not _ot_side(a)]
    use_site = site if mode != "context-free" else None
    items = triage(alerts, use_site, mode=mode, dedup=dedup, related=store.events_by_id)
    entities = Entities()
    if use_site is not None:
        entities.add_site(use_site)
    rows = store.bindings()
    if mode == "it-only":
        rows = [r for r in rows if r[6] != "traffic"]
    entities.add_observations(rows)
    incidents = build(items, entities, window_s=window_s, site=use_site)
    if persist:
        enc = msgspec.json.encode
        store.replace_triage(
            [(t.id, t.triage.priority, t.triage.suppressed_by is not None, t.open,
              enc(t.triage).decode()) for t in items],
            [(i.incident.id, i.priority, i.first_seen, enc(i).decode()) for i in incidents],
        )  # fmt: skip
    return Result(items, incidents)


def _ot_side(alert: dict[str, Any]) -> bool:
    """An alert an IT-only SOC would not have: about an OT message, or about a flow or inventory
    change of an OT protocol (the OT sensor's conduit and asset checks)."""
    if alert.get("ot") or str((alert.get("event") or {}).get("dataset") or "").startswith("ot."):
        return True
    return (alert.get("network") or {}).get("protocol") in OT_PROTOCOLS
