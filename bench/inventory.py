#!/usr/bin/env python3
"""What the inventory costs: building it from the store, against ingesting the same capture, in
the same run.

    python bench/inventory.py [--packets N] [--repeat R]

Capture: the `plant` scenario of bench/decode.py (one HMI polling 8 PLCs). Steps, timed:
  ingest      `watchfloor ingest --no-detect --workers 1` into a fresh store (decode, store, and
              the inventory comparison ingest makes after the capture)
  build       inventory.build on that store (the SQL aggregation plus role inference): what
              `watchfloor assets` and `map` do, and what ingest does twice per capture
Prints events stored, builds/s and the ratio build time ÷ ingest time (lower is better).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.decode import capture, log, machine_facts, plant_params  # noqa: E402
from watchfloor.inventory import build  # noqa: E402
from watchfloor.store import open_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wf-bench-inv-") as tmp:
        cap = capture(Path(tmp), "plant", plant_params(args.packets))
        ingest_s, build_s = [], []
        events = assets = 0
        for r in range(args.repeat):
            db = Path(tmp) / f"s{r}.duckdb"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "watchfloor", "ingest", str(cap.path), "--db", str(db),
                            "--no-detect", "--workers", "1"], check=True, capture_output=True)  # fmt: skip
            ingest_s.append(time.perf_counter() - t)
            store = open_store(db, read_only=True)
            events = store.count()
            t = time.perf_counter()
            inv = build(store)
            build_s.append(time.perf_counter() - t)
            assets = len(inv.assets)
            store.close()
            log(f"run {r + 1}: ingest {ingest_s[-1]:.2f} s, build {build_s[-1]:.3f} s")
    ing, bld = statistics.median(ingest_s), statistics.median(build_s)
    for k, v in machine_facts():
        print(f"{k}: {v}")
    print(f"capture: {cap.packets:,} packets, {events:,} events stored, {assets} assets")
    print(f"inventory build: {events / bld:,.0f} stored events/s ({bld:.3f} s, median of {args.repeat})")
    print(f"build time / ingest time: {bld / ing:.3f}")


if __name__ == "__main__":
    main()
