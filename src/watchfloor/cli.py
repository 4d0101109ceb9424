"""The `watchfloor` command.

Exit status: 0 all input read; 1 an input was damaged or unreadable (everything before the damage
was still processed and, for `ingest`, stored); 2 usage error or unusable store.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

import click
import msgspec

from . import __version__
from .capture.files import PCAPNG_SHB, CaptureError
from .schema import Event
from .sensor import Sensor, Stats, capture_id, decode_file, decode_jsonl
from .detect import SEVERITY
from .store import EventFilter, Source, StoreError, open_store

EXIT_DAMAGED, EXIT_USAGE = 1, 2
CAPTURES = click.argument("captures", nargs=-1, required=True,
                          type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
DB = click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Embedded store: a DuckDB file (created on first ingest).")  # fmt: skip
OBSERVER = click.option("--observer", metavar="NAME", help="Sensor name recorded as observer.name.")
WORKERS = click.option(
    "--workers", type=click.IntRange(min=1), default=lambda: min(len(os.sched_getaffinity(0)), 8),
    show_default="the CPUs available, up to 8",
    help="Decoder processes; each takes a share of the flows. With more than one, events of "
         "different flows interleave by batch; use 1 for output in strict frame order.")  # fmt: skip


PIPELINE = click.option("--pipeline", type=click.Choice(["zeek"]),
                        help="Map the rules' field names first: zeek = rules over Zeek / CISA ICSNPP "
                             "logs run on our OT events. (SigmaHQ's Windows rules need no option: "
                             "their mapping always applies.)")  # fmt: skip


def _warn(message: str) -> None:
    click.secho(f"watchfloor: {message}", fg="yellow", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="watchfloor")
def main() -> None:
    """Watchfloor: passive IT/OT security monitoring.

    Decode industrial protocols from packet captures (never transmitting), store the events in an
    embedded DuckDB file, and see who talks to whom with which operations.

    \b
    Quick start:
      watchfloor ingest plant.pcap --db site.duckdb
      watchfloor talkers --db site.duckdb
      watchfloor events --db site.duckdb --operation write
    """


# -- decode -----------------------------------------------------------------------------------
_TABLE_HEAD = f"{'frame':>7}  {'time':<26} {'source':<21} {'destination':<21} {'protocol':<8} " \
              f"{'role':<8} {'action':<32} detail"  # fmt: skip


def _table_row(ev: Event) -> str:
    src, dst, ot = ev.source, ev.destination, ev.ot
    detail = []
    if ot is not None and ot.action is not None:
        a = ot.action
        if a.target and a.target.unit is not None:
            detail.append(f"unit={a.target.unit}")
        m = ot.modbus
        if m is not None and (m.subfunction_name or m.exception):
            detail.append(m.exception or m.subfunction_name or "")
        s7 = ot.s7comm
        if s7 is not None:
            szl = f"szl={s7.szl_id:#06x}" if s7.szl_id is not None else None
            detail += [x for x in (s7.error, s7.pi_service, ",".join(s7.blocks or ()), s7.filename,
                                   szl, s7.cpu_mode_name, s7.clock) if x]  # fmt: skip
        dnp3, iec, cip = ot.dnp3, ot.iec104, ot.cip
        if dnp3 is not None:
            detail.append(f"{dnp3.source}->{dnp3.destination}")
            if dnp3.objects:
                detail.append("objects=" + ",".join(f"g{o.group}v{o.variation}" for o in dnp3.objects[:6]))
            if dnp3.iin_flags:
                detail.append("iin=" + ",".join(dnp3.iin_flags))
        if iec is not None:
            detail += [x for x in (iec.type_name, iec.cot_name, "negative" if iec.negative else None,
                                   "test" if iec.test else None) if x]  # fmt: skip
        if cip is not None:
            detail += [x for x in (cip.service_name, cip.class_name, cip.symbol, cip.status_name) if x]
            if cip.nested:
                detail.append("nested=" + ",".join(n.service_name for n in cip.nested[:6]))
        if a.address:
            detail.append(f"addr={a.address.start}-{a.address.end}")
        if a.values:
            shown = ",".join(map(str, a.values[:8]))
            detail.append(f"values={shown}{',…' if len(a.values) > 8 else ''}")
    if ot is not None and ot.anomalies:
        detail.append("anomalies=" + ",".join(ot.anomalies))
    if ev.message:
        detail.append(ev.message)
    if ev.asset is not None:
        detail.append(" ".join(f"{k}={v}" for k, v in msgspec.structs.asdict(ev.asset).items()
                               if v is not None))  # fmt: skip
    endpoint = lambda e: (f"{e.ip}:{e.port}" if e.port is not None else e.ip or e.domain or "-") \
        if e is not None else "-"  # noqa: E731
    where = endpoint(src) if src is not None or ev.host is None else ev.host.name or "-"
    kind = ot.protocol if ot else ev.event.module or "-"  # logs: the format they came from
    return (f"{ev.pcap.frame if ev.pcap else '':>7}  {ev.timestamp:<26} {where:<21} "
            f"{endpoint(dst):<21} {kind:<8} "
            f"{(ot.role if ot else None) or '-':<8} {ev.event.action or '-':<32} "
            + " ".join(detail))  # fmt: skip


@main.command()
@CAPTURES
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl",
              show_default=True, help="jsonl: one JSON event per line (the conformance contract).")  # fmt: skip
@click.option("--all", "everything", is_flag=True,
              help="Also print anomaly events and asset observations, as `ingest` stores them "
                   "(by default: one event per decoded application message).")  # fmt: skip
@OBSERVER
@WORKERS
def decode(captures: tuple[Path, ...], fmt: str, everything: bool, observer: str | None,
           workers: int) -> None:  # fmt: skip
    """Decode capture files (pcap, pcapng, optionally gzip) and stream events to stdout."""
    out = sys.stdout.buffer
    damaged = False
    if fmt == "table":
        out.write((_TABLE_HEAD + "\n").encode())
    for path in captures:
        try:
            if fmt == "jsonl":
                out.flush()  # decoder processes write to the same descriptor from here on
                for chunk in decode_jsonl(path, workers=workers, observer=observer,
                                          fd=out.fileno(), messages_only=not everything):  # fmt: skip
                    out.write(chunk)
            else:
                sensor = Sensor(observer=observer, messages_only=not everything)
                for batch in decode_file(path, sensor):
                    out.write("".join(_table_row(ev) + "\n" for ev in batch).encode())
        except CaptureError as e:
            damaged = True
            _warn(str(e))
        except BrokenPipeError:  # `| head` closed the pipe: not an error
            sys.stderr.close()
            return
    out.flush()
    if damaged:
        sys.exit(EXIT_DAMAGED)


# -- ingest -----------------------------------------------------------------------------------
def _progress(chunks: Iterator[bytes], st: Stats, path: Path) -> Iterator[bytes]:
    """Show packets/s on a terminal; stay quiet when stderr is piped."""
    if not sys.stderr.isatty():
        yield from chunks
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    size = path.stat().st_size if path.suffix != ".gz" else None  # compressed: no total
    with open(path, "rb") as f:  # per-packet record overhead: pcap 16 bytes, pcapng EPB ~32
        overhead = 32 if f.read(4) == PCAPNG_SHB else 16
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.fields[packets]:,} packets  {task.fields[rate]:,.0f} packets/s  "
        "{task.fields[events]:,} events"), TimeElapsedColumn())  # fmt: skip
    start = time.perf_counter()
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(path.name, total=size, packets=0, rate=0.0, events=0)
        for chunk in chunks:
            elapsed = max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=st.bytes + overhead * st.packets, events=st.events,
                            packets=st.packets, rate=st.packets / elapsed)  # fmt: skip
            yield chunk


INPUTS = click.argument("inputs", nargs=-1, required=True,
                        type=click.Path(exists=True, path_type=Path))  # fmt: skip


@main.command()
@INPUTS
@DB
@OBSERVER
@WORKERS
@click.option("--force", is_flag=True, help="Ingest again an input already in the store.")
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Sigma rule file or folder to run on the events (repeatable; default: the "
                   "built-in pack in rules/ot). SigmaHQ's Windows rules run unchanged on Windows "
                   "events. Alerts are stored with the events.")
@click.option("--intel", "intel_sources", multiple=True, metavar="FILE|URL",
              help="Threat intelligence to match every event against: a STIX 2.1 bundle, a MISP "
                   "event or feed folder, or a TAXII 2.1 collection URL (repeatable).")
@PIPELINE
@click.option("--no-detect", is_flag=True, help="Store events only; run no rules and no intel.")
@click.option("--mapping", "mappings", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML mapping of a JSON source's fields to ECS (repeatable; see "
                   "telemetry/mapping.py); tried before the built-in formats.")
@click.option("--input-format", "input_format", metavar="NAME",
              help="Read every log input as this format instead of detecting it (e.g. evtx, "
                   "windows-json, cloudtrail; see the list in the error for an unknown input).")
def ingest(inputs: tuple[Path, ...], db: Path, observer: str | None, workers: int,
           force: bool, rule_paths: tuple[Path, ...], intel_sources: tuple[str, ...],
           pipeline: str | None, no_detect: bool, mappings: tuple[Path, ...],
           input_format: str | None) -> None:  # fmt: skip
    """Read captures and logs, run the detection rules, and store events and alerts.

    INPUTS are files, folders (read recursively) and zip / tar / gzip archives. Each file's
    format is detected from its content: pcap / pcapng captures are decoded by the sensor; logs
    (EVTX, Windows events as XML or JSON, ECS JSON, CloudTrail, Azure Activity, Entra ID sign-in
    and audit logs, and --mapping formats) are read by their reader. Corrupt records are counted
    and skipped, the first few named with their position.

    Events are committed as they arrive, so memory stays flat however large the input. An input
    already in the store is skipped; one whose ingest was interrupted is ingested again, replacing
    the events stored the first time."""
    from .telemetry import FORMATS
    from .telemetry.mapping import MappingError
    from .telemetry.mapping import load as load_mapping
    from .telemetry.sources import CAPTURE, describe, expand, identify

    try:
        formats = (*(load_mapping(m) for m in mappings), *FORMATS)
    except MappingError as e:
        raise click.ClickException(str(e)) from None
    forced = None
    if input_format is not None:
        forced = next((f for f in formats if f.name == input_format), None)
        if forced is None:
            raise click.BadParameter(f"unknown format {input_format!r}; known: "
                                     f"{', '.join(f.name for f in formats)}", param_hint="--input-format")
    detector, correlations = (None, []) if no_detect else _detector(rule_paths, intel_sources, pipeline)
    try:
        store = open_store(db)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    damaged = False

    def unreadable(name: str, reason: str) -> None:
        nonlocal damaged
        damaged = True
        _warn(f"{name}: {reason}")

    for inp in expand(inputs, unreadable):
        fmt = identify(inp, formats)
        if fmt == CAPTURE:
            damaged |= _ingest_capture(store, inp, observer, workers, force, detector, correlations)
            continue
        fmt = forced or fmt
        if fmt is None:
            unreadable(inp.name, f"cannot tell the format ({describe(inp.head)}); skipped. Known "
                                 f"formats: pcap, pcapng, {', '.join(f.name for f in formats)} "
                                 "(use --input-format NAME, or --mapping FILE for other JSON)")
            continue
        damaged |= _ingest_log(store, inp, fmt, force, detector, correlations)  # type: ignore[arg-type]
    click.echo(f"{db}: {store.count():,} events stored")
    store.close()
    if damaged:
        sys.exit(EXIT_DAMAGED)


def _ingest_capture(store, inp, observer, workers, force, detector, correlations) -> bool:  # type: ignore[no-untyped-def]
    """One pcap / pcapng input through the sensor; True when it was damaged."""
    import shutil
    import tempfile

    tmp = None
    path = inp.path
    if path is None:  # inside an archive: the sensor reads files
        tmp = tempfile.NamedTemporaryFile(suffix=".pcap", delete=False)
        with tmp:
            shutil.copyfileobj(inp.stream, tmp, 1 << 20)
        path = Path(tmp.name)
    try:
        return _ingest_capture_file(store, path, inp.name, observer, workers, force, detector,
                                    correlations)  # fmt: skip
    finally:
        if tmp is not None:
            os.unlink(tmp.name)


def _ingest_capture_file(store, path: Path, name: str, observer, workers, force, detector,  # type: ignore[no-untyped-def]
                         correlations) -> bool:  # fmt: skip
    source_id = capture_id(path)
    known = store.source(source_id)
    if known is not None and known.state != "ingesting" and not force:
        _warn(f"{name}: already ingested as {known.file} ({known.events:,} events); "
              "skipped (use --force to ingest again)")  # fmt: skip
        return False
    st = Stats()
    start = time.perf_counter()
    error = None
    store.start_source(source_id, name)
    chunks = decode_jsonl(path, workers=workers, observer=observer, stats=st,
                          transform=store.prepare, detector=detector)  # fmt: skip
    try:
        for chunk in _progress(chunks, st, path):
            store.append_prepared(chunk)
    except CaptureError as e:
        error = e
    if correlations:
        found = _correlate(store, source_id, correlations)
        st.events += found
        st.alerts += found
    store.finish_source(Source(source_id, name, st.events, st.packets,
                               "complete" if error is None else "damaged"))  # fmt: skip
    elapsed = time.perf_counter() - start
    if error is not None:
        _warn(f"{name}: {error}")
    protocols = ", ".join(f"{p} {n:,}" for p, n in sorted(st.protocols.items())) or "none"
    flows = f"{st.flows:,} flow" + ("" if st.flows == 1 else "s")
    alerts = "" if detector is None else f", {st.alerts:,} alert" + ("" if st.alerts == 1 else "s")
    click.echo(f"{name}: {st.packets:,} packets, {flows}, {st.events - st.alerts - st.signals:,} events "
               f"({protocols}){alerts} in {elapsed:.1f} s "
               f"({st.packets / max(elapsed, 1e-9):,.0f} packets/s)")
    return error is not None


def _ingest_log(store, inp, fmt, force, detector, correlations) -> bool:  # type: ignore[no-untyped-def]
    """One log input through its reader, detection and the store; True when it was damaged."""
    from .telemetry.sources import ReadStats, read_events

    source_id = inp.id
    known = store.source(source_id)
    if known is not None and known.state != "ingesting" and not force:
        _warn(f"{inp.name}: already ingested as {known.file} ({known.events:,} events); "
              "skipped (use --force to ingest again)")  # fmt: skip
        return False
    rs = ReadStats()
    start = time.perf_counter()
    store.start_source(source_id, inp.name)
    alerts = 0
    for batch in _log_progress(read_events(inp, fmt, rs), inp, rs):
        found = detector(batch) if detector is not None else []
        alerts += sum(1 for a in found if a.event.kind == "alert")
        store.append(batch + found if found else batch)
    if correlations:
        alerts += _correlate(store, source_id, correlations)
    store.finish_source(Source(source_id, inp.name, rs.events + alerts, 0,
                               "damaged" if rs.corrupt else "complete"))  # fmt: skip
    elapsed = time.perf_counter() - start
    shown = "" if detector is None else f", {alerts:,} alert" + ("" if alerts == 1 else "s")
    corrupt = f", {rs.corrupt:,} corrupt record(s) skipped" if rs.corrupt else ""
    click.echo(f"{inp.name}: {fmt.name}, {rs.events:,} events{shown}{corrupt} in {elapsed:.1f} s "
               f"({rs.events / max(elapsed, 1e-9):,.0f} events/s)")
    for c in rs.first_corrupt:
        _warn(f"{inp.name}: corrupt at {c.position}: {c.reason}")
    if rs.corrupt > len(rs.first_corrupt):
        _warn(f"{inp.name}: ... and {rs.corrupt - len(rs.first_corrupt):,} more corrupt record(s)")
    return rs.corrupt > 0


def _log_progress(batches, inp, rs):  # type: ignore[no-untyped-def]
    """Show events/s and bytes read on a terminal; stay quiet when stderr is piped."""
    if not sys.stderr.isatty():
        yield from batches
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.fields[events]:,} events  {task.fields[rate]:,.0f} events/s  "
        "{task.fields[corrupt]:,} corrupt"), TimeElapsedColumn())  # fmt: skip
    start = time.perf_counter()
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(Path(inp.name).name, total=inp.size, events=0, rate=0.0, corrupt=0)
        for batch in batches:
            elapsed = max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=inp.position, events=rs.events, corrupt=rs.corrupt,
                            rate=rs.events / elapsed)  # fmt: skip
            yield batch


def _detector(rule_paths: tuple[Path, ...], intel_sources: tuple[str, ...] = (),  # type: ignore[no-untyped-def]
              pipeline: str | None = None):
    """Rules from `rule_paths` or the built-in pack, and intel: (one callable on event batches or
    None, the correlation rules). Rule failures are warned about, not fatal."""
    from .detect.alerts import Detector
    from .detect.pack import pack_rules

    detectors = []
    correlations = []
    paths = rule_paths or tuple(pack_rules())
    if not paths:
        _warn("no rules given and the built-in pack is not installed: no rules run")
    else:
        ruleset = _load_rules(paths, pipeline)
        if ruleset.failures:
            _warn(f"{len(ruleset.failures):,} rule(s) failed to load and are skipped, e.g. "
                  f"{ruleset.failures[0]} (see `watchfloor rules validate`)")  # fmt: skip
        detectors.append(Detector(ruleset.rules, ruleset.signals))
        correlations = ruleset.correlations
    if intel_sources:
        detectors.append(_intel(intel_sources))
    if not detectors:
        return None, correlations
    if len(detectors) == 1:
        return detectors[0], correlations
    return (lambda batch: [alert for d in detectors for alert in d(batch)]), correlations


def _correlate(store, source_id: str, correlations) -> int:  # type: ignore[no-untyped-def]
    """Run the correlation rules over one capture's stored matches; store and count their alerts."""
    from .detect.correlate import Correlator

    rules = tuple(sorted({r for c in correlations for r in c.rules}))
    correlator = Correlator(correlations)
    alerts = [a for m in store.events(EventFilter(source=source_id, rules=rules)) for a in correlator.feed(m)]
    store.append(alerts)
    return len(alerts)


def _load_intel(sources: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from .detect.intel import IntelError, load

    try:
        return load(sources)
    except IntelError as e:
        raise click.ClickException(str(e)) from None


def _intel(sources: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from .detect.intel import IntelMatcher

    loaded = _load_intel(sources)
    if loaded.skipped:
        _warn(f"{len(loaded.skipped):,} indicator(s) skipped, e.g. {loaded.skipped[0]} "
              "(see `watchfloor intel check`)")  # fmt: skip
    click.echo(f"threat intelligence: {len(loaded.indicators):,} indicator(s) from "
               f"{len(sources)} source(s)", err=True)  # fmt: skip
    return IntelMatcher(loaded.indicators)


# -- queries ----------------------------------------------------------------------------------
def _iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r} (e.g. 2024-05-01T08:00:00Z)")
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).isoformat()


def _open_read(db: Path):  # type: ignore[no-untyped-def]
    try:
        return open_store(db, read_only=True)
    except StoreError as e:
        raise click.ClickException(str(e)) from None


@main.command()
@DB
@click.option("--protocol", help="ot.protocol, e.g. modbus.")
@click.option("--operation", type=click.Choice(["read", "write", "control", "program", "config",
              "diagnostic", "firmware", "discovery", "session", "other"]),
              help="ot.action.operation.")  # fmt: skip
@click.option("--action", help="event.action, e.g. write_multiple_registers or anomaly.")
@click.option("--kind", type=click.Choice(["event", "asset", "alert"]),
              help="event.kind (default: events and assets; alerts are listed by `alerts`).")
@click.option("--ip", help="Source, destination or asset IP address.")
@click.option("--anomaly", help="Events carrying this anomaly code, e.g. unanswered_request.")
@click.option("--since", metavar="TIME", callback=_iso_time,
              help="ISO 8601 time, e.g. 2024-05-01T08:00:00Z (UTC unless an offset is given).")
@click.option("--until", metavar="TIME", callback=_iso_time, help="ISO 8601 time.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many events.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)  # fmt: skip
def events(db: Path, fmt: str, **filters: object) -> None:
    """List stored events, oldest first."""
    store = _open_read(db)
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer
    if fmt == "table":
        out.write((_TABLE_HEAD + "\n").encode())
    shown = 0
    try:
        for doc in store.events(EventFilter(**filters)):  # type: ignore[arg-type]
            shown += 1
            if fmt == "jsonl":
                out.write(encoder.encode(doc) + b"\n")
            else:
                out.write((_table_row(msgspec.convert(doc, Event)) + "\n").encode())
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    except BrokenPipeError:
        sys.stderr.close()
        return
    if not shown:
        click.echo("no events match", err=True)


_ALERT_HEAD = f"{'time':<26} {'severity':<13} {'source':<21} {'destination':<21} {'protocol':<8} " \
              f"{'ATT&CK':<12} rule"  # fmt: skip
_SEVERITY_NAMES = {v: k for k, v in SEVERITY.items()}


def _alert_row(ev: Event) -> str:
    src = f"{ev.source.ip}:{ev.source.port}" if ev.source and ev.source.port else (
        ev.source.ip or ev.source.domain or "-") if ev.source else ev.host.name or "-" if ev.host else "-"
    dst = f"{ev.destination.ip}:{ev.destination.port}" if ev.destination and ev.destination.port else (
        ev.destination.ip or ev.destination.domain or "-") if ev.destination else "-"
    protocol = ev.ot.protocol if ev.ot else "windows" if ev.winlog else (
        ev.cloud.provider or "-") if ev.cloud else "-"
    techs = ",".join(ev.threat.technique.id) if ev.threat and ev.threat.technique else "-"
    return (f"{ev.timestamp:<26} {_SEVERITY_NAMES.get(ev.event.severity or 0, '-'):<13} {src:<21} "
            f"{dst:<21} {protocol:<8} {techs:<12} "
            f"{ev.rule.name if ev.rule else '-'}")  # fmt: skip


@main.command()
@DB
@click.option("--rule", help="Alerts of this rule id.")
@click.option("--severity", type=click.Choice(list(SEVERITY)), help="At least this severe.")
@click.option("--protocol", help="ot.protocol, e.g. modbus.")
@click.option("--ip", help="Source or destination IP address.")
@click.option("--since", metavar="TIME", callback=_iso_time,
              help="ISO 8601 time, e.g. 2024-05-01T08:00:00Z.")  # fmt: skip
@click.option("--until", metavar="TIME", callback=_iso_time, help="ISO 8601 time.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many alerts.")
@click.option("--priority", "priorities", multiple=True, type=click.Choice(["P1", "P2", "P3", "P4"]),
              help="Only alerts triaged at these priorities (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)  # fmt: skip
def alerts(db: Path, fmt: str, severity: str | None, rule: str | None,
           priorities: tuple[str, ...], **filters: object) -> None:  # fmt: skip
    """List stored alerts, oldest first (jsonl: one alert record per line). After `watchfloor
    triage`, each carries its priority, impact and reasons."""
    store = _open_read(db)
    flt = EventFilter(kind="alert", min_severity=SEVERITY[severity] if severity else None,
                      rules=(rule,) if rule else None, **filters)  # type: ignore[arg-type]  # fmt: skip
    triaged = {k: msgspec.json.decode(v) for k, v in store.triage().items()}
    if priorities and not triaged:
        raise click.ClickException("--priority needs a triaged store: run `watchfloor triage` first")
    out = sys.stdout.buffer
    if fmt == "table":
        out.write(((f"{'prio':<5}{'state':<11}" if triaged else "") + _ALERT_HEAD + "\n").encode())
    shown = 0
    try:
        for doc in store.events(flt):
            tri = triaged.get(doc["event"]["id"])
            if priorities and (tri is None or tri["priority"] not in priorities):
                continue
            shown += 1
            if fmt == "jsonl":
                out.write(msgspec.json.encode({**doc, "triage": tri} if tri else doc) + b"\n")
                continue
            state = ""
            if triaged:
                state = "suppressed" if tri and tri.get("suppressed_by") else \
                    "duplicate" if tri and tri.get("duplicate_of") else "open"  # fmt: skip
                state = f"{(tri or {}).get('priority', '-'):<5}{state:<11}"
            out.write((state + _alert_row(msgspec.convert(doc, Event)) + "\n").encode())
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    except BrokenPipeError:
        sys.stderr.close()
        return
    if not shown:
        click.echo("no alerts match", err=True)


@main.command()
@DB
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)  # fmt: skip
def talkers(db: Path, limit: int, fmt: str) -> None:
    """Who talks to whom: initiator → responder, protocol, operations, message counts."""
    store = _open_read(db)
    rows = store.talkers(limit)
    if fmt == "jsonl":
        for t in rows:
            click.echo(msgspec.json.encode(t).decode())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Talkers in {db}", title_justify="left")
    for col in ("initiator", "responder", "protocol", "requests", "operations", "first seen",
                "last seen"):  # fmt: skip
        table.add_column(col, justify="right" if col == "requests" else "left")
    for t in rows:
        table.add_row(t.initiator, t.responder, t.protocol, f"{t.messages:,}",
                      ", ".join(t.operations), t.first_seen, t.last_seen)  # fmt: skip
    # Piped output has no width to fit; keep rows whole rather than wrap addresses.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if not rows:
        click.echo("no requests stored yet", err=True)


@main.command()
def schema() -> None:
    """Print the event JSON Schema."""
    from .schema.export import json_schema_text  # imports pyarrow (~35 ms): not for decode

    click.echo(json_schema_text(), nl=False)


# -- rules ------------------------------------------------------------------------------------
RULE_PATHS = click.argument("paths", nargs=-1, required=True,
                            type=click.Path(exists=True, path_type=Path))  # fmt: skip


@main.group()
def rules() -> None:
    """Sigma rules: check and list rule files and folders (e.g. a SigmaHQ checkout)."""


def _load_rules(paths: tuple[Path, ...], pipeline: str | None = None):  # type: ignore[no-untyped-def]
    from .detect.pipelines import PIPELINES
    from .detect.rules import load, rule_files

    # SigmaHQ's Windows rules always run on our Windows events (the pipeline touches only
    # product: windows rules); another pipeline is added on request.
    mapping = PIPELINES["windows"]()
    if pipeline:
        mapping = mapping + PIPELINES[pipeline]()
    if not sys.stderr.isatty():
        return load(paths, mapping)
    files = sum(1 for _ in rule_files(paths))
    with click.progressbar(length=files, label=f"loading {files:,} rule file(s)", file=sys.stderr) as bar:
        return load(paths, mapping, progress=lambda _: bar.update(1))


@rules.command("validate")
@RULE_PATHS
@PIPELINE
def rules_validate(paths: tuple[Path, ...], pipeline: str | None) -> None:
    """Parse, validate and compile every rule; name each one that fails, with the reason.

    Exit status 1 when any rule fails (the others would still run)."""
    ruleset = _load_rules(paths, pipeline)
    for f in ruleset.failures:
        click.echo(f"{f.path}: {f.reason}")
    click.echo(f"{len(ruleset.rules):,} rule(s) and {len(ruleset.correlations):,} correlation(s) ready, "
               f"{len(ruleset.failures):,} failed", err=True)  # fmt: skip
    sys.exit(1 if ruleset.failures else 0)


@rules.command("list")
@RULE_PATHS
@PIPELINE
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)  # fmt: skip
def rules_list(paths: tuple[Path, ...], pipeline: str | None, fmt: str) -> None:
    """Rules that load: id, level, log source, title (failures are counted on stderr)."""
    ruleset = _load_rules(paths, pipeline)
    failures = ruleset.failures
    for r in ruleset.rules:
        category, product, service = r.logsource
        if fmt == "jsonl":
            click.echo(msgspec.json.encode({
                "id": r.id, "title": r.title, "level": r.level, "tags": list(r.tags), "path": r.path,
                "logsource": {"category": category, "product": product, "service": service},
            }).decode())
        else:
            source = "/".join(x or "*" for x in (product, service, category))
            click.echo(f"{r.id:<36}  {r.level or '-':<13} {source:<32} {r.title}")
    if failures:
        _warn(f"{len(failures):,} rule file(s) failed to load; see `watchfloor rules validate`")


# -- intel ------------------------------------------------------------------------------------
@main.group()
def intel() -> None:
    """Threat intelligence: STIX 2.1 bundles, TAXII 2.1 collections, MISP events and feeds."""


@intel.command("check")
@click.argument("sources", nargs=-1, required=True, metavar="FILE|URL...")
def intel_check(sources: tuple[str, ...]) -> None:
    """Load indicators and report what will be matched (per kind) and what was skipped, and why."""
    loaded = _load_intel(sources)
    kinds: dict[str, int] = {}
    for ind in loaded.indicators:
        kinds[ind.kind] = kinds.get(ind.kind, 0) + 1
    for kind, n in sorted(kinds.items()):
        click.echo(f"{kind:<12} {n:>8,}")
    for reason in loaded.skipped:
        click.echo(f"skipped: {reason}")
    click.echo(f"{len(loaded.indicators):,} indicator(s) usable, {len(loaded.skipped):,} skipped",
               err=True)  # fmt: skip


@rules.command("test")
@click.argument("rule_path", type=click.Path(exists=True, path_type=Path))
@INPUTS
@PIPELINE
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)  # fmt: skip
def rules_test(rule_path: Path, inputs: tuple[Path, ...], pipeline: str | None, fmt: str) -> None:
    """Run one rule file (or a folder of rules) over inputs and print the alerts; nothing is
    stored. Inputs are captures or logs of any format `ingest` reads (files, folders,
    archives). Correlation rules in the folder run too."""
    from .detect.alerts import Detector
    from .detect.correlate import Correlator
    from .telemetry.sources import CAPTURE, ReadStats, describe, expand, identify, read_events

    ruleset = _load_rules((rule_path,), pipeline)
    for f in ruleset.failures:
        _warn(f"{f.path}: {f.reason}")
    if not ruleset.rules:
        raise click.ClickException(f"{rule_path}: no rule loaded")
    detector = Detector(ruleset.rules, ruleset.signals)
    referenced = {r for c in ruleset.correlations for r in c.rules}
    out = sys.stdout.buffer
    if fmt == "table":
        out.write((_ALERT_HEAD + "\n").encode())
    damaged, shown = False, 0

    def unreadable(name: str, reason: str) -> None:
        nonlocal damaged
        damaged = True
        _warn(f"{name}: {reason}")

    for inp in expand(inputs, unreadable):
        found: list[Event] = []
        kind = identify(inp)
        if kind == CAPTURE:
            if inp.path is None:
                unreadable(inp.name, "a capture inside an archive: extract it first for `rules test`")
                continue
            sensor = Sensor(detector=detector)
            try:
                for batch in decode_file(inp.path, sensor):
                    found += (ev for ev in batch if ev.event.kind in ("alert", "signal"))
            except CaptureError as e:
                unreadable(inp.name, str(e))
        elif kind is None:
            unreadable(inp.name, f"cannot tell the format ({describe(inp.head)}); skipped")
            continue
        else:
            rs = ReadStats()
            for batch in read_events(inp, kind, rs):  # type: ignore[arg-type]
                found += detector(batch)
            for c in rs.first_corrupt:
                unreadable(inp.name, f"corrupt at {c.position}: {c.reason}")
        if ruleset.correlations:
            correlator = Correlator(ruleset.correlations)
            matches = sorted((m for m in found if m.rule and m.rule.id in referenced),
                             key=lambda m: m.timestamp)  # fmt: skip
            found += [a for m in matches for a in correlator.feed(msgspec.to_builtins(m))]
        for ev in sorted((e for e in found if e.event.kind == "alert"), key=lambda e: e.timestamp):
            shown += 1
            out.write(msgspec.json.encode(ev) + b"\n" if fmt == "jsonl" else (_alert_row(ev) + "\n").encode())
    out.flush()
    click.echo(f"{shown:,} alert(s) from {len(ruleset.rules):,} rule(s) and "
               f"{len(ruleset.correlations):,} correlation(s)", err=True)  # fmt: skip
    if damaged:
        sys.exit(EXIT_DAMAGED)


# -- site -------------------------------------------------------------------------------------
@main.group()
def site() -> None:
    """The site model: zones, Purdue levels, known assets, conduits, maintenance windows, schedules."""


@site.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def site_validate(file: Path) -> None:
    """Check a site file; print each problem as FILE:LINE:COLUMN: where: what.

    Exit status 1 when the file has problems (none of it is used then)."""
    from .site import SiteError, load_site

    try:
        model = load_site(file)
    except SiteError as e:
        for p in e.problems:
            click.echo(p.format(str(file)))
        click.echo(f"{file}: {len(e.problems)} problem(s)", err=True)
        sys.exit(1)
    for line in model.summary() or ["no sites declared"]:
        click.echo(line)
    click.echo(f"{file}: valid", err=True)


from . import cli_incidents  # noqa: E402,F401  (registers triage, incidents, incident)
