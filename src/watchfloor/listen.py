"""The syslog listener: UDP, TCP and TLS syslog (RFC 5424 / 3164 / CEF) → events → detection → store.

What "acknowledged" means, and what is never lost:
- TCP and TLS: a message is acknowledged when the listener has read it from the connection. A
  connection's next bytes are read only after everything read before is committed to the store
  (the reader hands its messages to the writer and waits for the commit), so a message read is a
  message stored; when the store falls behind, the listener stops reading and TCP flow control
  makes the senders wait. Nothing read is ever dropped.
- UDP has no acknowledgement on the wire. Here a datagram is acknowledged when it is accepted
  into the bounded queue; accepted datagrams are stored like TCP messages. A datagram that
  arrives while the queue is full is dropped and counted (`dropped`) — that is the overload
  report: counters are logged every `stats_interval` seconds while anything changes, at once
  when drops start, and in the summary at exit. (Datagrams the kernel discards before the
  listener reads them are not seen by anyone; the receive buffer is enlarged to make that rare.)
- A message that is not valid syslog is still stored, as `event.action = unparsed_syslog` with
  its text, never dropped.
- SIGINT / SIGTERM: stop accepting connections and UDP datagrams; read what open connections
  have already sent (until each goes quiet, DRAIN_SECONDS at most); store everything
  acknowledged; mark the source complete; print the summary; exit 0.
"""

from __future__ import annotations

import queue
import select
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .schema import Endpoint, Event, EventMeta
from .schema.time import rfc3339
from .store import Source, Store
from .telemetry.syslog import NotSyslog, parse

MAX_MESSAGE = 64 * 1024  # longer TCP messages are cut here (RFC 5425 asks receivers for 8 KiB+)
MAX_CONNECTIONS = 256
DRAIN_SECONDS = 5.0  # on stop, open connections are read until quiet, for this long at most


class ListenError(Exception):
    """A listen address that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Address:
    scheme: str  # udp, tcp, tls
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_address(text: str) -> Address:
    """`udp://127.0.0.1:5514`, `tcp://[::1]:5514`, `tls://0.0.0.0:6514` (port 0: any free port)."""
    u = urlsplit(text)
    if u.scheme not in ("udp", "tcp", "tls"):
        raise ListenError(f"{text}: the address must start with udp://, tcp:// or tls://")
    try:
        port = u.port
    except ValueError:
        port = None
    if not u.hostname or port is None:
        raise ListenError(f"{text}: give a host and a port, e.g. {u.scheme or 'udp'}://127.0.0.1:5514")
    return Address(u.scheme, u.hostname, port)


@dataclass
class Counters:
    received: int = 0  # messages acknowledged (read from TCP/TLS, accepted from UDP)
    stored: int = 0  # events committed (messages; alerts counted apart)
    alerts: int = 0
    dropped: int = 0  # UDP datagrams refused: queue full
    unparsed: int = 0  # stored as unparsed_syslog
    truncated: int = 0  # TCP messages longer than MAX_MESSAGE, stored cut
    connections: int = 0
    refused_connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **kw: int) -> None:
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def text(self) -> str:
        return (f"received {self.received:,}, stored {self.stored:,}, alerts {self.alerts:,}, "
                f"dropped {self.dropped:,} (UDP, queue full), unparsed {self.unparsed:,}, "
                f"truncated {self.truncated:,}, connections {self.connections:,}")  # fmt: skip


class _Item:
    """Messages handed to the writer; `done` is set once they are committed (TCP waits on it)."""

    __slots__ = ("done", "messages")

    def __init__(self, messages: list[tuple[bytes, tuple[str, int], float]], wait: bool) -> None:
        self.messages = messages
        self.done = threading.Event() if wait else None


class Listener:
    def __init__(self, addresses: Sequence[str], store: Store, *, source_id: str | None = None,
                 detector: Callable[[list[Event]], list[Event]] | None = None,
                 queue_size: int = 10_000, batch: int = 2_000,
                 tls: tuple[str, str] | None = None, stats_interval: float = 10.0,
                 log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> None:  # fmt: skip
        self.endpoints = [parse_address(a) for a in addresses]
        if any(e.scheme == "tls" for e in self.endpoints) and tls is None:
            raise ListenError("tls:// needs --tls-cert and --tls-key")
        self.store, self.detector, self.batch = store, detector, batch
        self.queue: queue.Queue[_Item | None] = queue.Queue(maxsize=queue_size)
        self.counters = Counters()
        self.stop = threading.Event()
        self.log, self.stats_interval = log, stats_interval
        self.source_id = source_id or f"syslog{time.time_ns():x}"
        self.seq = 0  # event ids: <source id>-<n>, n counting every stored message
        self.sockets: list[tuple[Address, socket.socket]] = []
        self.threads: list[threading.Thread] = []
        self.tls_context = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            # no TLS 1.3 session tickets: a sender that never reads would otherwise close with
            # unread data, and its kernel's reset would discard what it sent last
            ctx.num_tickets = 0
            try:
                ctx.load_cert_chain(tls[0], tls[1])
            except (OSError, ssl.SSLError) as e:
                raise ListenError(f"cannot load the TLS certificate/key: {e}") from None
            self.tls_context = ctx

    # -- sockets -------------------------------------------------------------------------------
    def bind(self) -> list[str]:
        """Open every listening socket; returns the bound addresses (ports resolved)."""
        bound = []
        for ep in self.endpoints:
            family = socket.AF_INET6 if ":" in ep.host else socket.AF_INET
            kind = socket.SOCK_DGRAM if ep.scheme == "udp" else socket.SOCK_STREAM
            s = socket.socket(family, kind)
            try:
                if kind == socket.SOCK_STREAM:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                else:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
                s.bind((ep.host, ep.port))
                if kind == socket.SOCK_STREAM:
                    s.listen(64)
            except OSError as e:
                s.close()
                raise ListenError(f"{ep}: cannot listen ({e.strerror or e})") from None
            s.settimeout(0.2)
            real = Address(ep.scheme, ep.host, s.getsockname()[1])
            self.sockets.append((real, s))
            bound.append(str(real))
        return bound

    def _udp(self, s: socket.socket) -> None:
        warned_at = 0.0
        while not self.stop.is_set():
            try:
                data, peer = s.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self.queue.put_nowait(_Item([(data, peer[:2], time.time())], wait=False))
                self.counters.add(received=1)
            except queue.Full:
                self.counters.add(dropped=1)
                now = time.monotonic()
                if now - warned_at > 1.0:
                    warned_at = now
                    self.log(f"watchfloor listen: overloaded, UDP messages are being dropped "
                             f"(queue of {self.queue.maxsize:,} full); {self.counters.text()}")  # fmt: skip

    def _accept(self, ep: Address, s: socket.socket) -> None:
        active: set[threading.Thread] = set()
        while not self.stop.is_set():
            try:
                conn, peer = s.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            active = {t for t in active if t.is_alive()}
            if len(active) >= MAX_CONNECTIONS:
                self.counters.add(refused_connections=1)
                conn.close()
                continue
            self.counters.add(connections=1)
            t = threading.Thread(target=self._connection, args=(ep, conn, peer[:2]), daemon=True,
                                 name=f"syslog-{peer[0]}:{peer[1]}")  # fmt: skip
            t.start()
            active.add(t)
            self.threads.append(t)

    def _connection(self, ep: Address, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            if ep.scheme == "tls":
                assert self.tls_context is not None
                conn.settimeout(10)
                conn = self.tls_context.wrap_socket(conn, server_side=True)
            conn.settimeout(0.2)
            framer = Framer()
            deadline = None
            while True:
                if self.stop.is_set() and deadline is None:
                    # stopping: read what the sender already sent (until it goes quiet), no longer
                    deadline = time.monotonic() + DRAIN_SECONDS
                if deadline is not None and time.monotonic() > deadline:
                    break
                try:
                    data = conn.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
                    if self.stop.is_set():
                        break
                    continue
                if not data:
                    break
                data += _available(conn)
                messages = framer.feed(data)
                if framer.truncated:
                    self.counters.add(truncated=framer.truncated)
                    framer.truncated = 0
                if messages:
                    self._hand_over(messages, peer)
            rest = framer.flush()
            if rest:
                self._hand_over(rest, peer)
        except (OSError, ssl.SSLError) as e:
            self.log(f"watchfloor listen: connection from {peer[0]}:{peer[1]} ended: {e}")
        finally:
            conn.close()

    def _hand_over(self, messages: list[bytes], peer: tuple[str, int]) -> None:
        """Queue what was read and wait until it is committed: only then is more read."""
        now = time.time()
        item = _Item([(m, peer, now) for m in messages], wait=True)
        self.counters.add(received=len(messages))
        self.queue.put(item)  # blocks while the queue is full: backpressure, never a drop
        assert item.done is not None
        item.done.wait()

    # -- writer ---------------------------------------------------------------------------------
    def _event(self, data: bytes, peer: tuple[str, int], now: float) -> Event:
        self.seq += 1
        try:
            return parse(data, self.source_id, self.seq, now, peer)
        except (NotSyslog, ValueError, TypeError) as e:
            self.counters.add(unparsed=1)
            text = data.decode("utf-8", "replace").rstrip("\r\n\x00")
            return Event(timestamp=rfc3339(int(now * 1e9)),
                         event=EventMeta(id=f"{self.source_id}-{self.seq}", kind="event", category=[],
                                         type=["error"], action="unparsed_syslog", dataset="syslog",
                                         module="syslog", original=text),
                         message=f"not a syslog message ({e}): {text[:200]}",
                         source=Endpoint(ip=peer[0], port=peer[1]))  # fmt: skip

    def _writer(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            items = [first]
            count = len(first.messages)
            while count < self.batch:  # group commit: take what is already waiting
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)  # see it again after this batch
                    break
                items.append(nxt)
                count += len(nxt.messages)
            events = [self._event(*m) for it in items for m in it.messages]
            alerts = self.detector(events) if self.detector is not None else []
            with self.store.transaction():
                self.store.append(events + alerts)
            self.counters.add(stored=len(events), alerts=len(alerts))
            for it in items:
                if it.done is not None:
                    it.done.set()

    # -- run ------------------------------------------------------------------------------------
    def run(self, install_signals: bool = True) -> Counters:
        if not self.sockets:
            self.bind()
        self.store.start_source(self.source_id, "listen " + " ".join(str(e) for e, _ in self.sockets))
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop.set())
        writer = threading.Thread(target=self._writer, name="syslog-writer", daemon=True)
        writer.start()
        for ep, s in self.sockets:
            target = self._udp if ep.scheme == "udp" else (lambda s=s, ep=ep: self._accept(ep, s))
            t = threading.Thread(target=target, args=(s,) if ep.scheme == "udp" else (), daemon=True,
                                 name=f"syslog-{ep}")  # fmt: skip
            t.start()
            self.threads.append(t)
        last = ""
        next_report = time.monotonic() + self.stats_interval
        while not self.stop.wait(0.2):
            if time.monotonic() >= next_report:
                next_report += self.stats_interval
                now_text = self.counters.text()
                if now_text != last:
                    self.log(f"watchfloor listen: {now_text}")
                    last = now_text
        # stop: no new reads; readers finish handing over what they read; the writer drains
        for _, s in self.sockets:
            s.close()
        for t in list(self.threads):
            t.join(timeout=30)
        self.queue.put(None)
        writer.join()
        c = self.counters
        self.store.finish_source(Source(self.source_id, "listen", c.stored + c.alerts, c.received, "complete"))
        return c


def _available(conn: socket.socket, limit: int = 1 << 20) -> bytes:
    """What the connection can give at once without waiting (TLS: records already decrypted
    first): one commit then covers every message that had arrived."""
    chunks, total = [], 0
    while total < limit:
        pending = conn.pending() if isinstance(conn, ssl.SSLSocket) else 0
        if not pending:
            ready, _, _ = select.select([conn], [], [], 0)
            if not ready:
                break
        try:
            data = conn.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
            break
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)


class Framer:
    """RFC 6587 framing of a TCP syslog stream: octet counting (`LEN SP MSG`) when a frame starts
    with a digit, else one message per line (LF; NUL and CR LF accepted)."""

    def __init__(self) -> None:
        self.buf = b""
        self.truncated = 0
        self.skip = 0  # bytes still to skip of an over-long octet-counted frame

    def feed(self, data: bytes) -> list[bytes]:
        if self.skip:
            cut = min(self.skip, len(data))
            self.skip -= cut
            data = data[cut:]
        buf = self.buf + data
        out: list[bytes] = []
        pos = 0
        while pos < len(buf):
            c = buf[pos:pos + 1]
            if c in (b"\n", b"\r", b"\x00", b" "):
                pos += 1
                continue
            if c.isdigit():
                sp = buf.find(b" ", pos, pos + 8)
                if sp > pos and buf[pos:sp].isdigit():
                    n = int(buf[pos:sp])
                    have = len(buf) - sp - 1
                    if n > MAX_MESSAGE:  # keep the first MAX_MESSAGE bytes, skip the rest
                        if have < MAX_MESSAGE:
                            break
                        out.append(buf[sp + 1:sp + 1 + MAX_MESSAGE])
                        self.truncated += 1
                        if have < n:
                            self.skip = n - have
                            pos = len(buf)
                            break
                        pos = sp + 1 + n
                        continue
                    if have < n:
                        break
                    out.append(buf[sp + 1:sp + 1 + n])
                    pos = sp + 1 + n
                    continue
                if sp < 0 and len(buf) - pos < 8:
                    break  # the length may still be arriving
            end = -1
            for sep in (b"\n", b"\x00"):
                i = buf.find(sep, pos)
                if i >= 0 and (end < 0 or i < end):
                    end = i
            if end < 0:
                if len(buf) - pos > MAX_MESSAGE:
                    out.append(buf[pos:pos + MAX_MESSAGE])
                    self.truncated += 1
                    pos = len(buf)
                break
            out.append(buf[pos:end].rstrip(b"\r"))
            pos = end + 1
        self.buf = buf[pos:]
        return out

    def flush(self) -> list[bytes]:
        rest, self.buf = self.buf.strip(b"\r\n\x00 "), b""
        return [rest] if rest else []


__all__ = ["Counters", "Framer", "ListenError", "Listener", "parse_address"]
