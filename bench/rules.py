#!/usr/bin/env python3
"""Detection throughput: events/s through the rule engine, against a naive loop in the same run.

    python bench/rules.py [--packets N] [--repeat R] [--sigma DIR]

Events: the `plant` capture of bench/decode.py (one HMI polling 8 PLCs, reads with ~1 scan in 8
writing, a few diagnostics), decoded once in process; timing covers detection only.
Rule sets: the built-in OT pack alone, and the OT pack plus the SigmaHQ Windows rules
(`--sigma`, default ../shared/corpus/sigma/rules/windows) when present.
Engines, on the same events and rules:
  watchfloor  detect.alerts.Detector: rules indexed by log source, fields read from the event
              objects themselves; alerts built for matches
  naive       every event converted to a dict, every rule evaluated, matches counted
The naive loop runs on the first `--naive-events` events only (with thousands of rules it needs
minutes per 10,000 events); on that slice both must find the same matches (checked).
Progress to stderr, summary to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import msgspec

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.decode import capture, log, machine_facts, plant_params  # noqa: E402
from watchfloor.detect.alerts import Detector  # noqa: E402
from watchfloor.detect.pack import pack_rules  # noqa: E402
from watchfloor.detect.rules import Rule, load  # noqa: E402
from watchfloor.detect.sigma import View  # noqa: E402
from watchfloor.schema import Event  # noqa: E402
from watchfloor.sensor import decode_file  # noqa: E402


def naive(events: list[Event], rules: list[Rule]) -> int:
    hits = 0
    for ev in events:
        view = View(msgspec.to_builtins(ev))
        for rule in rules:
            if rule.predicate(view):
                hits += 1
    return hits


def engine(events: list[Event], rules: list[Rule]) -> int:
    return len(Detector(rules)(events))


def best(fn, events, rules, repeat: int) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(events, rules)
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000, help="packets in the plant capture")
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is reported")
    ap.add_argument("--sigma", type=Path, default=BENCH_DIR.parent.parent / "shared" / "corpus" / "sigma" / "rules"
                    / "windows", help="SigmaHQ rules to add to the OT pack")
    ap.add_argument("--naive-events", type=int, default=10_000, help="events for the naive loop")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="capture cache")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cap = capture(args.out, f"plant-{args.packets}", plant_params(args.packets))
    log("decoding in process ...")
    events = [ev for batch in decode_file(cap.path) for ev in batch]
    pack = load(pack_rules())
    ot_rules, failures = pack.rules, pack.failures
    sets = [("OT pack", ot_rules, len(failures))]
    if args.sigma.is_dir():
        log(f"loading {args.sigma} ...")
        sigmahq = load([args.sigma])
        windows, wfail = sigmahq.rules, sigmahq.failures
        sets.append((f"OT pack + {len(windows):,} SigmaHQ Windows rules", ot_rules + windows, len(wfail)))
    rows = []
    for name, rules, failed in sets:
        log(f"{name}: {len(rules):,} rules ...")
        t_engine, n_engine = best(engine, events, rules, args.repeat)
        part = events[: args.naive_events]
        t_naive, n_naive = best(naive, part, rules, 1)
        if engine(part, rules) != n_naive:
            raise SystemExit(f"{name}: engine and naive loop disagree on the first {len(part):,} events")
        rows.append((name, len(rules), failed, n_engine, len(events) / t_engine, len(part) / t_naive))

    print("Watchfloor detection benchmark (events/s through the rules; same events, same run)")
    print(f"events: {len(events):,} from {cap.path.name} ({cap.packets:,} packets); best of {args.repeat}\n")
    head = f"{'rule set':<44} {'rules':>6} {'alerts':>8} {'watchfloor ev/s':>16} {'naive ev/s':>11} {'ratio':>7}"
    print(head)
    print("-" * len(head))
    for name, n, failed, hits, eps, nps in rows:
        print(f"{name:<44} {n:>6,} {hits:>8,} {eps:>16,.0f} {nps:>11,.0f} {eps / nps:>6.1f}x"
              + (f"  ({failed} rules failed to load)" if failed else ""))
    print()
    for key, value in machine_facts():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
