"""`watchfloor listen` over real sockets: TCP never loses a message it read, even when a burst
overruns the queue (backpressure); a UDP burst larger than the queue is dropped in part, counted
and reported, and every datagram it accepted is stored; TLS works; SIGTERM stops cleanly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from watchfloor.listen import MAX_MESSAGE, Framer, ListenError, parse_address

WATCHFLOOR = [sys.executable, "-m", "watchfloor"]


class Running:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.db = tmp / "listen.duckdb"
        self.err = open(tmp / "stderr.txt", "w+")  # noqa: SIM115 -- read while the process runs
        self.proc = subprocess.Popen([*WATCHFLOOR, "listen", "--db", str(self.db), "--stats-interval", "0.2",
                                      *args], stdout=subprocess.PIPE, stderr=self.err, text=True)  # fmt: skip
        self.ports: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(self.ports) < sum(a.startswith("--syslog") for a in args):
            self.ports = {m[0]: int(m[1]) for m in re.findall(r"listening on (\w+)://[^ ]+:(\d+)", self.log())}
            time.sleep(0.1)
        assert self.ports, self.log()

    def log(self) -> str:
        self.err.seek(0)
        return self.err.read()

    def counter(self, name: str) -> int:
        found = re.findall(rf"{name} ([\d,]+)", self.log())
        return int(found[-1].replace(",", "")) if found else 0

    def wait_received(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.counter("stored") < n and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, self.log()
        return out


def _messages(db: Path, like: str) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT message FROM events WHERE message LIKE ?", [like]).fetchall()]
    finally:
        con.close()


def test_addresses() -> None:
    assert str(parse_address("udp://127.0.0.1:5514")) == "udp://127.0.0.1:5514"
    assert str(parse_address("tcp://[::1]:0")) == "tcp://[::1]:0"
    for bad in ("127.0.0.1:5514", "http://x:1", "udp://127.0.0.1"):
        with pytest.raises(ListenError):
            parse_address(bad)


def test_framer_octet_counting_and_lines() -> None:
    f = Framer()
    assert f.feed(b"12 <13>hello ab") == [b"<13>hello ab"]
    assert f.feed(b"<14>line one\r\n<14>line") == [b"<14>line one"]
    assert f.feed(b" two\n5 ab") == [b"<14>line two"]
    assert f.feed(b"cde") == [b"abcde"] and f.flush() == []
    big = b"x" * (MAX_MESSAGE + 500)
    assert f.feed(b"%d " % len(big) + big[:1000]) == []
    assert [len(m) for m in f.feed(big[1000:] + b"<1>next\n")] == [MAX_MESSAGE, 7] and f.truncated == 1


def test_tcp_burst_over_the_queue_loses_nothing_and_udp_overload_is_counted(tmp_path: Path) -> None:
    run = Running(tmp_path, "--syslog", "udp://127.0.0.1:0", "--syslog", "tcp://127.0.0.1:0",
                  "--queue", "10", "--no-detect")  # fmt: skip
    try:
        n_tcp, n_udp = 6000, 30000
        with socket.create_connection(("127.0.0.1", run.ports["tcp"])) as c:
            payload = b"".join(b"<134>May  1 08:00:00 plc-gw app[1]: tcp message %d\n" % i for i in range(n_tcp))
            c.sendall(payload)
        run.wait_received(n_tcp)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(n_udp):
            u.sendto(b"<134>1 2024-05-01T08:00:00Z h a - - - udp message %d" % i, ("127.0.0.1", run.ports["udp"]))
        u.close()
        time.sleep(1.0)
    finally:
        out = run.stop()
    log = run.log()
    received, stored, dropped = run.counter("received"), run.counter("stored"), run.counter("dropped")
    assert "overloaded, UDP messages are being dropped" in log
    assert dropped > 0 and stored == received  # everything acknowledged was stored
    tcp = _messages(run.db, "tcp message %")
    assert sorted(tcp) == sorted(f"tcp message {i}" for i in range(n_tcp))  # none lost, none twice
    udp = _messages(run.db, "udp message %")
    assert len(udp) == len(set(udp)) == received - n_tcp
    assert len(udp) + dropped <= n_udp
    assert f"{stored:,} events stored" in out


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl (Debian package) is needed")
def test_tls_listener(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)  # fmt: skip
    run = Running(tmp_path, "--syslog", "tls://127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        with socket.create_connection(("127.0.0.1", run.ports["tls"])) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as s:
            for i in range(50):
                m = b"<38>1 2024-05-01T08:00:00Z jump-host sshd 99 - - tls message %d" % i
                s.sendall(b"%d %s" % (len(m), m))  # RFC 5425 octet counting
        run.wait_received(50)
    finally:
        run.stop()
    assert sorted(_messages(run.db, "tls message %")) == sorted(f"tls message {i}" for i in range(50))


def test_bad_address_is_a_clear_error(tmp_path: Path) -> None:
    r = subprocess.run([*WATCHFLOOR, "listen", "--db", str(tmp_path / "x.duckdb"), "--syslog", "tls://127.0.0.1:0"],
                       capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, check=False)  # fmt: skip
    assert r.returncode != 0 and "tls:// needs --tls-cert and --tls-key" in r.stderr
