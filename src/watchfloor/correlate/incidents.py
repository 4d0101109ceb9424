"""Incidents: alerts linked by the entities they share (after resolution) within a time window,
placed along the one IT/OT kill chain. An incident that starts on the IT side and reaches OT
actions escalates: that is the path a converged SOC exists to see."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..schema.events import Incident, IncidentRef
from ..triage import PRIORITIES, Triaged, get, ot_parties
from ..triage.killchain import place
from .entities import Entities, direct


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def build(items: Sequence[Triaged], entities: Entities, *, window_s: float = 86400.0,
          site: Any = None) -> list[Incident]:  # fmt: skip
    """Group the open and merged alerts (suppressed ones stay out: they are explained, not
    incidents) and describe each group. `items` are in time order, as `triage` returns them."""
    live = [t for t in items if t.triage.suppressed_by is None]
    by_id = {t.id: i for i, t in enumerate(live)}
    parent = list(range(len(live)))
    last: dict[str, tuple[int, float]] = {}
    ids: list[set[str]] = []
    for i, t in enumerate(live):
        if t.triage.duplicate_of in by_id:  # a duplicate belongs where its open alert is
            parent[_root(parent, i)] = _root(parent, by_id[t.triage.duplicate_of])
        mine = entities.expand(direct({**t.alert, "triage": {"asset": t.triage.asset}}), t.ts)
        ids.append(mine)
        for key in mine:
            seen = last.get(key)
            if seen is not None and t.ts - seen[1] <= window_s:
                parent[_root(parent, i)] = _root(parent, seen[0])
            last[key] = (i, t.ts)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(live)):
        groups[_root(parent, i)].append(i)
    incidents = [_describe([live[i] for i in members], set().union(*(ids[i] for i in members)), site)
                 for members in groups.values()]  # fmt: skip
    for inc in incidents:
        for aid in inc.alerts:
            tri = live[by_id[aid]].triage
            tri.incident = inc.incident.id
            if inc.crosses_it_ot and tri.leg == "it":
                tri.reasons.append(f"part of {inc.incident.id}, which crosses into OT ({inc.priority})")
    return sorted(incidents, key=lambda x: (PRIORITIES.index(x.priority), x.first_seen))


def _describe(members: list[Triaged], entities: set[str], site: Any) -> Incident:
    members.sort(key=lambda t: (t.ts, t.id))
    places = [place(t.alert) for t in members]
    it_times = [t.ts for t, p in zip(members, places) if p.leg == "it"]
    ot_times = [t.ts for t, p in zip(members, places) if p.leg == "ot"]
    crosses = bool(it_times and ot_times and min(it_times) <= max(ot_times))
    stages = [p.label for p in sorted(set(places), key=lambda p: (p.order, p.label))]
    stages = list(dict.fromkeys(stages))
    best = min(PRIORITIES.index(t.triage.priority) for t in members)
    reasons = [f"highest alert priority {PRIORITIES[best]}"]
    if crosses:
        ot_impact = max(t.triage.impact for t, p in zip(members, places) if p.leg == "ot")
        best = 0 if ot_impact >= 3 else max(0, best - 1)
        reasons.append("it crosses from IT into OT: an IT foothold is followed by OT actions from the "
                       f"same entities (OT impact up to {ot_impact}/5) → {PRIORITIES[best]}")  # fmt: skip
    first = members[0]
    digest = hashlib.sha256(first.id.encode()).hexdigest()[:12]
    return Incident(
        incident=IncidentRef(id=f"INC-{digest}"), priority=PRIORITIES[best], stages=stages,
        first_seen=first.alert["@timestamp"], last_seen=members[-1].alert["@timestamp"],
        entities=sorted(entities), alerts=[t.id for t in members], crosses_it_ot=crosses,
        summary=_summary(members, places, crosses), reasons=reasons, path=_path(members, places, site),
    )  # fmt: skip


def _hop(label: str, ip: str | None, site: Any) -> str:
    """A host on the path with its Purdue level and zone (`zone_of` knows declared assets')."""
    zone = site.zone_of(ip) if site is not None and ip else None
    if zone is None:
        return label
    level = f"L{zone.purdue_level:g} " if zone.purdue_level is not None else ""
    return f"{label} ({level}{zone.name or zone.id})"


def _path(members: list[Triaged], places: list[Any], site: Any) -> list[str]:
    """The hosts in the order the attack reached them: IT hosts, then OT initiators and targets."""
    hops: dict[str, str] = {}
    for t, p in zip(members, places):
        if p.leg == "it":
            host = get(t.alert, "host.name")
            ips = get(t.alert, "host.ip") or []
            ip = ips[0] if ips else None
            if host or ip:
                hops.setdefault(str(host or ip).lower(), _hop(str(host or ip), ip, site))
        else:
            for ip in ot_parties(t.alert):
                if ip and ip not in hops:
                    asset = site.asset(ip=ip) if site is not None else None
                    name = asset.name if asset is not None else ip
                    if name.lower() not in hops:
                        hops[ip] = _hop(name, ip, site)
    return list(hops.values())


def _summary(members: list[Triaged], places: list[Any], crosses: bool) -> str:
    open_ = [t for t in members if t.open]
    p12 = sum(t.triage.priority in ("P1", "P2") for t in open_)
    tactics = list(dict.fromkeys(p.tactic for p in places if p.tactic))
    it_hosts = list(dict.fromkeys(str(get(t.alert, "host.name")) for t, p in zip(members, places)
                                  if p.leg == "it" and get(t.alert, "host.name")))  # fmt: skip
    ot = [(t, p) for t, p in zip(members, places) if p.leg == "ot"]
    targets = list(dict.fromkeys(t.triage.asset or str(get(t.alert, "destination.ip")) for t, _ in ot))
    parts = []
    if crosses:
        parts.append(f"IT foothold on {', '.join(it_hosts[:3]) or 'an IT host'} led to OT actions on "
                     f"{', '.join(targets[:3])}")  # fmt: skip
    elif ot:
        parts.append(f"OT activity against {', '.join(targets[:3])}")
    else:
        parts.append(f"IT activity on {', '.join(it_hosts[:3]) or 'unnamed hosts'}")
    parts.append(f"{len(members)} alert(s), {len(open_)} open, {p12} P1/P2")
    if tactics:
        parts.append("stages: " + ", ".join(tactics))
    return "; ".join(parts)
