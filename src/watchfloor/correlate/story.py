"""An incident told as an analyst would: what happened, in time order, on which side of the
boundary, at which kill-chain stage, and why each step got its priority."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..triage import get, ot_parties


def _actor(alert: dict[str, Any]) -> str:
    if alert.get("ot"):
        src, dst = ot_parties(alert)
        op = get(alert, "ot.action.operation")
        return f"{src} → {dst} [{get(alert, 'ot.protocol')}{' ' + op if op else ''}]"
    host, user = get(alert, "host.name"), get(alert, "user.name")
    who = f"{user} on " if user else ""
    return f"{who}{host or get(alert, 'source.ip') or 'unknown host'}"


def tell(incident: dict[str, Any], alerts: dict[str, dict[str, Any]],
         triage: dict[str, dict[str, Any]]) -> Iterator[str]:  # fmt: skip
    inc = incident
    yield f"{inc['incident']['id']}  {inc['priority']}  {inc['first_seen']} → {inc['last_seen']}"
    yield f"  {inc['summary']}"
    if inc.get("crosses_it_ot"):
        yield "  ⚠ crosses from IT into OT"
    for why in inc.get("reasons") or []:
        yield f"  - {why}"
    if inc.get("path"):
        yield "  path: " + " → ".join(inc["path"])
    yield "  stages: " + " → ".join(inc.get("stages") or [])
    yield ""
    yield "  timeline:"
    for aid in inc["alerts"]:
        alert, tri = alerts.get(aid), triage.get(aid, {})
        if alert is None:
            yield f"    {aid}: (alert no longer stored)"
            continue
        leg = (tri.get("leg") or "?").upper()
        stage = tri.get("tactic") or "unplaced"
        sans = f"SANS stage {tri['sans_stage']}" if tri.get("sans_stage") else ""
        techs = ",".join(get(alert, "threat.technique.id") or [])
        flag = f" (duplicate of {tri['duplicate_of']})" if tri.get("duplicate_of") else ""
        yield (f"    {alert['@timestamp']}  {tri.get('priority', '--')}  {leg:<2} {stage:<26} "
               f"{_actor(alert)}")  # fmt: skip
        yield f"        {get(alert, 'rule.name') or alert.get('message') or aid}{flag}"
        detail = ", ".join(x for x in (sans, techs) if x)
        if detail:
            yield f"        {detail}"
        if tri.get("occurrences", 1) > 1:
            yield f"        merged {tri['occurrences']} occurrences"
        for why in tri.get("reasons") or []:
            yield f"        · {why}"
