"""Where conformance captures come from: the shared corpus, the project's captures, live stacks.

Helper module, not a test; every ``test_<protocol>_conformance.py`` uses it the same way::

    CORPUS = corpus_params({"dnp3"}, generated="dnp3_*.pcap", labeled=("qut_dnp3",))
    PROJECT = project_params("dnp3_*")

Discovery runs at collection, so it only reads ``SOURCES.md`` and lists folders.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import pytest

from . import tshark as T
from .exceptions import exceptions_for

TRAFFIC = T.SHARED / "tools" / "traffic"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")


def corpus_captures(protocols: Iterable[str]) -> list[Path]:
    """Captures whose tshark protocol column in SOURCES.md (table 1) names one of `protocols`."""
    wanted = set(protocols)
    out: list[Path] = []
    in_table = False
    header: list[str] = []
    for line in (T.CORPUS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_table = line.startswith("## 1.")
            header = []
            continue
        if not in_table or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            continue
        if set(cells[0]) <= {"-", ":"}:
            continue
        row = dict(zip(header, cells))
        if wanted & set(row.get("protocols found by tshark", "").split()):
            out.append(T.CORPUS / row["path"])
    return out


def capture_id(p: Path) -> str:
    """Short test id: ``corpus/<owner__repo>/<name>`` or ``<folder>/<name>``."""
    rel = p.relative_to(T.CORPUS)
    if rel.parts[0] == "pcaps":
        return f"corpus/{rel.parts[1]}/{p.name}"
    return f"{rel.parts[0]}/{p.name}"


def corpus_params(protocols: Iterable[str], generated: str | None = None,
                  labeled: Iterable[str] = ()) -> list:
    """pytest params for a protocol's shared captures: SOURCES.md rows, ``generated/<glob>``, and
    the pcaps (and zips of pcaps) of the named ``labeled/`` datasets (searched recursively)."""
    if not (T.CORPUS / "SOURCES.md").is_file():
        return [pytest.param(None, id="no-shared-corpus",
                             marks=pytest.mark.skip(reason=f"{T.CORPUS} not found (../shared is absent)"))]
    caps = corpus_captures(protocols)
    if generated:
        caps += sorted((T.CORPUS / "generated").glob(generated))
    for name in labeled:
        folder = T.CORPUS / "labeled" / name
        caps += sorted(p for p in folder.rglob("*") if p.suffix in (*CAPTURE_SUFFIXES, ".zip"))
    return [pytest.param(p, id=capture_id(p)) for p in caps]


def project_params(pattern: str) -> list:
    """pytest params for ``tests/captures/<pattern>`` (the project's own generated captures)."""
    caps = sorted(p for p in (T.REPO / "tests" / "captures").glob(pattern) if p.is_file()
                  and p.suffix != ".md" and not p.name.endswith(".py"))
    if not caps:
        return [pytest.param(None, id="no-project-captures",
                             marks=pytest.mark.skip(reason=f"no tests/captures/{pattern} yet"))]
    return [pytest.param(p, id=f"project/{p.name}") for p in caps]


def conforms(capture: Path, protocol: str, *, label: str | Path | None = None,
             ports: set[int] | None = None, events: list | None = None) -> T.Comparison:
    """Decode `capture`, run tshark on it with the server ports our decoder found (plus `ports`),
    and assert both agree frame by frame, modulo the frames recorded in exceptions.py (looked
    up by `label`, default the capture's path; a zip member's label is "<zip>/<member>")."""
    if events is None:
        events = T.run_decoder(capture)
    derived = T.server_ports(events, T.PROTOCOLS[protocol])
    cmp = T.check_capture(capture, protocol, ports=derived | (ports or set()),
                          exceptions=exceptions_for(label or capture, protocol), events=events)
    print(cmp.summary())
    if cmp.stale_exceptions:
        print(f"note: recorded exceptions now agree with Wireshark at frames {cmp.stale_exceptions}")
    assert cmp.ok, "\n" + cmp.report(limit=20)
    return cmp


def resolve_capture(capture: Path, zip_dir: Path) -> list[Path]:
    """A capture path, or the captures inside a zip (extracted once into `zip_dir`)."""
    if capture.suffix != ".zip":
        return [capture]
    out = []
    # One folder per zip path: data sets reuse names (qut_dnp3 has four attacker.pcap.zip).
    rel = capture.relative_to(T.CORPUS) if capture.is_relative_to(T.CORPUS) else Path(capture.name)
    folder = "__".join(rel.with_suffix("").parts)
    with zipfile.ZipFile(capture) as z:
        for info in z.infolist():
            name = Path(info.filename).name
            if not name.endswith(CAPTURE_SUFFIXES):
                continue
            dest = zip_dir / folder / name
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            out.append(dest)
    if not out:
        pytest.skip(f"{capture.name} holds no capture")
    return out


# --------------------------------------------------------------------------------------------
# Live stacks (../shared/tools/traffic): real servers and clients on loopback, captured by tcpdump
# --------------------------------------------------------------------------------------------

def stack_python() -> str:
    venv = T.REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def listening(port: int) -> bool:
    """Whether a TCP socket listens on `port` (any address)."""
    want = f":{port:04X}"
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if parts[1].endswith(want) and parts[3] == "0A":
                        return True
        except FileNotFoundError:
            pass
    return False


def stack_skip_reason(imports: str, scripts: bool = True) -> str | None:
    """Why live stacks cannot run here, or None. `imports` is e.g. ``"pymodbus, pyModbusTCP"``;
    `scripts`: the shared traffic scripts and tshark are needed too (`run_stacks`), not only
    the stack libraries driven by the test itself (`capture`)."""
    if scripts and not TRAFFIC.is_dir():
        return f"{TRAFFIC} not found (../shared is absent)"
    if scripts and T.tshark_path() is None:
        return "tshark not installed"
    if os.geteuid() != 0:
        return "live stack captures need root (tcpdump on lo)"
    if not shutil.which("tcpdump"):
        return "tcpdump not installed"
    probe = subprocess.run([stack_python(), "-c", f"import {imports}"], capture_output=True)
    if probe.returncode != 0:
        return f"{stack_python()} cannot import {imports} (pip install -e '.[test]')"
    return None


#: name -> (pcap or None, port used, diagnostic text)
StackResults = dict[str, tuple[Path | None, int, str]]


def run_stacks(stacks: dict[str, tuple[str, int]], out_dir: Path, seconds: int) -> StackResults:
    """Run every ``name: (script, port)`` concurrently; a busy non-standard port is replaced by a
    free one, a busy standard port (< 1024) is reported instead (the host runs a real server)."""
    os.chmod(out_dir, 0o777)  # tcpdump may drop privileges to user tcpdump
    used: set[int] = set()
    procs: dict = {}
    for name, (script, port) in stacks.items():
        if listening(port) or port in used:
            if port < 1024:
                procs[name] = (None, port, f"port {port} is in use on this host")
                continue
            port = next(p for p in range(port + 100, port + 2000) if not listening(p) and p not in used)
        used.add(port)
        pcap = out_dir / f"{name}.pcap"
        cmd = [stack_python(), str(TRAFFIC / script), "--seconds", str(seconds), "--port", str(port), str(pcap)]
        procs[name] = (subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), port, pcap)
    results: StackResults = {}
    deadline = time.monotonic() + seconds + 90
    for name, (proc, port, pcap) in procs.items():
        if proc is None:
            results[name] = (None, port, pcap)
            continue
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        ok = proc.returncode == 0 and pcap.exists() and pcap.stat().st_size > 24
        results[name] = (pcap if ok else None, port, f"rc={proc.returncode}\n{out}\n{err}")
    return results


@contextlib.contextmanager
def capture(pcap: Path, bpf: str) -> Iterator[Path]:
    """tcpdump on lo into `pcap` while the block runs (stacks the test drives itself).
    `--immediate-mode`: otherwise the kernel ring holds the last packets and SIGINT loses them;
    `-Z root`: the file stays where root put it (tcpdump would switch to user tcpdump)."""
    cmd = ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0", "-Z", "root",
           "-w", str(pcap), bpf]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        while line and "listening on" not in line:
            line = proc.stderr.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"tcpdump did not start: rc={proc.wait()}")
        time.sleep(0.2)  # "listening on" comes just before the socket sees packets
        yield pcap
        time.sleep(0.3)  # the last FIN/ACKs
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
