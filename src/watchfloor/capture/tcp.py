"""One direction of a TCP connection → its byte stream, with retransmissions, overlaps and gaps
resolved.

Data is delivered as soon as it arrives, never held back: a segment that starts past the expected
sequence number is delivered after an explicit `Gap` (the bytes before it were lost, by the network
or by the capture). If the missing bytes turn up later (a late retransmission, or reordering) they
are delivered then, fenced by gaps, so the decoder resynchronises before and after them. A segment
the capture's snap length cut short is delivered as far as it goes, then a gap.
This is also how Wireshark attributes messages to frames, which keeps events comparable with it.
Retransmitted bytes are trimmed: the first copy of a byte wins, as the receiving stack keeps it.
State is bounded: at most MAX_HOLES remembered holes per direction, no payload buffered.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

MASK: Final = 0xFFFFFFFF
MAX_HOLES: Final = 8
MAX_WINDOW: Final = 1 << 30  # RFC 7323: no receiver accepts data further ahead than this


class Gap(NamedTuple):
    """A discontinuity in a byte stream: decoders drop any partial frame and resynchronise.

    `lost`: `missing` bytes were never seen. `snaplen`: the segment just delivered was cut short
    by the capture's snap length; `missing` bytes of it are absent (a decoder may still report a
    frame whose header it has). `late`: bytes that fill an earlier hole follow, or have just
    been delivered; nothing more is missing."""

    missing: int
    cause: Literal["lost", "snaplen", "late"]


LATE: Final = Gap(0, "late")
Chunk = bytes | Gap


def seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space, negative when a is before b."""
    d = (a - b) & MASK
    return d - 0x1_0000_0000 if d & 0x8000_0000 else d


class TcpStream:
    __slots__ = ("next", "holes", "retransmitted", "gaps", "out_of_window")

    def __init__(self) -> None:
        self.next: int | None = None  # next expected sequence number; None until known
        self.holes: list[list[int]] = []  # [start, end) ranges skipped, oldest first
        self.retransmitted = 0
        self.gaps = 0
        self.out_of_window = 0

    def syn(self, seq: int) -> None:
        if self.next is None:
            self.next = (seq + 1) & MASK

    def add(self, seq: int, data: bytes, missing: int = 0) -> list[Chunk]:
        """Take one segment's payload, of which the capture kept all but the last `missing`
        bytes; return what it adds to the stream."""
        out = self._add(seq, data)
        if missing:
            start, end = (seq + len(data)) & MASK, (seq + len(data) + missing) & MASK
            if self.next is not None and seq_diff(end, self.next) > 0:
                if seq_diff(start, self.next) > 0:  # the segment itself was not delivered
                    return out
                self._hole(self.next, end)  # a full retransmission can still fill it
                out.append(Gap(seq_diff(end, self.next), "snaplen"))
                self.next = end
        return out

    def _add(self, seq: int, data: bytes) -> list[Chunk]:
        nxt = self.next
        if nxt is None:  # mid-stream start: the stream begins here
            nxt = seq
        rel = seq_diff(seq, nxt)
        end = (seq + len(data)) & MASK
        if rel == 0:
            self.next = end
            return [data]
        if rel > MAX_WINDOW:  # outside any possible window: a corrupt sequence number, not data
            self.out_of_window += 1
            return []
        if rel > 0:  # bytes before this segment were not seen
            self.gaps += 1
            self._hole(nxt, seq)
            self.next = end
            return [Gap(rel, "lost"), data]
        out = self._fill(seq, data) if self.holes else []
        if rel + len(data) > 0:  # overlaps the head, then carries new bytes
            out.append(data[-rel:])
            self.next = end
        elif not out:
            self.retransmitted += 1
        return out

    def _hole(self, start: int, end: int) -> None:
        """Remember [start, end) as never delivered; only the newest MAX_HOLES are kept."""
        self.holes.append([start, end])
        del self.holes[:-MAX_HOLES]

    def _fill(self, seq: int, data: bytes) -> list[Chunk]:
        """Deliver the parts of a segment that fall into holes, each fenced by discontinuities."""
        out: list[Chunk] = []
        for hole in list(self.holes):
            start, stop = hole
            lo = max(seq_diff(start, seq), 0)
            hi = min(seq_diff(stop, seq), len(data))
            if lo >= hi:
                continue
            out += [LATE, data[lo:hi], LATE]
            self.holes.remove(hole)
            left, right = [start, (seq + lo) & MASK], [(seq + hi) & MASK, stop]
            self.holes += [h for h in (left, right) if seq_diff(h[1], h[0]) > 0]
        return out
