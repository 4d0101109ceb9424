"""The IT→OT scenario suite, measured three ways (issue 9): IT-only, context-free, converged.

    .venv/bin/python bench/triage.py [--scenarios scenarios] [--it-rules DIR] [--keep DIR]

Each scenario (scenarios/*.yml, see watchfloor.testing.scenarios) is built from real data into a
composite, ingested with `watchfloor ingest --site` (the built-in OT pack plus IT rules: SigmaHQ's
Windows rules from ../shared/corpus/sigma when present, else the project's rules/it), then
triaged in each mode. Printed per scenario and mode: whether the OT leg is seen and linked to
the IT leg, time from the first malicious record to the first P1/P2 alert and to the first
P1/P2 incident, from the OT leg's first packet to the first OT P1/P2 alert, and the number of
P1/P2 alerts an analyst must read (open: neither suppressed nor merged). Then the issue's targets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from watchfloor.detect.pack import pack_rules
from watchfloor.site import load_site
from watchfloor.store import open_store
from watchfloor.testing.scenarios import CORPUS, ScenarioError, build, load, measure

ROOT = Path(__file__).resolve().parents[1]
MODES = ("it-only", "context-free", "converged")


def it_rules() -> list[Path]:
    sigma = CORPUS / "sigma" / "rules" / "windows"
    return [sigma] if sigma.is_dir() else [ROOT / "rules" / "it"]


def run_one(spec: Path, work: Path, rules: list[Path]) -> tuple[dict, dict] | None:
    sc = load(spec)
    if sc.missing():
        print(f"skip {sc.name}: missing {', '.join(p.name for p in sc.missing())}", file=sys.stderr)
        return None
    out = work / sc.name
    meta = build(sc, out)
    inputs = [out / "ot.pcap"] + ([out / "it.jsonl"] if meta["it_records"] else [])
    db = out / "store.duckdb"
    site_file = out / "site.yml"
    cmd = [sys.executable, "-m", "watchfloor", "ingest", *map(str, inputs), "--db", str(db),
           "--workers", "1", *[a for r in [*pack_rules(), *rules] for a in ("--rules", str(r))],
           *(["--site", str(site_file)] if site_file.exists() else [])]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    store = open_store(db)
    try:
        site = load_site(site_file) if site_file.exists() else None
        return meta, measure(store, site, meta["malicious_start"], meta["ot_start"])
    finally:
        store.close()


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    ap.add_argument("--it-rules", type=Path, action="append", help="IT rules (default: see above)")
    ap.add_argument("--keep", type=Path, help="Keep the built scenarios and stores here.")
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    ap.add_argument("--only", help="Comma-separated scenario names (default: all).")
    args = ap.parse_args()
    rules = args.it_rules or it_rules()
    specs = sorted(p for p in args.scenarios.glob("*.yml") if p.name != "site.yml")
    if args.only:
        wanted = set(args.only.split(","))
        specs = [p for p in specs if p.stem in wanted]
        if len(specs) != len(wanted):
            print(f"error: unknown scenario(s) in --only: {args.only}", file=sys.stderr)
            return 2
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        for spec in specs:
            try:
                got = run_one(spec, work, rules)
            except ScenarioError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            if got:
                results[got[0]["name"]] = {"label": got[0]["label"], **got[1]}
    print(f"IT rules: {', '.join(map(str, rules))}\n")
    head = f"{'scenario':<40} {'label':<8} {'mode':<13} {'alerts':>6} {'OT seen':>7} {'linked':>6} " \
           f"{'P1/P2':>5} {'to P1/P2 s':>10} {'to incident s':>13} {'OT leg to P1/P2 s':>17}"  # fmt: skip
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        for mode in MODES:
            m = r[mode]
            print(f"{name:<40} {r['label']:<8} {mode:<13} {m['alerts']:>6} {_fmt(m['ot_seen']):>7} "
                  f"{_fmt(m['linked']):>6} {m['p12']:>5} {_fmt(m['ttd_p12_s']):>10} "
                  f"{_fmt(m['tt_incident_s']):>13} {_fmt(m['ttd_ot_s']):>17}")  # fmt: skip
    pos = [r for r in results.values() if r["label"] == "positive"]
    neg = [r for r in results.values() if r["label"] == "negative"]
    linked = sum(r["converged"]["linked"] for r in pos)
    neg_p12 = sum(r["converged"]["p12"] for r in neg)
    cf = sum(r["context-free"]["p12"] for r in results.values())
    cv = sum(r["converged"]["p12"] for r in results.values())
    fewer = 1 - cv / cf if cf else 0.0
    print()
    print(f"converged links IT and OT legs in {linked}/{len(pos)} positive scenarios (target: all)")
    print(f"converged P1/P2 alerts on negative scenarios: {neg_p12} (target: 0)")
    print(f"P1/P2 alerts to read: context-free {cf}, converged {cv}: {fewer:.0%} fewer (target: >= 60%)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
