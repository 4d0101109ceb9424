"""One direction of a TCP connection → its byte stream, in order, with gaps made explicit.

Retransmissions and overlaps are trimmed (the first copy of a byte wins, as a receiving stack keeps
it). Out-of-order segments wait in a bounded buffer. A hole is declared a capture gap — reported as
an int (bytes missing) in the output so the decoder resynchronises — when the receiver has already
acknowledged past it (the bytes went by but the capture lost them), when the buffer limit is hit,
or when the flow ends.
"""

from __future__ import annotations

MASK = 0xFFFFFFFF
Chunk = bytes | int  # bytes: stream data; int: a gap of that many bytes


def seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space (RFC 1982 style), negative when a is before b."""
    d = (a - b) & MASK
    return d - 0x1_0000_0000 if d & 0x8000_0000 else d


class TcpStream:
    __slots__ = ("next", "pending", "pending_bytes", "limit", "retransmitted", "gaps")

    def __init__(self, limit: int = 256 * 1024) -> None:
        self.next: int | None = None  # next expected sequence number; None until known
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.limit = limit
        self.retransmitted = 0
        self.gaps = 0

    def syn(self, seq: int) -> None:
        self.next = (seq + 1) & MASK

    def add(self, seq: int, data: bytes, peer_ack: int | None) -> list[Chunk]:
        """Take one segment's payload; return what is now deliverable in order."""
        if self.next is None:  # mid-stream start: the stream begins here
            self.next = seq
        rel = seq_diff(seq, self.next)
        if rel == 0 and not self.pending:  # the common case
            self.next = (seq + len(data)) & MASK
            return [data]
        if rel < 0:
            if rel + len(data) <= 0:
                self.retransmitted += 1
                return []
            data, rel = data[-rel:], 0
        if rel == 0:
            self.next = (self.next + len(data)) & MASK
            return [data, *self._drain()]
        if seq not in self.pending or len(self.pending[seq]) < len(data):
            self.pending_bytes += len(data) - len(self.pending.get(seq, b""))
            self.pending[seq] = data
        lost = peer_ack is not None and seq_diff(peer_ack, self.next) > 0
        if lost or self.pending_bytes > self.limit:
            return self._skip_hole()
        return []

    def flush(self) -> list[Chunk]:
        """The flow ended: whatever waits behind a hole is delivered after a gap."""
        out: list[Chunk] = []
        while self.pending:
            out += self._skip_hole()
        return out

    def _drain(self) -> list[Chunk]:
        out: list[Chunk] = []
        progressed = True
        while progressed and self.pending:
            progressed = False
            for s in sorted(self.pending, key=lambda s: seq_diff(s, self.next)):  # type: ignore[arg-type]
                rel = seq_diff(s, self.next)  # type: ignore[arg-type]
                if rel > 0:
                    break
                d = self.pending.pop(s)
                self.pending_bytes -= len(d)
                if rel + len(d) > 0:
                    out.append(d[-rel:] if rel else d)
                    self.next = (self.next + len(d) + rel) & MASK  # type: ignore[operator]
                    progressed = True
        return out

    def _skip_hole(self) -> list[Chunk]:
        assert self.next is not None
        lowest = min(self.pending, key=lambda s: seq_diff(s, self.next))  # type: ignore[arg-type]
        self.gaps += 1
        missing = seq_diff(lowest, self.next)
        self.next = lowest
        return [missing, *self._drain()]
