"""Baseline workflows over the store: learn a version, monitor a capture's events, approve a
deviation into a new version, show and diff versions. The CLI calls these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from ..schema import Event
from ..schema.time import rfc3339
from .model import Baseline, Edge, Learner, Row, Settings, orient, show_intervals
from .monitor import Deviation, Monitor, MonitorState, alert, span_words


class BaselineError(ValueError):
    """A baseline operation that cannot be done; the message says why."""


def rows(store: Any, **where: str | None) -> Iterator[Row]:
    for t in store.behaviour_rows(**where):
        yield Row(*t)


# -- the site model (optional) ---------------------------------------------------------------------
def site_of(model: Any, ip: str | None) -> str | None:
    """The id of the declared site an address belongs to (its asset or zone), if any."""
    if model is None or not model or not ip:
        return None
    asset = model.asset(ip=ip)
    if asset is not None:
        site = model.site_of(asset)
        if site is not None:
            return site.id or site.name
    zone = model.zone_of(ip)
    site = model.site_of(zone) if zone is not None else None
    return (site.id or site.name) if site is not None else None


def row_site(model: Any, r: Row) -> str | None:
    """A message belongs to the site of its responder (the device), else of its initiator."""
    init, resp, _ = orient(r)
    return site_of(model, resp) or site_of(model, init)


def labels(model: Any) -> Callable[[str], str | None]:
    """ip → the declared asset's name (None when not declared)."""
    def label(ip: str) -> str | None:
        asset = model.asset(ip=ip) if model else None
        return asset.name if asset is not None and asset.name else None
    return label


def learn(store: Any, site: str = "default", since: str | None = None, until: str | None = None,
          settings: Settings | None = None, activate: bool = True,
          events: Iterable[Row] | None = None, allow_empty: bool = False,
          site_model: Any = None) -> Baseline:  # fmt: skip
    """Learn a baseline from the stored events (or `events`) and store it as a new version.
    `allow_empty`: a plant whose learning period carried no OT messages gets an empty baseline
    (everything it later sees is new) instead of an error."""
    source = events if events is not None else rows(store, since=since, until=until)
    timezone = None
    if site_model:  # only this site's traffic, on its clock
        declared = {x.id or x.name: x for x in site_model.sites}
        if site not in declared:
            raise BaselineError(f"site {site!r} is not declared in {site_model.file or 'the site file'} "
                                f"(declared: {', '.join(sorted(declared)) or 'none'})")  # fmt: skip
        timezone = declared[site].timezone
        source = (r for r in source if row_site(site_model, r) == site)
    learner = Learner(site, settings, timezone=timezone)
    learner.feed(source)
    if learner.events == 0 and not allow_empty:
        raise BaselineError("no OT messages in the store" + (" in that time range" if since or until else "")
                            + ": ingest captures first (`watchfloor ingest`)")  # fmt: skip
    span = f"{rfc3339(learner.first or 0)} to {rfc3339(learner.last or 0)}"
    b = learner.result(note=f"learned from {learner.events:,} messages, {span}")
    b.version = store.next_baseline_version()
    store.put_baseline(site, b.encode(), status="active" if activate else "draft", parent=None,
                       note=b.note, version=b.version)  # fmt: skip
    return b


def load(store: Any, version: int | None = None, site: str | None = None) -> tuple[Baseline, str]:
    got = store.baseline_model(version, site)
    if got is None:
        raise BaselineError(f"no baseline version {version}" if version is not None else
                            "no active baseline" + (f" for site {site}" if site else "")
                            + ": learn one with `watchfloor baseline learn`")  # fmt: skip
    return Baseline.decode(got[2]), got[1]


def monitor(store: Any, source: str | None = None, since: str | None = None,
            until: str | None = None, site_model: Any = None) -> list[Event]:  # fmt: skip
    """Run every active baseline over stored events (one capture's, by default); store and return
    the deviation alerts. A site without an active baseline is still learning: nothing runs for
    it. With a site model, each message goes to its site's baseline and alerts name the
    declared assets (`10.0.1.5 (PLC-3)`)."""
    active = store.active_baselines()
    if not active:
        return []
    monitors: list[tuple[str, Monitor]] = []
    for _version, site, model in active:
        b = Baseline.decode(model)
        raw = store.monitor_state(site)
        state = msgspec.json.decode(raw, type=MonitorState) if raw else None
        monitors.append((site, Monitor(b, state)))
    alerts: list[Event] = []
    devs: list[tuple[str, int, str, str, str, str]] = []
    by_site = {site: mon for site, mon in monitors}
    label = labels(site_model) if site_model else None
    for r in rows(store, source=source, since=since, until=until):
        if site_model:
            mon = by_site.get(row_site(site_model, r) or "default")  # type: ignore[assignment]
            if mon is None:
                continue  # that site is still learning
        else:
            mon = _owner(monitors, r)
        for n, d in enumerate(mon.check(r)):
            a = alert(d, n, label)
            alerts.append(a)
            devs.append((a.event.id, mon.b.version, mon.b.site, d.type, d.key, _detail(d)))
    store.append(alerts)
    store.put_deviations(devs)
    for site, mon in monitors:
        store.put_monitor_state(site, mon.b.version, msgspec.json.encode(mon.suspend()))
    return alerts


def _owner(monitors: list[tuple[str, Monitor]], r: Row) -> Monitor:
    """The site whose baseline knows one of the row's endpoints (the first site otherwise)."""
    if len(monitors) > 1:
        for _site, mon in monitors:
            if r.src in mon.b.assets or r.dst in mon.b.assets:
                return mon
    return monitors[0][1]


def _detail(d: Deviation) -> str:
    return msgspec.json.encode({"row": list(d.row), "extra": d.extra, "message": d.message}).decode()


def approve(store: Any, alert_id: str, note: str | None = None) -> Baseline:
    """Fold an accepted deviation into a new active version of its site's baseline."""
    dev = store.deviation(alert_id)
    if dev is None:
        raise BaselineError(f"{alert_id}: not a baseline deviation alert (see `watchfloor alerts "
                            "--rule baseline.<type>` for their ids)")  # fmt: skip
    if dev["approved_in"] is not None:
        raise BaselineError(f"{alert_id}: already approved into version {dev['approved_in']}")
    base, _ = load(store, site=dev["site"])
    detail = msgspec.json.decode(dev["detail"])
    row = Row(*detail["row"])
    extra: dict[str, Any] = detail.get("extra") or {}
    learner = Learner(base.site, base.settings, base)
    raw = store.monitor_state(base.site)
    state = msgspec.json.decode(raw, type=MonitorState) if raw else None

    def involved(key: str, e: Edge) -> bool:
        return extra.get("asset") in (e.initiator, e.responder) or extra.get("edge") == key

    if state is not None and state.overlay is not None:
        # what the asset did during its grace period, what the edge did since it appeared
        for key, e in state.overlay.edges.items():
            if involved(key, e):
                _merge(learner, key, e)
    if dev["type"] not in ("cadence", "rate", "connection"):
        learner.add(row)
    b = learner.result(parent=base.version,
                       note=note or f"approved {dev['type']} deviation {alert_id}")  # fmt: skip
    b.learned_from, b.learned_until = base.learned_from, base.learned_until
    b.events = base.events
    from .model import edge_key, orient

    init, resp, _ = orient(row)
    e = b.edges.get(edge_key(init, resp, row.protocol))
    if e is not None:
        if "period" in extra:
            c = e.cadence[extra["cadence"]]
            c.period, c.jitter = float(extra["period"]), max(c.jitter, 0.1 * float(extra["period"]))
        if "stopped" in extra:
            e.cadence.pop(extra["stopped"], None)
        if "rate" in extra:  # the busiest 10 s of the edge the alert saw becomes normal
            e.rate.max = max(e.rate.max, float(extra["rate"]), _window_count(store, row, init, resp))
        if "pattern" in extra:
            e.pattern = extra["pattern"]
        if "point" in extra:
            e.points[extra["point"]].max_rate = max(e.points[extra["point"]].max_rate,
                                                    float(extra["max_rate"]))  # fmt: skip
    b.version = store.next_baseline_version()
    store.put_baseline(b.site, b.encode(), status="active", parent=base.version, note=b.note,
                       version=b.version)  # fmt: skip
    store.mark_approved(alert_id, b.version)
    raw = store.monitor_state(b.site)
    if raw:  # carry the episode memory over, minus the approved behaviour
        state = msgspec.json.decode(raw, type=MonitorState)
        state.version = b.version
        state.alerted.pop(dev["key"], None)
        if state.overlay is not None:  # folded into the version: no longer pending
            state.overlay.edges = {k: e for k, e in state.overlay.edges.items() if not involved(k, e)}
        store.put_monitor_state(b.site, b.version, msgspec.json.encode(state))
    return b


def _window_count(store: Any, row: Row, init: str, resp: str) -> int:
    """Messages of the edge in the rate window of `row` (as stored)."""
    from .model import RATE_BUCKET_NS

    lo = row.ts - row.ts % RATE_BUCKET_NS
    n = 0
    for r in rows(store, since=rfc3339(lo), until=rfc3339(lo + RATE_BUCKET_NS - 1)):
        i, j, _ = orient(r)
        n += (i, j, r.protocol) == (init, resp, row.protocol)
    return n


def _merge(learner: Learner, key: str, e: Edge) -> None:
    from .model import _EdgeState, add_interval

    st = learner.state.get(key)
    if st is None:
        learner.state[key] = _EdgeState(msgspec.json.decode(msgspec.json.encode(e), type=Edge))
        learner.assets.setdefault(e.initiator, e.first_seen)
        learner.assets.setdefault(e.responder, e.first_seen)
        return
    have = st.edge
    have.messages += e.messages
    for k, v in e.functions.items():
        have.functions.setdefault(k, v)
    for k, n in e.operations.items():
        have.operations[k] = have.operations.get(k, 0) + n
    for k, ivs in e.ranges.items():
        for s, t in ivs:
            have.ranges[k] = add_interval(have.ranges.get(k, []), s, t)


# -- reading versions ---------------------------------------------------------------------------
def summary(b: Baseline) -> dict[str, Any]:
    """What a version learned, in the plant's terms (JSON-ready)."""
    edges = []
    for e in sorted(b.edges.values(), key=lambda e: -e.messages):
        regular = {k: c for k, c in e.cadence.items() if c.regular}
        edges.append({
            "initiator": e.initiator, "responder": e.responder, "protocol": e.protocol,
            "messages": e.messages, "operations": e.operations, "functions": sorted(e.functions),
            "ranges": {k: show_intervals(v) for k, v in sorted(e.ranges.items())},
            "points": len(e.points),
            "cadence": {k: f"every {c.period:.3g} s ± {c.jitter:.2g} s" for k, c in sorted(regular.items())},
            "rate_per_10s": {"median": e.rate.median, "max": e.rate.max},
            "connection": f"{e.pattern} ({e.sessions} session(s))",
            "active_hours": sorted({h % 24 for h, n in enumerate(e.hours) if n}),
        })  # fmt: skip
    return {
        "version": b.version, "site": b.site, "timezone": b.timezone, "parent": b.parent, "note": b.note,
        "learned_from": rfc3339(b.learned_from), "learned_until": rfc3339(b.learned_until),
        "span": span_words(b.span_s), "events": b.events, "assets": sorted(b.assets),
        "edges": edges, "points_dropped": b.points_dropped,
        "settings": msgspec.to_builtins(b.settings),
    }  # fmt: skip


def diff(a: Baseline, b: Baseline) -> list[str]:
    """What changed from version a to version b, one line per change."""
    out: list[str] = []
    for ip in sorted(set(b.assets) - set(a.assets)):
        out.append(f"+ asset {ip}")
    for ip in sorted(set(a.assets) - set(b.assets)):
        out.append(f"- asset {ip}")
    for key in sorted(set(a.edges) | set(b.edges)):
        ea, eb = a.edges.get(key), b.edges.get(key)
        name = key.replace(">", " → ").replace("|", " ")
        if ea is None:
            out.append(f"+ edge {name}: {', '.join(sorted(eb.functions)) or 'no functions'}")  # type: ignore[union-attr]
            continue
        if eb is None:
            out.append(f"- edge {name}")
            continue
        for fn in sorted(set(eb.functions) - set(ea.functions)):
            out.append(f"+ {name}: function {fn}")
        for fn in sorted(set(ea.functions) - set(eb.functions)):
            out.append(f"- {name}: function {fn}")
        for rk in sorted(set(ea.ranges) | set(eb.ranges)):
            ra, rb = ea.ranges.get(rk), eb.ranges.get(rk)
            if ra != rb:
                out.append(f"~ {name}: {rk} addresses {show_intervals(ra or [])} → {show_intervals(rb or [])}")
        for pk in sorted(set(ea.points) | set(eb.points)):
            pa, pb = ea.points.get(pk), eb.points.get(pk)
            if pa is None or pb is None:
                out.append(f"{'+' if pa is None else '-'} {name}: point {pk}")
            elif (pa.min, pa.max, pa.states, pa.max_rate) != (pb.min, pb.max, pb.states, pb.max_rate):
                out.append(f"~ {name}: point {pk} {pa.min:g}–{pa.max:g} → {pb.min:g}–{pb.max:g}"
                           + (f" states {pa.states} → {pb.states}" if pa.states != pb.states else ""))
        for ck in sorted(set(ea.cadence) | set(eb.cadence)):
            ca, cb = ea.cadence.get(ck), eb.cadence.get(ck)
            if ca is None or cb is None:
                out.append(f"{'+' if ca is None else '-'} {name}: cadence {ck}")
            elif (ca.period, ca.jitter) != (cb.period, cb.jitter):
                out.append(f"~ {name}: cadence {ck} every {ca.period:.3g} s → {cb.period:.3g} s")
        if ea.rate.max != eb.rate.max:
            out.append(f"~ {name}: rate max {ea.rate.max:g} → {eb.rate.max:g} per 10 s")
        if ea.pattern != eb.pattern:
            out.append(f"~ {name}: connection {ea.pattern} → {eb.pattern}")
        hours_a = {h for h, n in enumerate(ea.hours) if n}
        hours_b = {h for h, n in enumerate(eb.hours) if n}
        if hours_b - hours_a:
            out.append(f"+ {name}: active in {len(hours_b - hours_a)} more hour(s) of the week")
    return out
