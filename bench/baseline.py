#!/usr/bin/env python3
"""Baseline learning cost: time and peak memory of `watchfloor baseline learn` on N stored events,
against a plain scan of the same rows from the store in the same run.

    python bench/baseline.py [--events N] [--passes P] [--out DIR]   # default 10,000,000 events, 10 passes

Events: the `plant` capture of bench/decode.py (one HMI polling 8 PLCs, reads every 250 ms, about
one scan in eight writing), ingested once with `--no-detect` (cached in --out with the capture):
N/P events are stored and read P times, each pass shifted in time by the capture's span, so the
learner sees N events in time order (P times as long a plant history) without storing N.
Measured, each as its own process (wall, CPU, peak RSS; see bench/decode.py `measure`):
  scan   read the rows the learner reads (`Store.behaviour_rows`), 1 and P passes: the floor
  learn  the same rows through `baseline.model.Learner`, then the version built, 1 and P passes
         (peak memory must not grow with the number of events)
  cli    `watchfloor baseline learn --draft` on the stored events (one pass, stored as a version)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.decode import capture, log, machine_facts, measure, plant_params, watchfloor_exe  # noqa: E402

REPLAY = """
import sys, time
from watchfloor.store import open_store
from watchfloor.baseline.model import Learner, Row
db, passes, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
store = open_store(db, read_only=True)
span = None
learner = Learner()
n = 0
for k in range(passes):
    first = last = None
    for t in store.behaviour_rows(batch=65536):
        r = Row(*t)
        first = r.ts if first is None else first
        last = r.ts
        if k:
            r = r._replace(ts=r.ts + k * span)
        if mode == "learn":
            learner.add(r)
        n += 1
    span = span or (last - first + 1_000_000_000)
if mode == "learn":
    b = learner.result()
    print(n, len(b.edges), sum(len(e.points) for e in b.edges.values()), len(b.encode()))
else:
    print(n)
"""

EVENTS_PER_PACKET = 0.875  # the plant capture: most packets carry one PDU, pure ACKs none


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--passes", type=int, default=10,
                    help="the store holds events/passes events, read this many times, shifted "
                         "in time by the capture's span each pass")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    packets = int(args.events / args.passes / EVENTS_PER_PACKET)
    cap = capture(args.out, f"plant-{packets}", plant_params(packets))
    db = args.out / f"baseline-{packets}.duckdb"
    meta = db.with_suffix(".json")
    want = {"capture": cap.path.name, "size": cap.size}
    if not (db.exists() and meta.exists() and json.loads(meta.read_text()) == want):
        db.unlink(missing_ok=True)
        log(f"ingesting {cap.path.name} into {db.name} ...")
        start = time.perf_counter()
        measure([*watchfloor_exe(), "ingest", str(cap.path), "--db", str(db), "--no-detect"])
        meta.write_text(json.dumps(want))
        log(f"  {time.perf_counter() - start:.0f} s")
    from watchfloor.store import open_store

    store = open_store(db, read_only=True)
    stored = sum(1 for _ in store.behaviour_rows(batch=65536))
    store.close()
    runs = []
    for passes in (1, args.passes):
        for mode in ("scan", "learn"):
            log(f"{mode}, {passes} pass(es) ...")
            runs.append((mode, passes, measure([sys.executable, "-c", REPLAY, str(db), str(passes), mode])))
    cli = measure([*watchfloor_exe(), "baseline", "learn", "--db", str(db), "--draft"])
    print(f"# Baseline learning: {stored:,} stored OT messages ({cap.path.name}) read 1 and "
          f"{args.passes} times\n")
    for k, v in machine_facts():
        print(f"- {k}: {v}")
    print("\n| run | messages | wall s | CPU s | CPU µs/message | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for mode, passes, r in runs:
        n = stored * passes
        print(f"| {mode} | {n:,} | {r.wall:.1f} | {r.cpu:.1f} | {r.cpu / n * 1e6:.2f} | {r.max_rss_mb:.0f} |")
    print(f"| `watchfloor baseline learn` (store → version) | {stored:,} | {cli.wall:.1f} | {cli.cpu:.1f} | "
          f"{cli.cpu / stored * 1e6:.2f} | {cli.max_rss_mb:.0f} |")
    scan1, learn1, scan_n, learn_n = (r for _, _, r in runs)
    print(f"\nLearning ÷ scan, CPU: {learn_n.cpu / scan_n.cpu:.2f} at {stored * args.passes:,} messages; "
          f"peak memory {args.passes}× the messages ÷ 1×: {learn_n.max_rss_mb / learn1.max_rss_mb:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
