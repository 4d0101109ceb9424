"""Entity resolution across IT and OT over time: which IPs, MACs, host names, users and site
assets are the same thing (or were, at a given time), and which hosts a user or host logged into.

Identifiers are strings `ip:…`, `mac:…`, `host:…`, `user:…`, `asset:…`. Bindings come from the
events themselves (an IP seen with a MAC, a host name with its IP, a logon from an IP to a host)
and from the site model; each binding holds only during the time it was observed (plus a margin),
because DHCP moves addresses and people move between machines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..triage import get

# Accounts every Windows host has: they link nothing to anything.
_SHARED_USERS = frozenset((
    "system", "local service", "network service", "anonymous logon", "-", "", "dwm-1", "umfd-0",
))  # fmt: skip
HUB_DEGREE = 16  # an identifier bound to more distinct others is infrastructure (a router's MAC)
ALWAYS = (float("-inf"), float("inf"))


def ident(kind: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    v = str(value).strip().lower()
    if kind == "user":
        v = v.rsplit("\\", 1)[-1].split("@")[0]
        if v in _SHARED_USERS or v.endswith("$"):
            return None
    elif kind == "host":
        v = v.split(".")[0]
    elif kind == "ip":
        v = v.removeprefix("::ffff:")
        if v in ("-", "::", "::1", "0.0.0.0") or v.startswith("127."):
            return None  # the host itself: says nothing about which host
    return f"{kind}:{v}" if v else None


def direct(alert: dict[str, Any]) -> set[str]:
    """The identifiers an alert names itself."""
    found = {
        ident("ip", get(alert, "source.ip")), ident("mac", get(alert, "source.mac")),
        ident("host", get(alert, "host.name")), ident("user", get(alert, "user.name")),
    }  # fmt: skip
    if alert.get("ot"):  # the commanded device is part of the story, not just a destination
        found |= {ident("ip", get(alert, "destination.ip")), ident("mac", get(alert, "destination.mac"))}
    for ip in get(alert, "host.ip") or []:
        found.add(ident("ip", ip))
    triage = alert.get("triage") or {}
    found.add(ident("asset", triage.get("asset")))
    found.discard(None)
    return found  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Binding:
    a: str
    b: str
    first: float
    last: float
    why: str


class Entities:
    """Bindings between identifiers, each valid over a time span."""

    def __init__(self, margin_s: float = 3600.0) -> None:
        self.margin = margin_s
        self.edges: dict[str, list[Binding]] = defaultdict(list)

    def bind(self, a: str | None, b: str | None, first: float, last: float, why: str) -> None:
        if a and b and a != b:
            edge = Binding(a, b, first, last, why)
            self.edges[a].append(edge)
            self.edges[b].append(edge)

    def add_site(self, site: Any) -> None:
        for s in site.sites:
            for asset in s.assets or []:
                name = ident("asset", asset.name)
                self.bind(name, ident("host", asset.name), *ALWAYS, "site model")
                for ip in asset.ips or []:
                    self.bind(name, ident("ip", ip), *ALWAYS, "site model")
                for mac in asset.macs or []:
                    self.bind(name, ident("mac", mac), *ALWAYS, "site model")

    def add_observations(self, rows: Iterable[tuple[str, str, str, str, float, float, str]]) -> None:
        """Rows (kind_a, value_a, kind_b, value_b, first, last, why) from the store."""
        for ka, va, kb, vb, first, last, why in rows:
            self.bind(ident(ka, va), ident(kb, vb), first, last, why)
        for node in [n for n, es in self.edges.items() if len({e.a if e.b == n else e.b for e in es}) > HUB_DEGREE]:
            for e in self.edges.pop(node):
                other = e.a if e.b == node else e.b
                if other in self.edges:
                    self.edges[other] = [x for x in self.edges[other] if x is not e]

    def expand(self, ids: set[str], ts: float, depth: int = 2) -> set[str]:
        """Everything `ids` were bound to around time `ts`, up to `depth` bindings away."""
        seen, frontier = set(ids), set(ids)
        for _ in range(depth):
            nxt = set()
            for node in frontier:
                for e in self.edges.get(node, ()):
                    if e.first - self.margin <= ts <= e.last + self.margin:
                        other = e.b if e.a == node else e.a
                        if other not in seen:
                            nxt.add(other)
            seen |= nxt
            frontier = nxt
        return seen
