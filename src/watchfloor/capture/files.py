"""Capture files → raw packets: pcap (both byte orders, µs and ns) and pcapng, gzip read transparently.

Files are read in chunks, never whole. A damaged file yields every good packet before the damage,
then raises one `CaptureError` naming the file and the byte offset (of the decompressed data).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from struct import Struct, error as StructError
from typing import BinaryIO, Final, NamedTuple

from .packets import Passover

CHUNK: Final = 1 << 20
MAX_RECORD: Final = 1 << 18  # larger than any real snaplen (262144): beyond it a length field is garbage

PCAP_MAGIC: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC: Final = b"\x1f\x8b"


class CaptureError(Exception):
    """A capture file is unreadable from `offset` on; packets before it were delivered."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: {reason}" + (f" at byte {offset}" if offset >= 0 else ""))
        self.path, self.offset, self.reason = path, offset, reason


# A packet as read: (frame, ts_ns, linktype, data, orig_len). `frame` is 1-based, as Wireshark
# numbers them. A plain tuple: this is made once per packet, and NamedTuple construction costs more.
RawPacket = tuple[int, int, int, bytes, int]


class _Chunks:
    """A sliding window over a byte stream: `buf[pos:]` is unread; `base` is the offset of buf[0]."""

    __slots__ = ("f", "buf", "pos", "base", "eof", "path")

    def __init__(self, f: BinaryIO, path: str) -> None:
        self.f, self.path = f, path
        self.buf, self.pos, self.base, self.eof = b"", 0, 0, False

    def fill(self, n: int) -> bool:
        """Make at least n unread bytes available; False if the stream ends first."""
        while len(self.buf) - self.pos < n and not self.eof:
            try:
                more = self.f.read(max(CHUNK, n))
            except (OSError, EOFError, zlib.error) as e:  # corrupt gzip member
                raise CaptureError(self.path, self.offset, f"unreadable data ({e})") from None
            if not more:
                self.eof = True
            self.base += self.pos
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return len(self.buf) - self.pos >= n

    @property
    def offset(self) -> int:
        return self.base + self.pos


def open_stream(path: str | Path) -> BinaryIO:
    f = open(path, "rb")
    if f.read(2) == GZIP_MAGIC:
        f.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    f.seek(0)
    return f


def read_packets(path: str | Path, passover: Passover | None = None) -> Iterator[RawPacket]:
    """Every packet of a pcap or pcapng file (optionally gzip-compressed), in file order, but
    those that `passover` skips (they are numbered all the same)."""
    name = str(path)
    with open_stream(path) as f:
        c = _Chunks(f, name)
        if not c.fill(4):
            raise CaptureError(name, 0, "empty or too short to be a capture file")
        magic = c.buf[:4]
        if magic in PCAP_MAGIC:
            yield from _pcap(c, *PCAP_MAGIC[magic], passover)
        elif magic == PCAPNG_SHB:
            yield from _pcapng(c, passover)
        else:
            raise CaptureError(name, 0, f"not a pcap or pcapng file (magic {magic.hex()})")


def _pcap(c: _Chunks, order: str, ns_per_unit: int,
          passover: Passover | None) -> Iterator[RawPacket]:  # fmt: skip
    if not c.fill(24):
        raise CaptureError(c.path, c.offset, "truncated pcap file header")
    _, major, _, _, _, snaplen, linktype = Struct(order + "IHHiIII").unpack_from(c.buf, 0)
    if major != 2:
        raise CaptureError(c.path, 4, f"unsupported pcap version {major}")
    linktype &= 0xFFFF  # upper bits carry FCS length flags
    limit = max(snaplen, MAX_RECORD)
    c.pos = 24
    frame, need, little = 0, 16, order == "<"
    while c.fill(need):
        buf, pos = c.buf, c.pos
        stop = len(buf) - 16
        while pos <= stop:  # the hot loop: records wholly inside the buffer
            incl = _u32(buf, pos + 8, little)
            end = pos + 16 + incl
            if end > stop + 16 or incl > limit:
                break
            frame += 1
            ts = _u32(buf, pos, little) * 1_000_000_000 + _u32(buf, pos + 4, little) * ns_per_unit
            if passover is not None and passover.skip(frame, ts, linktype, buf, pos + 16, end):
                pos = end  # another shard's: not copied out
                continue
            yield frame, ts, linktype, buf[pos + 16 : end], _u32(buf, pos + 12, little)
            pos = end
        c.pos = pos
        need = 16
        if len(buf) - pos >= 16:
            incl = _u32(buf, pos + 8, little)
            if incl > limit:
                raise CaptureError(c.path, c.offset, f"impossible packet length {incl}")
            need = 16 + incl
    if c.pos < len(c.buf):
        what = "packet data" if len(c.buf) - c.pos >= 16 else "packet record header"
        raise CaptureError(c.path, c.offset, f"truncated {what}")


def _u32(buf: bytes, pos: int, little: bool) -> int:
    """The unsigned 32-bit integer at `pos` (compiled: cheaper than a struct unpack, its tuple)."""
    if little:
        return buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16 | buf[pos + 3] << 24
    return buf[pos] << 24 | buf[pos + 1] << 16 | buf[pos + 2] << 8 | buf[pos + 3]


class _Interface(NamedTuple):
    linktype: int
    snaplen: int
    units: int  # timestamp units per second
    offset_s: int


def _idb_options(opts: bytes, order: str) -> tuple[int, int]:
    """if_tsresol and if_tsoffset from an IDB's options (pcapng §4.2)."""
    units, offset_s, i, opt = 1_000_000, 0, 0, Struct(order + "HH")
    while i + 4 <= len(opts):
        code, length = opt.unpack_from(opts, i)
        value = opts[i + 4 : i + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            r = value[0]
            units = 2 ** (r & 0x7F) if r & 0x80 else 10 ** (r & 0x7F)
        elif code == 14 and length == 8:
            offset_s = Struct(order + "q").unpack(value)[0]
        i += 4 + ((length + 3) & ~3)
    return units, offset_s


def _pcapng(c: _Chunks, passover: Passover | None) -> Iterator[RawPacket]:
    order, frame = "<", 0
    ifaces: list[_Interface] = []
    while True:
        if not c.fill(8):
            if len(c.buf) > c.pos:
                raise CaptureError(c.path, c.offset, "truncated block header")
            return
        start = c.offset
        head = c.buf[c.pos : c.pos + 4]
        if head == PCAPNG_SHB:  # a new section may switch byte order and resets interfaces
            if not c.fill(12):
                raise CaptureError(c.path, start, "truncated section header block")
            bom = c.buf[c.pos + 8 : c.pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                raise CaptureError(c.path, start, "bad byte-order magic in section header")
            ifaces = []
        btype, blen = Struct(order + "II").unpack_from(c.buf, c.pos)
        if blen < 12 or blen % 4 or blen > MAX_RECORD + 64:
            raise CaptureError(c.path, start, f"impossible block length {blen}")
        if not c.fill(blen):
            raise CaptureError(c.path, start, "truncated block")
        block = c.buf[c.pos : c.pos + blen]
        if Struct(order + "I").unpack_from(block, blen - 4)[0] != blen:
            raise CaptureError(c.path, start, "block length trailer does not match")
        c.pos += blen
        body = block[8:-4]
        try:
            if btype == 1:  # Interface Description Block
                linktype, _, snaplen = Struct(order + "HHI").unpack_from(body)
                ifaces.append(_Interface(linktype, snaplen, *_idb_options(body[8:], order)))
                continue
            if btype in (6, 2):  # Enhanced Packet Block; obsolete Packet Block
                if btype == 6:
                    iface, hi, lo, incl, orig = Struct(order + "IIIII").unpack_from(body)
                else:
                    iface, _, hi, lo, incl, orig = Struct(order + "HHIIII").unpack_from(body)
                data = body[20 : 20 + incl]
                if iface >= len(ifaces) or len(data) < incl:
                    raise CaptureError(c.path, start, f"packet block with bad interface {iface} "
                                       "or length")  # fmt: skip
                i = ifaces[iface]
                ts = (hi << 32) | lo
                ts_ns = ts * 1_000_000_000 // i.units + i.offset_s * 1_000_000_000
            elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
                if not ifaces:
                    raise CaptureError(c.path, start, "simple packet block before any interface")
                (orig,) = Struct(order + "I").unpack_from(body)
                i = ifaces[0]
                data = body[4 : 4 + min(orig, i.snaplen or orig, len(body) - 4)]
                ts_ns = 0
            else:
                continue  # statistics, name resolution, custom blocks: not packets
        except StructError:
            raise CaptureError(c.path, start, f"block type {btype} too short") from None
        frame += 1
        if passover is not None and passover.skip(frame, ts_ns, i.linktype, data, 0, len(data)):
            continue  # another shard's
        yield frame, ts_ns, i.linktype, data, orig
