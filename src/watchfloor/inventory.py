"""The asset inventory: what is on the network, what it is, and who talks to it — built from the
store (messages, flow records and the asset observations decoders emit) and the site model.

It is computed from the stored events on demand (`build`), so it always agrees with them and needs
no migration; `ingest` compares the inventory without and with each new capture (`changes`) and
stores what changed as events (dataset `inventory`) that detection rules can match:

    asset_new               an address (or a MAC without one) seen for the first time
    asset_ip_changed        a MAC seen with a new IP address (DHCP, re-addressing, spoofing)
    asset_firmware_changed  a new firmware revision reported by the same protocol
    asset_identity_changed  a new vendor, product, model or serial reported by the same protocol
    asset_role_changed      the inferred role changed (declared roles never change)

Every inferred value says so and why: `role_reasons`, `purdue_source`, `zone_source`.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from netaddr import EUI, AddrFormatError, NotRegisteredError

from .schema import Asset, Endpoint, Event, EventMeta
from .schema.events import Change
from .schema.time import rfc3339
from .site import PURDUE_LEVELS, SiteModel
from .store.base import Conversation, Observation, Store

DATASET = "inventory"
IDENTITY_FIELDS = ("vendor", "product", "product_code", "model", "device_type", "revision",
                   "serial", "name", "url")  # fmt: skip
# Operations that change what a controller does (or read its program): engineering work.
ENGINEERING_OPS = frozenset(("program", "firmware"))
# Operations on the controller itself rather than on the process: maintenance and engineering.
MAINTENANCE_OPS = frozenset(("config", "diagnostic", "control", "discovery"))
PROCESS_OPS = frozenset(("read", "write"))
ROUTER_IPS = 3  # a MAC that carries this many addresses at once is a router's, not a host's
INFERRED_PURDUE = {
    "controller": 1, "safety_controller": 1, "hmi": 2, "scada_server": 2,
    "engineering_workstation": 2, "historian": 3, "it_host": 4,
}  # fmt: skip
# IT services whose flows from an OT host mean data leaving upward (a historian's export)
EXPORT_PORTS = frozenset((21, 22, 80, 443, 445, 1433, 1521, 3306, 5432, 5450, 8080, 8443))
NETWORK_DEVICE_PORTS = frozenset((161, 162, 514))  # SNMP, SNMP traps, syslog
# Name services: their answers name addresses (annotating assets, never creating one: a DNS answer
# for a host on the internet is not a device on this network); DHCP speaks for its client.
NAMING = frozenset(("dns", "mdns", "llmnr", "nbns"))
HOSTNAME_SOURCES = NAMING | {"dhcp"}
# Which name an asset goes by, best first: what the host calls itself on the LAN, then DNS, then
# an OT protocol's station name
_NAME_RANK = {"dhcp": 0, "nbns": 1, "mdns": 1, "llmnr": 1, "dns": 2}


# -- the record -------------------------------------------------------------------------------
class Fact(msgspec.Struct, kw_only=True):
    """One value of one identity field, where it came from and when."""

    value: str
    source: str  # e.g. enip/list_identity, s7comm/read_szl, mac-oui, site
    first_seen: str
    last_seen: str
    count: int = 1
    device: str | None = None  # the serial number reported with it: which device behind the address


class Module(msgspec.Struct, kw_only=True):
    """Another device answering at the same address: e.g. the modules of a ControlLogix chassis,
    reached through its Ethernet module by CIP routing."""

    serial: str
    vendor: str | None = None
    product: str | None = None
    firmware: str | None = None
    device_type: str | None = None
    source: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None


class PeerStats(msgspec.Struct, kw_only=True):
    peers: int = 0
    messages: int = 0
    operations: dict[str, int] = {}


class InventoryAsset(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One asset as `watchfloor assets` shows it (jsonl: one of these per line)."""

    ip: str | None
    mac: str | None
    name: str | None = None  # declared name, else a host name (DHCP, NetBIOS, mDNS, DNS), else a station name
    hostnames: list[str] = []
    vendor: str | None = None
    product: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    device_type: str | None = None
    mac_vendor: str | None = None
    role: str = "unknown"
    role_confidence: float = 0.0
    role_source: str = "inferred"  # inferred | declared
    role_reasons: list[str] = []
    purdue_level: float | None = None
    purdue_source: str | None = None  # declared (zone) | inferred (role)
    zone: str | None = None
    zone_source: str | None = None  # declared (site) | inferred (subnet)
    site: str | None = None
    criticality: int | None = None
    safety_function: str | None = None
    process: str | None = None
    owner: str | None = None
    protocols: list[str] = []
    protocols_served: list[str] = []
    protocols_spoken: list[str] = []
    macs: list[str] = []
    ips: list[str] = []
    first_seen: str | None = None
    last_seen: str | None = None
    sources: list[str] = []
    identity: dict[str, list[Fact]] = {}
    modules: list[Module] = []
    as_initiator: PeerStats = msgspec.field(default_factory=PeerStats)
    as_responder: PeerStats = msgspec.field(default_factory=PeerStats)

    @property
    def key(self) -> str:
        return self.ip or f"mac:{self.mac}"

    @property
    def label(self) -> str:
        return self.name or self.ip or self.mac or "?"


class Edge(msgspec.Struct, kw_only=True):
    """Initiator → responder for one protocol: the network map's lines."""

    initiator: str
    responder: str
    protocol: str
    ot: bool  # an OT protocol (decoded messages with ot.protocol)
    messages: int = 0  # requests (or one-way messages)
    operations: dict[str, int] = {}
    packets: int = 0  # both ways, from flow records
    bytes: int = 0
    flows: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    initiator_zone: str | None = None
    responder_zone: str | None = None
    allowed: bool | None = None  # by the declared conduits; None: no zones or no policy
    reason: str | None = None


@dataclass
class Inventory:
    assets: dict[str, InventoryAsset]
    edges: list[Edge]
    routers: dict[str, list[str]] = field(default_factory=dict)  # MAC → the addresses it carried

    def find(self, what: str) -> InventoryAsset | None:
        """By IP, MAC or name (case-insensitive)."""
        if what in self.assets:
            return self.assets[what]
        low = what.lower()
        for a in self.assets.values():
            if a.mac == low or low in a.macs or (a.name and a.name.lower() == low):
                return a
        return None


# -- building ---------------------------------------------------------------------------------
def _iso(ns: int | None) -> str | None:
    return None if ns is None else rfc3339(ns)


def _host(ip: str | None) -> bool:
    """An address a device owns (not broadcast, multicast or unspecified)."""
    if not ip:
        return False
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if a.is_multicast or a.is_unspecified or str(a) == "255.255.255.255":
        return False
    return True


def _unicast_mac(mac: str | None) -> bool:
    if not mac or mac == "00:00:00:00:00:00":  # loopback captures
        return False
    try:
        return not int(mac[:2], 16) & 1
    except ValueError:
        return False


def mac_vendor(mac: str | None) -> str | None:
    """The organisation the IEEE registered the MAC's OUI to (netaddr's copy of the registry);
    locally administered MACs (randomised, virtual) say so."""
    if not mac:
        return None
    try:
        eui = EUI(mac)
    except (AddrFormatError, ValueError, TypeError):
        return None
    if int(eui.words[0]) & 0x02:
        return "(locally administered)"
    try:
        return str(eui.oui.registration().org).strip() or None
    except (NotRegisteredError, IndexError, ValueError):
        return None


def protocol_label(c: Conversation) -> str:
    return c.ot_protocol or c.protocol or (f"{c.transport}/{c.port}" if c.transport else "ip")


@dataclass
class _Acc:
    """What one address did, accumulated from conversations."""

    macs: Counter[str] = field(default_factory=Counter)
    first: int | None = None
    last: int | None = None
    served: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    spoken: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    initiators: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    responders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ot_served: set[str] = field(default_factory=set)
    ot_spoken: set[str] = field(default_factory=set)
    ports_served: Counter[int] = field(default_factory=Counter)
    export_peers: set[str] = field(default_factory=set)

    def seen(self, first: int, last: int) -> None:
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


def build(store: Store, site: SiteModel | None = None, *, exclude_source: str | None = None,
          conversations: list[Conversation] | None = None,
          observations: list[Observation] | None = None) -> Inventory:  # fmt: skip
    """The inventory of everything stored (or of everything but one capture)."""
    site = site or SiteModel()
    convs = conversations if conversations is not None else store.conversations(exclude_source=exclude_source)
    obs = observations if observations is not None else store.observations(exclude_source=exclude_source)
    return assemble(convs, obs, site)


def assemble(convs: Iterable[Conversation], obs: Iterable[Observation], site: SiteModel) -> Inventory:
    convs = list(convs)
    acc: dict[str, _Acc] = defaultdict(_Acc)
    mac_ips: dict[str, dict[str, list[int]]] = defaultdict(dict)  # mac → ip → [first, last]

    def note_mac(mac: str | None, ip: str, first: int, last: int) -> None:
        if _unicast_mac(mac):
            span = mac_ips[mac].setdefault(ip, [first, last])  # type: ignore[index]
            span[0], span[1] = min(span[0], first), max(span[1], last)

    for c in convs:
        a_ok, b_ok = _host(c.initiator), _host(c.responder)
        proto = protocol_label(c)
        if a_ok:
            x = acc[c.initiator]
            x.seen(c.first_ns, c.last_ns)
            if c.initiator_mac:
                x.macs[c.initiator_mac] += c.count
                note_mac(c.initiator_mac, c.initiator, c.first_ns, c.last_ns)
            x.responders[proto].add(c.responder)
            ops = x.spoken[proto]  # a flow record only says the protocol is spoken
            if c.role != "response" and not c.flow:
                ops[c.operation or "message"] += c.count
            if c.ot_protocol:
                x.ot_spoken.add(c.ot_protocol)
            if c.flow and c.port in EXPORT_PORTS and not c.ot_protocol:
                x.export_peers.add(c.responder)
        if b_ok:
            y = acc[c.responder]
            y.seen(c.first_ns, c.last_ns)
            if c.responder_mac:
                y.macs[c.responder_mac] += c.count
                note_mac(c.responder_mac, c.responder, c.first_ns, c.last_ns)
            y.initiators[proto].add(c.initiator)
            ops = y.served[proto]
            if c.role != "response" and not c.flow:
                ops[c.operation or "message"] += c.count
            if c.ot_protocol:
                y.ot_served.add(c.ot_protocol)
            if c.flow and c.port is not None and c.role is None:
                y.ports_served[c.port] += 1

    routers = _routers(mac_ips)
    for ip in _broadcasts(convs, site):
        acc.pop(ip, None)
    assets: dict[str, InventoryAsset] = {}
    for ip, x in acc.items():
        macs = [m for m, _ in x.macs.most_common() if m not in routers and _unicast_mac(m)]
        a = InventoryAsset(ip=ip, mac=macs[0] if macs else None, macs=macs, ips=[ip],
                           first_seen=_iso(x.first), last_seen=_iso(x.last))  # fmt: skip
        a.protocols_served = sorted(x.served)
        a.protocols_spoken = sorted(x.spoken)
        a.protocols = sorted(set(x.served) | set(x.spoken))
        a.as_initiator = _peer_stats(x.spoken, x.responders)
        a.as_responder = _peer_stats(x.served, x.initiators)
        assets[ip] = a
    for mac, ips in routers.items():
        assets[f"mac:{mac}"] = InventoryAsset(
            ip=None, mac=mac, macs=[mac], ips=sorted(ips),
            first_seen=_iso(min(s[0] for s in mac_ips[mac].values())),
            last_seen=_iso(max(s[1] for s in mac_ips[mac].values())))  # fmt: skip

    _merge_observations(assets, obs, routers)
    for key, a in assets.items():
        a.mac_vendor = mac_vendor(a.mac)
        if a.mac_vendor and not a.mac_vendor.startswith("("):
            a.identity.setdefault("vendor", []).append(
                Fact(value=a.mac_vendor, source="mac-oui", first_seen=a.first_seen or "",
                     last_seen=a.last_seen or ""))  # fmt: skip
        _current_identity(a)
        _infer_role(a, acc.get(a.ip or ""), key in routers or (a.mac in routers), routers)
        _apply_site(a, site)
        a.sources = sorted({f.source for facts in a.identity.values() for f in facts}
                           | ({"traffic"} if a.ip in acc else set())
                           | ({"site"} if a.role_source == "declared" else set()))  # fmt: skip
    edges = _edges(convs, assets, site)
    return Inventory(assets=dict(sorted(assets.items(), key=lambda kv: _sort_key(kv[1]))),
                     edges=edges, routers=routers)  # fmt: skip


def _broadcasts(convs: list[Conversation], site: SiteModel) -> set[str]:
    """Subnet-directed broadcast addresses: a declared subnet's, or an x.x.x.255 that only ever
    received UDP and never answered."""
    declared = set()
    for s in site.sites:
        for z in s.zones:
            for net in z.networks:
                if net.version == 4 and net.prefixlen < 31:
                    declared.add(str(net.broadcast_address))
    answered: set[str] = set()
    received: set[str] = set()
    for c in convs:
        answered.add(c.initiator)
        if c.transport != "udp" or c.packets_in or (c.role == "response"):
            answered.add(c.responder)
        else:
            received.add(c.responder)
    guessed = {ip for ip in received - answered if ip.endswith(".255")}
    return declared | guessed


def _sort_key(a: InventoryAsset) -> tuple:
    try:
        addr = ipaddress.ip_address(a.ip) if a.ip else None
    except ValueError:
        addr = None
    return (addr is None, addr.version if addr else 0, int(addr) if addr else 0, a.mac or "")


def _peer_stats(ops: dict[str, Counter[str]], peers: dict[str, set[str]]) -> PeerStats:
    total: Counter[str] = Counter()
    for c in ops.values():
        total.update(c)
    return PeerStats(peers=len(set().union(*peers.values())) if peers else 0,
                     messages=sum(total.values()),
                     operations=dict(total.most_common()))  # fmt: skip


def _routers(mac_ips: dict[str, dict[str, list[int]]]) -> dict[str, list[str]]:
    """MACs that carried ROUTER_IPS or more addresses active at the same time: a router's (the
    frames of routed traffic carry the router's MAC, not the distant host's). Addresses that
    follow one another (a DHCP lease renewed with a new address) do not count."""
    out = {}
    for mac, ips in mac_ips.items():
        if len(ips) < ROUTER_IPS:
            continue
        events = sorted([(s[0], 1) for s in ips.values()] + [(s[1], -1) for s in ips.values()],
                        key=lambda e: (e[0], -e[1]))  # fmt: skip
        live = peak = 0
        for _, step in events:
            live += step
            peak = max(peak, live)
        if peak >= ROUTER_IPS:
            out[mac] = sorted(ips)
    return out


def _merge_observations(assets: dict[str, InventoryAsset], obs: Iterable[Observation],
                        routers: dict[str, list[str]]) -> None:  # fmt: skip
    # addressed observations first, so a MAC-only one (a DHCP offer) finds its asset
    for o in sorted(obs, key=lambda o: (not o.asset.get("ip"), o.first_ns)):
        ip, mac = o.asset.get("ip"), o.asset.get("mac")
        if o.source in NAMING and ip not in assets:
            continue
        if ip and _host(ip):
            a = assets.get(ip)
            if a is None:
                a = assets[ip] = InventoryAsset(ip=ip, mac=None, ips=[ip])
        elif mac and mac not in routers:
            a = next((x for x in assets.values() if mac in x.macs), None)
            if a is None:
                a = assets[f"mac:{mac}"] = InventoryAsset(ip=None, mac=mac, macs=[mac])
        else:
            continue
        if mac and mac not in routers and _unicast_mac(mac) and mac not in a.macs:
            a.macs.append(mac)
            a.mac = a.mac or mac
        first, last = _iso(o.first_ns), _iso(o.last_ns)
        a.first_seen = min(filter(None, (a.first_seen, first)), default=None)
        a.last_seen = max(filter(None, (a.last_seen, last)), default=None)
        source = f"{o.source}/{o.action}" if o.action else o.source
        device = o.asset.get("serial") or None
        for name in IDENTITY_FIELDS:
            value = o.asset.get(name)
            if value is None or value == "":
                continue
            facts = a.identity.setdefault(name, [])
            same = next((f for f in facts if f.value == str(value) and f.source == source
                         and f.device == device), None)  # fmt: skip
            if same is None:
                facts.append(Fact(value=str(value), source=source, first_seen=first or "",
                                  last_seen=last or "", count=o.count, device=device))  # fmt: skip
            else:
                same.first_seen = min(same.first_seen, first or same.first_seen)
                same.last_seen = max(same.last_seen, last or same.last_seen)
                same.count += o.count


def _current_identity(a: InventoryAsset) -> None:
    """Each field's current value: the latest a protocol reported (the MAC registry only when no
    protocol named the vendor). Where several devices answer at one address (serial numbers
    tell them apart), the asset is the one that answers ListIdentity-style discovery for the
    address (else the one reported most often); the others are listed as `modules`."""
    for facts in a.identity.values():
        facts.sort(key=lambda f: (f.first_seen, f.last_seen, f.source))
    serials = a.identity.get("serial", [])
    primary = None
    if serials:
        owners = [f for f in serials if "list_identity" in f.source]
        counts: Counter[str] = Counter()
        for f in owners or serials:
            counts[f.value] += f.count
        primary = counts.most_common(1)[0][0]
        others: dict[str, Module] = {}
        for name, facts in a.identity.items():
            for f in facts:
                if f.device is None or f.device == primary:
                    continue
                m = others.setdefault(f.device, Module(serial=f.device, source=f.source,
                                                       first_seen=f.first_seen, last_seen=f.last_seen))  # fmt: skip
                m.first_seen = min(m.first_seen or f.first_seen, f.first_seen)
                m.last_seen = max(m.last_seen or f.last_seen, f.last_seen)
                if name in ("vendor", "product", "device_type"):
                    setattr(m, name, f.value)
                elif name == "revision":
                    m.firmware = f.value
        a.modules = sorted(others.values(), key=lambda m: (m.first_seen or "", m.serial))

    def latest(name: str) -> str | None:
        facts = [f for f in a.identity.get(name, ()) if f.source != "mac-oui"
                 and (primary is None or f.device in (None, primary))]  # fmt: skip
        facts = facts or [f for f in a.identity.get(name, ()) if f.source == "mac-oui"]
        return max(facts, key=lambda f: (f.last_seen, f.first_seen)).value if facts else None

    a.vendor, a.product, a.model = latest("vendor"), latest("product"), latest("model")
    a.firmware, a.serial, a.device_type = latest("revision"), latest("serial"), latest("device_type")
    a.product = a.product or latest("product_code")
    names = a.identity.get("name", [])
    host = [f for f in names if f.source.split("/", 1)[0] in HOSTNAME_SOURCES]
    a.hostnames = list(dict.fromkeys(f.value for f in sorted(host, key=lambda f: f.last_seen, reverse=True)))
    if names:
        best = min(names, key=lambda f: (_NAME_RANK.get(f.source.split("/", 1)[0], 3),
                                         "" if not f.last_seen else _invert(f.last_seen)))  # fmt: skip
        a.name = best.value


def _invert(text: str) -> str:
    """A key that sorts later timestamps first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


# -- roles ------------------------------------------------------------------------------------
def _ops(counter_by_proto: dict[str, Counter[str]], protos: set[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for p in protos:
        total.update(counter_by_proto.get(p, {}))
    return total


_CONTROLLER_TYPES = ("programmable", "plc", "controller", "rtu", "ied", "relay", "drive")
_SAFETY_WORDS = ("safety", "guardlogix", "triconex", "tricon", "hima", "sis ")


def _infer_role(a: InventoryAsset, x: _Acc | None, router: bool, routers: dict[str, list[str]]) -> None:
    """The likeliest role with a confidence (0–1) and the evidence, in words."""
    candidates: list[tuple[float, str, list[str]]] = []
    if router or (a.ip is None and a.mac in routers):
        n = len(routers.get(a.mac or "", a.ips))
        candidates.append((0.85, "network_device",
                           [f"its MAC {a.mac} carries {n} addresses at once: it routes their traffic"]))
    ident = " ".join(filter(None, (a.device_type, a.product, a.model, *(
        x for m in a.modules for x in (m.device_type, m.product))))).lower()
    told = a.device_type or a.product
    plc_module = next((m for m in a.modules if m.device_type and any(
        w in m.device_type.lower() for w in _CONTROLLER_TYPES)), None)  # fmt: skip
    if plc_module is not None and not any(w in (told or "").lower() for w in _CONTROLLER_TYPES):
        told = f"{told}, in front of {plc_module.product or plc_module.device_type} (serial {plc_module.serial})"
    if x is not None:
        ot_served = _ops(x.served, x.ot_served)
        ot_spoken = _ops(x.spoken, x.ot_spoken)
        polled = set().union(*(x.responders[p] for p in x.ot_spoken)) if x.ot_spoken else set()
        pollers = set().union(*(x.initiators[p] for p in x.ot_served)) if x.ot_served else set()
        answered = sum(n for op, n in ot_served.items() if op in PROCESS_OPS | MAINTENANCE_OPS | ENGINEERING_OPS)
        if answered:
            conf = 0.6 + 0.1 * min(2, len(set(ot_served) & (PROCESS_OPS | MAINTENANCE_OPS | ENGINEERING_OPS)) - 1) \
                + (0.1 if len(pollers) >= 2 else 0.0)
            reasons = [f"answers {answered:,} {'/'.join(sorted(x.ot_served))} requests "
                       f"({_mix(ot_served)}) from {len(pollers)} host(s)"]  # fmt: skip
            if any(w in ident for w in _CONTROLLER_TYPES):
                conf += 0.15
                reasons.append(f"reports itself as {told}")
            candidates.append((min(conf, 0.95), "controller", reasons))
        eng = {op: n for op, n in ot_spoken.items() if op in ENGINEERING_OPS}
        maint = {op: n for op, n in ot_spoken.items() if op in MAINTENANCE_OPS}
        if eng:
            candidates.append((0.9, "engineering_workstation",
                               [f"sends program/firmware operations ({_mix(Counter(eng))}) to "
                                f"{len(polled)} controller(s)"]))  # fmt: skip
        elif maint and sum(maint.values()) * 4 >= sum(ot_spoken.values()):
            # an engineer's laptop identifies, configures, diagnoses, starts and stops
            # controllers; a poller's traffic is dominated by cyclic reads
            conf = 0.6 + (0.1 if len(maint) >= 2 else 0.0)
            candidates.append((conf, "engineering_workstation",
                               [f"a quarter or more of its requests work on the controller "
                                f"itself ({_mix(Counter(maint))}), not on the process"]))  # fmt: skip
        process = sum(n for op, n in ot_spoken.items() if op in PROCESS_OPS)
        if process:
            writes = ot_spoken.get("write", 0) + ot_spoken.get("control", 0)
            exports = len(x.export_peers)
            if not writes and exports and len(polled) >= 1:
                candidates.append((0.65, "historian",
                                   [f"only reads ({process:,} reads of {len(polled)} controller(s))",
                                    f"and sends data on to {exports} host(s) over IT protocols"]))
            elif len(polled) >= 2:
                conf = 0.65 + (0.1 if len(polled) >= 3 else 0.0)
                candidates.append((conf, "scada_server",
                                   [f"polls {len(polled)} controllers ({_mix(ot_spoken)})"]))
            else:
                candidates.append((0.55, "hmi",
                                   [f"polls one controller ({_mix(ot_spoken)}): an HMI or "
                                    "a SCADA server with one station"]))  # fmt: skip
        if not x.ot_served and not x.ot_spoken and (x.served or x.spoken) and not router:
            ports = sorted(x.ports_served)
            if ports and set(ports) <= NETWORK_DEVICE_PORTS:
                candidates.append((0.45, "network_device",
                                   [f"serves only management protocols (ports {', '.join(map(str, ports))})"]))
            else:
                it = sorted(set(x.served) | set(x.spoken))
                candidates.append((0.5, "it_host", [f"speaks only IT protocols ({', '.join(it[:6])}"
                                                    f"{', …' if len(it) > 6 else ''})"]))  # fmt: skip
    if not candidates and any(w in ident for w in _CONTROLLER_TYPES):
        candidates.append((0.6, "controller", [f"reports itself as {told}"]))
    if not candidates:
        a.role, a.role_confidence = "unknown", 0.0
        a.role_reasons = ["no traffic or identity that tells its role"]
        return
    candidates.sort(key=lambda c: -c[0])
    conf, role, reasons = candidates[0]
    if role == "controller" and any(w in f"{ident} " for w in _SAFETY_WORDS):
        role = "safety_controller"
        reasons = reasons + [f"its identity names a safety system ({a.product or a.device_type})"]
    others = [f"{r} ({c:.2f})" for c, r, _ in candidates[1:] if r != role]
    if others:
        reasons = reasons + ["also fits: " + ", ".join(others)]
    a.role, a.role_confidence, a.role_reasons = role, round(conf, 2), reasons


def _mix(ops: Counter[str]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in ops.most_common(4))


def _apply_site(a: InventoryAsset, site: SiteModel) -> None:
    declared = site.asset(ip=a.ip, mac=a.mac) if site else None
    if declared is not None:
        a.name = declared.name or a.name
        if declared.role:
            if a.role not in ("unknown", declared.role):
                a.role_reasons = [f"declared in the site file (traffic suggests {a.role} "
                                  f"at {a.role_confidence:.2f})"]  # fmt: skip
            else:
                a.role_reasons = ["declared in the site file"]
            a.role, a.role_confidence, a.role_source = declared.role, 1.0, "declared"
        a.criticality, a.safety_function = declared.criticality, declared.safety_function
        a.process, a.owner = declared.process, declared.owner
        site_ = site.site_of(declared)
        a.site = site_.id if site_ else None
    zone = site.asset_zone(declared) if declared is not None else site.zone_of(a.ip)
    if zone is not None:
        a.zone, a.zone_source = zone.id, "declared"
        a.site = a.site or (s.id if (s := site.site_of(zone)) else None)
        if zone.purdue_level is not None:
            a.purdue_level, a.purdue_source = float(zone.purdue_level), "declared"
    elif a.ip:
        net = ipaddress.ip_network(f"{a.ip}/{24 if ':' not in a.ip else 64}", strict=False)
        a.zone, a.zone_source = str(net), "inferred"
    if a.purdue_level is None and a.role in INFERRED_PURDUE:
        a.purdue_level, a.purdue_source = float(INFERRED_PURDUE[a.role]), "inferred"
    assert a.purdue_level is None or a.purdue_level in PURDUE_LEVELS


def _edges(convs: list[Conversation], assets: dict[str, InventoryAsset], site: SiteModel) -> list[Edge]:
    by: dict[tuple[str, str, str], Edge] = {}
    for c in convs:
        proto = protocol_label(c)
        key = (c.initiator, c.responder, proto)
        e = by.get(key)
        if e is None:
            e = by[key] = Edge(initiator=c.initiator, responder=c.responder, protocol=proto,
                               ot=bool(c.ot_protocol), operations={})  # fmt: skip
        e.ot = e.ot or bool(c.ot_protocol)
        if c.flow:
            e.flows += c.count
            e.packets += c.packets_out + c.packets_in
            e.bytes += c.bytes_out + c.bytes_in
        elif c.role != "response":
            e.messages += c.count
            if c.operation:
                e.operations[c.operation] = e.operations.get(c.operation, 0) + c.count
        first, last = _iso(c.first_ns), _iso(c.last_ns)
        e.first_seen = min(filter(None, (e.first_seen, first)), default=None)
        e.last_seen = max(filter(None, (e.last_seen, last)), default=None)
    for e in by.values():
        za, zb = assets.get(e.initiator), assets.get(e.responder)
        e.initiator_zone = za.zone if za else None
        e.responder_zone = zb.zone if zb else None
        declared_a = site.zone_of(e.initiator) if site else None
        declared_b = site.zone_of(e.responder) if site else None
        if site and (declared_a is not None or declared_b is not None) and declared_a is not declared_b:
            e.allowed = site.conduit_allows(declared_a, declared_b, e.protocol)
            a_id = declared_a.id if declared_a else "an undeclared zone"
            b_id = declared_b.id if declared_b else "an undeclared zone"
            e.reason = (f"{e.protocol} from {a_id} to {b_id} "
                        + ("is allowed by a conduit" if e.allowed else "is not allowed by any conduit"))
    return sorted(by.values(), key=lambda e: (-(e.messages + e.packets), e.initiator, e.responder, e.protocol))


# -- changes ----------------------------------------------------------------------------------
def changes(before: Inventory, after: Inventory, source_id: str) -> list[Event]:
    """What `after` (the store with a new capture) knows that `before` (without it) did not, as
    events with stable ids (`<capture>-inv-<n>`, so ingesting the capture again replaces them)."""
    out: list[tuple[str, Event]] = []

    def emit(a: InventoryAsset, when: str | None, action: str, type_: str, message: str,
             change: Change | None = None) -> None:  # fmt: skip
        ev = Event(
            timestamp=when or a.first_seen or "1970-01-01T00:00:00Z",
            event=EventMeta(id="", kind="event", category=["host"], type=[type_], action=action,
                            dataset=DATASET, severity=None),  # fmt: skip
            message=message,
            source=Endpoint(ip=a.ip, mac=a.mac),
            asset=Asset(ip=a.ip, mac=a.mac, vendor=a.vendor, product=a.product, model=a.model,
                        device_type=a.device_type, revision=a.firmware, serial=a.serial,
                        name=a.name),  # fmt: skip
            change=change,
        )
        out.append((ev.timestamp, ev))

    for key, a in after.assets.items():
        old = before.assets.get(key)
        if old is None:
            what = ", ".join(filter(None, (a.vendor, a.product, a.firmware and f"firmware {a.firmware}")))
            emit(a, a.first_seen, "asset_new", "creation",
                 f"new asset {a.label}" + (f" ({what})" if what else "")
                 + f", role {a.role} ({a.role_confidence:.2f})")  # fmt: skip
        for name, facts in a.identity.items():
            known = {(f.source, f.value) for f in (old.identity.get(name, ()) if old else ())}
            # compare like with like: one protocol's reports about one device (serial number);
            # a serial number itself changes only when the old one is not seen again (a device
            # replaced), not when several devices answer at one address (a chassis)
            groups: dict[tuple[str, str | None], list[Fact]] = defaultdict(list)
            for f in facts:
                groups[(f.source, None if name == "serial" else f.device)].append(f)
            for (source, _), seq in groups.items():
                seq.sort(key=lambda f: f.first_seen)
                for prev, cur in zip(seq, seq[1:]):
                    if (source, cur.value) in known:
                        continue
                    if name == "serial" and prev.last_seen >= cur.first_seen:
                        continue
                    action = "asset_firmware_changed" if name == "revision" else "asset_identity_changed"
                    label = "firmware" if name == "revision" else name.replace("_", " ")
                    emit(a, cur.first_seen, action, "change",
                         f"{a.label}: {label} {prev.value} → {cur.value} (reported by {source})",
                         Change(field=f"asset.{name}", previous=prev.value, current=cur.value))
        if old is not None and a.role_source == "inferred" and old.role_source == "inferred" \
                and a.role != old.role:  # fmt: skip
            emit(a, a.last_seen, "asset_role_changed", "change",
                 f"{a.label}: role {old.role} → {a.role} ({'; '.join(a.role_reasons[:1])})",
                 Change(field="role", previous=old.role, current=a.role))
    # a MAC with a new address
    old_macs = _mac_addresses(before)
    for mac, seq in _mac_addresses(after).items():
        known = {ip for ip, _ in old_macs.get(mac, [])}
        seq.sort(key=lambda s: s[1] or "")
        for (prev, _), (ip, first) in zip(seq, seq[1:]):
            if ip in known:
                continue
            a = after.assets[ip]
            emit(a, first, "asset_ip_changed", "change", f"MAC {mac} ({a.mac_vendor or 'unknown vendor'}) "
                 f"now uses {ip} (before: {prev})", Change(field="asset.ip", previous=prev, current=ip))
    out.sort(key=lambda t: t[0])
    events = [ev for _, ev in out]
    for n, ev in enumerate(events):
        ev.event.id = f"{source_id}-inv-{n}"
    return events


def _mac_addresses(inv: Inventory) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for a in inv.assets.values():
        if a.ip:
            for mac in a.macs:
                out[mac].append((a.ip, a.first_seen))
    return out


def history(store: Store, asset: InventoryAsset) -> list[dict[str, Any]]:
    """The stored change events about an asset, oldest first."""
    from .store import EventFilter

    out = []
    for key in filter(None, (asset.ip,)):
        for doc in store.events(EventFilter(ip=key, kind="event")):
            if (doc.get("event") or {}).get("dataset") == DATASET:
                out.append(doc)
    return out
