"""The schema is defined once; the committed JSON Schema and the store layout derive from it."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, strategies as st

from watchfloor.schema import Event
from watchfloor.schema.export import SCHEMA_FILE, arrow_schema, json_schema_text
from watchfloor.sensor import decode_file

CAPTURES = Path(__file__).parent / "captures"


def test_committed_json_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == json_schema_text(), (
        "the event schema changed: regenerate with `watchfloor schema > "
        "src/watchfloor/schema/event.schema.json`")


def test_events_round_trip_and_validate_against_the_schema() -> None:
    events = [e for b in decode_file(CAPTURES / "modbus_all_functions.pcap") for e in b]
    lines = msgspec.json.Encoder().encode_lines(events)
    back = [msgspec.json.decode(line, type=Event) for line in lines.splitlines()]
    assert back == events
    schema = json.loads(json_schema_text())
    assert schema["$defs"]["Event"]["properties"]["@timestamp"]["type"] == "string"


def test_closed_objects_reject_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"@timestamp": "x", "event": {"id": "1", "surprise": 1}}', type=Event)


def test_arrow_layout_mirrors_the_json_nesting() -> None:
    schema = arrow_schema()
    assert schema.field("@timestamp").type.tz == "UTC"
    modbus = schema.field("ot").type.field("modbus").type
    assert modbus.field("function_code").type == "int64"


@given(st.lists(st.integers(-(10**18), 4 * 10**18), min_size=1, max_size=20))
def test_rfc3339_in_any_order(times: list[int]) -> None:
    """The cached second is replaced whenever a time falls outside it, in any order; the fraction
    keeps microseconds, or nanoseconds when there are any."""
    from datetime import UTC, datetime, timedelta

    from watchfloor.schema.time import rfc3339

    for ts in times:
        sec, frac = divmod(ts, 10**9)
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=sec)
        digits = f"{frac:09d}" if frac % 1000 else f"{frac // 1000:06d}"
        assert rfc3339(ts) == when.strftime("%Y-%m-%dT%H:%M:%S.") + digits + "Z"
