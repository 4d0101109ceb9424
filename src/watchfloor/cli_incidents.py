"""`watchfloor triage`, `incidents` and `incident show`: priorities and the kill chain."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import msgspec

from .cli import DB, _open_read, main
from .schema.time import parse_duration
from .store import StoreError, open_store


def _duration(_ctx: Any, _param: Any, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use a number with s, m, h or d, e.g. 15m") from None


SITE = click.option("--site", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    help="Site model (YAML): assets, zones, maintenance windows, schedules.")  # fmt: skip
MODE = click.option("--mode", type=click.Choice(["converged", "context-free", "it-only"]),
                    default="converged", show_default=True,
                    help="context-free: priority from security severity alone; it-only: OT "
                         "alerts and traffic left out, as an IT-only SOC sees it.")  # fmt: skip


def _load_site(path: Path | None) -> Any:
    if path is None:
        return None
    from .site import SiteError, load_site

    try:
        return load_site(path)
    except SiteError as e:
        raise click.ClickException(str(e)) from None


def _run(db: Path, site: Path | None, mode: str, dedup_s: float | None, window_s: float | None,
         identity: str | None = None) -> Any:  # fmt: skip
    from .correlate import run
    from .triage import Dedup

    model = _load_site(site)
    dedup = Dedup()
    if identity:
        dedup = Dedup(fields=tuple(f.strip() for f in identity.split(",") if f.strip()))
    if dedup_s is not None:
        dedup = Dedup(fields=dedup.fields, interval_s=dedup_s)
    try:
        store = open_store(db)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    try:
        return run(store, model, mode=mode, dedup=dedup, window_s=window_s or 86400.0)  # type: ignore[arg-type]
    finally:
        store.close()


@main.command("triage")
@DB
@SITE
@MODE
@click.option("--dedup-interval", "dedup_s", callback=_duration, metavar="DURATION",
              help="Merge an alert into the open one with the same identity while it recurs within "
                   "this interval (default 15m).")  # fmt: skip
@click.option("--dedup-identity", "identity", metavar="FIELDS",
              help="Comma-separated fields whose values make two alerts the same (default: "
                   "rule.id,source.ip,destination.ip,host.name,user.name).")  # fmt: skip
@click.option("--window", "window_s", callback=_duration, metavar="DURATION",
              help="Alerts sharing an entity within this time join one incident (default 24h).")
def triage_cmd(db: Path, site: Path | None, mode: str, dedup_s: float | None,
               identity: str | None, window_s: float | None) -> None:  # fmt: skip
    """Prioritise every stored alert and group them into incidents (replaces the last triage)."""
    result = _run(db, site, mode, dedup_s, window_s, identity)
    items = result.items
    open_ = [t for t in items if t.open]
    suppressed: dict[str, int] = {}
    for t in items:
        if t.triage.suppressed_by:
            suppressed[t.triage.suppressed_by] = suppressed.get(t.triage.suppressed_by, 0) + 1
    by_p = {p: sum(t.triage.priority == p for t in open_) for p in ("P1", "P2", "P3", "P4")}
    click.echo(f"{len(items)} alerts: {len(open_)} open ("
               + ", ".join(f"{p} {n}" for p, n in by_p.items()) + f"), "
               f"{sum(t.triage.duplicate_of is not None for t in items)} merged duplicates, "
               f"{sum(suppressed.values())} suppressed")  # fmt: skip
    for why, n in sorted(suppressed.items(), key=lambda kv: -kv[1]):
        click.echo(f"  suppressed {n:>5}  {why}")
    crossing = sum(i.crosses_it_ot for i in result.incidents)
    click.echo(f"{len(result.incidents)} incidents, {crossing} crossing from IT into OT"
               + ("" if site or mode == "context-free" else
                  " (no --site: priorities from security severity alone)"))  # fmt: skip


def _stored(db: Path) -> tuple[Any, list[dict[str, Any]]]:
    store = _open_read(db)
    try:
        docs = [msgspec.json.decode(d) for d in store.incidents()]
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    return store, docs


@main.command()
@DB
@SITE
@click.option("--priority", "priorities", multiple=True, type=click.Choice(["P1", "P2", "P3", "P4"]),
              help="Only incidents of these priorities (repeatable).")  # fmt: skip
@click.option("--details", is_flag=True, help="Tell each incident as a timeline (as `incident show`).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)  # fmt: skip
def incidents(db: Path, site: Path | None, priorities: tuple[str, ...], details: bool, fmt: str) -> None:
    """List incidents, most urgent first. With --site (or when the store was never triaged),
    triage runs first."""
    store, docs = _stored(db)
    if site is not None or (not docs and store.triage() == {}):
        store.close()
        _run(db, site, "converged", None, None)
        store, docs = _stored(db)
    docs = [d for d in docs if not priorities or d["priority"] in priorities]
    if details and fmt == "table":
        try:
            for d in docs:
                _tell(store, d)
                click.echo()
        finally:
            store.close()
        if not docs:
            click.echo("no incidents", err=True)
        return
    store.close()
    out = sys.stdout.buffer
    if fmt == "jsonl":
        for d in docs:
            out.write(msgspec.json.encode(d) + b"\n")
        return
    if not docs:
        click.echo("no incidents", err=True)
        return
    click.echo(f"{'incident':<17} {'prio':<4} {'first seen':<27} {'alerts':>6} {'IT→OT':<5} summary")
    for d in docs:
        click.echo(f"{d['incident']['id']:<17} {d['priority']:<4} {d['first_seen']:<27} "
                   f"{len(d['alerts']):>6} {'yes' if d['crosses_it_ot'] else '-':<5} {d['summary']}")


@main.group()
def incident() -> None:
    """One incident."""


@incident.command("show")
@DB
@click.argument("incident_id")
def incident_show(db: Path, incident_id: str) -> None:
    """The incident as a timeline: each alert, its side of the boundary, stage and priority."""
    store, docs = _stored(db)
    try:
        match = [d for d in docs if d["incident"]["id"] == incident_id
                 or d["incident"]["id"].startswith(incident_id)]  # fmt: skip
        if len(match) != 1:
            known = ", ".join(d["incident"]["id"] for d in docs[:5]) or "none (run `watchfloor triage`)"
            raise click.ClickException(f"{incident_id}: {'ambiguous' if match else 'no such incident'}"
                                       f"; incidents: {known}")  # fmt: skip
        _tell(store, match[0])
    finally:
        store.close()


def _tell(store: Any, inc: dict[str, Any]) -> None:
    from .correlate.story import tell

    alerts = {a["event"]["id"]: a for a in store.events_by_id(inc["alerts"])}
    triage = {k: msgspec.json.decode(v) for k, v in store.triage().items() if k in alerts}
    for line in tell(inc, alerts, triage):
        click.echo(line)
