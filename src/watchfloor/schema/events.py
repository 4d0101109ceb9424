"""The event schema: the one definition every stage, the JSON Schema and the store tables come from.

Names follow ECS where ECS has one; OT detail has a protocol-neutral layer (`ot.action`) and a
per-protocol layer (`ot.modbus`, ...). Unset fields are omitted from JSON, so an event carries only
what was observed. Structs are closed (`forbid_unknown_fields`): no stage can invent a field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

SCHEMA_VERSION = 1

Operation = Literal[
    "read", "write", "control", "program", "config", "diagnostic",
    "firmware", "discovery", "session", "other",
]  # fmt: skip


class _Record(Struct, omit_defaults=True, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Base for every schema object. Events are trees (no cycles), so the cyclic GC can skip them."""


class EventMeta(_Record):
    id: Annotated[str, Meta(description="Stable id: the same message always gets the same id.")]
    kind: Annotated[
        Literal["event", "asset", "alert"],
        Meta(description="event: a decoded message or anomaly; asset: an identity observation."),
    ]
    category: list[str]
    type: list[str] | None = None
    action: Annotated[
        str | None, Meta(description="What happened, e.g. read_holding_registers or anomaly.")
    ] = None
    dataset: Annotated[str | None, Meta(description="Producer, e.g. ot.modbus.")] = None
    outcome: Literal["success", "failure", "unknown"] | None = None
    duration: Annotated[int | None, Meta(description="Request to response, nanoseconds.")] = None


class Endpoint(_Record):
    ip: str | None = None
    port: int | None = None
    mac: str | None = None


class Network(_Record):
    transport: str | None = None
    protocol: Annotated[str | None, Meta(description="Application protocol.")] = None
    community_id: Annotated[str | None, Meta(description="Community ID v1 flow hash.")] = None
    vlan_id: int | None = None


class Observer(_Record):
    name: Annotated[str | None, Meta(description="Sensor that saw the traffic.")] = None


class Pcap(_Record):
    frame: Annotated[int, Meta(description="1-based packet number that completed the message.")]
    file: str | None = None


class Target(_Record):
    unit: Annotated[int | None, Meta(description="Unit / slave / station address.")] = None
    station: str | None = None
    object: Annotated[
        str | None, Meta(description="Kind of object addressed, e.g. holding_register.")
    ] = None


class AddressRange(_Record):
    start: Annotated[int, Meta(description="First address, 0-based wire value.")]
    end: Annotated[int, Meta(description="Last address, inclusive.")]


class OtAction(_Record):
    """Protocol-neutral view of an OT message: what cross-protocol rules match on."""

    operation: Operation
    target: Target | None = None
    address: AddressRange | None = None
    values: list[int] | None = None


class DeviceObject(_Record):
    id: int
    name: str
    value: str


class FileRecord(_Record):
    file: int
    record: int
    length: int


class Modbus(_Record):
    transaction_id: int
    unit_id: int
    function_code: Annotated[int, Meta(description="7-bit function code (as Wireshark).")]
    function: Annotated[str, Meta(description="Name, or unknown-<n>.")]
    exception_code: int | None = None
    exception: str | None = None
    subfunction: Annotated[int | None, Meta(description="FC 8 sub-function / FC 43 MEI type.")] = None
    subfunction_name: str | None = None
    address: int | None = None
    quantity: int | None = None
    values: list[int] | None = None
    and_mask: int | None = None
    or_mask: int | None = None
    read_address: int | None = None
    read_quantity: int | None = None
    device_id_code: Annotated[int | None, Meta(description="FC 43/14 read device ID code.")] = None
    object_id: Annotated[
        int | None, Meta(description="FC 43/14 object requested, or next object when more follow.")
    ] = None
    conformity_level: int | None = None
    more_follows: int | None = None
    objects: Annotated[
        list[DeviceObject] | None, Meta(description="FC 43/14 device identification objects.")
    ] = None
    files: list[FileRecord] | None = None
    data: Annotated[str | None, Meta(description="Undecoded PDU bytes, hex.")] = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class Dnp3Point(_Record):
    """One DNP3 object (point) as far as its variation carries it."""

    index: Annotated[int | None, Meta(description="Point index (range or index prefix).")] = None
    value: Annotated[int | None, Meta(description="Integer value or binary state.")] = None
    float_value: Annotated[float | None, Meta(description="Floating-point value.")] = None
    text: Annotated[str | None, Meta(description="String value, file name, attribute.")] = None
    flags: Annotated[int | None, Meta(description="Quality flags octet.")] = None
    time: Annotated[str | None, Meta(description="Absolute time of the object, RFC 3339.")] = None
    time_ms: Annotated[int | None, Meta(description="DNP3 time: ms since 1970 UTC.")] = None
    relative_time_ms: int | None = None
    control_code: Annotated[int | None, Meta(description="CROB control code octet.")] = None
    operation: Annotated[
        str | None, Meta(description="CROB operation (e.g. trip_pulse_on) or file mode.")
    ] = None
    count: Annotated[int | None, Meta(description="CROB count.")] = None
    on_time_ms: int | None = None
    off_time_ms: int | None = None
    status: Annotated[int | None, Meta(description="Control status / file status or mode.")] = None
    status_name: str | None = None
    interval_ms: int | None = None
    interval_units: int | None = None
    attribute_type: Annotated[int | None, Meta(description="Group 0 data type code.")] = None
    file_handle: int | None = None
    block: int | None = None
    last_block: int | None = None
    data_length: int | None = None
    data: Annotated[str | None, Meta(description="Undecoded object octets, hex.")] = None


class Dnp3Object(_Record):
    """One object header and the objects it carries: bulk data (static values and flags) as
    columns, one list per field, aligned with `indexes`; richer objects as `points`."""

    group: int
    variation: int
    qualifier: int
    name: Annotated[str, Meta(description="Object kind, e.g. analog_input, class_1.")]
    range_start: int | None = None
    range_stop: int | None = None
    count: int | None = None
    indexes: Annotated[
        list[int] | None, Meta(description="Point indexes of the columns below (or named).")
    ] = None
    values: Annotated[list[int] | None, Meta(description="Integer values or states.")] = None
    float_values: list[float] | None = None
    flags: Annotated[list[int] | None, Meta(description="Quality flags per point.")] = None
    points: Annotated[
        list[Dnp3Point] | None,
        Meta(description="Objects with more fields (commands, times, files, attributes)."),
    ] = None
    points_omitted: Annotated[int | None, Meta(description="Objects beyond the kept ones.")] = None


class Dnp3(_Record):
    source: Annotated[int, Meta(description="Link-layer source address.")]
    destination: Annotated[int, Meta(description="Link-layer destination address.")]
    link_control: Annotated[int, Meta(description="Link control octet (DIR, PRM, FCB, FCV).")]
    link_function: Annotated[str, Meta(description="Link function name.")]
    function_code: Annotated[int | None, Meta(description="Application function code.")] = None
    function: Annotated[str | None, Meta(description="Name, or unknown-<n>.")] = None
    sequence: Annotated[int | None, Meta(description="Application sequence number.")] = None
    first: bool | None = None
    final: bool | None = None
    confirm: Annotated[bool | None, Meta(description="CON: confirmation requested.")] = None
    unsolicited: bool | None = None
    iin: Annotated[int | None, Meta(description="Internal indications, IIN1 high octet.")] = None
    iin_flags: list[str] | None = None
    transport_segments: Annotated[
        int | None, Meta(description="Link frames the fragment was reassembled from.")
    ] = None
    objects: list[Dnp3Object] | None = None
    data: Annotated[str | None, Meta(description="Object octets left undecoded, hex.")] = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class Ot(_Record):
    protocol: str
    role: Literal["request", "response"] | None = None
    action: OtAction | None = None
    anomalies: Annotated[
        list[str] | None, Meta(description="Protocol anomaly codes (see decode/*/README.md).")
    ] = None
    modbus: Modbus | None = None
    dnp3: Dnp3 | None = None


class Asset(_Record):
    """Identity facts a decoder observed about one device; the inventory merges them."""

    ip: str | None = None
    mac: str | None = None
    vendor: str | None = None
    product: str | None = None
    product_code: str | None = None
    model: str | None = None
    revision: Annotated[str | None, Meta(description="Firmware / software revision.")] = None
    serial: str | None = None
    name: str | None = None
    url: str | None = None


ANOMALY = "anomaly"  # event.action of an anomaly that is not one message (gaps, floods, ...)


class Event(_Record, rename={"timestamp": "@timestamp"}):
    timestamp: Annotated[str, Meta(description="When the traffic happened, RFC 3339 UTC.")]
    event: EventMeta
    message: str | None = None
    source: Endpoint | None = None
    destination: Endpoint | None = None
    network: Network | None = None
    observer: Observer | None = None
    ot: Ot | None = None
    asset: Asset | None = None
    pcap: Pcap | None = None


def is_message(event: Event) -> bool:
    """Whether an event is one decoded application message (not an anomaly or an asset fact)."""
    return event.event.kind == "event" and event.event.action != ANOMALY
