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


class S7Item(_Record):
    """One S7comm read/write variable item: its address (request) and/or its data (response)."""

    syntax_id: Annotated[int | None, Meta(description="0x10 = S7ANY address.")] = None
    area: int | None = None
    area_name: str | None = None
    db_number: int | None = None
    byte_address: int | None = None
    bit_address: int | None = None
    transport_size: int | None = None
    transport_size_name: str | None = None
    count: Annotated[int | None, Meta(description="Number of elements of transport_size.")] = None
    return_code: int | None = None
    return_code_name: str | None = None
    data_transport_size: int | None = None
    length: Annotated[int | None, Meta(description="Data length as on the wire (bits or bytes).")] = None
    data: Annotated[str | None, Meta(description="Item data, hex.")] = None
    values: Annotated[
        list[int] | None, Meta(description="Data as integers of the item's transport size.")
    ] = None
    real_values: Annotated[list[float] | None, Meta(description="Data of REAL items.")] = None


class SzlRecord(_Record):
    """An identity record of a system status list (SZL 0x0011 / 0x001C families)."""

    index: int
    value: Annotated[str, Meta(description="Order number (0x0011) or name (0x001C).")]
    version: Annotated[str | None, Meta(description="0x0011: version V x.y.z.")] = None


class S7comm(_Record):
    rosctr: Annotated[int, Meta(description="1 job, 2 ack, 3 ack-data, 7 userdata (as Wireshark).")]
    rosctr_name: str
    pdu_reference: int
    function_code: Annotated[int | None, Meta(description="Job / ack-data function.")] = None
    function: Annotated[str | None, Meta(description="Name, or unknown-<n>.")] = None
    userdata_type: Annotated[str | None, Meta(description="request, response or push.")] = None
    userdata_group: Annotated[int | None, Meta(description="Userdata function group.")] = None
    userdata_group_name: str | None = None
    userdata_subfunction: int | None = None
    userdata_subfunction_name: str | None = None
    cpu_mode: Annotated[int | None, Meta(description="Mode transition: the CPU's new mode.")] = None
    cpu_mode_name: str | None = None
    sequence_number: Annotated[int | None, Meta(description="Userdata sequence number.")] = None
    last_data_unit: int | None = None
    error_class: int | None = None
    error_code: int | None = None
    error: str | None = None
    return_code: Annotated[int | None, Meta(description="Userdata data return code.")] = None
    item_count: int | None = None
    items: list[S7Item] | None = None
    max_amq_calling: int | None = None
    max_amq_called: int | None = None
    pdu_length: Annotated[int | None, Meta(description="Negotiated PDU size (setup).")] = None
    function_status: int | None = None
    upload_id: int | None = None
    filename: str | None = None
    block_type: Annotated[str | None, Meta(description="e.g. OB, DB, FC, SDB.")] = None
    block_number: int | None = None
    filesystem: str | None = None
    block_length: int | None = None
    blocks: Annotated[
        list[str] | None,
        Meta(description="PLC control: blocks named (type, number, file system); list blocks "
             "of type: block numbers."),
    ] = None
    block_counts: Annotated[
        list[str] | None, Meta(description="List blocks: <type>=<count> per block type.")
    ] = None
    pi_service: Annotated[str | None, Meta(description="PLC control service, e.g. _INSE.")] = None
    pi_arguments: str | None = None
    szl_id: int | None = None
    szl_id_name: str | None = None
    szl_index: int | None = None
    szl_records: list[SzlRecord] | None = None
    clock: Annotated[str | None, Meta(description="PLC clock (local time, ISO 8601).")] = None
    rack: Annotated[int | None, Meta(description="From the COTP called TSAP.")] = None
    slot: int | None = None
    data: Annotated[str | None, Meta(description="Undecoded parameter/data bytes, hex.")] = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class S7commPlus(_Record):
    version: int
    opcode: int | None = None
    opcode_name: str | None = None
    function_code: int | None = None
    function: str | None = None
    sequence_number: int | None = None
    session_id: int | None = None
    transport_flags: int | None = None
    integrity: Annotated[
        bool | None,
        Meta(description="V3: a 32-byte integrity digest protects the message; V1: none; "
             "V2: not determined."),
    ] = None
    data_length: int | None = None
    request_frame: int | None = None


class Ot(_Record):
    protocol: str
    role: Literal["request", "response"] | None = None
    action: OtAction | None = None
    anomalies: Annotated[
        list[str] | None, Meta(description="Protocol anomaly codes (see decode/*/README.md).")
    ] = None
    modbus: Modbus | None = None
    s7comm: S7comm | None = None
    s7comm_plus: S7commPlus | None = None


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
