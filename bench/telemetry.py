#!/usr/bin/env python3
"""Log ingest throughput (events/s), each against a peer in the same process on the same bytes.

    python bench/telemetry.py [--corpus ../shared/corpus] [--repeat 3]

EVTX   every .evtx under labeled/ (real Sysmon/Security/... samples), read by
       telemetry.evtx (chunk by chunk, JSON decoded, mapped to the schema: Event objects) versus
       the `evtx` package's own JSON rendering of the same files (PyEvtxParser.records_json,
       strings only, nothing decoded or mapped): ratio = ours / peer.
JSON   the OTRF Security-Datasets Windows JSON (NXLog shape) of labeled/otrf_security_datasets,
       read by telemetry.winjson (Event objects) versus the stdlib `json.loads` of every line
       (dicts only): ratio = ours / peer.
STORE  the JSON events also encoded and appended to a DuckDB store in a temporary folder
       (reader + store), as events/s.
Best of --repeat runs each. Prints a table to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

import evtx as peer  # noqa: E402

from watchfloor.schema import Event  # noqa: E402
from watchfloor.store import open_store  # noqa: E402
from watchfloor.telemetry import evtx, winjson  # noqa: E402

DEFAULT_CORPUS = BENCH_DIR.parent.parent / "shared" / "corpus"


def best(fn, repeat: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    times, n = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - start)
    return min(times), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    labeled = args.corpus / "labeled"
    files = sorted(labeled.rglob("*.evtx"))
    if not files:
        sys.exit(f"{labeled}: no .evtx files (use --corpus)")
    blobs = [f.read_bytes() for f in files]

    def ours_evtx() -> int:
        return sum(isinstance(e, Event) for b in blobs for e in evtx.read(io.BytesIO(b), "b"))

    def peer_evtx() -> int:
        return sum(1 for b in blobs for _ in peer.PyEvtxParser(io.BytesIO(b)).records_json())

    t_ours, n_ours = best(ours_evtx, args.repeat)
    t_peer, n_peer = best(peer_evtx, args.repeat)

    jsons = []
    for z in sorted((labeled / "otrf_security_datasets").rglob("*.zip")):
        with zipfile.ZipFile(z) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                if name.endswith(".json") and winjson.sniff(data[:65536], name):
                    jsons.append(data)
    lines = sum(d.count(b"\n") for d in jsons)

    def ours_json() -> int:
        return sum(isinstance(e, Event) for d in jsons for e in winjson.read(io.BytesIO(d), "b"))

    def peer_json() -> int:
        return sum(1 for d in jsons for line in d.splitlines() if line.strip() and json.loads(line))

    tj_ours, nj_ours = best(ours_json, args.repeat)
    tj_peer, nj_peer = best(peer_json, args.repeat)

    def stored() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(Path(tmp) / "b.duckdb")
            n = 0
            with store.transaction():
                for d in jsons:
                    batch: list[Event] = []
                    for e in winjson.read(io.BytesIO(d), "b"):
                        if isinstance(e, Event):
                            batch.append(e)
                            if len(batch) == 4096:
                                store.append(batch)
                                n += len(batch)
                                batch = []
                    store.append(batch)
                    n += len(batch)
            store.close()
            return n

    ts, ns = best(stored, max(1, args.repeat - 1))
    print(f"inputs: {len(files)} EVTX files ({sum(map(len, blobs)) / 1e6:.1f} MB, {n_peer:,} records); "
          f"{len(jsons)} OTRF JSON files ({sum(map(len, jsons)) / 1e6:.1f} MB, {lines:,} lines)")
    print(f"{'input':<8} {'watchfloor events/s':>20} {'peer records/s':>16} {'ratio':>7}  peer")
    print(f"{'EVTX':<8} {n_ours / t_ours:>20,.0f} {n_peer / t_peer:>16,.0f} {t_peer / t_ours:>7.2f}  "
          "evtx PyEvtxParser.records_json (JSON text only)")
    print(f"{'JSON':<8} {nj_ours / tj_ours:>20,.0f} {nj_peer / tj_peer:>16,.0f} {tj_peer / tj_ours:>7.2f}  "
          "stdlib json.loads per line (dicts only)")
    print(f"{'STORE':<8} {ns / ts:>20,.0f} {'':>16} {'':>7}  JSON reader + DuckDB store append")
    assert n_ours == n_peer, (n_ours, n_peer)


if __name__ == "__main__":
    main()
