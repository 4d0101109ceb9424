#!/usr/bin/env python3
"""SigmaHQ regression check: does each SigmaHQ Windows rule fire on the sample made for it?

    python bench/sigma_regression.py [--corpus ../shared/corpus] [--input evtx|json] [--misses]

For every sample folder of `labeled/sigma_regression` (one rule each: `<rule-id>.evtx`, the same
events as `<rule-id>.json`, `info.yml`), the sample is read by Watchfloor's own reader (the
`evtx` one, or with `--input json` the Windows JSON one) and the rule, found through
`rule_paths.tsv` under `sigma/`, runs unchanged through the detection engine with the Windows
pipeline (`detect.windows`). A sample passes when its rule raises at least one alert. Each miss
gets a cause, worked out from what happened, never from the rule's name:

  rule-load       the rule did not load or compile (reason given)
  no-rule-file    rule_paths.tsv names a file absent from the corpus
  unreadable      the reader reported corrupt records and produced no event
  logsource       no event of the sample is in the rule's log source (both shown)
  condition       events were in the log source but the condition was false on all of them

Prints the table (passes, misses by cause) and, with --misses, one line per miss.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from watchfloor.detect.alerts import Detector  # noqa: E402
from watchfloor.detect.rules import event_logsource, load  # noqa: E402
from watchfloor.detect.windows import pipeline  # noqa: E402
from watchfloor.telemetry import Corrupt  # noqa: E402
from watchfloor.telemetry import evtx as evtx_reader  # noqa: E402
from watchfloor.telemetry import winjson  # noqa: E402

DEFAULT_CORPUS = BENCH_DIR.parent.parent / "shared" / "corpus"


@dataclass
class Result:
    sample: str
    rule_id: str
    rule_path: str
    fired: bool
    alerts: int
    events: int
    cause: str = ""
    detail: str = ""


def samples(corpus: Path) -> list[tuple[Path, str, str]]:
    """(sample file, rule id, rule path) per sample folder, in a stable order."""
    base = corpus / "labeled" / "sigma_regression"
    paths = {}
    with open(base / "rule_paths.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            paths[row["rule_id"]] = row["rule_path"]
    out = []
    for sample in sorted((base / "regression_data").rglob("*.evtx")):
        rule_id = sample.stem
        out.append((sample, rule_id, paths.get(rule_id, "")))
    return out


def check(corpus: Path, sample: Path, rule_id: str, rule_path: str, source: str = "evtx") -> Result:
    rule_file = corpus / "sigma" / rule_path
    name = str(sample.relative_to(corpus / "labeled" / "sigma_regression"))
    if not rule_path or not rule_file.is_file():
        return Result(name, rule_id, rule_path, False, 0, 0, "no-rule-file", str(rule_file))
    ruleset = load([rule_file], pipeline())
    rules = [r for r in ruleset.rules if r.id == rule_id] or ruleset.rules
    if not rules:
        reason = ruleset.failures[0].reason if ruleset.failures else "no rule in file"
        return Result(name, rule_id, rule_path, False, 0, 0, "rule-load", reason)
    detector = Detector(rules)
    reader = evtx_reader.read if source == "evtx" else winjson.read
    path = sample if source == "evtx" else sample.with_suffix(".json")
    events, corrupt = [], []
    with open(path, "rb") as f:
        for item in reader(f, "regression"):
            (corrupt if isinstance(item, Corrupt) else events).append(item)
    alerts = detector(events)
    result = Result(name, rule_id, rule_path, bool(alerts), len(alerts), len(events))
    if alerts:
        return result
    if not events:
        result.cause, result.detail = "unreadable", "; ".join(map(str, corrupt[:2]))
        return result
    rule = rules[0]
    in_source = [e for e in events
                 if rule in detector.index.candidates(*event_logsource(None, e.event.category, e.winlog))]  # fmt: skip
    if not in_source:
        seen = sorted({f"{e.winlog.channel}/{e.winlog.event_id}" for e in events if e.winlog})
        result.cause = "logsource"
        result.detail = f"rule {rule.logsource}, events {', '.join(seen[:4])}"
    else:
        result.cause = "condition"
        result.detail = f"{len(in_source)} event(s) in log source {rule.logsource}"
    return result


def run(corpus: Path, source: str = "evtx") -> list[Result]:
    return [check(corpus, *s, source=source) for s in samples(corpus)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--input", choices=["evtx", "json"], default="evtx")
    ap.add_argument("--misses", action="store_true", help="list every miss with its cause")
    args = ap.parse_args()
    if not (args.corpus / "labeled" / "sigma_regression").is_dir():
        sys.exit(f"{args.corpus}: no labeled/sigma_regression here (use --corpus)")
    results = run(args.corpus, args.input)
    fired = sum(r.fired for r in results)
    causes = Counter(r.cause for r in results if not r.fired)
    print(f"SigmaHQ regression ({args.input} samples): {fired}/{len(results)} rules fire "
          f"({100 * fired / max(len(results), 1):.1f} %)")
    print(f"{'outcome':<14} {'samples':>7}")
    print(f"{'fired':<14} {fired:>7}")
    for cause, n in sorted(causes.items()):
        print(f"{'miss: ' + cause:<14} {n:>7}")
    if args.misses:
        for r in results:
            if not r.fired:
                print(f"MISS {r.cause:<10} {r.rule_path}  ({r.detail})")


if __name__ == "__main__":
    main()
