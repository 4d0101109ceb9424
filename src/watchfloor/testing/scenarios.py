"""IT→OT scenarios: labelled synthetic composites built from real data, and their measurement.

A scenario file (YAML) names real IT telemetry (EVTX, JSON logs) and real OT captures, how to
re-address them so the compromised IT host is the one that later commands the OT devices, where
to place them in time, and the site model. `build` writes the composite (`it.jsonl` in
Watchfloor's own event format, `ot.pcap`, `site.yml`, `scenario.json` with the label);
`measure` triages a store holding it in the three modes of the issue.

    name: lsass-dump-then-plc-stop
    label: positive                 # positive: an attack; negative: must raise no P1/P2
    description: ...
    start: 2026-03-02T09:00:00Z     # the first IT record is placed here
    site: site.yml                  # relative to this file
    it:                             # in chain order; each file follows the previous one
      - file: corpus:labeled/evtx_to_mitre/...evtx   # corpus: = ../shared/corpus
        host: {name: EWS-7, ip: 10.30.0.23}         # every record becomes this host's
    ot:
      - file: corpus:pcaps/.../step7_s300_stop.pcapng
        after: 10m                  # after the IT leg's last record (or after `start`)
        addresses: {192.168.1.10: 10.30.0.23}       # IPv4 rewrites (source and destination)
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

from ..capture.files import read_packets
from ..schema import Event
from ..schema.time import parse_duration, parse_rfc3339, rfc3339
from .pcapfile import write_pcap

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"


class ScenarioError(ValueError):
    pass


@dataclass
class Part:
    file: Path
    host: dict[str, Any] | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    after_s: float = 0.0
    gap_s: float = 60.0


@dataclass
class Scenario:
    name: str
    label: str
    description: str
    start_ns: int
    it: list[Part]
    ot: list[Part]
    site: Path | None
    path: Path

    def missing(self) -> list[Path]:
        return [p.file for p in self.it + self.ot if not p.file.exists()]


def _resolve(base: Path, ref: str, corpus: Path) -> Path:
    return corpus / ref[len("corpus:"):] if ref.startswith("corpus:") else base / ref


def load(path: str | Path, corpus: Path = CORPUS) -> Scenario:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
        base = path.parent
        start = parse_rfc3339(str(doc["start"]))
        if start is None:
            raise ScenarioError(f"{path}: start: not an RFC 3339 time")
        parts = {
            leg: [Part(_resolve(base, p["file"], corpus), host=p.get("host"),
                       addresses={str(k): str(v) for k, v in (p.get("addresses") or {}).items()},
                       after_s=parse_duration(p.get("after", 0)), gap_s=parse_duration(p.get("gap", 60)))
                  for p in doc.get(leg) or []]
            for leg in ("it", "ot")
        }  # fmt: skip
        label = doc["label"]
        if label not in ("positive", "negative"):
            raise ScenarioError(f"{path}: label must be positive or negative")
        return Scenario(doc["name"], label, doc.get("description", ""), start, parts["it"],
                        parts["ot"], base / doc["site"] if doc.get("site") else None, path)  # fmt: skip
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as e:
        if isinstance(e, ScenarioError):
            raise
        raise ScenarioError(f"{path}: {e!r}") from None


def _read_events(path: Path) -> Iterator[Event]:
    from ..telemetry import FORMATS, Corrupt

    head = path.read_bytes()[:65536]
    for fmt in FORMATS:
        if fmt.sniff(head, path.name):
            with path.open("rb") as f:
                for item in fmt.read(f, path.name):
                    if not isinstance(item, Corrupt):
                        yield item
            return
    raise ScenarioError(f"{path}: no reader recognises this file")


def _readdress(ev: Event, host: dict[str, Any] | None, addresses: dict[str, str],
               ts_ns: int) -> Event:  # fmt: skip
    changes: dict[str, Any] = {"timestamp": rfc3339(ts_ns)}
    for side in ("source", "destination"):
        ep = getattr(ev, side)
        if ep is not None and ep.ip in addresses:
            changes[side] = msgspec.structs.replace(ep, ip=addresses[ep.ip])
    if host and getattr(ev, "host", None) is not None:
        h = ev.host  # type: ignore[attr-defined]
        names = {f: host["name"] for f in ("name", "hostname") if hasattr(h, f)}
        ips = {"ip": [host["ip"]]} if "ip" in host and hasattr(h, "ip") else {}
        changes["host"] = msgspec.structs.replace(h, **names, **ips)
    return msgspec.structs.replace(ev, **changes)


def _rewrite(data: bytes, addresses: dict[bytes, bytes]) -> bytes:
    """IPv4 source and destination rewritten in an Ethernet (optionally VLAN-tagged) frame."""
    off = 12
    while data[off:off + 2] in (b"\x81\x00", b"\x88\xa8"):
        off += 4
    if data[off:off + 2] != b"\x08\x00" or len(data) < off + 22:
        return data
    ip = off + 2
    src, dst = data[ip + 12:ip + 16], data[ip + 16:ip + 20]
    if src not in addresses and dst not in addresses:
        return data
    return (data[:ip + 12] + addresses.get(src, src) + addresses.get(dst, dst) + data[ip + 20:])


def build(sc: Scenario, out: Path) -> dict[str, Any]:
    """Write the composite into `out`; returns what `scenario.json` records."""
    missing = sc.missing()
    if missing:
        raise ScenarioError(f"{sc.path}: missing input(s): {', '.join(map(str, missing))}")
    out.mkdir(parents=True, exist_ok=True)
    enc = msgspec.json.Encoder()
    cursor = sc.start_ns
    first_it = last_it = None
    with (out / "it.jsonl").open("wb") as f:
        for part in sc.it:
            events = sorted(_read_events(part.file), key=lambda e: e.timestamp)
            if not events:
                continue
            origin = parse_rfc3339(events[0].timestamp) or 0
            for ev in events:
                ts = cursor + (parse_rfc3339(ev.timestamp) or origin) - origin
                f.write(enc.encode(_readdress(ev, part.host, part.addresses, ts)) + b"\n")
                first_it = ts if first_it is None else min(first_it, ts)
                last_it = ts if last_it is None else max(last_it, ts)
            cursor = (last_it or cursor) + int(part.gap_s * 1e9)
    records, first_ot = [], None
    anchor = last_it if last_it is not None else sc.start_ns
    for part in sc.ot:
        addr = {struct.pack("!4B", *map(int, k.split("."))): struct.pack("!4B", *map(int, v.split(".")))
                for k, v in part.addresses.items()}  # fmt: skip
        packets = list(read_packets(part.file))
        if not packets:
            continue
        origin = packets[0][1]
        begin = anchor + int(part.after_s * 1e9)
        for _linktype, ts, _caplen, data, wire_len in packets:
            records.append((begin + ts - origin, _rewrite(data, addr), wire_len))
        anchor = records[-1][0]
        first_ot = begin if first_ot is None else min(first_ot, begin)
    records.sort(key=lambda r: r[0])
    write_pcap(out / "ot.pcap", records, nanosecond=True)
    if sc.site is not None:
        shutil.copy(sc.site, out / "site.yml")
    starts = [t for t in (first_it, first_ot) if t is not None]
    meta = {
        "name": sc.name, "label": sc.label, "description": sc.description,
        "malicious_start": rfc3339(min(starts)) if sc.label == "positive" and starts else None,
        "ot_start": rfc3339(first_ot) if first_ot is not None else None,
        "it_records": sum(1 for _ in (out / "it.jsonl").open("rb")), "ot_packets": len(records),
        "inputs": [str(p.file) for p in sc.it + sc.ot],
    }  # fmt: skip
    (out / "scenario.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def measure(store: Any, site: Any, malicious_start: str | None,
            ot_start: str | None = None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Triage the store three ways: IT-only, context-free and converged (see issue 9). Times
    count from the first malicious record, and (`ttd_ot_s`) from the OT leg's first packet."""
    from ..correlate import run

    start = (parse_rfc3339(malicious_start) or 0) / 1e9 if malicious_start else None
    ot0 = (parse_rfc3339(ot_start) or 0) / 1e9 if ot_start and malicious_start else None
    rows = {}
    for mode in ("it-only", "context-free", "converged"):
        res = run(store, site, mode=mode, persist=False)  # type: ignore[arg-type]
        open_ = [t for t in res.items if t.open]
        p12 = [t for t in open_ if t.triage.priority in ("P1", "P2")]
        linked = [i for i in res.incidents if i.crosses_it_ot]
        urgent = [i for i in res.incidents if i.priority in ("P1", "P2")]
        first_p12 = min((t.ts for t in p12), default=None)
        first_ot = min((t.ts for t in p12 if t.triage.leg == "ot"), default=None)
        inc_ts = None
        if urgent:
            by_id = {t.id: t for t in res.items}
            inc_ts = min(min(by_id[a].ts for a in i.alerts if by_id[a].triage.priority in ("P1", "P2")
                             or (i.crosses_it_ot and by_id[a].triage.leg == "ot")) for i in urgent)  # fmt: skip
        rows[mode] = {
            "alerts": len(res.items), "ot_seen": any(t.triage.leg == "ot" for t in res.items),
            "linked": bool(linked), "p12": len(p12),
            "ttd_p12_s": round(first_p12 - start, 1) if start is not None and first_p12 else None,
            "tt_incident_s": round(inc_ts - start, 1) if start is not None and inc_ts else None,
            "ttd_ot_s": round(first_ot - ot0, 1) if ot0 is not None and first_ot else None,
            "incidents": len(res.incidents),
        }  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """`python -m watchfloor.testing.scenarios SCENARIO.yml OUT_DIR`: build one composite."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m watchfloor.testing.scenarios",
                                 description="Build an IT→OT scenario composite from real data.")
    ap.add_argument("scenario", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    try:
        meta = build(load(args.scenario), args.out)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{meta['name']} ({meta['label']}): {meta['it_records']} IT records, "
          f"{meta['ot_packets']} OT packets -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
