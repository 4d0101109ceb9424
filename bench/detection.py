#!/usr/bin/env python3
"""Detection benchmark: the whole detection stack (OT Sigma pack + behavioural baseline) scored on
the labelled third-party data in ../shared/corpus/labeled (see LABELED.md for the scoring protocol).

    python bench/detection.py [--corpus DIR] [--out DIR] [--datasets qut_dnp3,lemay_modbus,qut_s7comm]

One method for every dataset, no per-file tuning (the defaults of `watchfloor baseline learn`):
  1. `watchfloor ingest` every capture of the dataset into a fresh store (the OT rule pack runs on
     ingest; no baseline is active yet, so the site is in learning mode);
  2. learn one baseline from the benign traffic the dataset offers: traffic before the first
     labelled attack of each capture (minus a 60 s margin), whole attack-free captures, and for
     QUT S7comm the HMI-vantage captures outside every attack window;
  3. monitor the rest (`baseline.service.monitor`, what ingest runs once a baseline is active);
  4. score every stored alert (rule and baseline) against the labels, UTC:
     a window counts as detected when an alert falls in [start, end + 60 s]; time-to-detect is
     the first such alert minus the start; false alerts are alerts of the monitored time outside
     every window (+60 s), per hour of monitored traffic.
Labels are only used to split learning from monitoring and to score. Tables go to stdout.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from watchfloor.baseline.model import Row  # noqa: E402
from watchfloor.baseline.service import learn, monitor, rows  # noqa: E402
from watchfloor.schema.time import parse_rfc3339, rfc3339  # noqa: E402
from watchfloor.sensor import capture_id  # noqa: E402
from watchfloor.store import EventFilter, open_store  # noqa: E402

S = 1_000_000_000
GRACE = 60 * S  # LABELED.md: grace after a window for network data
MARGIN = 60 * S  # learning stops this long before a capture's first attack


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ts(text: str) -> int:
    value = parse_rfc3339(text)
    assert value is not None, text
    return value


def ingest(db: Path, captures: list[Path]) -> None:
    exe = Path(sys.executable).with_name("watchfloor")
    cmd = [str(exe) if exe.exists() else "watchfloor", "ingest", *map(str, captures), "--db", str(db),
           "--workers", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: a damaged capture, the good part is stored
        raise SystemExit(f"ingest failed: {proc.stderr[-2000:]}")
    log(proc.stdout.strip())


def alerts_of(store, source: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(store.events(EventFilter(kind="alert", source=source)))


def techniques(a: dict) -> set[str]:
    return set(((a.get("threat") or {}).get("technique") or {}).get("id") or [])


def frames_of(a: dict) -> list[int]:
    """Frames of the events behind an alert (ids are <capture>-<frame>-<n>; inventory facts and
    flow summaries have no frame)."""
    parts = (e.split("-") for e in a["related"]["events"])
    return [int(p[1]) for p in parts if len(p) > 1 and p[1].isdigit()]


def who(a: dict) -> str:
    """The detector of an alert: the baseline deviation type, or the rule's title."""
    rid = a["rule"]["id"]
    return rid if rid.startswith("baseline.") else f"rule: {a['rule']['name']}"


def fmt_ttd(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s" if values else "-"


def learn_split(store, cutoffs: dict[str, int | None]) -> Iterator[Row]:  # type: ignore[no-untyped-def]
    """Rows of each source before its cutoff (None: the whole source; sources absent: none)."""
    for r in rows(store):
        src = r.id.split("-", 1)[0]
        if src in cutoffs:
            cut = cutoffs[src]
            if cut is None or r.ts < cut:
                yield r


def monitor_after(store, source: str, cutoff: int | None) -> None:  # type: ignore[no-untyped-def]
    monitor(store, source=source, since=rfc3339(cutoff) if cutoff is not None else None)


def span(store, source: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    first = last = None
    for r in rows(store, source=source):
        first = r.ts if first is None else first
        last = r.ts
    return first or 0, last or 0


def score_windows(name: str, windows: list[dict], alerts: dict[str, list[dict]],
                  monitored: dict[str, tuple[int, int]]) -> dict:  # fmt: skip
    """Per-window detection, TTD and false alerts per hour, printed as a table."""
    print(f"\n## {name}: attack windows\n")
    print(f"| capture | attack | start (UTC) | detected | technique match | TTD | first alert |")
    print("|---|---|---|---|---|---|---|")
    detected = tech = 0
    ttds: list[float] = []
    for w in windows:
        lo, hi = w["start"], w["end"] + GRACE
        hits = sorted((a for a in alerts[w["source"]] if lo <= ts(a["@timestamp"]) <= hi),
                      key=lambda a: a["@timestamp"])  # fmt: skip
        match = [a for a in hits if techniques(a) & w["techniques"]]
        if hits:
            detected += 1
            ttd = (ts(hits[0]["@timestamp"]) - lo) / S
            ttds.append(ttd)
        tech += bool(match)
        first = who(hits[0]) if hits else "-"
        print(f"| {w['capture']} | {w['attack']} | {rfc3339(lo)[:19]} | {'yes' if hits else 'no'} | "
              f"{'yes' if match else 'no'} | {f'{ttd:.2f} s' if hits else '-'} | {first} |")
    false = hours = 0.0
    for src, (lo, hi) in monitored.items():
        hours += max(hi - lo, 0) / S / 3600
        for a in alerts[src]:
            t = ts(a["@timestamp"])
            if lo <= t <= hi and not any(w["source"] == src and w["start"] <= t <= w["end"] + GRACE
                                         for w in windows):  # fmt: skip
                false += 1
    n = len(windows)
    print(f"\n| {name} | windows | detected | technique match | median TTD | false alerts | monitored h | false/h |")
    print("|---|---|---|---|---|---|---|---|")
    fph = false / hours if hours else 0.0
    print(f"| total | {n} | {detected} ({100 * detected / max(n, 1):.0f} %) | {tech} ({100 * tech / max(n, 1):.0f} %) | "
          f"{fmt_ttd(ttds)} | {false:.0f} | {hours:.1f} | {fph:.2f} |")
    return {"windows": n, "detected": detected, "technique": tech, "ttd": ttds, "false_per_h": fph}


# -- QUT DNP3 ------------------------------------------------------------------------------------
def qut_dnp3(corpus: Path, out: Path) -> None:
    base = corpus / "qut_dnp3"
    labels = list(csv.DictReader(open(base / "labels.csv")))
    caps: dict[str, Path] = {}
    for row in labels:
        zpath = base / row["pcap"]
        pcap = out / (row["group"].replace("/", "_") + ".pcap")
        if row["pcap"] not in caps:
            if not pcap.exists():
                with zipfile.ZipFile(zpath) as z:
                    member = next(n for n in z.namelist() if n.endswith(".pcap"))
                    with z.open(member) as src, open(pcap, "wb") as dst:
                        shutil.copyfileobj(src, dst)
            caps[row["pcap"]] = pcap
    db = out / "qut_dnp3.duckdb"
    db.unlink(missing_ok=True)
    ingest(db, list(caps.values()))
    windows, cutoffs = [], {}
    for row in labels:
        sid = capture_id(caps[row["pcap"]])
        cutoffs.setdefault(sid, None)
        if row["start_utc"]:
            w = {"source": sid, "capture": row["group"].split("/")[0], "attack": row["attack"],
                 "start": ts(row["start_utc"]), "end": ts(row["end_utc"]),
                 "techniques": set(row["ics_techniques"].split(";"))}  # fmt: skip
            windows.append(w)
            c = cutoffs[sid]
            cutoffs[sid] = w["start"] - MARGIN if c is None else min(c, w["start"] - MARGIN)
    store = open_store(db)
    b = learn(store, "qut_dnp3", events=learn_split(store, cutoffs), allow_empty=True)
    log(f"qut_dnp3: learned {b.events:,} messages, {len(b.assets)} assets, {len(b.edges)} edges")
    monitored = {}
    for sid, cut in sorted(cutoffs.items(), key=lambda kv: kv[1] or 0):  # in time order
        if cut is None:  # attack-free capture: learned, not monitored (its rule alerts below)
            continue
        monitor_after(store, sid, cut)
        lo, hi = span(store, sid)
        monitored[sid] = (cut, max(hi, cut))
    alerts = {sid: alerts_of(store, sid) for sid in cutoffs}
    print(f"\nQUT DNP3: learned from {b.events:,} OT messages ({len(b.edges)} edges) before the first "
          f"attack of each capture and the attack-free Control capture")
    score_windows("QUT DNP3", windows, alerts, monitored)
    control = [sid for sid, c in cutoffs.items() if c is None]
    for sid in control:
        print(f"\nControl capture (learned; rule alerts only): {len(alerts[sid])} alerts")
    store.close()


# -- Lemay Modbus --------------------------------------------------------------------------------
def lemay(corpus: Path, out: Path) -> None:
    base = corpus / "lemay_modbus"
    labels = [r for r in csv.DictReader(open(base / "labels.csv")) if r["label_file"]]
    db = out / "lemay.duckdb"
    db.unlink(missing_ok=True)
    pcaps = [base / r["capture"] for r in labels]
    ingest(db, pcaps)
    store = open_store(db)
    per: dict[str, dict] = {}
    cutoffs: dict[str, int | None] = {}
    for r, pcap in zip(labels, pcaps):
        sid = capture_id(pcap)
        bad = set()
        with open(base / r["label_file"]) as f:
            for line in f:
                parts = line.strip().split(";")
                if len(parts) == 2 and parts[0].isdigit() and parts[1].strip() == "1":
                    bad.add(int(parts[0]))
        frame_ts = {}
        for ev in store.events(EventFilter(source=sid, kind="event")):
            if "pcap" in ev:  # decoded messages (not inventory facts)
                frame_ts.setdefault(ev["pcap"]["frame"], ts(ev["@timestamp"]))
        first_bad = min((frame_ts[f] for f in bad if f in frame_ts), default=None)
        cutoffs[sid] = first_bad - MARGIN if first_bad is not None else None
        per[sid] = {"name": r["capture"], "bad": bad, "frames": frame_ts, "first_bad": first_bad}
    b = learn(store, "lemay", events=learn_split(store, cutoffs), allow_empty=True)
    log(f"lemay: learned {b.events:,} messages, {len(b.assets)} assets, {len(b.edges)} edges")
    print(f"\nLemay Modbus: learned from {b.events:,} OT messages ({len(b.edges)} edges) before "
          f"the first malicious packet of each capture")
    print("\n| capture | monitored events | malicious | alerts | alerted events | precision | recall | attack detected | TTD |")
    print("|---|---|---|---|---|---|---|---|---|")
    for sid, p in per.items():
        cut = cutoffs[sid]
        monitor_after(store, sid, cut)
        alerts = [a for a in alerts_of(store, sid) if cut is None or ts(a["@timestamp"]) >= cut]
        alerted_frames = {f for a in alerts for f in frames_of(a)}
        monitored = {f for f, t in p["frames"].items() if cut is None or t >= cut}
        bad = p["bad"] & monitored
        tp = len(alerted_frames & bad)
        prec = tp / len(alerted_frames) if alerted_frames else 0.0
        rec = tp / len(bad) if bad else 0.0
        hits = sorted(ts(a["@timestamp"]) for a in alerts if p["first_bad"] is not None
                      and ts(a["@timestamp"]) >= p["first_bad"] and
                      any(f in bad for f in frames_of(a)))  # fmt: skip
        ttd = f"{(hits[0] - p['first_bad']) / S:.2f} s" if hits else "-"
        print(f"| {p['name']} | {len(monitored):,} | {len(bad):,} | {len(alerts):,} | {len(alerted_frames):,} | "
              f"{100 * prec:.1f} % | {100 * rec:.1f} % | {'yes' if hits else 'no'} | {ttd} |")
    store.close()


# -- QUT S7comm ----------------------------------------------------------------------------------
def qut_s7(corpus: Path, out: Path) -> None:
    base = corpus / "qut_s7comm"
    labels = list(csv.DictReader(open(base / "labels.csv")))
    db = out / "qut_s7.duckdb"
    db.unlink(missing_ok=True)
    hmi, master = [], []
    for r in labels:
        d = base / r["attack_dir"]
        for f in sorted(d.glob("*.pcap")):
            if f.stat().st_size > 24:  # a pcap header only: nothing captured
                (hmi if f.name.endswith(".hmi.pcap") else master if f.name.endswith(".master.pcap")
                 else []).append(f)  # fmt: skip
    ingest(db, hmi + master)
    store = open_store(db)
    windows = [{"start": ts(r["start_utc"]), "end": ts(r["finish_utc"]), "attack": r["attack"],
                "dir": r["attack_dir"], "techniques": set(r["ics_techniques"].split(";"))}
               for r in labels]  # fmt: skip

    def outside(r: Row) -> bool:
        return not any(w["start"] - MARGIN <= r.ts <= w["end"] + GRACE for w in windows)

    hmi_ids = {capture_id(f) for f in hmi}
    learn_rows = (r for r in rows(store) if r.id.split("-", 1)[0] in hmi_ids and outside(r))
    b = learn(store, "qut_s7", events=learn_rows, allow_empty=True)
    log(f"qut_s7: learned {b.events:,} messages, {len(b.assets)} assets, {len(b.edges)} edges")
    print(f"\nQUT S7comm: learned from {b.events:,} OT messages ({len(b.edges)} edges) of the HMI "
          f"captures outside every attack window; monitored: the master (PLC-side) captures")
    by_dir: dict[str, list[str]] = {}
    for f in master:
        by_dir.setdefault(str(f.parent.relative_to(base)), []).append(capture_id(f))
    order = sorted(windows, key=lambda w: w["start"])
    for w in order:  # in time order, as a live monitor would see them
        for sid in by_dir.get(w["dir"], []):
            monitor(store, source=sid)
    print("\n| attack folder | attack | alert | technique match | TTD | first alert |")
    print("|---|---|---|---|---|---|")
    hit = tech = 0
    ttds = []
    for w in order:
        alerts = [a for sid in by_dir.get(w["dir"], []) for a in alerts_of(store, sid)
                  if w["start"] <= ts(a["@timestamp"]) <= w["end"] + GRACE]  # fmt: skip
        alerts.sort(key=lambda a: a["@timestamp"])
        m = [a for a in alerts if techniques(a) & w["techniques"]]
        if alerts:
            hit += 1
            ttds.append((ts(alerts[0]["@timestamp"]) - w["start"]) / S)
        tech += bool(m)
        print(f"| {w['dir'].split('/')[-1]} | {w['attack']} | {'yes' if alerts else 'no'} | "
              f"{'yes' if m else 'no'} | {f'{ttds[-1]:.3f} s' if alerts else '-'} | "
              f"{who(alerts[0]) if alerts else '-'} |")
    n = len(order)
    with_master = sum(1 for w in order if by_dir.get(w["dir"]))
    print(f"\n| QUT S7comm | attack actions | with a master capture | alerted | technique match | median TTD |")
    print("|---|---|---|---|---|---|")
    print(f"| total | {n} | {with_master} | {hit} ({100 * hit / max(n, 1):.0f} %) | "
          f"{tech} ({100 * tech / max(n, 1):.0f} %) | {fmt_ttd(ttds)} |")
    store.close()


DATASETS = {"qut_dnp3": qut_dnp3, "lemay_modbus": lemay, "qut_s7comm": qut_s7}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "labeled")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "detection")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    args = ap.parse_args()
    if not args.corpus.is_dir():
        print(f"{args.corpus}: labelled corpus not found (see ../shared/corpus/LABELED.md)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"# Detection benchmark ({datetime.now().strftime('%Y-%m-%d')}): OT rule pack + behavioural baseline")
    for name in args.datasets.split(","):
        start = time.perf_counter()
        DATASETS[name](args.corpus, args.out)
        log(f"{name}: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
