"""Threat intelligence: indicators from STIX 2.1 (files or a TAXII 2.1 collection) and MISP, matched
against every event; a hit is an alert naming the source and the indicator.

Indicator kinds and the event fields they are looked for in are one table (`FIELDS`). IP
indicators may be addresses or CIDR ranges (netaddr); domains match the name and its subdomains;
hashes, JA3/JA4 and user agents match exactly (hashes case-insensitively). An indicator counts
only inside its validity window. Patterns the matcher cannot evaluate exactly (STIX AND,
FOLLOWEDBY, qualifiers, non-equality operators) are counted as skipped, never approximated.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import netaddr

from ..schema import Event, EventMeta, RuleRef, Technique, Threat, ThreatIndicator
from ..schema.time import parse_rfc3339
from .record import alert_event
from .sigma import View

Kind = str  # "ip", "domain", "url", "md5", "sha1", "sha256", "ja3", "ja4", "user_agent"

#: Where each kind of indicator is looked for (fields absent from an event are skipped).
FIELDS: dict[Kind, tuple[str, ...]] = {
    "ip": ("source.ip", "destination.ip", "asset.ip"),
    "domain": ("dns.question.name", "url.domain", "destination.domain", "tls.client.server_name",
               "host.hostname"),
    "url": ("url.full", "url.original"),
    "md5": ("file.hash.md5", "process.hash.md5"),
    "sha1": ("file.hash.sha1", "process.hash.sha1"),
    "sha256": ("file.hash.sha256", "process.hash.sha256"),
    "ja3": ("tls.client.ja3",),
    "ja4": ("tls.client.ja4",),
    "user_agent": ("user_agent.original",),
}  # fmt: skip


class IntelError(ValueError):
    """A source that cannot be read at all (not JSON, not STIX or MISP, unreachable)."""


@dataclass(frozen=True, slots=True)
class Indicator:
    kind: Kind
    value: str
    source: str  # file or URL it came from
    id: str  # STIX indicator id or MISP attribute uuid
    name: str | None = None
    confidence: int | None = None  # 0-100
    valid_from: str | None = None  # RFC 3339
    valid_until: str | None = None


@dataclass
class Loaded:
    indicators: list[Indicator] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each unusable indicator was left out


# -- STIX 2.1 ------------------------------------------------------------------------------------

# One comparison: [object-type:property = 'value'], the forms that name one observable exactly.
_COMPARISON = re.compile(r"^\s*([a-z0-9-]+):([A-Za-z0-9_.'\[\]-]+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$")
_STIX_KINDS: dict[tuple[str, str], Kind] = {
    ("ipv4-addr", "value"): "ip",
    ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("file", "hashes.md5"): "md5",
    ("file", "hashes.'md5'"): "md5",
    ("file", "hashes.'sha-1'"): "sha1",
    ("file", "hashes.sha1"): "sha1",
    ("file", "hashes.'sha-256'"): "sha256",
    ("file", "hashes.sha256"): "sha256",
    ("network-traffic", "extensions.'http-request-ext'.request_header.'user-agent'"): "user_agent",
    ("x509-certificate", "hashes.'sha-256'"): "sha256",
}  # fmt: skip


def stix_observables(pattern: str) -> list[tuple[Kind, str]] | None:
    """The observables of a STIX pattern that is a disjunction of equality comparisons
    (`[a = 'x'] OR [b = 'y']`, or `[a = 'x' OR b = 'y']`); None for any other pattern."""
    text = pattern.strip()
    if re.search(
        r"\b(AND|FOLLOWEDBY|WITHIN|REPEATS|START|STOP|LIKE|MATCHES|ISSUBSET|ISSUPERSET)\b", text
    ):
        return None
    out = []
    for group in re.split(r"\]\s*OR\s*\[", text.strip("[] ")):
        for comparison in re.split(r"\s+OR\s+", group.strip("[] ")):
            m = _COMPARISON.match(comparison)
            if m is None:
                return None
            kind = _STIX_KINDS.get((m.group(1), m.group(2).lower()))
            if kind is None:
                return None
            out.append((kind, m.group(3).replace("\\'", "'").replace("\\\\", "\\")))
    return out or None


def _stix_objects(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        yield from (o for o in doc.get("objects") or () if isinstance(o, dict))
    elif isinstance(doc, dict) and isinstance(doc.get("objects"), list):  # a TAXII envelope
        yield from (o for o in doc["objects"] if isinstance(o, dict))
    elif isinstance(doc, dict) and doc.get("type") == "indicator":
        yield doc


def load_stix(doc: Any, source: str, into: Loaded) -> None:
    for obj in _stix_objects(doc):
        if obj.get("type") != "indicator" or obj.get("revoked"):
            continue
        ident = str(obj.get("id", "indicator--?"))
        if obj.get("pattern_type", "stix") != "stix":
            into.skipped.append(f"{ident}: pattern type {obj.get('pattern_type')!r}")
            continue
        found = stix_observables(str(obj.get("pattern", "")))
        if found is None:
            into.skipped.append(f"{ident}: pattern not an equality of a supported observable: "
                                f"{str(obj.get('pattern'))[:120]}")  # fmt: skip
            continue
        confidence = obj.get("confidence")
        for kind, value in found:
            into.indicators.append(Indicator(
                kind, value, source, ident, obj.get("name"),
                confidence if isinstance(confidence, int) else None,
                obj.get("valid_from"), obj.get("valid_until")))  # fmt: skip


# -- MISP ----------------------------------------------------------------------------------------

_MISP_KINDS: dict[str, Kind] = {
    "ip-src": "ip", "ip-dst": "ip", "ip-src|port": "ip", "ip-dst|port": "ip",
    "domain": "domain", "hostname": "domain", "domain|ip": "domain",
    "url": "url", "uri": "url", "link": "url",
    "md5": "md5", "sha1": "sha1", "sha256": "sha256",
    "filename|md5": "md5", "filename|sha1": "sha1", "filename|sha256": "sha256",
    "ja3-fingerprint-md5": "ja3", "ja4-fingerprint": "ja4", "user-agent": "user_agent",
}  # fmt: skip
_THREAT_LEVEL_CONFIDENCE = {"1": 90, "2": 60, "3": 30}  # high, medium, low; 4 = undefined


def _misp_value(kind: str, value: str) -> str:
    if "|" not in kind:
        return value
    left, _, right = value.partition("|")
    if kind.startswith("filename|"):
        return right  # the hash
    return left  # ip|port → ip, domain|ip → domain


def _misp_time(value: Any) -> str | None:
    if isinstance(value, str) and value.isdigit():
        return datetime.fromtimestamp(int(value), UTC).isoformat()
    return value if isinstance(value, str) and value else None


def load_misp(doc: Any, source: str, into: Loaded) -> None:
    events = doc if isinstance(doc, list) else [doc]
    for wrapper in events:
        event = wrapper.get("Event", wrapper) if isinstance(wrapper, dict) else None
        if not isinstance(event, dict):
            continue
        confidence = _THREAT_LEVEL_CONFIDENCE.get(str(event.get("threat_level_id")))
        attributes = list(event.get("Attribute") or ())
        for obj in event.get("Object") or ():
            attributes += list(obj.get("Attribute") or ()) if isinstance(obj, dict) else []
        for attr in attributes:
            if not isinstance(attr, dict) or not attr.get("to_ids", True):
                continue
            kind = _MISP_KINDS.get(str(attr.get("type")))
            ident = str(attr.get("uuid") or attr.get("id") or "?")
            if kind is None:
                into.skipped.append(f"{ident}: MISP type {attr.get('type')!r} not matched")
                continue
            value = _misp_value(str(attr["type"]), str(attr.get("value", "")))
            into.indicators.append(Indicator(
                kind, value, source, ident, event.get("info"), confidence,
                _misp_time(attr.get("first_seen")), _misp_time(attr.get("last_seen"))))  # fmt: skip


# -- sources -------------------------------------------------------------------------------------


def _parse(doc: Any, source: str, into: Loaded) -> None:
    if (
        isinstance(doc, dict)
        and ("Event" in doc or "Attribute" in doc)
        or (isinstance(doc, list) and doc and isinstance(doc[0], dict) and "Event" in doc[0])
    ):
        load_misp(doc, source, into)
    elif isinstance(doc, dict) and (doc.get("type") in ("bundle", "indicator") or "objects" in doc):
        load_stix(doc, source, into)
    else:
        raise IntelError(f"{source}: neither a STIX 2.1 bundle nor a MISP event")


def fetch_taxii(url: str, into: Loaded, timeout: float = 30) -> None:
    """Every object of a TAXII 2.1 collection (`…/collections/<id>/`), following `next`."""
    base = url if url.rstrip("/").endswith("/objects") else url.rstrip("/") + "/objects/"
    after: str | None = None
    for _ in range(10_000):  # a server that never ends its pages must not hang us
        page = base + ("?" + urllib.parse.urlencode({"next": after}) if after else "")
        req = urllib.request.Request(page, headers={"Accept": "application/taxii+json;version=2.1"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                doc = json.load(resp)
        except (OSError, ValueError) as e:
            raise IntelError(f"{url}: {e}") from e
        load_stix(doc, url, into)
        if not doc.get("more") or not doc.get("next"):
            return
        after = str(doc["next"])


def load(sources: Iterable[str | Path]) -> Loaded:
    """Indicators from files (STIX bundle or MISP event JSON; a folder: every *.json in it) and
    TAXII 2.1 collection URLs."""
    out = Loaded()
    for src in sources:
        text = str(src)
        if text.startswith(("http://", "https://")):
            fetch_taxii(text, out)
            continue
        path = Path(src)
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for f in files:
            try:
                doc = json.loads(f.read_bytes())
            except (OSError, ValueError) as e:
                raise IntelError(f"{f}: {e}") from e
            if f.name == "manifest.json" and path.is_dir():
                continue  # a MISP feed's index of the event files beside it
            _parse(doc, str(f), out)
    return out


# -- matching ------------------------------------------------------------------------------------


class IntelMatcher:
    """Indicators indexed per kind; `__call__` turns a batch of events into intel alerts."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self.exact: dict[Kind, dict[str, list[Indicator]]] = {}
        self.networks: list[tuple[netaddr.IPNetwork, Indicator]] = []
        self.nets = netaddr.IPSet()
        for ind in indicators:
            if ind.kind == "ip" and "/" in ind.value:
                try:
                    net = netaddr.IPNetwork(ind.value)
                except (netaddr.AddrFormatError, ValueError):
                    continue
                self.networks.append((net, ind))
                self.nets.add(net)
                continue
            value = ind.value.lower() if ind.kind != "url" else ind.value
            self.exact.setdefault(ind.kind, {}).setdefault(value, []).append(ind)
        self.count = len(indicators)
        # validity windows in ns, parsed once (indicators without one are always valid)
        self.windows = {i: (parse_rfc3339(i.valid_from), parse_rfc3339(i.valid_until))
                        for i in indicators if i.valid_from or i.valid_until}  # fmt: skip

    def _hits(self, kind: Kind, value: Any) -> list[Indicator]:
        text = str(value)
        found = list(self.exact.get(kind, {}).get(text if kind == "url" else text.lower(), ()))
        if kind == "ip" and self.networks:
            try:
                addr = netaddr.IPAddress(text)
            except (netaddr.AddrFormatError, ValueError):
                return found
            if addr in self.nets:
                found += [ind for net, ind in self.networks if addr in net]
        elif kind == "domain":
            labels = text.lower().rstrip(".").split(".")
            for i in range(1, len(labels) - 1):  # parents, not the bare top-level domain
                found += self.exact.get("domain", {}).get(".".join(labels[i:]), ())
        return found

    def match(self, event: Event | dict) -> list[tuple[Indicator, str, Any]]:
        """(indicator, field, value) for each hit inside the indicator's validity window."""
        view = View(event)
        when = None
        out = []
        for kind, fields in FIELDS.items():
            if kind not in self.exact and not (kind == "ip" and self.networks):
                continue
            for f in fields:
                for value in view.values(f):
                    for ind in self._hits(kind, value):
                        window = self.windows.get(ind)
                        if window is not None:
                            if when is None:
                                stamp = view.values("@timestamp")
                                when = parse_rfc3339(stamp[0] if stamp else None)
                            start, end = window
                            if when is not None and (
                                (start is not None and when < start)
                                or (end is not None and when > end)
                            ):
                                continue
                        out.append((ind, f, value))
        return out

    def __call__(self, batch: Sequence[Event]) -> list[Event]:
        out: list[Event] = []
        for ev in batch:
            if ev.event.kind == "alert":
                continue
            for n, (ind, fieldname, value) in enumerate(self.match(ev)):
                out.append(intel_alert(ev, ind, fieldname, value, n))
        return out


def _severity(confidence: int | None) -> int:
    if confidence is None:
        return 3
    return 4 if confidence >= 85 else 3 if confidence >= 50 else 2


def intel_alert(ev: Event, ind: Indicator, fieldname: str, value: Any, n: int) -> Event:
    name = f"Threat intelligence match: {ind.kind} {ind.value}"
    meta = EventMeta(
        id=f"{ev.event.id}-i{n}",
        kind="alert",
        category=["threat"],
        type=["indicator"],
        action=ev.event.action,
        dataset="watchfloor.intel",
        severity=_severity(ind.confidence),
    )
    message = (
        f"{name} in {fieldname} ({value}); indicator {ind.id}"
        + (f' "{ind.name}"' if ind.name else "")
        + f" from {ind.source}"
    )
    rule = RuleRef(id=f"intel:{ind.id}", name=name, description=ind.name, ruleset=ind.source)
    threat = Threat(
        framework="MITRE ATT&CK",
        technique=Technique(id=[]),  # an indicator names no technique; the contract wants the list
        indicator=ThreatIndicator(
            type=ind.kind,
            value=ind.value,
            provider=ind.source,
            confidence=ind.confidence,
            matched_field=fieldname,
        )
    )
    return alert_event(ev, meta, message, rule, threat, None, [ev.event.id])  # fmt: skip
