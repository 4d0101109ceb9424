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
        mms, goose, sv = ot.mms, ot.goose, ot.sv
        if mms is not None:
            names = [f"{n.domain}/{n.item}" if n.domain else n.item
                     for n in [*(mms.variables or ())[:4], *([mms.variable_list] if mms.variable_list else [])]]
            detail += [x for x in (",".join(names), mms.domain if not names else None, mms.file_name,
                                   mms.error_class_name, mms.reject_type_name) if x]  # fmt: skip
        if goose is not None:
            detail.append(f"{goose.gocb_ref} st={goose.st_num} sq={goose.sq_num}")
        if sv is not None:
            detail.append(f"{sv.sv_id} asdus={sv.asdus} lost={sv.samples_lost}")
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
    kind = ot.protocol if ot else ev.event.module or (ev.network and ev.network.protocol) or "-"  # logs: their format
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
@click.option("--site", "site_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="WATCHFLOOR_SITE", help="Site model: declared roles are never reported as changed.")
def ingest(inputs: tuple[Path, ...], db: Path, observer: str | None, workers: int,
           force: bool, rule_paths: tuple[Path, ...], intel_sources: tuple[str, ...],
           pipeline: str | None, no_detect: bool, mappings: tuple[Path, ...],
           input_format: str | None, site_file: Path | None) -> None:  # fmt: skip
    """Read captures and logs, run the detection rules, and store events and alerts.

    INPUTS are files, folders (read recursively) and zip / tar / gzip archives. Each file's
    format is detected from its content: pcap / pcapng captures are decoded by the sensor; logs
    (EVTX, Windows events as XML or JSON, ECS JSON, CloudTrail, Azure Activity, Entra ID sign-in
    and audit logs, and --mapping formats) are read by their reader. Corrupt records are counted
    and skipped, the first few named with their position.

    Events are committed as they arrive, so memory stays flat however large the input. An input
    already in the store is skipped; one whose ingest was interrupted is ingested again, replacing
    the events stored the first time.

    After each capture the asset inventory is compared without and with it: new assets, a MAC
    with a new IP, identity (firmware!) and role changes are stored as events (dataset
    `inventory`) and run through the rules."""
    site_model = _site(site_file)
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
            damaged |= _ingest_capture(store, inp, observer, workers, force, detector, correlations,
                                      site_model, monitor=not no_detect)
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


def _ingest_capture(store, inp, observer, workers, force, detector, correlations,  # type: ignore[no-untyped-def]
                    site_model=None, monitor: bool = True) -> bool:
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
                                    correlations, site_model, monitor)  # fmt: skip
    finally:
        if tmp is not None:
            os.unlink(tmp.name)


def _ingest_capture_file(store, path: Path, name: str, observer, workers, force, detector,  # type: ignore[no-untyped-def]
                         correlations, site_model=None, monitor: bool = True) -> bool:  # fmt: skip
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
    inventory_note = _inventory_changes(store, source_id, site_model, detector, st)
    if monitor:  # monitoring runs once a baseline is active (learning mode until then)
        found = len(_baseline_monitor(store, source_id, site_model=site_model))
        st.events += found
        st.alerts += found
    store.finish_source(Source(source_id, name, st.events, st.packets,
                               "complete" if error is None else "damaged"))  # fmt: skip
    elapsed = time.perf_counter() - start
    if error is not None:
        _warn(f"{name}: {str(error).replace(str(path) + ': ', '')}")
    protocols = ", ".join(f"{p} {n:,}" for p, n in sorted(st.protocols.items())) or "none"
    flows = f"{st.flows:,} flow" + ("" if st.flows == 1 else "s")
    alerts = "" if detector is None else f", {st.alerts:,} alert" + ("" if st.alerts == 1 else "s")
    click.echo(f"{name}: {st.packets:,} packets, {flows}, {st.events - st.alerts - st.signals:,} events "
               f"({protocols}){alerts} in {elapsed:.1f} s "
               f"({st.packets / max(elapsed, 1e-9):,.0f} packets/s){inventory_note}")
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


def _inventory_changes(store, source_id: str, site_model, detector, st: Stats) -> str:  # type: ignore[no-untyped-def]
    """Store the inventory changes one capture brought (and the alerts rules raise on them)."""
    from .inventory import build, changes

    try:
        found = changes(build(store, site_model, exclude_source=source_id), build(store, site_model),
                        source_id)  # fmt: skip
    except StoreError as e:
        _warn(f"inventory not updated: {e}")
        return ""
    alerts = detector(found) if detector is not None and found else []
    store.append(found + alerts)
    st.events += len(found) + len(alerts)
    st.alerts += len(alerts)
    if not found:
        return ""
    kinds: dict[str, int] = {}
    for ev in found:
        kinds[ev.event.action or ""] = kinds.get(ev.event.action or "", 0) + 1
    return "; inventory: " + ", ".join(f"{k.removeprefix('asset_').replace('_', ' ')} {n:,}"
                                       for k, n in sorted(kinds.items()))  # fmt: skip


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


#: The alert output contract: `alerts --format jsonl` always carries these keys (null where the
#: fact does not exist, e.g. the destination of an alert about one host).
ALERT_CONTRACT = ("@timestamp", "rule.id", "rule.name", "event.severity", "source.ip",
                  "destination.ip", "ot.protocol", "threat.technique.id", "message",
                  "related.events")  # fmt: skip


def _contract(doc: dict) -> dict:
    for path in ALERT_CONTRACT:
        *parents, leaf = path.split(".")
        node = doc
        for p in parents:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        if leaf not in node:
            node[leaf] = [] if path in ("threat.technique.id", "related.events") else None
    return doc


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
                out.write(msgspec.json.encode({**_contract(doc), "triage": tri} if tri else _contract(doc)) + b"\n")
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


@main.command()
@click.argument("action", type=click.Choice(["status", "build", "clean"]), default="status")
@click.option("--force", is_flag=True, help="Build even when the compiled modules are up to date.")
def native(action: str, force: bool) -> None:
    """The compiled per-packet modules (mypyc): say whether they are in use, build or remove them.

    `build` needs the `native` extra and a C compiler; scripts/demo and scripts/test run it."""
    from . import native as nat

    if action == "status":
        click.echo(f"compiled modules: {nat.status()}")
    elif action == "clean":
        click.echo(f"removed {nat.clean()} compiled files", err=True)
    elif force or nat.status() != "in use":
        try:
            nat.build()
        except nat.BuildError as e:
            raise click.ClickException(str(e)) from e
    else:
        click.echo("the compiled modules are up to date and in use", err=True)


# -- rules ------------------------------------------------------------------------------------
RULE_PATHS = click.argument("paths", nargs=-1, required=True,
                            type=click.Path(exists=True, path_type=Path))  # fmt: skip


@main.group()
def rules() -> None:
    """Sigma rules: check and list rule files and folders (e.g. a SigmaHQ checkout)."""


def _load_rules(paths: tuple[Path, ...], pipeline: str | None = None):  # type: ignore[no-untyped-def]
    from .detect.pipelines import PIPELINES
    from .detect.rules import load, rule_files

    # SigmaHQ's Windows and cloud rules always run on our Windows and cloud events (these
    # pipelines touch only product windows / aws / azure rules), its network rules on events from
    # Zeek/Suricata logs (product zeek, categories dns and proxy); another is added on request.
    mapping = PIPELINES["windows"]() + PIPELINES["cloud"]() + PIPELINES["network"]()
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


# -- inventory --------------------------------------------------------------------------------
SITE = click.option("--site", "site_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    envvar="WATCHFLOOR_SITE", show_envvar=True,
                    help="Site model (YAML): declared assets, zones, Purdue levels, conduits.")  # fmt: skip


def _site(site_file: Path | None):  # type: ignore[no-untyped-def]
    from .site import SiteError, SiteModel, load_site

    if site_file is None:
        return SiteModel()
    try:
        return load_site(site_file)
    except SiteError as e:
        raise click.ClickException(f"{site_file}: not usable (see `watchfloor site validate`):\n{e}") from None


def _inventory(db: Path, site_file: Path | None):  # type: ignore[no-untyped-def]
    from .inventory import build

    store = _open_read(db)
    try:
        return store, build(store, _site(site_file))
    except StoreError as e:
        raise click.ClickException(str(e)) from None


ASSET_COLUMNS = ("ip", "mac", "name", "vendor", "product", "firmware", "serial", "role",
                 "role_confidence", "purdue_level", "zone", "protocols", "first_seen", "last_seen",
                 "sources")  # fmt: skip


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@main.command()
@DB
@SITE
@click.option("--role", help="Only assets with this role, e.g. controller.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
              show_default=True, help="jsonl: every field, identity facts with their sources.")  # fmt: skip
def assets(db: Path, site_file: Path | None, role: str | None, fmt: str) -> None:
    """The asset inventory: one record per device seen in the stored traffic (or declared and
    identified), with identity, role (and how sure), Purdue level, zone and protocols."""
    _store, inv = _inventory(db, site_file)
    rows = [a for a in inv.assets.values() if role is None or a.role == role]
    if fmt == "jsonl":
        for a in rows:
            click.echo(msgspec.json.encode(a).decode())
    elif fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(ASSET_COLUMNS)
        for a in rows:
            w.writerow([_cell(getattr(a, c)) for c in ASSET_COLUMNS])
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Assets in {db}", title_justify="left")
        for col in ("ip", "mac", "name", "vendor", "product", "firmware", "role", "purdue", "zone",
                    "protocols", "last seen"):  # fmt: skip
            table.add_column(col)
        for a in rows:
            purdue = "" if a.purdue_level is None else (
                f"{a.purdue_level:g}" + ("" if a.purdue_source == "declared" else "?"))
            zone = (a.zone or "") + ("?" if a.zone_source == "inferred" else "")
            rolecell = a.role + ("" if a.role_source == "declared" else f" {a.role_confidence:.2f}")
            table.add_row(a.ip or "", a.mac or "", a.name or "", a.vendor or "", a.product or "",
                          a.firmware or "", rolecell, purdue, zone, ", ".join(a.protocols),
                          (a.last_seen or "")[:19])  # fmt: skip
        Console(width=None if sys.stdout.isatty() else 220).print(table)
        if rows:
            click.echo("? = inferred (not declared in a site file); role: confidence 0–1", err=True)
    if not rows:
        click.echo("no assets match", err=True)


@main.group()
def asset() -> None:
    """One asset in detail."""


@asset.command("show")
@click.argument("what", metavar="IP|MAC|NAME")
@DB
@SITE
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def asset_show(what: str, db: Path, site_file: Path | None, fmt: str) -> None:
    """Identity (each fact with its source and time), role and why, zone, who it talks to, and
    its change history."""
    from .inventory import history

    store, inv = _inventory(db, site_file)
    a = inv.find(what)
    if a is None:
        raise click.ClickException(f"no asset {what!r} in {db} (see `watchfloor assets`)")
    edges = [e for e in inv.edges if a.ip in (e.initiator, e.responder)]
    changes = history(store, a)
    if fmt == "json":
        click.echo(msgspec.json.encode({"asset": a, "edges": edges, "history": changes}).decode())
        return
    click.echo(f"{a.label}" + (f"  ({a.ip})" if a.name and a.ip else ""))
    for label, value in (("MAC", ", ".join(a.macs) + (f"  [{a.mac_vendor}]" if a.mac_vendor else "")),
                         ("host names", ", ".join(a.hostnames)),
                         ("addresses", ", ".join(a.ips) if len(a.ips) > 1 else None),
                         ("role", f"{a.role} ({a.role_source}, confidence {a.role_confidence:.2f})"),
                         ("purdue level", None if a.purdue_level is None else f"{a.purdue_level:g} ({a.purdue_source})"),
                         ("zone", a.zone and f"{a.zone} ({a.zone_source})"), ("site", a.site),
                         ("criticality", a.criticality), ("safety function", a.safety_function),
                         ("process", a.process), ("owner", a.owner),
                         ("first seen", a.first_seen), ("last seen", a.last_seen)):  # fmt: skip
        if value:
            click.echo(f"  {label + ':':<17}{value}")
    click.echo("  why this role:")
    for r in a.role_reasons:
        click.echo(f"    - {r}")
    if a.identity:
        click.echo("  identity:")
        for name, facts in a.identity.items():
            for f in facts:
                click.echo(f"    {name:<13}{f.value:<28} {f.source:<28} {f.first_seen[:19]} … "
                           f"{f.last_seen[:19]} ×{f.count}")  # fmt: skip
    if a.modules:
        click.echo("  other devices answering at this address (by serial number):")
        for m in a.modules:
            click.echo(f"    {m.serial:<13}{m.vendor or '':<28} {m.product or '':<28} firmware {m.firmware or '?'}")
    if edges:
        click.echo("  talks to:")
        for e in edges[:50]:
            arrow = f"→ {e.responder}" if e.initiator == a.ip else f"← {e.initiator}"
            ops = ", ".join(f"{k} {v:,}" for k, v in sorted(e.operations.items(), key=lambda kv: -kv[1]))
            flag = "" if e.allowed is not False else "  NOT ALLOWED by the conduits"
            click.echo(f"    {arrow:<20} {e.protocol:<10} {e.messages:>8,} msgs {e.packets:>9,} pkts "
                       f"{e.bytes:>11,} B  {ops}{flag}")  # fmt: skip
        if len(edges) > 50:
            click.echo(f"    … and {len(edges) - 50:,} more (--format json lists all)")
    click.echo("  history:" if changes else "  history: no changes recorded")
    for doc in changes:
        click.echo(f"    {doc['@timestamp'][:19]}  {doc['event']['action']:<24} {doc.get('message', '')}")


# -- map --------------------------------------------------------------------------------------
@main.command("map")
@DB
@SITE
@click.option("--format", "fmt", type=click.Choice(["json", "graphml", "dot", "svg", "png"]),
              default="svg", show_default=True,
              help="svg/png are drawn by Graphviz (`dot` must be installed: apt-get install graphviz).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (default: stdout).")
@click.option("--max-nodes", type=click.IntRange(min=2), default=60, show_default=True,
              help="Beyond this, hosts that are not OT assets are merged per zone (then all, per zone).")
@click.option("--no-aggregate", is_flag=True, help="Draw every host, however many.")
def map_(db: Path, site_file: Path | None, fmt: str, output: Path | None, max_nodes: int,
         no_aggregate: bool) -> None:  # fmt: skip
    """The network map: zones as clusters, Purdue levels as rows, initiator → responder edges
    styled by protocol, controllers and safety systems marked; edges that no declared conduit
    allows are red."""
    from .netmap import build_map, render

    _store, inv = _inventory(db, site_file)
    m = build_map(inv, max_nodes=max_nodes, aggregate=not no_aggregate)
    try:
        data = render(m, fmt, title=f"Watchfloor network map · {db.name}")
    except Exception as e:  # graphviz.ExecutableNotFound, CalledProcessError
        if type(e).__name__ in ("ExecutableNotFound", "CalledProcessError"):
            raise click.ClickException(f"cannot draw {fmt}: {e} (apt-get install graphviz, or use "
                                       "--format json|graphml|dot)") from None
        raise
    if output is not None:
        output.write_bytes(data)
        click.echo(f"{output}: {len(m.nodes):,} nodes, {len(m.edges):,} edges"
                   + (f" ({m.notes[0]})" if m.notes else ""), err=True)  # fmt: skip
    else:
        sys.stdout.buffer.write(data + (b"\n" if fmt == "json" else b""))
    forbidden = sum(1 for e in m.edges if e.allowed is False)
    if forbidden:
        _warn(f"{forbidden:,} edge(s) not allowed by any declared conduit")


# -- baseline ---------------------------------------------------------------------------------
def _baseline_monitor(store, source_id: str | None = None, site_model=None, **where: str | None) -> list:  # type: ignore[no-untyped-def]
    from .baseline.service import monitor

    return monitor(store, source=source_id, site_model=site_model or None, **where)


SITE_FILE = click.option("--site-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="Site model (YAML, see `watchfloor site validate`): learn only the "
                              "site's traffic, name its declared assets in alerts.")  # fmt: skip


def _open_write(db: Path):  # type: ignore[no-untyped-def]
    try:
        return open_store(db)
    except StoreError as e:
        raise click.ClickException(str(e)) from None


@main.group()
def baseline() -> None:
    """Behavioural baseline: learn normal OT behaviour from stored events, then monitor deviations.

    \b
    A site is in learning mode until a version is learned; from then on every `ingest` runs the
    active version over the new events and stores explained deviation alerts.
      watchfloor baseline learn --db site.duckdb
      watchfloor baseline show --db site.duckdb
      watchfloor alerts --db site.duckdb --rule baseline.new_function
      watchfloor baseline approve ALERT_ID --db site.duckdb
      watchfloor baseline diff 1 2 --db site.duckdb
    """


@baseline.command("learn")
@DB
@click.option("--site", default="default", show_default=True,
              help="Site the baseline is for (a site id of --site-file when given).")
@click.option("--from", "since", metavar="TIME", callback=_iso_time, help="Learn from events at or after this time.")
@click.option("--until", metavar="TIME", callback=_iso_time, help="Learn from events up to this time.")
@click.option("--grace", type=click.IntRange(min=0), default=3600, show_default=True,
              help="Seconds a newly seen asset's reads and polling are learned silently.")
@click.option("--realert", type=click.IntRange(min=1), default=3600, show_default=True,
              help="Seconds of quiet after which the same deviation alerts again.")
@click.option("--command-realert", type=click.IntRange(min=1), default=60, show_default=True,
              help="Seconds of quiet after which the same command (write, control, program, "
                   "firmware, config) over an edge outside the baseline alerts again: one alert "
                   "per burst.")
@click.option("--draft", is_flag=True, help="Store the version without activating it.")
@SITE_FILE
def baseline_learn(db: Path, site: str, since: str | None, until: str | None, grace: int,
                   realert: int, command_realert: int, draft: bool,
                   site_file: Path | None) -> None:  # fmt: skip
    """Learn a baseline version from the stored events and make it the site's active one."""
    from .baseline.model import Settings
    from .baseline.service import BaselineError, learn

    store = _open_write(db)
    start = time.perf_counter()
    try:
        settings = Settings(grace_s=grace, realert_s=realert, command_realert_s=command_realert)
        b = learn(store, site, since, until, settings, activate=not draft,
                  site_model=_site(site_file) if site_file else None)  # fmt: skip
    except BaselineError as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.close()
    points = sum(len(e.points) for e in b.edges.values())
    click.echo(f"baseline version {b.version} for site {b.site} ({'draft' if draft else 'active'}): "
               f"{b.events:,} messages, {len(b.assets):,} assets, {len(b.edges):,} edges, "
               f"{points:,} value envelopes in {time.perf_counter() - start:.1f} s; {b.note}")


@baseline.command("show")
@DB
@click.argument("version", type=int, required=False)
@click.option("--site", help="The active version of this site (default: any).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
def baseline_show(db: Path, version: int | None, site: str | None, fmt: str) -> None:
    """What a version learned (default: the active one), and every stored version."""
    from .baseline.service import BaselineError, load, summary

    store = _open_read(db)
    try:
        b, status = load(store, version, site)
        versions = store.baseline_versions()
    except BaselineError as e:
        raise click.ClickException(str(e)) from None
    s = summary(b)
    if fmt == "jsonl":
        click.echo(msgspec.json.encode({**s, "status": status}).decode())
        return
    click.echo(f"baseline version {b.version} ({status}), site {b.site}: {s['span']} of traffic "
               f"from {s['learned_from']} to {s['learned_until']}, {b.events:,} messages, "
               f"{len(b.assets)} assets, {len(b.edges)} edges")
    if b.note:
        click.echo(f"  {b.note}")
    for e in s["edges"]:
        click.echo(f"\n{e['initiator']} → {e['responder']} {e['protocol']}: {e['messages']:,} messages, "
                   f"{e['connection']}, rate median {e['rate_per_10s']['median']:g} / max "
                   f"{e['rate_per_10s']['max']:g} per 10 s, active hours ({b.timezone}) "
                   f"{','.join(map(str, e['active_hours']))}")
        click.echo("  operations: " + ", ".join(f"{k} {v:,}" for k, v in sorted(e["operations"].items())))
        for rk, iv in e["ranges"].items():
            click.echo(f"  {rk}: addresses {iv}")
        for ck, c in e["cadence"].items():
            click.echo(f"  cadence {ck}: {c}")
        if e["points"]:
            click.echo(f"  value envelopes: {e['points']:,} points")
    click.echo("\nversions: " + "; ".join(f"{v['version']} {v['status']} ({v['site']}, {v['created']})"
                                          for v in versions))


@baseline.command("diff")
@DB
@click.argument("v1", type=int)
@click.argument("v2", type=int)
def baseline_diff(db: Path, v1: int, v2: int) -> None:
    """What changed from version V1 to V2 (+ added, - removed, ~ changed)."""
    from .baseline.service import BaselineError, diff, load

    store = _open_read(db)
    try:
        a, _ = load(store, v1)
        b, _ = load(store, v2)
    except BaselineError as e:
        raise click.ClickException(str(e)) from None
    lines = diff(a, b)
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo(f"versions {v1} and {v2} learned the same behaviour", err=True)


@baseline.command("approve")
@click.argument("alert_id")
@DB
@click.option("--note", help="Why the deviation is accepted (kept with the new version).")
def baseline_approve(alert_id: str, db: Path, note: str | None) -> None:
    """Accept a deviation: fold it into a new active version, so it no longer alerts."""
    from .baseline.service import BaselineError, approve

    store = _open_write(db)
    try:
        b = approve(store, alert_id, note)
    except BaselineError as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.close()
    click.echo(f"baseline version {b.version} (site {b.site}) is active: {b.note}")


@baseline.command("monitor")
@DB
@click.option("--since", metavar="TIME", callback=_iso_time, help="ISO 8601 time.")
@click.option("--until", metavar="TIME", callback=_iso_time, help="ISO 8601 time.")
@SITE_FILE
def baseline_monitor(db: Path, since: str | None, until: str | None, site_file: Path | None) -> None:
    """Run the active baseline(s) over stored events now (ingest does this for each capture)."""
    model = _site(site_file) if site_file else None
    store = _open_write(db)
    try:
        found = _baseline_monitor(store, None, site_model=model, since=since, until=until)
    finally:
        store.close()
    click.echo(f"{len(found):,} deviation alert(s)")
# -- listen -----------------------------------------------------------------------------------
@main.command()
@click.option("--syslog", "addresses", multiple=True, required=True, metavar="URL",
              help="Where to receive syslog (RFC 5424, RFC 3164, CEF): udp://HOST:PORT, "
                   "tcp://HOST:PORT or tls://HOST:PORT (repeatable; port 0 picks a free one).")
@DB
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate (tls://).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key (tls://).")
@click.option("--queue", "queue_size", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Messages waiting to be stored at most. Full: TCP/TLS senders wait (nothing read is "
                   "dropped); UDP datagrams are dropped and counted.")
@click.option("--stats-interval", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between counter reports on stderr (only when they changed).")
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Sigma rule file or folder to run on the messages (default: the built-in pack).")
@click.option("--intel", "intel_sources", multiple=True, metavar="FILE|URL",
              help="Threat intelligence to match every message against (as for ingest).")
@click.option("--no-detect", is_flag=True, help="Store messages only; run no rules and no intel.")
def listen(addresses: tuple[str, ...], db: Path, tls_cert: str | None, tls_key: str | None,
           queue_size: int, stats_interval: float, rule_paths: tuple[Path, ...],
           intel_sources: tuple[str, ...], no_detect: bool) -> None:  # fmt: skip
    """Receive syslog and CEF over UDP, TCP or TLS; run detection; store events and alerts.

    A message read from a TCP/TLS connection is committed to the store before more is read from
    it; a UDP datagram accepted into the queue is stored. When overloaded, UDP datagrams are
    dropped and counted, and the counters are reported. SIGINT/SIGTERM stop cleanly: everything
    received is stored first."""
    from .listen import Listener, ListenError

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    detector = None if no_detect else _detector(rule_paths, intel_sources)[0]
    try:
        store = open_store(db)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    try:
        listener = Listener(addresses, store, detector=detector, queue_size=queue_size,
                            tls=(tls_cert, tls_key) if tls_cert and tls_key else None,
                            stats_interval=stats_interval)  # fmt: skip
        for address in listener.bind():
            click.echo(f"watchfloor listen: listening on {address}", err=True)
    except ListenError as e:
        store.close()
        raise click.ClickException(str(e)) from None
    counters = listener.run()
    click.echo(f"watchfloor listen: stopped; {counters.text()}", err=True)
    click.echo(f"{db}: {store.count():,} events stored")
    store.close()
from . import cli_incidents  # noqa: E402,F401  (registers triage, incidents, incident)
