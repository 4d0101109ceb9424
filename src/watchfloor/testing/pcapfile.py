"""Streaming writers for pcap and pcapng capture files.

Layouts follow the IETF drafts draft-ietf-opsawg-pcap (classic pcap) and
draft-ietf-opsawg-pcapng (pcapng). Packets are consumed from an iterable one at a time,
so a generator of millions of packets is written in constant memory. Output is
deterministic: the same packets always give the same bytes (gzip included).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGIC_MICRO = 0xA1B2C3D4
PCAP_MAGIC_NANO = 0xA1B23C4D

# pcapng block types (draft-ietf-opsawg-pcapng §4, §10.1)
BLOCK_SHB = 0x0A0D0D0A
BLOCK_IDB = 0x00000001
BLOCK_SPB = 0x00000003
BLOCK_EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
OPT_SHB_USERAPPL = 4
OPT_IF_TSRESOL = 9

Target = str | os.PathLike[str] | BinaryIO
PcapRecord = tuple[int, bytes] | tuple[int, bytes, int]
PcapngRecord = tuple[int, int, bytes] | tuple[int, int, bytes, int]
Interface = tuple[int, int] | tuple[int, int, int]


@contextlib.contextmanager
def _sink(target: Target, compress: bool) -> Iterator[BinaryIO]:
    """Open `target` for binary writing; file objects are written to but not closed."""
    owned = isinstance(target, (str, os.PathLike))
    raw: BinaryIO = open(target, "wb") if isinstance(target, (str, os.PathLike)) else target
    try:
        if compress:
            # No file name and mtime 0 keep the gzip header reproducible (RFC 1952 §2.3).
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                yield gz  # type: ignore[misc]
        else:
            yield raw
    finally:
        if owned:
            raw.close()


def write_pcap(
    target: Target,
    packets: Iterable[PcapRecord],
    *,
    linktype: int = LINKTYPE_ETHERNET,
    nanosecond: bool = False,
    big_endian: bool = False,
    snaplen: int = 65535,
    compress: bool = False,
) -> int:
    """Write a classic pcap file; `packets` yields `(ts_ns, data)` or `(ts_ns, data, orig_len)`.
    Data longer than `snaplen` is truncated (orig_len keeps the full length). Returns the
    number of packets written."""
    order = ">" if big_endian else "<"
    magic = PCAP_MAGIC_NANO if nanosecond else PCAP_MAGIC_MICRO
    record_header = struct.Struct(order + "IIII")
    per_second = 1_000_000_000 if nanosecond else 1_000_000
    divisor = 1 if nanosecond else 1000
    count = 0
    with _sink(target, compress) as out:
        # File header: magic, version 2.4, two reserved words, snaplen, link type (§4)
        out.write(struct.pack(order + "IHHIIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for record in packets:
            ts_ns, data = record[0], record[1]
            orig_len = record[2] if len(record) > 2 else len(data)  # type: ignore[misc]
            if len(data) > snaplen:
                data = data[:snaplen]
            seconds, fraction = divmod(ts_ns // divisor, per_second)
            out.write(record_header.pack(seconds, fraction, len(data), orig_len) + data)
            count += 1
    return count


def _options(order: str, options: Sequence[tuple[int, bytes]]) -> bytes:
    # §3.5: code, length, value padded to 32 bits; a non-empty list ends with opt_endofopt.
    if not options:
        return b""
    out = b"".join(struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)
                   for code, value in options)
    return out + struct.pack(order + "HH", OPT_ENDOFOPT, 0)


def _block(order: str, block_type: int, body: bytes) -> bytes:
    # §3.1: type, total length, body (padded to 32 bits), total length again.
    body += bytes(-len(body) % 4)
    total = len(body) + 12
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


def write_pcapng(
    target: Target,
    interfaces: Sequence[Interface],
    packets: Iterable[PcapngRecord],
    *,
    big_endian: bool = False,
    simple: bool = False,
    compress: bool = False,
    comment: str | None = None,
) -> int:
    """Write a pcapng file: one Section Header Block, one Interface Description Block per
    `(linktype, snaplen[, tsresol_exponent])` in `interfaces`, then one Enhanced Packet
    Block per `(interface_index, ts_ns, data[, orig_len])` — or Simple Packet Blocks when
    `simple` (one interface only; SPBs carry no timestamp). A tsresol exponent e means
    units of 10**-e s and is written as if_tsresol; without one the default 6 (µs) applies.
    Returns the number of packets written."""
    if simple and len(interfaces) != 1:
        raise ValueError("simple packet blocks need exactly one interface (§4.4)")
    order = ">" if big_endian else "<"
    shb_options = [(OPT_SHB_USERAPPL, b"watchfloor.testing")]
    if comment is not None:
        shb_options.insert(0, (OPT_COMMENT, comment.encode()))
    divisors: list[int] = []
    snaplens: list[int] = []
    count = 0
    with _sink(target, compress) as out:
        # SHB (§4.1): byte-order magic, version 1.0, section length -1 (not specified)
        out.write(_block(order, BLOCK_SHB, struct.pack(order + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
                         + _options(order, shb_options)))
        for interface in interfaces:
            linktype, snaplen = interface[0], interface[1]
            exponent = interface[2] if len(interface) > 2 else None  # type: ignore[misc]
            if exponent is not None and not 0 <= exponent <= 9:
                raise ValueError(f"tsresol exponent must be a decimal power 0..9: {exponent}")
            options = [] if exponent is None else [(OPT_IF_TSRESOL, bytes((exponent,)))]
            divisors.append(10 ** (9 - (6 if exponent is None else exponent)))
            snaplens.append(snaplen)
            # IDB (§4.2): link type, reserved, snaplen
            out.write(_block(order, BLOCK_IDB, struct.pack(order + "HHI", linktype, 0, snaplen)
                             + _options(order, options)))
        epb_header = struct.Struct(order + "IIIII")
        for record in packets:
            index, ts_ns, data = record[0], record[1], record[2]
            orig_len = record[3] if len(record) > 3 else len(data)  # type: ignore[misc]
            if 0 < snaplens[index] < len(data):  # snaplen 0 means unlimited (§4.2)
                data = data[: snaplens[index]]
            if simple:
                # SPB (§4.4): original length, then data cut to the interface snaplen
                if index != 0:
                    raise ValueError(f"simple packet block for interface {index}")
                body = struct.pack(order + "I", orig_len) + data
                out.write(_block(order, BLOCK_SPB, body))
            else:
                # EPB (§4.3): interface id, timestamp high/low in the interface's units, lengths
                units = ts_ns // divisors[index]
                body = epb_header.pack(index, units >> 32, units & 0xFFFFFFFF, len(data), orig_len) + data
                out.write(_block(order, BLOCK_EPB, body))
            count += 1
    return count
