#!/usr/bin/env python3
"""Decode and ingest benchmark: `watchfloor decode --format jsonl` against `tshark -T fields`
on the same Modbus/TCP captures, measured in the same run, printed as ratios; and store
ingest in events/s.

    python bench/decode.py [--packets N] [--repeat R] [--out DIR] [--keep]

Captures are generated with Watchfloor's own test kit (`watchfloor.testing`) and cached in
`--out` (default bench/out/, gitignored) together with the parameters that made them; a
cached capture is reused only when those parameters, and the kit's source, are unchanged.

What is measured, per command (each run `--repeat` times, interleaved; best wall time reported):
  wall s      fork to exit of the command (stdout and stdin on /dev/null)
  CPU s       user + system time of the command and every descendant it waited for
              (wait4 on the command: Linux returns the zombie's own usage plus that of its
              reaped children, so our decoder's worker processes are included)
  max RSS MB  ru_maxrss from the same wait4: the peak resident set of the LARGEST single
              process in the tree (not a sum); the highest over the repeats
  tree PSS MB the peak over time of the summed proportional set size (/proc/PID/smaps_rollup)
              of the command and all its live descendants, sampled every 50 ms; PSS splits
              pages shared between forked processes, so the sum does not double count. Sampled
              in one more run of each command, not in the timed ones: a sample reads the kernel's
              page tables (~3 ms of CPU each), time taken from a command that uses every core
              but not from a single-threaded one
The command is forked by a bare launcher interpreter rather than by this process, because
ru_maxrss survives exec and starts from the parent's resident set at fork (see LAUNCHER).

Progress goes to stderr; the summary (figures, ratios, exact commands, machine facts) to
stdout. Benchmarks are not tests: the exit status is 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import heapq
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import msgspec

from watchfloor.testing import Endpoint, poll_session, write_pcap
from watchfloor.testing import modbus as _kit_modbus

BENCH_DIR = Path(__file__).resolve().parent
SCENARIO_VERSION = 1  # bump when the scenario definitions below change

HMI = ("10.10.1.50", "02:00:00:01:00:32")
PLCS = 8
START_NS = _kit_modbus.DEFAULT_START_NS

TSHARK_FIELDS = (
    "frame.number",
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "mbtcp.trans_id",
    "mbtcp.unit_id",
    "modbus.func_code",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- scenarios ---------------------------------------------------------------------------------


def _plc(i: int) -> Endpoint:
    return Endpoint(f"10.10.2.{10 + i}", 502, f"02:00:00:02:00:{10 + i:02x}")


def plant_params(packets: int) -> dict:
    share, extra = divmod(packets, PLCS)
    return {
        "scenario": "plant",
        "packets": packets,
        "sessions": [
            {
                "packets": share + (i < extra),
                "seed": 101 + i,
                "client": [HMI[0], 49500 + i, HMI[1]],
                "server": list(_plc(i)),
                "start_ns": START_NS + i * 29_000_000,
            }  # the HMI staggers its scans over the PLCs
            for i in range(PLCS)
        ],
    }


def single_params(packets: int) -> dict:
    return {
        "scenario": "single",
        "packets": packets,
        "sessions": [
            {
                "packets": packets,
                "seed": 1,
                "client": [HMI[0], 49500, HMI[1]],
                "server": list(_plc(0)),
                "start_ns": START_NS,
            }
        ],
    }


def records(params: dict) -> Iterator[tuple[int, bytes]]:
    sessions = [
        poll_session(
            packets=s["packets"],
            seed=s["seed"],
            client=Endpoint(*s["client"]),
            server=Endpoint(*s["server"]),
            start_ns=s["start_ns"],
        )
        for s in params["sessions"]
    ]
    if len(sessions) == 1:
        return sessions[0]
    return heapq.merge(*sessions, key=itemgetter(0))  # one time-ordered capture


def kit_digest() -> str:
    """Hash of the test kit's source: a changed generator invalidates cached captures."""
    h = hashlib.sha256()
    kit = Path(_kit_modbus.__file__).parent
    for path in sorted(kit.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Capture:
    label: str
    path: Path
    packets: int
    size: int

    @property
    def mb(self) -> float:
        return self.size / 1e6


def capture(out: Path, label: str, params: dict) -> Capture:
    path = out / f"{label}.pcap"
    meta_path = path.with_suffix(".json")
    wanted = {"version": SCENARIO_VERSION, "kit": kit_digest(), "params": params}
    if path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if meta.get("wanted") == wanted and meta.get("size") == path.stat().st_size:
            log(f"reusing {path} ({meta['written']:,} packets, {meta['size'] / 1e6:.1f} MB)")
            return Capture(label, path, meta["written"], meta["size"])
    log(
        f"generating {path} ({params['packets']:,} packets, {len(params['sessions'])} connection(s)) ..."
    )
    start = time.perf_counter()
    tmp = path.with_suffix(".pcap.tmp")
    written = write_pcap(tmp, records(params))
    tmp.replace(path)
    size = path.stat().st_size
    meta_path.write_text(json.dumps({"wanted": wanted, "written": written, "size": size}, indent=1))
    log(f"  {written:,} packets, {size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")
    return Capture(label, path, written, size)


# -- measuring a command -----------------------------------------------------------------------


# The measured command is started by this small launcher, not by the benchmark process: on
# Linux a process's ru_maxrss survives exec and starts from its parent's resident set at fork,
# so a command forked straight from this (large) process would report our own memory. The
# launcher is a bare interpreter (-I -S, a few MB); it forks the command, waits for it with
# wait4 and writes wall time and rusage to the file named by argv[1]. wait4 returns the
# command's own usage plus that of every descendant it reaped (the decoder's worker
# processes), with ru_maxrss the largest single process.
LAUNCHER = """\
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(out, "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss}")
"""


class TreeSampler(threading.Thread):
    """Peak of the summed PSS of the launcher's live descendants (not the launcher), sampled."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.done = threading.Event()

    @staticmethod
    def _children(pid: int) -> list[int]:
        kids = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids += [int(k) for k in f.read().split()]
        except OSError:
            pass
        return kids

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def sample(self) -> None:
        total, todo = 0, self._children(self.pid)
        while todo:
            pid = todo.pop()
            total += self._pss_kb(pid)
            todo += self._children(pid)
        self.peak_kb = max(self.peak_kb, total)

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()


@dataclass
class Run:
    wall: float
    cpu: float
    max_rss_mb: float
    tree_pss_mb: float | None  # None: not sampled (a timed run)


class CommandFailed(RuntimeError):
    pass


def measure(cmd: list[str], *, sample: bool = True) -> Run:
    """One run of `cmd`; `sample`: also sample the tree's PSS (which costs the command CPU)."""
    with (
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as report,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, report.name, *cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        sampler = TreeSampler(proc.pid) if sample else None
        if sampler is not None:
            sampler.start()
        proc.wait()
        if sampler is not None:
            sampler.done.set()
            sampler.join()
        fields = report.read().split()
        if proc.returncode != 0 or len(fields) != 4 or fields[0] != "0":
            err.seek(0)
            raise CommandFailed(
                f"{shlex.join(cmd)} failed ({' '.join(fields) or proc.returncode}):\n"
                f"{err.read().decode(errors='replace')[-2000:]}"
            )
    _, wall, cpu, maxrss_kb = fields
    return Run(float(wall), float(cpu), int(maxrss_kb) / 1024,
               sampler.peak_kb / 1024 if sampler is not None else None)


@dataclass
class Result:
    capture: Capture
    tool: str
    cmd: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run:  # of the timed (unsampled) runs
        return min((r for r in self.runs if r.tree_pss_mb is None), key=lambda r: r.wall)

    @property
    def pps(self) -> float:
        return self.capture.packets / self.best.wall

    @property
    def mbps(self) -> float:
        return self.capture.mb / self.best.wall

    @property
    def max_rss(self) -> float:  # peak over the repeats: memory is not a best-of figure
        return max(r.max_rss_mb for r in self.runs)

    @property
    def tree_pss(self) -> float:
        return max(r.tree_pss_mb for r in self.runs if r.tree_pss_mb is not None)


# -- commands ----------------------------------------------------------------------------------


def watchfloor_exe() -> list[str]:
    exe = Path(sys.executable).with_name("watchfloor")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("watchfloor")
    return [found] if found else [sys.executable, "-m", "watchfloor"]


def ours_cmd(path: Path, workers: int | None) -> list[str]:
    cmd = [*watchfloor_exe(), "decode", str(path), "--format", "jsonl"]
    return cmd if workers is None else [*cmd, "--workers", str(workers)]


def ingest_cmd(path: Path, db: Path) -> list[str]:
    return [*watchfloor_exe(), "ingest", str(path), "--db", str(db)]


def tshark_cmd(path: Path) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for name in TSHARK_FIELDS:
        cmd += ["-e", name]
    return cmd


# -- equal output ------------------------------------------------------------------------------


class _Modbus(msgspec.Struct):
    transaction_id: int | None = None
    unit_id: int | None = None
    function_code: int | None = None


class _Ot(msgspec.Struct):
    modbus: _Modbus | None = None


class _Pcap(msgspec.Struct):
    frame: int | None = None


class _Meta(msgspec.Struct):
    action: str | None = None


class _Event(msgspec.Struct):
    event: _Meta | None = None
    ot: _Ot | None = None
    pcap: _Pcap | None = None


@dataclass
class Output:
    lines: int = 0
    nbytes: int = 0
    pdus: collections.Counter = field(default_factory=collections.Counter)  # (frame, tid, unit, fc)
    others: collections.Counter = field(
        default_factory=collections.Counter
    )  # event.action of the rest

    @property
    def modbus(self) -> int:
        return sum(self.pdus.values())


def ours_output(cmd: list[str]) -> Output:
    out = Output()
    decode = msgspec.json.Decoder(_Event).decode
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as proc:
        for line in proc.stdout:  # type: ignore[union-attr]
            out.lines += 1
            out.nbytes += len(line)
            event = decode(line)
            if event.ot is not None and event.ot.modbus is not None:
                m = event.ot.modbus
                out.pdus[
                    (
                        event.pcap.frame if event.pcap else None,
                        m.transaction_id,
                        m.unit_id,
                        m.function_code,
                    )
                ] += 1
            else:
                out.others[event.event.action if event.event else None] += 1
    if proc.returncode:
        raise CommandFailed(f"{shlex.join(cmd)} exited {proc.returncode}")
    return out


def tshark_output(cmd: list[str]) -> Output:
    out = Output()
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        for line in proc.stdout:  # type: ignore[union-attr]
            out.lines += 1
            out.nbytes += len(line)
            cols = line.rstrip(b"\n").split(b"\t")
            if len(cols) < 8 or not cols[5]:
                continue
            tids, units, fcs = (c.split(b",") for c in cols[5:8])
            frame = int(cols[0])
            for tid, unit, fc in zip(tids, units, fcs):
                out.pdus[(frame, int(tid), int(unit), int(fc))] += 1
            if not len(tids) == len(units) == len(fcs):
                out.pdus[(frame, "uneven field counts", None, None)] += 1
    if proc.returncode:
        raise CommandFailed(f"{shlex.join(cmd)} exited {proc.returncode}")
    return out


# -- store ingest ------------------------------------------------------------------------------


@dataclass
class Ingest:
    events: int
    chunks: int
    nbytes: int
    decode_s: float
    append_s: list[float]  # one per repeat, each into a fresh store
    stored: int

    @property
    def best(self) -> float:
        return min(self.append_s)


def ingest_in_process(cap: Capture, scratch: Path, limit: int, repeat: int) -> Ingest:
    from watchfloor.sensor import decode_jsonl
    from watchfloor.store import open_store

    chunks, events, start = [], 0, time.perf_counter()
    for chunk in decode_jsonl(cap.path, workers=1):
        chunks.append(chunk)
        events += chunk.count(b"\n")
        if events >= limit:
            break
    decode_s = time.perf_counter() - start
    times, stored = [], 0
    for rep in range(repeat):
        db = scratch / f"append-{rep}.duckdb"
        store = open_store(db)
        try:
            start = time.perf_counter()
            with store.transaction():  # commits, after draining the store's writer thread
                for chunk in chunks:
                    store.append_jsonl(chunk)
            times.append(time.perf_counter() - start)
            stored = store.count()
        finally:
            store.close()
        log(f"  append run {rep + 1}/{repeat}: {events:,} events in {times[-1]:.2f} s")
        if rep + 1 < repeat:
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
    return Ingest(events, len(chunks), sum(map(len, chunks)), decode_s, times, stored)


def stored_events(db: Path) -> int:
    from watchfloor.store import open_store

    store = open_store(db, read_only=True)
    try:
        return store.count()
    finally:
        store.close()


# -- facts -------------------------------------------------------------------------------------


def source_state() -> str:
    """The commit, and whether src/ has uncommitted changes (the decoder is installed editable)."""
    repo = BENCH_DIR.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "?"
    return (commit or "?") + (" (+ uncommitted changes in src/)" if dirty else "")


def machine_facts() -> list[tuple[str, str]]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        tshark = subprocess.run(
            ["tshark", "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError):
        tshark = "not found"
    try:
        from importlib.metadata import version

        ours = version("watchfloor")
    except Exception:  # noqa: BLE001 - a fact, not a requirement
        ours = "?"
    commit = source_state()
    try:
        import duckdb

        duck = duckdb.__version__
    except Exception:  # noqa: BLE001
        duck = "?"
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        (
            "cpu",
            (
                f"{model or platform.processor()}; os.cpu_count()={os.cpu_count()}, "
                f"usable={len(os.sched_getaffinity(0))}"
            ),
        ),
        ("memory", mem),
        ("os", platform.platform()),
        ("python", sys.version.split()[0]),
        ("tshark", tshark),
        ("watchfloor", f"{ours}, git {commit}"),
        ("duckdb", duck),
    ]


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--packets", type=int, default=1_000_000, help="packets per capture (default 1,000,000)"
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs per command; best wall time is reported"
    )
    ap.add_argument(
        "--out", type=Path, default=BENCH_DIR / "out", help="capture cache (default bench/out)"
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the DuckDB files written by the ingest runs"
    )
    args = ap.parse_args(argv)
    if args.packets < PLCS * 4 or args.repeat < 1:
        ap.error("need --packets >= 32 and --repeat >= 1")
    if shutil.which("tshark") is None:
        ap.error("tshark is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    load_before = os.getloadavg()
    source_before = source_state()
    n, quarter = args.packets, args.packets // 4

    plant = capture(args.out, f"plant-{n}", plant_params(n))
    plant_q = capture(args.out, f"plant-{quarter}", plant_params(quarter))
    single = capture(args.out, f"single-{n}", single_params(n))

    # Equal output: the default-worker decoder and tshark on the plant capture, compared PDU by
    # PDU (frame, transaction id, unit id, function code). Also warms the page cache.
    log("equal output: decoding the plant capture with both tools ...")
    ours_out = ours_output(ours_cmd(plant.path, None))
    tshark_out = tshark_output(tshark_cmd(plant.path))
    only_ours = ours_out.pdus - tshark_out.pdus
    only_tshark = tshark_out.pdus - ours_out.pdus
    ours_modbus, tshark_modbus = ours_out.modbus, tshark_out.modbus
    ours_out.pdus.clear()  # a few hundred MB; the comparison is done
    tshark_out.pdus.clear()

    tools = [("watchfloor (default workers)", None), ("watchfloor --workers 1", 1)]
    results: list[Result] = []
    for cap in (plant, plant_q, single):
        group = [Result(cap, name, ours_cmd(cap.path, w)) for name, w in tools]
        group.append(Result(cap, "tshark -T fields", tshark_cmd(cap.path)))
        for rep in range(args.repeat):
            for res in group:  # interleaved, so drift (thermal, neighbours) hits every tool alike
                run = measure(res.cmd, sample=False)
                res.runs.append(run)
                log(f"{cap.label:>14} {res.tool:<28} run {rep + 1}/{args.repeat}: {run.wall:6.2f} s, "
                    f"max RSS {run.max_rss_mb:6.1f} MB")
        for res in group:  # memory over time: its own run (sampling takes CPU from the command)
            run = measure(res.cmd)
            res.runs.append(run)
            log(f"{cap.label:>14} {res.tool:<28} memory run: tree PSS {run.tree_pss_mb:6.1f} MB")
        results.extend(group)

    # Store ingest: decode once in process, then time only the appends.
    tmpdir = Path(tempfile.mkdtemp(prefix="wf-bench-", dir=args.out))
    log("store ingest: decoding the plant capture in process (workers=1) ...")
    ing = ingest_in_process(plant, tmpdir, limit=1_000_000, repeat=args.repeat)
    e2e: dict[str, tuple[Capture, Run, int]] = {}
    for cap in (plant_q, plant):
        db = tmpdir / f"ingest-{cap.label}.duckdb"
        log(f"end-to-end: watchfloor ingest {cap.label} ...")
        run = measure(ingest_cmd(cap.path, db))
        e2e[cap.label] = (cap, run, stored_events(db))
        log(
            f"  {run.wall:.2f} s, {e2e[cap.label][2]:,} events stored, max RSS {run.max_rss_mb:.1f} MB"
        )
    if args.keep:
        log(f"kept DuckDB files in {tmpdir}")
    else:
        shutil.rmtree(tmpdir, ignore_errors=True)

    # -- summary --
    p = print
    p("Watchfloor decode benchmark")
    p("=" * 27)
    p(
        f"args: --packets {n} --repeat {args.repeat}; total bench time {time.perf_counter() - began:.0f} s\n"
    )
    p("Captures (generated by watchfloor.testing.poll_session, Ethernet/IPv4/TCP, classic pcap):")
    p(
        f"  plant   one HMI ({HMI[0]}) polling {PLCS} PLCs (10.10.2.10-17:502), {PLCS} TCP connections merged "
        "in time order;"
    )
    p(
        "          per 250 ms scan: FC 3, 4, 1, 2 reads; ~1 scan in 8 also writes (FC 5/6/15/16/23), ~1% "
        "exceptions"
    )
    p("  single  the same poll/write mix on one HMI<->PLC connection")
    for cap in (plant, plant_q, single):
        p(f"  {cap.label:<16} {cap.packets:>10,} packets {cap.mb:>8.1f} MB  {cap.path}")
    p()
    p(
        f"Decode (best of {args.repeat} wall; max RSS = largest single process, peak over runs; tree PSS = "
        "sampled sum over the process tree; CPU = user+sys incl. child processes)"
    )
    head = (
        f"{'capture':<16} {'tool':<28} {'wall s':>7} {'packets/s':>11} {'MB/s':>7} "
        f"{'max RSS MB':>10} {'tree PSS MB':>11} {'CPU s':>7}"
    )
    p(head)
    p("-" * len(head))
    for r in results:
        p(
            f"{r.capture.label:<16} {r.tool:<28} {r.best.wall:>7.2f} {r.pps:>11,.0f} {r.mbps:>7.1f} "
            f"{r.max_rss:>10.1f} {r.tree_pss:>11.1f} {r.best.cpu:>7.2f}"
        )
    p()

    by = {(r.capture.label, r.tool): r for r in results}

    def ratio(cap: Capture, tool: str) -> float:
        return by[(cap.label, tool)].pps / by[(cap.label, "tshark -T fields")].pps

    p("Throughput ratio, watchfloor / tshark (same capture, same run; >1 = faster than tshark):")
    for cap in (plant, plant_q, single):
        p(
            f"  {cap.label:<16} default workers {ratio(cap, tools[0][0]):5.2f}x   "
            f"--workers 1 {ratio(cap, tools[1][0]):5.2f}x"
        )
    p()
    p(
        f"Memory vs capture size ({plant_q.label} -> {plant.label}, 4x the packets), max RSS / tree PSS:"
    )
    for tool in (*(t for t, _ in tools), "tshark -T fields"):
        small, big = by[(plant_q.label, tool)], by[(plant.label, tool)]
        p(
            f"  {tool:<28} {small.max_rss:7.1f} -> {big.max_rss:7.1f} MB ({big.max_rss / small.max_rss:4.2f}x)"
            f"   {small.tree_pss:7.1f} -> {big.tree_pss:7.1f} MB ({big.tree_pss / small.tree_pss:4.2f}x)"
        )
    p()
    p(f"Equal output ({plant.label}, PDU = (frame, transaction id, unit id, function code)):")
    p(
        f"  watchfloor: {ours_out.lines:,} events, {ours_modbus:,} with ot.modbus, "
        f"{ours_out.nbytes / 1e6:.1f} MB of JSON lines"
    )
    if ours_out.others:
        p(
            "              without ot.modbus: "
            + ", ".join(f"{n:,} {a}" for a, n in ours_out.others.most_common())
            + " (the captures stop mid-exchange: requests left unanswered)"
        )
    p(
        f"  tshark:     {tshark_modbus:,} Modbus PDUs (occurrences of mbtcp.trans_id) in {tshark_out.lines:,} "
        f"lines, {tshark_out.nbytes / 1e6:.1f} MB of TSV"
    )
    if only_ours or only_tshark or ours_modbus != tshark_modbus:
        p(
            f"  WARNING: outputs differ: {sum(only_ours.values()):,} PDUs only in ours, "
            f"{sum(only_tshark.values()):,} only in tshark's; e.g. ours {list(only_ours)[:3]}, "
            f"tshark {list(only_tshark)[:3]}"
        )
    else:
        p("  identical multisets of PDUs")
    p()
    p("Store ingest (DuckDB, one transaction):")
    p(
        f"  append_jsonl only: {ing.events:,} events ({ing.chunks:,} chunks, {ing.nbytes / 1e6:.1f} MB); "
        f"best of {len(ing.append_s)} {ing.best:.2f} s = {ing.events / ing.best:,.0f} events/s "
        f"(all runs: {', '.join(f'{ing.events / t:,.0f}' for t in ing.append_s)}; stored {ing.stored:,}; "
        f"decoding them in process took {ing.decode_s:.2f} s)"
    )
    for cap, run, stored in e2e.values():
        p(
            f"  end to end, watchfloor ingest {cap.label}: {run.wall:.2f} s = {cap.packets / run.wall:,.0f} "
            f"packets/s, {stored / run.wall:,.0f} events/s ({stored:,} stored); max RSS {run.max_rss_mb:.1f} MB, "
            f"tree PSS {run.tree_pss_mb:.1f} MB, CPU {run.cpu:.2f} s (one run, default workers)"
        )
    p()
    best_plant = max(ratio(plant, t) for t, _ in tools)
    growth = max(by[(plant.label, t)].max_rss / by[(plant_q.label, t)].max_rss for t, _ in tools)
    growth_pss = max(
        by[(plant.label, t)].tree_pss / by[(plant_q.label, t)].tree_pss for t, _ in tools
    )
    ingest_rate = ing.events / ing.best

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    p("Targets:")
    p(
        f"  throughput >= 5x tshark (aim 10x), plant, best config: {best_plant:.2f}x -> {verdict(best_plant >= 5)}"
    )
    p(
        f"  store ingest >= 100,000 events/s: {ingest_rate:,.0f} -> {verdict(ingest_rate >= 100_000)}"
    )
    p(
        f"  peak memory flat in capture size (<= 1.2x for 4x packets): max RSS {growth:.2f}x, tree PSS "
        f"{growth_pss:.2f}x -> {verdict(growth <= 1.2 and growth_pss <= 1.2)}"
    )
    (_, small, _), (_, big, _) = e2e[plant_q.label], e2e[plant.label]
    ingest_growth = big.max_rss_mb / small.max_rss_mb
    p(
        f"  (not a stated target) watchfloor ingest peak memory, {plant_q.label} -> {plant.label}: "
        f"{small.max_rss_mb:.1f} -> {big.max_rss_mb:.1f} MB ({ingest_growth:.2f}x) -> "
        f"{'flat' if ingest_growth <= 1.2 else 'GROWS with capture size'}"
    )
    p()
    p("Commands (CAPTURE = each capture above):")
    p(f"  {shlex.join(ours_cmd(Path('CAPTURE'), None))} > /dev/null")
    p(f"  {shlex.join(ours_cmd(Path('CAPTURE'), 1))} > /dev/null")
    p(f"  {shlex.join(tshark_cmd(Path('CAPTURE')))} > /dev/null")
    p(f"  {shlex.join(ingest_cmd(Path('CAPTURE'), Path('TMP.duckdb')))}   (fresh file each time)")
    p(
        "  in process: watchfloor.sensor.decode_jsonl(plant, workers=1) chunks, then timed "
        "store.append_jsonl(chunk) for each inside store.transaction()"
    )
    p()
    p("Machine:")
    for key, value in machine_facts():
        p(f"  {key:<10} {value}")
    load_after = os.getloadavg()
    source_after = source_state()
    if source_after != source_before:
        p(
            f"  WARNING    the source changed during the run: {source_before} at start, {source_after} at end;"
        )
        p("             the figures may mix two versions of the decoder")
    p(
        f"  {'load avg':<10} {load_before[0]:.2f} at start, {load_after[0]:.2f} at end (1 min; other work on the "
        "machine skews the figures)"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CommandFailed as e:
        print(f"benchmark aborted, a measured command failed: {e}", file=sys.stderr)
        print(
            "(the decoder's CLI may have changed: see `watchfloor decode --help`)", file=sys.stderr
        )
        sys.exit(2)
