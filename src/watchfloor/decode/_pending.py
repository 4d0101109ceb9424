"""Requests awaiting their responses: the bounded table every request/response decoder keeps,
and what the request/response sessions over TCP do alike when bytes go missing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..capture.tcp import Gap

K = TypeVar("K")
V = TypeVar("V")


class Pending(dict[K, V]):
    """Oldest first, at most `limit` entries: a flood drops the oldest, and the decoder reports
    the flood once (until the table has room again)."""

    __slots__ = ("flooded", "limit")

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.flooded = False

    def add(self, key: K, value: V) -> bool:
        """Store `value` under `key` (a reused key replaces the older request). True when this
        dropped the oldest entry for the first time in a flood: the caller reports it."""
        self.pop(key, None)
        report = False
        if len(self) >= self.limit:
            report = not self.flooded
            self.flooded = True
            del self[next(iter(self))]
        else:
            self.flooded = False
        self[key] = value
        return report

    def expire(self, ts_ns: int, older_than_ns: int, lost_at_ns: int) -> list[tuple[K, V]]:
        """Drop the requests waiting longer than `older_than_ns` (every one when negative) and
        return those to report as unanswered: sent after `lost_at_ns`, the last gap in the
        server's stream, which may have held their answers. A value's [1] is its request time."""
        stale = [(k, v) for k, v in self.items() if ts_ns - v[1] > older_than_ns]  # type: ignore[index]
        for k, _ in stale:
            del self[k]
        return [(k, v) for k, v in stale if v[1] > lost_at_ns]  # type: ignore[index]


class StreamLosses(ABC):
    """Shared by the request/response sessions over TCP (Modbus, S7comm, MMS, MQTT, OPC UA).

    A gap in the client's stream may hold requests: a response with no pending request is then
    `request_not_captured`, not a mystery. A gap in the server's stream may hold responses: the
    requests sent before it are not reported as unanswered. The session provides `client`,
    `out`, `emitter`, `requests_lost`, `responses_lost_at` and `_expire`."""

    NAME = ""  # in messages: "its S7 state dropped"
    RESYNC = ""  # what a gap resynchronises on, e.g. "the next TPKT"
    LOSS = "lost or out of order"  # what a gap can be (OPC UA: also cut by the snap length)

    client: int | None
    out: list[Any]
    emitter: Any
    requests_lost: bool
    responses_lost_at: int

    @abstractmethod
    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        """Report requests unanswered for longer than `older_than_ns` (the session's own)."""

    def _anomaly(self, d: int, ts_ns: int, code: str, text: str) -> None:
        self.out.append(self.emitter.anomaly(d, ts_ns, code, text))

    def _stream_gap(self, d: int, gap: Gap, ts_ns: int) -> None:
        if d == self.client:
            self.requests_lost = True
        else:
            self.responses_lost_at = ts_ns
        self._anomaly(d, ts_ns, "stream_gap", f"{gap.missing} bytes not seen ({self.LOSS}); "
                      f"resynchronising on {self.RESYNC}")  # fmt: skip

    def _unmatched(self) -> str:
        """The anomaly of a response that answers no pending request."""
        return "request_not_captured" if self.requests_lost else "response_without_request"

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        if reason == "evicted":
            self._anomaly(self.client or 0, ts_ns, "flow_evicted", "the flow table was full: "
                          f"this flow was evicted and its {self.NAME} state dropped")  # fmt: skip
        self._expire(ts_ns, -1)
