"""The site model: what the operator declares about a plant, read from one YAML file.

Sites, zones (Purdue level, subnets, VLANs), known assets (role, criticality, safety function,
process, owner), conduits (the zone-to-zone flows that are allowed), maintenance windows and known
schedules. Everything is optional: with no file at all, `SiteModel()` answers every lookup with
"nothing declared" (None, or True for `conduit_allows`).

    version: 1
    sites:
      - id: plant-a
        timezone: Europe/London          # schedules and maintenance times are local to the site
        zones: [{id: cell-1, purdue_level: 1, subnets: [10.0.1.0/24], vlans: [10]}]
        assets: [{name: PLC-3, ips: [10.0.1.5], role: controller, criticality: 5}]
        conduits: [{from: ops, to: cell-1, protocols: [modbus]}]
        maintenance_windows: [{name: weekly, weekly: {days: [sat], from: "22:00", to: "04:00"}}]
        schedules: [{name: export, source: HIST-1, destination: 10.9.0.7, protocols: [smb]}]
        exceptions: [{name: HMI setpoints, rules: [<rule id>], source: HMI-1, until: "2027-01-01T00:00:00Z"}]

Every error names the file, line and column (`SiteError.problems`); `load_site` reports all the
problems it can find, not only the first.

Lookups search every site. A weekly window whose `to` is not after its `from` runs past midnight
into the next day (sat 22:00 -> sun 04:00). Absolute times without an offset are local to the site.
Conduits: a site that has no `conduits` key declares no policy (every flow allowed); a site with a
`conduits` list allows only those flows between different zones (traffic inside one zone is never a
conduit question).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml
from netaddr import EUI, AddrFormatError, mac_unix_expanded

from .schema.time import parse_rfc3339

__all__ = [
    "ROLES", "PURDUE_LEVELS", "SiteError", "Problem", "SiteModel", "Site", "Zone", "SiteAsset",
    "Conduit", "MaintenanceWindow", "Weekly", "Schedule", "AlertException", "load_site", "parse_site",
]  # fmt: skip

Role = Literal["controller", "safety_controller", "hmi", "scada_server", "engineering_workstation",
               "historian", "it_host", "network_device", "unknown"]  # fmt: skip
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
PURDUE_LEVELS = (0, 1, 2, 3, 3.5, 4, 5)  # 3.5 = the IT/OT DMZ
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                          "saturday", "sunday"))}  # fmt: skip

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A part of the file: unknown keys are errors (a typo must not silently mean nothing)."""


class Zone(_Spec, kw_only=True):
    id: str
    name: str | None = None
    purdue_level: int | float | None = None  # 0..5, 3.5 for the DMZ
    subnets: list[str] = []
    vlans: list[int] = []
    description: str | None = None

    @property
    def networks(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(s, strict=False) for s in self.subnets]


class SiteAsset(_Spec, kw_only=True):
    name: str | None = None
    ips: list[str] = []
    macs: list[str] = []
    role: Role | None = None
    criticality: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None
    safety_function: str | None = None  # present: the asset performs a safety function (e.g. SIS)
    process: str | None = None
    owner: str | None = None
    zone: str | None = None
    description: str | None = None

    @property
    def label(self) -> str:
        return self.name or (self.ips[0] if self.ips else self.macs[0] if self.macs else "?")

    @property
    def safety(self) -> bool:
        return bool(self.safety_function) or self.role == "safety_controller"


class Conduit(_Spec, kw_only=True):
    from_: str = msgspec.field(name="from")
    to: str
    protocols: list[str] = []  # empty: any protocol
    name: str | None = None
    bidirectional: bool = False  # also allows to -> from


class Weekly(_Spec, kw_only=True):
    days: list[str] = msgspec.field(default_factory=lambda: list(DAYS))  # none: every day
    from_: str = msgspec.field(name="from")
    to: str


class MaintenanceWindow(_Spec, kw_only=True):
    name: str | None = None
    start: str | None = None
    end: str | None = None
    weekly: Weekly | None = None
    assets: list[str] = []
    zones: list[str] = []
    description: str | None = None


class Schedule(_Spec, kw_only=True):
    name: str | None = None
    source: str | list[str] | None = None  # asset name, IP, CIDR or zone id (none: any)
    destination: str | list[str] | None = None
    protocols: list[str] = []  # empty: any protocol
    weekly: Weekly | None = None  # none: at any time
    description: str | None = None


class AlertException(_Spec, kw_only=True):
    """A known, accepted alert: triage marks it suppressed (kept and counted, never deleted)."""

    name: str | None = None
    rules: list[str] = []  # rule ids; empty: any rule
    source: str | list[str] | None = None  # asset name, IP, CIDR or zone id (none: any)
    destination: str | list[str] | None = None
    until: str | None = None  # RFC 3339; none: until removed from the file
    reason: str | None = None


class Site(_Spec, kw_only=True):
    id: str | None = None
    name: str | None = None
    timezone: str = "UTC"
    zones: list[Zone] = []
    assets: list[SiteAsset] = []
    conduits: list[Conduit] | None = None  # None: no conduit policy declared
    maintenance_windows: list[MaintenanceWindow] = []
    schedules: list[Schedule] = []
    exceptions: list[AlertException] = []
    description: str | None = None


class _File(_Spec, kw_only=True):
    version: int = 1
    sites: list[Site] = []


# -- errors -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    line: int  # 1-based; 0 when the file has no place for it
    column: int
    where: str  # sites[0].zones[1].purdue_level
    message: str

    def format(self, file: str) -> str:
        place = f"{file}:{self.line}:{self.column}" if self.line else file
        return f"{place}: {self.where + ': ' if self.where else ''}{self.message}"


class SiteError(ValueError):
    """The site file cannot be used; `problems` lists every problem found, each with its line."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.format(file) for p in problems))


# -- YAML with positions -----------------------------------------------------------------------
Path_ = tuple[str | int, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_DEPTH = 32


class _Marks:
    """Where each value (and each mapping key) of the file is: path -> (line, column), 1-based."""

    def __init__(self) -> None:
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}

    def at(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """The position of `path` or, when it is absent (a default), of its nearest parent."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (0, 0))


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_SCALAR = yaml.constructor.SafeConstructor()


def _plain(node: yaml.Node, path: Path_, marks: _Marks, problems: list[Problem]) -> Any:
    """Python data from a composed node, recording positions. Plain scalars that YAML 1.1 would read
    as sexagesimal numbers (22:00, 00:1b:...) or timestamps stay text: they are times and MACs."""
    marks.values[path] = _pos(node)
    if len(path) > _MAX_DEPTH:
        problems.append(Problem(*_pos(node), _where(path), "nested too deeply"))
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem(*_pos(knode), _where(path), "merge keys (<<) are not supported"))
                continue
            key = knode.value if isinstance(knode, yaml.ScalarNode) else None
            if not isinstance(key, str) or not isinstance(knode, yaml.ScalarNode):
                problems.append(Problem(*_pos(knode), _where(path), "a key must be plain text"))
                continue
            if key in out:
                problems.append(Problem(*_pos(knode), _where(path), f"duplicate key {key!r}"))
                continue
            marks.keys[path + (key,)] = _pos(knode)
            out[key] = _plain(vnode, path + (key,), marks, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v, path + (i,), marks, problems) for i, v in enumerate(node.value)]
    tag = node.tag
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in node.value:
        return node.value
    if tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:str") or node.style in ("'", '"'):
        return node.value
    try:
        return _SCALAR.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        problems.append(Problem(*_pos(node), _where(path), str(e).splitlines()[0]))
        return None


def _where(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _collect(data: Any, tp: Any, path: Path_, marks: _Marks) -> Iterator[Problem]:
    """Every type problem in `data` (msgspec stops at the first): structs are checked key by key
    and lists item by item, so each broken part of the file is named once."""
    try:
        msgspec.convert(data, tp)
        return
    except msgspec.ValidationError as e:
        error = e
    import typing

    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, UnionType) and data is not None and len(args) == 1:
        yield from _collect(data, args[0], path, marks)
        return
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct) and isinstance(data, dict):
        fields = {f.encode_name: f for f in msgspec.structs.fields(tp)}
        for key, value in data.items():
            if key not in fields:
                yield _msgspec_problem(f"Object contains unknown field `{key}`", path, marks)
            else:
                yield from _collect(value, fields[key].type, path + (key,), marks)
        for name, f in fields.items():
            if f.required and name not in data:
                yield _msgspec_problem(f"Object missing required field `{name}`", path, marks)
        return
    if typing.get_origin(tp) is list and isinstance(data, list) and args:
        for i, item in enumerate(data):
            yield from _collect(item, args[0], path + (i,), marks)
        return
    yield _msgspec_problem(str(error), path, marks)


def _msgspec_problem(text: str, base: Path_, marks: _Marks) -> Problem:
    m = _AT.match(text)
    assert m is not None
    msg, path_text = m["msg"], m["path"] or ""
    path: Path_ = base + tuple(n if n else int(i) for n, i in _STEP.findall(path_text))
    unknown = _UNKNOWN.search(msg)
    if unknown:  # point at the offending key, not at its mapping
        key_path = path + (unknown[1],)
        allowed = _allowed_keys(path)
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return Problem(*marks.at(key_path, key=True), _where(path), f"unknown key {unknown[1]!r}{hint}")
    if msg.startswith("Invalid enum value") and path and path[-1] == "role":
        msg += f" (one of: {', '.join(ROLES)})"
    return Problem(*marks.at(path), _where(path), msg)


def _allowed_keys(path: Path_) -> list[str]:
    """The keys the struct at `path` accepts (for the unknown-key hint)."""
    spec: Any = _File
    for step in path:
        if isinstance(step, int):
            continue
        info = {f.encode_name: f for f in msgspec.structs.fields(spec)}
        if step not in info:
            return []
        spec = _struct_in(info[step].type)
        if spec is None:
            return []
    return [f.encode_name for f in msgspec.structs.fields(spec)]


def _struct_in(tp: Any) -> Any:
    import typing

    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    for arg in typing.get_args(tp):
        found = _struct_in(arg)
        if found is not None:
            return found
    return None


# -- times ------------------------------------------------------------------------------------
def _to_datetime(ts: datetime | str | int | float) -> datetime:
    """An aware UTC datetime from an aware datetime, RFC 3339 text or epoch nanoseconds."""
    if isinstance(ts, datetime):
        return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    if isinstance(ts, str):
        ns = parse_rfc3339(ts)
        if ns is None:
            raise ValueError(f"not an RFC 3339 time: {ts!r}")
        ts = ns
    return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(ts) // 1000)


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _clock(text: Any) -> time | None:
    """`22:00` -> time; `24:00` -> time.max (the end of the day); None when not a clock time."""
    m = _CLOCK.match(str(text))
    if not m:
        return None
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if (h, mi, s) == (24, 0, 0):
        return time.max
    if h > 23 or mi > 59 or s > 59:
        return None
    return time(h, mi, s)


def _day(text: str) -> int | None:
    t = str(text).strip().lower()
    return DAYS.index(t) if t in DAYS else _FULL_DAYS.get(t)


@dataclass(frozen=True)
class _WeeklyRule:
    days: frozenset[int]
    start: time
    end: time

    def active(self, local: datetime) -> bool:
        now, day = local.time(), local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        # runs past midnight: from `start` on a listed day until `end` on the day after
        return (day in self.days and now >= self.start) or ((day - 1) % 7 in self.days and now < self.end)


# -- the model --------------------------------------------------------------------------------
@dataclass
class _Endpoint:
    """A schedule's source or destination, resolved: any address in `networks` (None: anything)."""

    networks: list[IPNetwork] | None


class SiteModel:
    """The declared site(s) with the lookups triage and the inventory use. Lookups search all sites."""

    def __init__(self, sites: list[Site] | None = None, file: str | None = None, version: int = 1) -> None:
        self.file = file
        self.version = version
        self.sites: list[Site] = sites or []
        self._tz: dict[int, ZoneInfo] = {}
        self._site_of: dict[int, Site] = {}
        self._by_name: dict[str, SiteAsset] = {}
        self._by_ip: dict[IPAddress, SiteAsset] = {}
        self._by_mac: dict[str, SiteAsset] = {}
        self._subnets: list[tuple[IPNetwork, Zone]] = []
        self._zone_ids: dict[str, Zone] = {}
        self._zones_by_site: dict[tuple[int, str], Zone] = {}
        self._weekly: dict[int, _WeeklyRule] = {}
        self._absolute: dict[int, tuple[datetime, datetime]] = {}
        self._endpoints: dict[tuple[int, str], _Endpoint] = {}
        for site in self.sites:
            self._index(site)

    # -- construction (parse_site has validated everything before) --
    def _index(self, site: Site) -> None:
        sid = id(site)
        self._tz[sid] = _zoneinfo(site.timezone) or ZoneInfo("UTC")
        for z in site.zones:
            self._site_of[id(z)] = site
            self._zone_ids.setdefault(z.id, z)
            self._zones_by_site[(sid, z.id)] = z
            self._subnets += [(n, z) for n in z.networks]
        self._subnets.sort(key=lambda nz: -nz[0].prefixlen)  # most specific first
        for a in site.assets:
            self._site_of[id(a)] = site
            if a.name:
                self._by_name.setdefault(a.name, a)
                self._by_name.setdefault(a.name.casefold(), a)
            for ip in a.ips:
                self._by_ip.setdefault(ipaddress.ip_address(ip), a)
            for mac in a.macs:
                self._by_mac.setdefault(_mac(mac) or mac, a)
        for w in site.maintenance_windows:
            self._site_of[id(w)] = site
            if w.weekly is not None:
                self._weekly[id(w)] = _weekly_rule(w.weekly)  # type: ignore[assignment]
            elif w.start and w.end:
                tz = self._tz[sid]
                self._absolute[id(w)] = (_absolute(w.start, tz), _absolute(w.end, tz))  # type: ignore[assignment]
        for s in site.schedules:
            self._site_of[id(s)] = site
            if s.weekly is not None:
                self._weekly[id(s)] = _weekly_rule(s.weekly)  # type: ignore[assignment]
            for which, ref in (("source", s.source), ("destination", s.destination)):
                self._endpoints[(id(s), which)] = _Endpoint(self._resolve(site, ref))
        for x in site.exceptions:
            self._site_of[id(x)] = site
            for which, ref in (("source", x.source), ("destination", x.destination)):
                self._endpoints[(id(x), which)] = _Endpoint(self._resolve(site, ref))
            if x.until:
                self._absolute[id(x)] = (datetime.min.replace(tzinfo=UTC),
                                         _absolute(x.until, self._tz[sid]))  # type: ignore[assignment]

    def _resolve(self, site: Site, ref: str | list[str] | None) -> list[IPNetwork] | None:
        if ref is None:
            return None
        nets: list[IPNetwork] = []
        for r in [ref] if isinstance(ref, str) else ref:
            nets += _resolve_ref(site, r) or []
        return nets

    # -- lookups --
    def __bool__(self) -> bool:
        return bool(self.sites)

    def site_of(self, thing: Zone | SiteAsset | MaintenanceWindow | Schedule) -> Site | None:
        return self._site_of.get(id(thing))

    def asset(self, ip: str | None = None, mac: str | None = None, name: str | None = None) -> SiteAsset | None:
        """The declared asset with this name, else this IP, else this MAC (an IP's frames routed
        from another subnet carry the router's MAC, so the IP is trusted before the MAC)."""
        if name:
            found = self._by_name.get(name) or self._by_name.get(name.casefold())
            if found is not None:
                return found
        if ip:
            addr = _addr(ip)
            if addr is not None and addr in self._by_ip:
                return self._by_ip[addr]
        if mac:
            return self._by_mac.get(_mac(mac) or mac.lower())
        return None

    def zone(self, zone_id: str) -> Zone | None:
        return self._zone_ids.get(zone_id)

    def zone_of(self, ip: str | None) -> Zone | None:
        """The zone an address is in: its declared asset's zone, else the most specific subnet."""
        if not ip:
            return None
        a = self.asset(ip=ip)
        if a is not None and a.zone:
            site = self._site_of[id(a)]
            z = self._zones_by_site.get((id(site), a.zone))
            if z is not None:
                return z
        addr = _addr(ip)
        if addr is None:
            return None
        for net, z in self._subnets:
            if addr.version == net.version and addr in net:
                return z
        return None

    def asset_zone(self, asset: SiteAsset) -> Zone | None:
        if asset.zone:
            site = self._site_of.get(id(asset))
            if site is not None:
                return self._zones_by_site.get((id(site), asset.zone))
        for ip in asset.ips:
            z = self.zone_of(ip)
            if z is not None:
                return z
        return None

    def in_maintenance(self, ts: datetime | str | int, ip: str | None = None,
                       asset: SiteAsset | str | None = None) -> MaintenanceWindow | None:  # fmt: skip
        """The maintenance window covering `ts` for this asset (or IP), else None. A window scoped to
        assets and/or zones covers those; an unscoped one covers its whole site. With neither `ip`
        nor `asset`, only whole-site windows count."""
        when = _to_datetime(ts)
        a = self.asset(name=asset) if isinstance(asset, str) else asset
        if a is None and ip:
            a = self.asset(ip=ip)
        zone = self.asset_zone(a) if a is not None else self.zone_of(ip)
        site = self._site_of.get(id(a)) if a is not None else None
        if site is None and zone is not None:
            site = self._site_of.get(id(zone))
        for s in self.sites:
            if site is not None and s is not site:
                continue
            if site is None and (ip or asset) and len(self.sites) > 1:
                continue  # an address no site claims: no site's whole-site window is its own
            for w in s.maintenance_windows:
                scoped = bool(w.assets or w.zones)
                if scoped and not ((a is not None and a.name in w.assets)
                                   or (zone is not None and zone.id in w.zones)):  # fmt: skip
                    continue
                if self._active(w, s, when):
                    return w
        return None

    def schedule_for(self, ts: datetime | str | int, src_ip: str | None, dst_ip: str | None,
                     protocol: str | None = None) -> Schedule | None:  # fmt: skip
        """The known schedule this flow belongs to at `ts` (source, destination, protocol and time
        all match), else None. `protocol=None` matches any schedule's protocols."""
        when = _to_datetime(ts)
        src, dst = _addr(src_ip), _addr(dst_ip)
        proto = protocol.lower() if protocol else None
        for s in self.sites:
            for sch in s.schedules:
                if proto and sch.protocols and proto not in (p.lower() for p in sch.protocols):
                    continue
                if not (_matches(self._endpoints[(id(sch), "source")], src)
                        and _matches(self._endpoints[(id(sch), "destination")], dst)):  # fmt: skip
                    continue
                if sch.weekly is None or self._active(sch, s, when):
                    return sch
        return None

    def exception_for(self, ts: datetime | str | int, rule_id: str | None, src_ip: str | None,
                      dst_ip: str | None) -> AlertException | None:  # fmt: skip
        """The declared exception that covers this alert at `ts` (rule, source, destination and
        `until` all match), else None."""
        when = _to_datetime(ts)
        src, dst = _addr(src_ip), _addr(dst_ip)
        for s in self.sites:
            for x in s.exceptions:
                if x.rules and rule_id not in x.rules:
                    continue
                if not (_matches(self._endpoints[(id(x), "source")], src)
                        and _matches(self._endpoints[(id(x), "destination")], dst)):  # fmt: skip
                    continue
                if x.until is None or when < self._absolute[id(x)][1]:
                    return x
        return None

    def conduit_allows(self, src_zone: Zone | str | None, dst_zone: Zone | str | None,
                       protocol: str | None = None) -> bool:  # fmt: skip
        """Whether a flow initiated in `src_zone` to `dst_zone` with `protocol` is allowed. Flows
        inside one zone, and flows in a site that declares no `conduits`, are always allowed; an
        undeclared (None) zone on one side is allowed only where the other side's site has no
        conduit policy. `protocol=None` is allowed by any conduit between the two zones."""
        sz = self.zone(src_zone) if isinstance(src_zone, str) else src_zone
        dz = self.zone(dst_zone) if isinstance(dst_zone, str) else dst_zone
        if sz is None and dz is None:
            return True
        if sz is dz:
            return True
        sites = {id(s): s for s in (self._site_of.get(id(z)) for z in (sz, dz) if z is not None) if s}
        if all(s.conduits is None for s in sites.values()):
            return True
        if sz is None or dz is None:
            return False
        proto = protocol.lower() if protocol else None
        for s in sites.values():
            for c in s.conduits or ():
                forward = c.from_ == sz.id and c.to == dz.id
                backward = c.bidirectional and c.from_ == dz.id and c.to == sz.id
                if not (forward or backward):
                    continue
                if proto is None or not c.protocols or proto in (p.lower() for p in c.protocols):
                    return True
        return False

    def _active(self, item: MaintenanceWindow | Schedule, site: Site, when: datetime) -> bool:
        rule = self._weekly.get(id(item))
        if rule is not None:
            return rule.active(when.astimezone(self._tz[id(site)]))
        span = self._absolute.get(id(item))
        return span is not None and span[0] <= when < span[1]

    def summary(self) -> list[str]:
        out = []
        for s in self.sites:
            parts = [f"{len(s.zones)} zone(s)", f"{len(s.assets)} asset(s)",
                     f"{len(s.conduits)} conduit(s)" if s.conduits is not None else "no conduit policy",
                     f"{len(s.maintenance_windows)} maintenance window(s)",
                     f"{len(s.schedules)} schedule(s)", f"{len(s.exceptions)} exception(s)"]  # fmt: skip
            out.append(f"{s.id or s.name or '(unnamed site)'} [{s.timezone}]: " + ", ".join(parts))
        return out


def _matches(ep: _Endpoint, addr: IPAddress | None) -> bool:
    if ep.networks is None:
        return True
    return addr is not None and any(addr.version == n.version and addr in n for n in ep.networks)


def _addr(ip: str | None) -> IPAddress | None:
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


def _mac(text: str) -> str | None:
    """A MAC in lower-case colon form (00:1b:1b:00:00:01), or None when not a MAC."""
    try:
        eui = EUI(str(text).strip())
    except (AddrFormatError, ValueError, TypeError):
        return None
    if eui.version != 48:
        return None
    eui.dialect = mac_unix_expanded
    return str(eui)


def _zoneinfo(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _weekly_rule(w: Weekly) -> _WeeklyRule | None:
    days = [_day(d) for d in w.days]
    start, end = _clock(w.from_), _clock(w.to)
    if None in days or start is None or end is None or start == end:
        return None
    return _WeeklyRule(frozenset(d for d in days if d is not None), start, end)


def _absolute(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=tz)).astimezone(UTC)


def _resolve_ref(site: Site, ref: str) -> list[IPNetwork] | None:
    """A schedule endpoint: asset name, zone id, IP or CIDR -> networks; None when unknown."""
    for a in site.assets:
        if a.name == ref:
            return [ipaddress.ip_network(ip) for ip in a.ips]
    for z in site.zones:
        if z.id == ref:
            return z.networks
    try:
        return [ipaddress.ip_network(ref, strict=False)]
    except ValueError:
        return None


# -- loading and validation -----------------------------------------------------------------
def load_site(path: str | Path) -> SiteModel:
    """Read and validate a site file; raise `SiteError` naming each problem's line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SiteError(str(p), [Problem(0, 0, "", f"cannot read: {e}")]) from None
    return parse_site(text, str(p))


def parse_site(text: str, file: str = "<site>") -> SiteModel:
    """Validate the text of a site file into a `SiteModel` (see `load_site`)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        msg = " ".join(x for x in (e.context, e.problem) if x) or str(e)
        raise SiteError(file, [Problem(line, col, "", f"not valid YAML: {msg}")]) from None
    except yaml.YAMLError as e:
        raise SiteError(file, [Problem(0, 0, "", f"not valid YAML: {e}")]) from None
    if node is None:  # an empty file: nothing declared
        return SiteModel(file=file)
    marks, problems = _Marks(), []  # type: ignore[var-annotated]
    data = _plain(node, (), marks, problems)
    if problems:
        raise SiteError(file, problems)
    if not isinstance(data, dict):
        raise SiteError(file, [Problem(*_pos(node), "", "the file must be a mapping with `version` "
                                                        "and `sites`")])  # fmt: skip
    try:
        spec = msgspec.convert(data, _File)
    except msgspec.ValidationError:
        problems = list(_collect(data, _File, (), marks))
        problems.sort(key=lambda p: (p.line, p.column))
        raise SiteError(file, problems) from None
    problems = list(_check(spec, marks))
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        raise SiteError(file, problems)
    return SiteModel(spec.sites, file=file, version=spec.version)


def _check(spec: _File, marks: _Marks) -> Iterator[Problem]:
    """Every problem the types alone do not catch, each at its line."""

    def at(path: Path_, msg: str, key: bool = False) -> Problem:
        return Problem(*marks.at(path, key=key), _where(path), msg)

    if spec.version != 1:
        yield at(("version",), f"unsupported version {spec.version} (this Watchfloor reads version 1)")
    site_ids: dict[str, int] = {}
    for si, site in enumerate(spec.sites):
        sp: Path_ = ("sites", si)
        if site.id is not None:
            if site.id in site_ids:
                yield at(sp + ("id",), f"duplicate site id {site.id!r} (also sites[{site_ids[site.id]}])")
            site_ids.setdefault(site.id, si)
        if _zoneinfo(site.timezone) is None:
            yield at(sp + ("timezone",), f"unknown time zone {site.timezone!r} (an IANA name such as "
                                         "Europe/London or UTC)")  # fmt: skip
        tz = _zoneinfo(site.timezone) or ZoneInfo("UTC")
        # zones
        zone_ids: dict[str, int] = {}
        nets: list[tuple[IPNetwork, Path_, str]] = []
        for zi, z in enumerate(site.zones):
            zp = sp + ("zones", zi)
            if z.id in zone_ids:
                yield at(zp + ("id",), f"duplicate zone id {z.id!r} (also zones[{zone_ids[z.id]}])")
            zone_ids.setdefault(z.id, zi)
            if z.purdue_level is not None and (isinstance(z.purdue_level, bool)
                                               or z.purdue_level not in PURDUE_LEVELS):  # fmt: skip
                yield at(zp + ("purdue_level",), f"Purdue level {z.purdue_level!r} is not one of "
                                                 "0, 1, 2, 3, 3.5 (DMZ), 4, 5")  # fmt: skip
            for ni, s in enumerate(z.subnets):
                np_ = zp + ("subnets", ni)
                try:
                    net = ipaddress.ip_network(s, strict=True)
                except ValueError as e:
                    hint = ""
                    try:
                        hint = f" (did you mean {ipaddress.ip_network(s, strict=False)}?)"
                    except ValueError:
                        pass
                    yield at(np_, f"not a subnet: {s!r}: {e}{hint}")
                    continue
                for other, op, oz in nets:
                    if other.version == net.version and other.overlaps(net):
                        line = marks.at(op)[0]
                        yield at(np_, f"subnet {net} of zone {z.id!r} overlaps {other} of zone {oz!r} "
                                      f"(line {line}): an address must have one zone")  # fmt: skip
                nets.append((net, np_, z.id))
            for vi, v in enumerate(z.vlans):
                if isinstance(v, bool) or not 1 <= v <= 4094:
                    yield at(zp + ("vlans", vi), f"VLAN id {v} is not in 1..4094")
        # assets
        names: dict[str, int] = {}
        ips: dict[IPAddress, str] = {}
        macs: dict[str, str] = {}
        for ai, a in enumerate(site.assets):
            ap = sp + ("assets", ai)
            if a.name is not None:
                if a.name in names:
                    yield at(ap + ("name",), f"duplicate asset name {a.name!r} (also assets[{names[a.name]}])")
                names.setdefault(a.name, ai)
            if not (a.name or a.ips or a.macs):
                yield at(ap, "an asset needs a name, an IP or a MAC")
            if a.zone is not None and a.zone not in zone_ids:
                yield at(ap + ("zone",), f"unknown zone {a.zone!r}{_known(zone_ids)}")
            for ii, ip in enumerate(a.ips):
                ipp = ap + ("ips", ii)
                addr = _addr(ip)
                if addr is None:
                    yield at(ipp, f"not an IP address: {ip!r}")
                    continue
                if addr in ips:
                    yield at(ipp, f"IP {addr} is also declared for asset {ips[addr]!r}")
                ips.setdefault(addr, a.label)
                if a.zone is not None and a.zone in zone_ids:
                    inside = [oz for net, _, oz in nets if net.version == addr.version and addr in net]
                    if inside and a.zone not in inside:
                        yield at(ipp, f"{addr} is in zone {inside[0]!r}'s subnet but the asset "
                                      f"declares zone {a.zone!r}")  # fmt: skip
            for mi, m in enumerate(a.macs):
                norm = _mac(m)
                if norm is None:
                    yield at(ap + ("macs", mi), f"not a MAC address: {m!r}")
                    continue
                if norm in macs:
                    yield at(ap + ("macs", mi), f"MAC {norm} is also declared for asset {macs[norm]!r}")
                macs.setdefault(norm, a.label)
        # conduits
        for ci, c in enumerate(site.conduits or ()):
            cp = sp + ("conduits", ci)
            for key, ref in (("from", c.from_), ("to", c.to)):
                if ref not in zone_ids:
                    yield at(cp + (key,), f"unknown zone {ref!r}{_known(zone_ids)}")
        # maintenance windows and schedules
        for wi, w in enumerate(site.maintenance_windows):
            wp = sp + ("maintenance_windows", wi)
            if w.weekly is not None:
                if w.start is not None or w.end is not None:
                    yield at(wp, "a maintenance window is either weekly or from start to end, not both")
                yield from _check_weekly(w.weekly, wp + ("weekly",), at)
            elif w.start is None or w.end is None:
                yield at(wp, "a maintenance window needs `start` and `end` (RFC 3339 times) or `weekly`")
            else:
                start, end = _absolute(w.start, tz), _absolute(w.end, tz)
                if start is None:
                    yield at(wp + ("start",), f"not a time: {w.start!r} (e.g. 2026-12-01T06:00:00Z)")
                if end is None:
                    yield at(wp + ("end",), f"not a time: {w.end!r} (e.g. 2026-12-01T18:00:00Z)")
                if start is not None and end is not None and end <= start:
                    yield at(wp + ("end",), f"end {w.end} is not after start {w.start}")
            for i, name in enumerate(w.assets):
                if name not in names:
                    yield at(wp + ("assets", i), f"unknown asset {name!r}{_known(names)}")
            for i, zid in enumerate(w.zones):
                if zid not in zone_ids:
                    yield at(wp + ("zones", i), f"unknown zone {zid!r}{_known(zone_ids)}")
        for si2, sch in enumerate(site.schedules):
            schp = sp + ("schedules", si2)
            if sch.weekly is not None:
                yield from _check_weekly(sch.weekly, schp + ("weekly",), at)
            for key, ref in (("source", sch.source), ("destination", sch.destination)):
                refs = [] if ref is None else [ref] if isinstance(ref, str) else ref
                for i, r in enumerate(refs):
                    if _resolve_ref(site, r) is None:
                        where = schp + (key,) if isinstance(ref, str) else schp + (key, i)
                        yield at(where, f"{r!r} is not an asset name, zone id, IP address or subnet "
                                        "of this site")  # fmt: skip
        for xi, x in enumerate(site.exceptions):
            xp = sp + ("exceptions", xi)
            if x.until is not None and _absolute(x.until, tz) is None:
                yield at(xp + ("until",), f"not a time: {x.until!r} (e.g. 2027-01-01T00:00:00Z)")
            for key, ref in (("source", x.source), ("destination", x.destination)):
                refs = [] if ref is None else [ref] if isinstance(ref, str) else ref
                for i, r in enumerate(refs):
                    if _resolve_ref(site, r) is None:
                        where = xp + (key,) if isinstance(ref, str) else xp + (key, i)
                        yield at(where, f"{r!r} is not an asset name, zone id, IP address or subnet "
                                        "of this site")  # fmt: skip


def _check_weekly(w: Weekly, path: Path_, at: Any) -> Iterator[Problem]:
    if not w.days:
        yield at(path + ("days",), "no days: list some of mon, tue, wed, thu, fri, sat, sun")
    for i, d in enumerate(w.days):
        if _day(d) is None:
            yield at(path + ("days", i), f"not a day: {d!r} (mon, tue, wed, thu, fri, sat, sun)")
    start, end = _clock(w.from_), _clock(w.to)
    if start is None:
        yield at(path + ("from",), f"not a time of day: {w.from_!r} (HH:MM, e.g. 22:00)")
    if end is None:
        yield at(path + ("to",), f"not a time of day: {w.to!r} (HH:MM, e.g. 04:00; 24:00 = midnight)")
    if start is not None and start == end:
        yield at(path + ("to",), "`from` and `to` are the same time (use 00:00 to 24:00 for a whole day)")


def _known(ids: dict[str, int]) -> str:
    return f" (declared: {', '.join(sorted(ids))})" if ids else " (none declared)"
