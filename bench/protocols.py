#!/usr/bin/env python3
"""Per-protocol decode throughput against tshark: one ratio per decoder, same capture, same run.

    python bench/protocols.py [--protocol P ...] [--packets N] [--repeat R] [--source P=PATH ...]

For each protocol the source is a capture made by the real protocol stacks of
`../shared/tools/traffic` (`../shared/corpus/generated/<protocol>_*.pcap`, the largest), or the one
given with `--source`. It is too small to time, so it is replayed into a capture of about
`--packets` packets: copy k shifts every IPv4 address (octets 2-3 XOR k, so each copy has its own
flows; layer-2 frames without IP: octets 5-6 of both MAC addresses) and its timestamps (copies start 1/8 of the source's duration apart, so about eight
conversations overlap at any time, merged in time order). Nothing else changes: the same bytes,
the same mix of messages as the stack produced.

Measured per capture (best wall of `--repeat`, commands interleaved):
  watchfloor decode CAPTURE --format jsonl                (default workers, and --workers 1)
  tshark -n -r CAPTURE <the conformance options> -T fields -e frame.number -e <contract fields>
and, as a check that both did the same work, the number of protocol messages each reported.
The tshark fields and options come from the conformance table (tests/conformance/tshark.py), so
the peer prints exactly the fields we are compared on. Progress to stderr, summary to stdout.
"""

from __future__ import annotations

import argparse
import heapq
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))  # the conformance table lives with the tests

from bench.decode import Result, log, machine_facts, measure, watchfloor_exe  # noqa: E402
from bench.decode import Capture as _Capture  # noqa: E402
from tests.conformance import tshark as T  # noqa: E402
from watchfloor.capture.files import read_packets  # noqa: E402
from watchfloor.capture.packets import ETH_IPV4, link_frame  # noqa: E402
from watchfloor.testing import write_pcap  # noqa: E402

GENERATED = T.CORPUS / "generated"


# Protocols whose generated captures are named for the stack's tool rather than the protocol.
SOURCE_GLOBS = {"profinet_dcp": "pn_dcp_*.pcap", "mms": "iec61850_mms*.pcap"}


def default_source(protocol: str) -> Path | None:
    pattern = SOURCE_GLOBS.get(protocol, f"{protocol}_*.pcap")
    found = sorted(GENERATED.glob(pattern), key=lambda p: p.stat().st_size)
    return found[-1] if found else None


def replay(source: Path, packets: int) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """(linktype, records) of `source` replayed to about `packets` packets (see module doc)."""
    base = []
    linktype = 1
    for _frame, ts, lt, data, _wire in read_packets(source):
        linktype = lt
        lf = link_frame(lt, data)
        ip_off = len(data) - len(lf.payload) if lf is not None and lf.ethertype == ETH_IPV4 else -1
        if ip_off < 0 and lt == 1 and lf is not None:
            ip_off = -2  # Ethernet without IP: shift the MACs instead
        base.append((ts, data, ip_off))
    if not base:
        raise SystemExit(f"{source}: no packets")
    t0 = base[0][0]
    span = max(base[-1][0] - t0, 1_000_000)
    copies = max(1, -(-packets // len(base)))

    def copy(k: int) -> Iterator[tuple[int, bytes]]:
        shift = k * span // 8
        for ts, data, off in base:
            if off != -1 and k:
                b = bytearray(data)
                # octets 2-3 of source and destination IPv4 address, or 5-6 of both MACs
                for a in (off + 13, off + 17) if off >= 0 else (4, 10):
                    b[a] ^= k >> 8
                    b[a + 1] ^= k & 0xFF
                data = bytes(b)
            yield ts - t0 + shift + 1_700_000_000_000_000_000, data

    return linktype, heapq.merge(*(copy(k) for k in range(copies)), key=lambda r: r[0])


class _Ev(msgspec.Struct):
    ot: dict | None = None


def our_messages(path: Path, protocol: str) -> int:
    cmd = [*watchfloor_exe(), "decode", str(path), "--format", "jsonl"]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    dec = msgspec.json.Decoder(_Ev)
    return sum(1 for line in out.splitlines() if (ev := dec.decode(line)).ot and protocol in ev.ot)


def tshark_messages(cmd: list[str], first_field: int) -> int:
    """Occurrences of the first contract field (one per message) in tshark's field output."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    n = 0
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) > first_field and cols[first_field]:
            n += cols[first_field].count(",") + 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocol", action="append", choices=sorted(T.PROTOCOLS),
                    help="protocol to measure (repeatable; default: every protocol with a source)")
    ap.add_argument("--packets", type=int, default=200_000, help="packets per replayed capture")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command; best wall is reported")
    ap.add_argument("--source", action="append", default=[], metavar="PROTOCOL=PATH",
                    help="capture to replay instead of the generated stack capture")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="scratch folder")
    args = ap.parse_args(argv)
    if shutil.which("tshark") is None:
        ap.error("tshark is not installed")
    sources: dict[str, Path] = {}
    for item in args.source:
        name, sep, path = item.partition("=")
        if not sep or name not in T.PROTOCOLS or not Path(path).is_file():
            ap.error(f"--source {item!r}: want PROTOCOL=PATH with a known protocol and an existing file")
        sources[name] = Path(path)
    args.out.mkdir(parents=True, exist_ok=True)

    rows = []
    for name in args.protocol or sorted(T.PROTOCOLS):
        spec = T.PROTOCOLS[name]
        source = sources.get(name) or default_source(name)
        if source is None:
            log(f"{name}: no source capture in {GENERATED} (give --source {name}=PATH); skipped")
            continue
        path = args.out / f"replay-{name}-{args.packets}.pcap"
        log(f"{name}: replaying {source.name} to ~{args.packets:,} packets ...")
        linktype, records = replay(source, args.packets)
        written = write_pcap(path, records, linktype=linktype, nanosecond=True)
        cap = _Capture(name, path, written, path.stat().st_size)
        ports = T.server_ports(T.run_decoder(source), spec)
        tshark = ["tshark", "-n", "-r", str(path), *spec.options(ports), "-T", "fields", "-e", "frame.number"]
        for f in spec.ws_fields:
            tshark += ["-e", f]
        ours_n, theirs_n = our_messages(path, name), tshark_messages(tshark, 1)
        group = [Result(cap, "watchfloor", [*watchfloor_exe(), "decode", str(path), "--format", "jsonl"]),
                 Result(cap, "watchfloor -w1", [*watchfloor_exe(), "decode", str(path), "--format", "jsonl",
                                                "--workers", "1"]),
                 Result(cap, "tshark", tshark)]
        for rep in range(args.repeat):
            for res in group:
                res.runs.append(measure(res.cmd, sample=False))  # (no memory figures here)
                log(f"  {res.tool:<15} run {rep + 1}/{args.repeat}: {res.runs[-1].wall:6.2f} s")
        rows.append((name, source, cap, group, ours_n, theirs_n))
        path.unlink()

    print("Watchfloor per-protocol decode benchmark (ratio = tshark wall / watchfloor wall, same capture)")
    print(f"args: --packets {args.packets} --repeat {args.repeat}\n")
    head = (f"{'protocol':<9} {'packets':>9} {'messages ours/tshark':>21} {'ours s':>7} {'-w1 s':>7} "
            f"{'tshark s':>8} {'ratio':>6} {'ratio -w1':>9}  source")
    print(head)
    print("-" * len(head))
    for name, source, cap, (ours, one, tshark), ours_n, theirs_n in rows:
        print(f"{name:<9} {cap.packets:>9,} {f'{ours_n:,}/{theirs_n:,}':>21} {ours.best.wall:>7.2f} "
              f"{one.best.wall:>7.2f} {tshark.best.wall:>8.2f} {tshark.best.wall / ours.best.wall:>5.2f}x "
              f"{tshark.best.wall / one.best.wall:>8.2f}x  {source.relative_to(T.SHARED.parent) if source.is_relative_to(T.SHARED.parent) else source}")
    print()
    for key, value in machine_facts():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    rc = main()
    log(f"done in {time.perf_counter() - start:.0f} s")
    raise SystemExit(rc)
