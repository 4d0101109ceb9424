"""Event parts every decoder builds the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import ANOMALY, Event, EventMeta, Network, Ot
from ..schema.time import rfc3339

if TYPE_CHECKING:
    from ..capture.flows import Flow

_CATEGORY = ["network"]
_ERROR_TYPE = ["error"]


def anomaly_event(flow: Flow, net: Network, protocol: str, d: int, ts_ns: int, code: str,
                  text: str) -> Event:  # fmt: skip
    """A protocol anomaly that is not one message (gaps, floods, unanswered requests, ...), seen
    in the direction `d` of `flow`."""
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="event", category=_CATEGORY, type=_ERROR_TYPE, action=ANOMALY,
                        dataset=f"ot.{protocol}"),  # fmt: skip
        message=text,
        source=flow.src(d),
        destination=flow.dst(d),
        network=net,
        ot=Ot(protocol=protocol, anomalies=[code]),
    )
