"""What `watchfloor ingest` is given → inputs, each with its format, read as a stream.

`expand` walks files, folders (recursively, hidden entries skipped), zip and tar archives and
gzip files (nested too), yielding one `Input` per file inside; each input's stream is valid until
the next one is asked for (tar members are read in passing, never extracted). `identify` tells a
packet capture (which goes to the sensor) from a log format of `FORMATS`, from the first bytes.
`read_events` reads one input with its format, counting events and corrupt records (naming the
first few with their position) while events stream on in batches.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..capture.files import GZIP_MAGIC, PCAP_MAGIC, PCAPNG_SHB
from ..schema import Event
from . import FORMATS, Corrupt, Format

SNIFF_BYTES = 1 << 16
ID_BYTES = 1 << 20
CAPTURE = "capture"  # the pseudo-format of pcap / pcapng inputs


class InputError(Exception):
    """An input that cannot be opened at all (not a damaged record: a bad archive, no access)."""


class _Counting(io.RawIOBase):
    """A read-only stream over another that counts the bytes read (for progress) and turns
    decompression errors of damaged gzip data into a clean end plus a note."""

    def __init__(self, inner: BinaryIO, prefix: bytes = b"") -> None:
        self.inner, self.prefix, self.read_bytes, self.error = inner, prefix, 0, None

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def,override]
        n = len(buf)
        if self.prefix:
            chunk, self.prefix = self.prefix[:n], self.prefix[n:]
        else:
            try:
                chunk = self.inner.read(n)
            except (OSError, EOFError, zlib.error) as e:
                self.error = f"compressed data damaged after {self.read_bytes:,} bytes ({e})"
                chunk = b""
        buf[: len(chunk)] = chunk
        self.read_bytes += len(chunk)
        return len(chunk)


@dataclass
class Input:
    name: str  # file path, or archive path + "!" + member name
    stream: BinaryIO  # decompressed content; valid until the next input is asked for
    path: Path | None = None  # the plain file on disk, when the input is one
    head: bytes = b""  # the first bytes, for sniffing and the id
    size: int | None = None  # bytes on disk of a plain, uncompressed file (progress total)
    counter: _Counting | None = None

    @property
    def id(self) -> str:
        """Same content, same id (and so the same event ids): a digest of the first MiB."""
        h = hashlib.blake2b(self.head[:ID_BYTES], digest_size=6)
        if self.path is None:
            h.update(self.name.rpartition("!")[2].encode())
        return h.hexdigest()

    @property
    def position(self) -> int:
        return self.counter.read_bytes if self.counter else 0


def _read_head(stream: BinaryIO) -> bytes:
    parts, got = [], 0
    while got < ID_BYTES:
        try:
            b = stream.read(min(ID_BYTES - got, SNIFF_BYTES))  # small reads: damage keeps the rest
        except (OSError, EOFError, zlib.error):
            break
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def _wrap(name: str, raw: BinaryIO, path: Path | None = None, size: int | None = None) -> Input:
    """An input over `raw`, gzip-decompressed when it is gzip data."""
    peek = raw.read(2)
    stream: BinaryIO = _Counting(raw, peek)  # type: ignore[assignment]
    if peek == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=io.BufferedReader(stream), mode="rb")  # type: ignore[arg-type]
        path, size = None, None
        name = name.removesuffix(".gz") if name.endswith(".gz") else name
    head = _read_head(stream)
    counter = _Counting(stream, head)
    return Input(name, io.BufferedReader(counter, 1 << 16), path, head, size, counter)  # type: ignore[arg-type]


def expand(paths: Iterable[str | Path], on_error: Callable[[str, str], None]) -> Iterator[Input]:
    """Every input under `paths` (see the module doc). Unopenable ones go to `on_error(name,
    reason)` and are skipped."""
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and not any(part.startswith(".") for part in rel):
                    yield from _file(f, on_error)
        elif p.exists():
            yield from _file(p, on_error)
        else:
            on_error(str(p), "no such file or folder")


def _file(path: Path, on_error: Callable[[str, str], None]) -> Iterator[Input]:
    try:
        f = open(path, "rb")
    except OSError as e:
        on_error(str(path), e.strerror or str(e))
        return
    with f:
        magic = f.read(8)
        f.seek(0)
        if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
            yield from _zip(path, f, on_error)
            return
        if magic.startswith(GZIP_MAGIC) and _is_tar_gz(path):
            yield from _tar(path, on_error)
            return
        if len(magic) >= 8 and _is_tar(f):
            yield from _tar(path, on_error)
            return
        yield _wrap(str(path), f, path, path.stat().st_size)  # type: ignore[arg-type]


def _is_tar(f: BinaryIO) -> bool:
    f.seek(257)
    ustar = f.read(5) == b"ustar"
    f.seek(0)
    return ustar


def _is_tar_gz(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as g:
            block = g.read(512)
    except (OSError, EOFError, zlib.error):
        return False
    return block[257:262] == b"ustar"


def _zip(path: Path, f: BinaryIO, on_error: Callable[[str, str], None]) -> Iterator[Input]:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError) as e:
        on_error(str(path), f"not a readable zip archive ({e})")
        return
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir() or any(part.startswith((".", "__MACOSX")) for part in info.filename.split("/")):
                continue
            name = f"{path}!{info.filename}"
            try:
                member = zf.open(info)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as e:
                on_error(name, f"cannot open archive member ({e})")
                continue
            with member:
                if info.filename.lower().endswith((".zip",)):
                    on_error(name, "zip inside a zip: extract the outer archive first")
                    continue
                yield _wrap(name, member)  # type: ignore[arg-type]


def _tar(path: Path, on_error: Callable[[str, str], None]) -> Iterator[Input]:
    try:
        tf = tarfile.open(path, "r|*")
    except (tarfile.TarError, OSError) as e:
        on_error(str(path), f"not a readable tar archive ({e})")
        return
    with tf:
        try:
            for member in tf:
                if not member.isfile() or any(p.startswith(".") for p in member.name.split("/")):
                    continue
                stream = tf.extractfile(member)
                if stream is not None:
                    yield _wrap(f"{path}!{member.name}", stream)  # type: ignore[arg-type]
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            on_error(str(path), f"archive damaged; members after this point not read ({e})")


def is_capture(head: bytes) -> bool:
    return head[:4] in PCAP_MAGIC or head[:4] == PCAPNG_SHB


def identify(inp: Input, formats: Iterable[Format] = FORMATS) -> str | Format | None:
    """CAPTURE for a packet capture, the log `Format` whose sniff accepts the input, or None."""
    if is_capture(inp.head):
        return CAPTURE
    head = inp.head[:SNIFF_BYTES]
    for fmt in formats:
        try:
            if fmt.sniff(head, inp.name):
                return fmt
        except Exception:  # noqa: BLE001 -- a sniffer that chokes on odd bytes just says no
            continue
    return None


def describe(head: bytes) -> str:
    """What the bytes look like, for the "cannot tell the format" message."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        return "empty"
    if start in (b"{", b"["):
        return "JSON, but no reader recognises its records"
    if start == b"<":
        return "XML/HTML, but not Windows events"
    if b"\x00" in head[:512]:
        return "binary data of no known format"
    return "text of no known format"


@dataclass
class ReadStats:
    events: int = 0
    corrupt: int = 0
    first_corrupt: list[Corrupt] = field(default_factory=list)
    KEEP = 5

    def note(self, c: Corrupt) -> None:
        self.corrupt += 1
        if len(self.first_corrupt) < self.KEEP:
            self.first_corrupt.append(c)


def read_events(inp: Input, fmt: Format, stats: ReadStats, batch: int = 2048) -> Iterator[list[Event]]:
    """The input's events in batches; corrupt records counted in `stats` and skipped. A stream
    that cannot be decompressed further ends the input with one more Corrupt noted."""
    out: list[Event] = []
    for item in fmt.read(inp.stream, inp.id):
        if isinstance(item, Corrupt):
            stats.note(item)
            continue
        out.append(item)
        stats.events += 1
        if len(out) >= batch:
            yield out
            out = []
    if out:
        yield out
    for counter in _counters(inp):
        if counter.error:
            stats.note(Corrupt(f"byte {counter.read_bytes:,}", counter.error))
            break


def _counters(inp: Input) -> Iterator[_Counting]:
    c = inp.counter
    while isinstance(c, _Counting):
        yield c
        inner = c.inner
        if isinstance(inner, gzip.GzipFile):
            inner = inner.fileobj  # type: ignore[assignment]
        if isinstance(inner, io.BufferedReader):
            inner = inner.raw  # type: ignore[assignment]
        c = inner if isinstance(inner, _Counting) else None  # type: ignore[assignment]
