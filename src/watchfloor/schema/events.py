"""The event schema: the one definition every stage, the JSON Schema and the store tables come from.

Names follow ECS where ECS has one; OT detail has a protocol-neutral layer (`ot.action`) and a
per-protocol layer (`ot.modbus`, ...). Unset fields are omitted from JSON, so an event carries only
what was observed. Structs are closed (`forbid_unknown_fields`): no stage can invent a field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct, field

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
        Literal["event", "asset", "alert", "signal"],
        Meta(description="event: a decoded message or anomaly; asset: an identity observation; "
                         "alert: a detection; signal: a rule match that only feeds correlations."),
    ]
    category: list[str]
    type: list[str] | None = None
    action: Annotated[
        str | None, Meta(description="What happened, e.g. read_holding_registers or anomaly.")
    ] = None
    dataset: Annotated[str | None, Meta(description="Producer, e.g. ot.modbus.")] = None
    outcome: Literal["success", "failure", "unknown"] | None = None
    duration: Annotated[int | None, Meta(description="Request to response, nanoseconds.")] = None
    severity: Annotated[
        int | None,
        Meta(description="Alerts: 1 informational, 2 low, 3 medium, 4 high, 5 critical."),
    ] = None
    code: Annotated[
        str | None, Meta(description="Producer's identifier of the kind of event, e.g. 4688.")
    ] = None
    provider: Annotated[
        str | None, Meta(description="Source of the event, e.g. Microsoft-Windows-Sysmon.")
    ] = None
    module: Annotated[str | None, Meta(description="Input format, e.g. evtx, cloudtrail.")] = None
    original: Annotated[
        str | None, Meta(description="The original record, unchanged (text as read).")
    ] = None
    start: Annotated[
        str | None, Meta(description="Flow records: the first packet, RFC 3339 UTC (@timestamp: the last).")
    ] = None


class Endpoint(_Record):
    ip: str | None = None
    port: int | None = None
    mac: str | None = None
    domain: str | None = None
    bytes: Annotated[int | None, Meta(description="Bytes sent from this end (flow records).")] = None
    packets: Annotated[int | None, Meta(description="Packets sent from this end (flow records).")] = None
    geo: Geo | None = None


class Network(_Record):
    transport: str | None = None
    protocol: Annotated[str | None, Meta(description="Application protocol.")] = None
    community_id: Annotated[str | None, Meta(description="Community ID v1 flow hash.")] = None
    vlan_id: int | None = None
    direction: Annotated[
        str | None, Meta(description="ECS: ingress, egress, inbound, outbound, internal, ...")
    ] = None
    type: Annotated[str | None, Meta(description="ipv4, ipv6, ...")] = None
    iana_number: str | None = None
    application: str | None = None
    bytes: Annotated[int | None, Meta(description="Both directions.")] = None
    packets: int | None = None


class Observer(_Record):
    name: Annotated[str | None, Meta(description="Sensor that saw the traffic.")] = None
    vendor: Annotated[str | None, Meta(description="Maker of the observing device (e.g. CEF vendor).")] = None
    product: Annotated[str | None, Meta(description="Observing product, e.g. zeek, suricata.")] = None
    version: str | None = None


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


class Modbus(_Record, kw_only=True):
    transaction_id: Annotated[
        int | None, Meta(description="Absent only in events imported from logs without it.")
    ] = None
    unit_id: Annotated[
        int | None, Meta(description="Absent only in events imported from logs without it.")
    ] = None
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


class Iec104Object(_Record):
    """One information object of an IEC 104 ASDU: its address and decoded element."""

    ioa: Annotated[int, Meta(description="Information object address (3 octets).")]
    value: Annotated[
        int | None,
        Meta(description="Integer element: point/command state, step position, scaled value, "
                         "bitstring, counter, qualifier (interrogation, reset, init), test "
                         "counter."),
    ] = None  # fmt: skip
    float_value: Annotated[
        float | None, Meta(description="Normalised value (fraction of full scale) or IEEE float.")
    ] = None
    state: Annotated[
        str | None, Meta(description="Name of the state/qualifier, e.g. on, intermediate, group_3.")
    ] = None
    quality: Annotated[
        list[str] | None, Meta(description="Quality flags set (QDS/SIQ/DIQ/QDP/BCR), e.g. invalid.")
    ] = None
    transient: Annotated[bool | None, Meta(description="Step position in transient state.")] = None
    sequence: Annotated[int | None, Meta(description="Integrated totals sequence number.")] = None
    change: Annotated[
        int | None, Meta(description="Packed single points: change detection bits.")
    ] = None
    select: Annotated[
        bool | None, Meta(description="Command S/E bit: true = select, false = execute.")
    ] = None
    qualifier: Annotated[
        int | None, Meta(description="Command QU, set-point QL, counter FRZ or parameter KPA.")
    ] = None
    elapsed_ms: Annotated[
        int | None, Meta(description="CP16Time2a elapsed / relay time, ms.")
    ] = None
    time: Annotated[
        str | None,
        Meta(description="CP56Time2a as RFC 3339: the clock as written (no zone on the wire)."),
    ] = None
    time_invalid: Annotated[bool | None, Meta(description="CP56Time2a IV bit.")] = None
    summer_time: Annotated[bool | None, Meta(description="CP56Time2a SU bit.")] = None


class Iec104(_Record):
    apci_type: Annotated[int, Meta(description="0 = I, 1 = S, 3 = U (as Wireshark).")]
    apci: Literal["I", "S", "U"]
    send_seq: Annotated[int | None, Meta(description="N(S) of an I frame.")] = None
    recv_seq: Annotated[int | None, Meta(description="N(R) of an I or S frame.")] = None
    u_function: Annotated[
        str | None, Meta(description="U frame: startdt_act, testfr_con, ...")
    ] = None
    type_id: int | None = None
    type_name: Annotated[
        str | None, Meta(description="Mnemonic, e.g. M_SP_NA_1, or unknown-<n>.")
    ] = None
    sq: Annotated[
        bool | None, Meta(description="VSQ SQ bit: one IOA, consecutive elements.")
    ] = None
    count: Annotated[int | None, Meta(description="VSQ number of objects / elements.")] = None
    cot: Annotated[
        int | None, Meta(description="Cause of transmission (6 bits, as Wireshark).")
    ] = None
    cot_name: str | None = None
    negative: Annotated[bool | None, Meta(description="COT P/N bit: negative confirmation.")] = None
    test: Annotated[bool | None, Meta(description="COT T bit: test ASDU.")] = None
    originator: Annotated[int | None, Meta(description="Originator address.")] = None
    common_address: Annotated[
        int | None, Meta(description="Common address of ASDU (station).")
    ] = None
    objects: list[Iec104Object] | None = None
    data: Annotated[
        str | None, Meta(description="Undecoded ASDU bytes after the header, hex.")
    ] = None
    request_frame: Annotated[
        int | None, Meta(description="Frame of the activation this confirmation answers.")
    ] = None


class EnipIdentity(_Record):
    """Identity object attributes (ListIdentity reply, identity Get_Attributes_All)."""

    vendor_id: int
    device_type: int
    product_code: int
    revision: Annotated[str, Meta(description="major.minor, minor as 3 digits.")]
    device_status: int
    serial_number: Annotated[str, Meta(description="Hex, 0x + 8 digits.")]
    product_name: str
    vendor: str | None = None
    device_type_name: str | None = None
    state: int | None = None
    encapsulation_version: int | None = None
    socket_address: str | None = None
    socket_port: int | None = None


class EnipIo(_Record):
    """Class 0/1 implicit I/O of one connection, summarised (not one event per packet)."""

    connection_id: int
    packets: int
    bytes: int
    first_frame: int
    last_frame: int
    first_seen: str
    last_seen: str
    first_sequence: int | None = None
    last_sequence: int | None = None
    sequence_gaps: Annotated[int, Meta(description="Jumps forward in the sequence.")] = 0
    sequence_lost: Annotated[int, Meta(description="Sequence numbers skipped by the jumps.")] = 0
    out_of_order: Annotated[int, Meta(description="Packets with an older or repeated sequence.")] = 0


class Enip(_Record):
    command: Annotated[
        int | None, Meta(description="Encapsulation command (as Wireshark enip.command).")
    ] = None
    command_name: str | None = None
    length: int | None = None
    session_handle: int | None = None
    status: Annotated[int | None, Meta(description="Encapsulation status.")] = None
    status_name: str | None = None
    sender_context: Annotated[str | None, Meta(description="8 bytes, hex.")] = None
    options: int | None = None
    items: Annotated[list[int] | None, Meta(description="CPF item type ids, in order.")] = None
    connection_id: int | None = None
    sequence: Annotated[int | None, Meta(description="Connected data sequence count.")] = None
    protocol_version: Annotated[int | None, Meta(description="RegisterSession version.")] = None
    identities: list[EnipIdentity] | None = None
    io: EnipIo | None = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class CipService(_Record):
    """One service nested in a Multiple Service Packet or an Unconnected Send."""

    service: int
    service_name: str
    depth: Annotated[int, Meta(description="1 = directly inside the outer service.")]
    class_id: int | None = None
    instance_id: int | None = None
    attribute_id: int | None = None
    symbol: str | None = None
    status: int | None = None
    status_name: str | None = None
    extended_status: list[int] | None = None
    tag_type: int | None = None
    elements: int | None = None
    values: Annotated[list[int] | None, Meta(description="Logix integer tag values.")] = None


class Cip(_Record):
    service: Annotated[int, Meta(description="7-bit service code (as Wireshark cip.sc).")]
    service_name: Annotated[str, Meta(description="Name, or unknown-<n>.")]
    services: Annotated[
        list[int] | None,
        Meta(description="Nested service codes, depth first (Wireshark's further cip.sc)."),
    ] = None
    nested: list[CipService] | None = None
    class_id: int | None = None
    class_name: str | None = None
    instance_id: int | None = None
    attribute_id: int | None = None
    member_id: int | None = None
    connection_point: int | None = None
    attributes: Annotated[list[int] | None, Meta(description="Get_Attribute_List ids.")] = None
    symbol: Annotated[str | None, Meta(description="Logix tag name, members and [indices].")] = None
    path: Annotated[str | None, Meta(description="Request path, every segment.")] = None
    route: Annotated[list[str] | None, Meta(description="Port segments as port,link.")] = None
    status: Annotated[int | None, Meta(description="General status (responses).")] = None
    status_name: str | None = None
    extended_status: list[int] | None = None
    tag_type: int | None = None
    tag_type_name: str | None = None
    structure_handle: int | None = None
    elements: int | None = None
    offset: int | None = None
    values: Annotated[list[int] | None, Meta(description="Logix integer tag values.")] = None
    connection_serial: int | None = None
    originator_vendor: int | None = None
    originator_serial: int | None = None
    o_t_connection_id: int | None = None
    t_o_connection_id: int | None = None
    o_t_rpi: Annotated[int | None, Meta(description="Requested (or actual) interval, us.")] = None
    t_o_rpi: int | None = None
    o_t_parameters: int | None = None
    t_o_parameters: int | None = None
    transport_class: int | None = None
    connection_path: str | None = None
    reset_type: Annotated[
        int | None, Meta(description="Identity Reset: 0 power cycle, 1 out-of-box, 2 out-of-box "
                         "except communication parameters.")
    ] = None
    reset_type_name: str | None = None
    pccc_command: Annotated[int | None, Meta(description="Execute PCCC: command (request).")] = None
    pccc_function: int | None = None
    pccc_function_name: str | None = None
    pccc_transaction: int | None = None
    pccc_status: Annotated[int | None, Meta(description="PCCC reply status (STS).")] = None
    data: Annotated[str | None, Meta(description="Undecoded service data, hex.")] = None


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


class Dnp3(_Record, kw_only=True):
    # The link fields are absent only in events imported from logs that do not carry them (Zeek).
    source: Annotated[int | None, Meta(description="Link-layer source address.")] = None
    destination: Annotated[int | None, Meta(description="Link-layer destination address.")] = None
    link_control: Annotated[
        int | None, Meta(description="Link control octet (DIR, PRM, FCB, FCV).")
    ] = None
    link_function: Annotated[str | None, Meta(description="Link function name.")] = None
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


class MmsName(_Record):
    """An MMS object name. IEC 61850: the domain is the logical device, the item
    LN$FC$DO$DA (e.g. LLN0$CO$Pos$Oper)."""

    scope: Annotated[str, Meta(description="vmd, domain or aa (association-specific).")]
    item: str
    domain: str | None = None


class Mms(_Record):
    pdu_type: Annotated[
        int | None, Meta(description="MMSpdu choice: 0 confirmed request ... 13 conclude error.")
    ] = None
    pdu: Annotated[str | None, Meta(description="e.g. confirmed_request, unconfirmed.")] = None
    invoke_id: int | None = None
    service: Annotated[
        int | None, Meta(description="Confirmed service request/response number (as Wireshark).")
    ] = None
    service_name: Annotated[str | None, Meta(description="Name, or unknown-<n>.")] = None
    unconfirmed_service: Annotated[int | None, Meta(description="0 informationReport ...")] = None
    unconfirmed_service_name: str | None = None
    variables: Annotated[list[MmsName] | None, Meta(description="Variables named.")] = None
    variable_list: Annotated[MmsName | None, Meta(description="Named variable list (data set).")] = None
    values: Annotated[
        list[str] | None, Meta(description="Data values as text; failure:<DataAccessError>.")
    ] = None
    values_omitted: Annotated[int | None, Meta(description="Values/names beyond the kept ones.")] = None
    failures: Annotated[list[int] | None, Meta(description="DataAccessError codes of failed items.")] = None
    failure_names: list[str] | None = None
    results: Annotated[int | None, Meta(description="Write response: results (items).")] = None
    object_class: Annotated[int | None, Meta(description="GetNameList object class.")] = None
    object_class_name: str | None = None
    scope: Annotated[str | None, Meta(description="GetNameList scope: vmd, domain or aa.")] = None
    domain: Annotated[str | None, Meta(description="Domain (logical device) named by the service.")] = None
    continue_after: str | None = None
    identifiers: Annotated[list[str] | None, Meta(description="GetNameList / fileDirectory names.")] = None
    more_follows: bool | None = None
    deletable: bool | None = None
    program_invocation: str | None = None
    file_name: str | None = None
    new_file_name: str | None = None
    frsm_id: Annotated[int | None, Meta(description="File read state machine id.")] = None
    file_size: int | None = None
    data_length: int | None = None
    ulsm_id: int | None = None
    vendor: Annotated[str | None, Meta(description="Identify response.")] = None
    model: str | None = None
    revision: str | None = None
    error_class: Annotated[int | None, Meta(description="ServiceError class (choice number).")] = None
    error_class_name: str | None = None
    error_code: int | None = None
    error_text: str | None = None
    reject_type: Annotated[int | None, Meta(description="RejectPDU reason choice.")] = None
    reject_type_name: str | None = None
    reject_code: int | None = None
    max_pdu_size: Annotated[int | None, Meta(description="Initiate: local detail.")] = None
    max_outstanding_calling: int | None = None
    max_outstanding_called: int | None = None
    nesting_level: int | None = None
    version: int | None = None
    spdu: Annotated[str | None, Meta(description="ISO session SPDU, e.g. connect, data_transfer.")] = None
    acse: Annotated[str | None, Meta(description="ACSE APDU: aarq, aare, rlrq, rlre, abrt.")] = None
    acse_result: Annotated[int | None, Meta(description="AARE result: 0 accepted.")] = None
    acse_reason: int | None = None
    abort_source: int | None = None
    application_context: str | None = None
    calling_ap_title: str | None = None
    calling_ae_qualifier: int | None = None
    called_ap_title: str | None = None
    called_ae_qualifier: int | None = None
    responding_ap_title: str | None = None
    responding_ae_qualifier: int | None = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class ProfinetDcp(_Record):
    """One PROFINET DCP PDU (EtherType 0x8892, frame ids 0xFEFC-0xFEFF)."""

    frame_id: int
    service_id: Annotated[int, Meta(description="3 Get, 4 Set, 5 Identify, 6 Hello (as Wireshark).")]
    service: Annotated[str, Meta(description="Name, or unknown-<n>.")]
    service_type: Annotated[int, Meta(description="0 request, 1 response, 5 not supported.")]
    service_type_name: str
    xid: int
    response_delay: Annotated[int | None, Meta(description="Identify request: factor.")] = None
    options: Annotated[
        list[str] | None, Meta(description="Blocks' option/suboption names, in order.")
    ] = None
    name_of_station: str | None = None
    alias_name: str | None = None
    vendor_value: Annotated[str | None, Meta(description="DeviceVendorValue (type of station).")] = None
    vendor_id: int | None = None
    device_id: int | None = None
    device_role: Annotated[int | None, Meta(description="DeviceRoleDetails bits.")] = None
    device_roles: list[str] | None = None
    device_instance: Annotated[int | None, Meta(description="High * 256 + low.")] = None
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    ip_block_info: Annotated[int | None, Meta(description="IP BlockInfo (DHCP, set, conflict).")] = None
    mac: Annotated[str | None, Meta(description="Option IP / MAC address block.")] = None
    block_qualifier: Annotated[int | None, Meta(description="Set: 0 temporary, 1 permanent.")] = None
    control: Annotated[list[str] | None, Meta(description="Set control blocks (start, ...).")] = None
    signal_value: int | None = None
    reset_mode: Annotated[int | None, Meta(description="ResetToFactory BlockQualifier mode.")] = None
    response_option: Annotated[
        str | None, Meta(description="Control/Response: option/suboption answered.")
    ] = None
    block_error: Annotated[int | None, Meta(description="Control/Response error, 0 = ok.")] = None
    block_error_name: str | None = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class ProfinetRt(_Record):
    """Cyclic real-time frames of one frame id in one direction, summarised (not per packet)."""

    frame_id: int
    rt_class: Annotated[str, Meta(description="Frame id class, e.g. rt_class_1.")]
    packets: int
    bytes: int
    first_frame: int
    last_frame: int
    first_seen: str
    last_seen: str
    first_cycle: Annotated[int, Meta(description="Cycle counter of the first frame.")]
    last_cycle: int
    data_status: Annotated[int, Meta(description="Last DataStatus byte.")]
    data_status_changes: int = 0
    cycle_repeats: Annotated[int, Meta(description="Frames repeating the last cycle counter.")] = 0
    cycle_backwards: Annotated[int, Meta(description="Cycle counter going back.")] = 0
    invalid: Annotated[int, Meta(description="Frames with DataValid clear.")] = 0
    backup: Annotated[int, Meta(description="Frames from a backup provider (State clear).")] = 0
    stopped: Annotated[int, Meta(description="Frames with ProviderState stop.")] = 0
    problem: Annotated[int, Meta(description="Frames with StationProblemIndicator set.")] = 0
    transfer_errors: Annotated[int, Meta(description="Frames with TransferStatus != 0.")] = 0


class ProfinetAlarm(_Record):
    """An RTA (acyclic real-time) PDU: alarms and their acknowledgements."""

    frame_id: int
    priority: Literal["high", "low"]
    pdu_type: int
    pdu_type_name: str
    dst_endpoint: int
    src_endpoint: int
    send_seq: int
    ack_seq: int
    alarm_type: int | None = None
    alarm_type_name: str | None = None
    api: int | None = None
    slot: int | None = None
    subslot: int | None = None
    alarm_specifier: int | None = None


class ProfinetIo(_Record):
    """One PROFINET IO context-management call over DCE/RPC (UDP)."""

    opnum: Annotated[int, Meta(description="DCE/RPC opnum (as Wireshark dcerpc.opnum).")]
    operation: Annotated[str, Meta(description="connect, release, read, write, control, ...")]
    packet_type: Annotated[int, Meta(description="DCE/RPC packet type (0 request, 2 response).")]
    packet_type_name: str
    interface: Annotated[str, Meta(description="device, controller, supervisor, parameter_server.")]
    activity: Annotated[str, Meta(description="Activity UUID: pairs requests and responses.")]
    sequence: int
    fragment: int = 0
    more_fragments: bool = False
    status: Annotated[int | None, Meta(description="PNIOStatus (responses), 0 = ok.")] = None
    blocks: Annotated[list[int] | None, Meta(description="PNIO block types, in order.")] = None
    block_names: list[str] | None = None
    ar_uuid: str | None = None
    ar_type: int | None = None
    session_key: int | None = None
    station_name: Annotated[str | None, Meta(description="ARBlockReq CMInitiatorStationName.")] = None
    control_command: Annotated[int | None, Meta(description="IOD/IOX control command bits.")] = None
    control: Annotated[list[str] | None, Meta(description="prm_end, application_ready, ...")] = None
    index: Annotated[int | None, Meta(description="Read/Write record index.")] = None
    api: int | None = None
    slot: int | None = None
    subslot: int | None = None
    record_length: int | None = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class Mqtt(_Record):
    """One MQTT control packet (3.1, 3.1.1, 5.0). The password is never kept, only its presence."""

    message_type: Annotated[int, Meta(description="Control packet type 1-15 (as Wireshark).")]
    message_type_name: Annotated[str, Meta(description="e.g. publish, or unknown-<n>.")]
    client_id: Annotated[
        str | None, Meta(description="The CONNECT's client identifier, on every packet of it.")
    ] = None
    protocol_name: str | None = None
    protocol_level: int | None = None
    protocol_version: Annotated[str | None, Meta(description="3.1, 3.1.1 or 5.0.")] = None
    connect_flags: int | None = None
    clean_session: Annotated[bool | None, Meta(description="5.0: clean start.")] = None
    keep_alive: Annotated[int | None, Meta(description="Seconds.")] = None
    username_present: bool | None = None
    username: str | None = None
    password_present: bool | None = None
    will_topic: str | None = None
    will_qos: int | None = None
    will_retain: bool | None = None
    will_payload_length: int | None = None
    session_present: bool | None = None
    packet_id: int | None = None
    dup: bool | None = None
    qos: int | None = None
    retain: bool | None = None
    topic: Annotated[
        str | None, Meta(description="PUBLISH topic (resolved from a 5.0 topic alias); on an "
                         "acknowledgement, the acknowledged PUBLISH's.")
    ] = None
    topic_alias: int | None = None
    payload_length: int | None = None
    topic_filters: Annotated[
        list[str] | None, Meta(description="SUBSCRIBE/UNSUBSCRIBE filters (and on their acks).")
    ] = None
    requested_qos: list[int] | None = None
    subscription_options: Annotated[
        list[int] | None, Meta(description="Options byte per filter (5.0: QoS, no local, ...).")
    ] = None
    reason_code: Annotated[
        int | None, Meta(description="CONNACK return code (3.1.1) or 5.0 reason code.")
    ] = None
    reason: str | None = None
    reason_codes: Annotated[list[int] | None, Meta(description="SUBACK/UNSUBACK, per filter.")] = None
    reasons: list[str] | None = None
    reason_string: str | None = None
    authentication_method: str | None = None
    assigned_client_id: str | None = None
    user_properties: Annotated[list[str] | None, Meta(description="5.0 name=value pairs.")] = None
    properties: Annotated[list[str] | None, Meta(description="5.0 property names present.")] = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class BacnetProperty(_Record):
    """One object/property of a BACnet list service (RPM, WPM, COV notification, CreateObject)."""

    object_type: int | None = None
    object_type_name: str | None = None
    instance: int | None = None
    property_id: int | None = None
    property_name: str | None = None
    array_index: int | None = None
    values: Annotated[list[str] | None, Meta(description="Application values as text.")] = None
    priority: int | None = None
    error_class: int | None = None
    error_class_name: str | None = None
    error_code: int | None = None
    error_code_name: str | None = None


class Bacnet(_Record):
    """One BACnet/IP BVLL message: BVLC, NPDU and (if any) APDU with its service parameters."""

    bvlc_function: Annotated[int, Meta(description="BVLC function (as Wireshark bvlc.function).")]
    bvlc_function_name: str
    bvlc_result_code: int | None = None
    bvlc_result: str | None = None
    forwarded_from: Annotated[
        str | None, Meta(description="Forwarded-NPDU: original B/IP address (ip:port).")
    ] = None
    table_entries: Annotated[
        list[str] | None, Meta(description="BDT / FDT entries, or the FDT entry to delete.")
    ] = None
    foreign_device_ttl: Annotated[int | None, Meta(description="Seconds.")] = None
    expecting_reply: bool | None = None
    network_priority: int | None = None
    destination_network: int | None = None
    destination_address: Annotated[str | None, Meta(description="DADR, hex; empty = broadcast.")] = None
    source_network: int | None = None
    source_address: Annotated[str | None, Meta(description="SADR, hex.")] = None
    hop_count: int | None = None
    network_message_type: int | None = None
    network_message: str | None = None
    networks: list[int] | None = None
    network_reject_reason: int | None = None
    network_reject_reason_name: str | None = None
    apdu_type: Annotated[int | None, Meta(description="PDU type 0-7 (as Wireshark bacapp.type).")] = None
    apdu_type_name: str | None = None
    service: Annotated[
        int | None, Meta(description="Service choice (bacapp.confirmed_service / unconfirmed_service).")
    ] = None
    service_name: str | None = None
    invoke_id: int | None = None
    segmented: bool | None = None
    more_follows: bool | None = None
    segmented_response_accepted: bool | None = None
    sequence_number: int | None = None
    window_size: int | None = None
    negative_ack: bool | None = None
    from_server: bool | None = None
    max_segments: int | None = None
    max_apdu: Annotated[int | None, Meta(description="Max APDU the requester accepts.")] = None
    object_type: int | None = None
    object_type_name: str | None = None
    object_instance: int | None = None
    property_id: int | None = None
    property_name: str | None = None
    array_index: int | None = None
    values: Annotated[list[str] | None, Meta(description="Application values as text.")] = None
    priority: Annotated[int | None, Meta(description="Write priority 1-16.")] = None
    properties: list[BacnetProperty] | None = None
    device_type: int | None = None
    device_type_name: str | None = None
    device_instance: int | None = None
    max_apdu_accepted: int | None = None
    segmentation_supported: int | None = None
    segmentation_supported_name: str | None = None
    vendor_id: Annotated[
        int | None, Meta(description="I-Am vendor identifier, or a proprietary network message's.")
    ] = None
    low_limit: int | None = None
    high_limit: int | None = None
    object_name: str | None = None
    subscriber_process_id: int | None = None
    issue_confirmed: bool | None = None
    lifetime: Annotated[int | None, Meta(description="Seconds (subscription / time remaining).")] = None
    cancellation: bool | None = None
    reinitialize_state: int | None = None
    reinitialize_state_name: str | None = None
    enable_disable: int | None = None
    enable_disable_name: str | None = None
    duration_minutes: int | None = None
    password_present: Annotated[
        bool | None, Meta(description="ReinitializeDevice / DCC: a password was sent (never kept).")
    ] = None
    file_access: Annotated[str | None, Meta(description="stream or record.")] = None
    file_start: int | None = None
    file_count: Annotated[int | None, Meta(description="Octets or records requested / written.")] = None
    end_of_file: bool | None = None
    data_length: Annotated[int | None, Meta(description="File octets carried (not kept).")] = None
    error_class: int | None = None
    error_class_name: str | None = None
    error_code: int | None = None
    error_code_name: str | None = None
    reject_reason: int | None = None
    reject_reason_name: str | None = None
    abort_reason: int | None = None
    abort_reason_name: str | None = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class Goose(_Record):
    """One GOOSE message (IEC 61850-8-1 Annex A)."""

    appid: int
    length: Annotated[int, Meta(description="Header length field (APPID onwards).")]
    simulation: Annotated[bool, Meta(description="Reserved 1 Simulate bit (Ed.2): a test set sent it.")]
    gocb_ref: Annotated[str | None, Meta(description="GOOSE control block reference (as Wireshark).")] = None
    time_allowed_to_live: Annotated[int | None, Meta(description="TTL, ms.")] = None
    dat_set: str | None = None
    go_id: str | None = None
    t: Annotated[str | None, Meta(description="Time of the last state change (UtcTime), RFC 3339.")] = None
    time_quality: int | None = None
    st_num: Annotated[int | None, Meta(description="State number (as Wireshark).")] = None
    sq_num: Annotated[int | None, Meta(description="Sequence number (as Wireshark).")] = None
    test: Annotated[
        bool | None, Meta(description="PDU element [7]: test (Ed.1), simulation (Ed.2, goose.simulation).")
    ] = None
    conf_rev: int | None = None
    nds_com: Annotated[bool | None, Meta(description="Needs commissioning.")] = None
    num_dat_set_entries: int | None = None
    data_entries: Annotated[int | None, Meta(description="Entries actually in allData.")] = None
    values: Annotated[list[str] | None, Meta(description="allData entries as text (MMS Data).")] = None
    values_omitted: int | None = None


class Sv(_Record):
    """Summary of one Sampled Values stream (IEC 61850-9-2): one svID from one publisher."""

    sv_id: Annotated[str, Meta(description="Sampled value control block id (as Wireshark sv.svID).")]
    appid: int
    packets: int
    asdus: int
    first_frame: int
    last_frame: int
    first_seen: str
    last_seen: str
    simulation: bool = False
    dat_set: str | None = None
    conf_rev: int | None = None
    smp_rate: int | None = None
    smp_synch: Annotated[int | None, Meta(description="Last: 0 none, 1 local, 2 global.")] = None
    smp_synch_changes: int = 0
    conf_rev_changes: int = 0
    first_smp_cnt: int | None = None
    last_smp_cnt: int | None = None
    smp_cnt_gaps: Annotated[int, Meta(description="Jumps forward in smpCnt (lost samples).")] = 0
    samples_lost: Annotated[int, Meta(description="Sample counts skipped by the jumps.")] = 0
    out_of_order: Annotated[int, Meta(description="ASDUs with an older or repeated smpCnt.")] = 0


class OpcuaNode(_Record):
    """One OPC UA operation on a node (Read, Write, Browse, monitored item, Add/Delete Nodes and
    References); a response's results are joined to its request's nodes, in order."""

    node_id: Annotated[str | None, Meta(description="NodeId, e.g. ns=2;i=5 or ns=1;s=Boiler.")] = None
    attribute_id: int | None = None
    attribute: Annotated[str | None, Meta(description="Attribute name, e.g. Value.")] = None
    index_range: str | None = None
    value_type: Annotated[str | None, Meta(description="Variant built-in type, e.g. Double.")] = None
    value: Annotated[str | None, Meta(description="Value as text (arrays as [a, b]).")] = None
    status_code: int | None = None
    status: Annotated[str | None, Meta(description="Status code name, e.g. BadNodeIdUnknown.")] = None
    browse_name: str | None = None
    node_class: str | None = None
    parent_node_id: str | None = None
    reference_type_id: str | None = None
    target_node_id: str | None = None
    browse_direction: Annotated[int | None, Meta(description="0 forward, 1 inverse, 2 both.")] = None
    references: Annotated[int | None, Meta(description="Browse result: references returned.")] = None
    sampling_interval: Annotated[float | None, Meta(description="Monitored item, ms.")] = None


class OpcuaCall(_Record):
    """One method call of a Call request (and its result)."""

    object_id: str | None = None
    method_id: str | None = None
    arguments: Annotated[
        list[str] | None, Meta(description="Input arguments as Type:value text.")
    ] = None
    outputs: Annotated[list[str] | None, Meta(description="Output arguments as Type:value text.")] = None
    status_code: int | None = None
    status: str | None = None


class OpcuaApplication(_Record):
    """An ApplicationDescription (GetEndpoints, FindServers, CreateSession)."""

    application_uri: str | None = None
    product_uri: str | None = None
    application_name: str | None = None
    application_type: str | None = None
    discovery_urls: list[str] | None = None
    certificate_sha1: Annotated[
        str | None, Meta(description="SHA-1 thumbprint of the application certificate, hex.")
    ] = None


class OpcuaEndpoint(_Record):
    endpoint_url: str | None = None
    security_mode: Annotated[str | None, Meta(description="none, sign, sign_and_encrypt.")] = None
    security_policy: str | None = None
    user_token_types: list[str] | None = None
    security_level: int | None = None
    transport_profile: str | None = None
    certificate_sha1: str | None = None


class Opcua(_Record):
    message_type: Annotated[str, Meta(description="HEL, ACK, OPN, MSG, CLO, ERR, RHE (as Wireshark).")]
    chunk_type: Annotated[str | None, Meta(description="F final, C intermediate, A abort.")] = None
    chunks: Annotated[int | None, Meta(description="Chunks the message was reassembled from.")] = None
    secure_channel_id: int | None = None
    security_token_id: int | None = None
    sequence_number: int | None = None
    request_id: int | None = None
    security_policy: Annotated[str | None, Meta(description="SecurityPolicyUri of the channel.")] = None
    security_mode: Annotated[
        str | None, Meta(description="none, sign, sign_and_encrypt (OPN request, or inferred).")
    ] = None
    encrypted: Annotated[
        bool | None, Meta(description="The service body is encrypted: only headers are decoded.")
    ] = None
    sender_certificate_sha1: Annotated[
        str | None, Meta(description="OPN: SHA-1 thumbprint of the sender certificate, hex.")
    ] = None
    receiver_certificate_thumbprint: str | None = None
    service_id: Annotated[
        int | None, Meta(description="Binary encoding NodeId of the service (as Wireshark).")
    ] = None
    service: Annotated[str | None, Meta(description="Service name, or unknown-<n>.")] = None
    request_handle: int | None = None
    status_code: Annotated[
        int | None, Meta(description="Service result, ERR/abort error code.")
    ] = None
    status: str | None = None
    reason: Annotated[str | None, Meta(description="ERR / abort reason.")] = None
    protocol_version: int | None = None
    receive_buffer_size: int | None = None
    send_buffer_size: int | None = None
    max_message_size: int | None = None
    max_chunk_count: int | None = None
    endpoint_url: str | None = None
    server_uri: str | None = None
    request_type: Annotated[str | None, Meta(description="OPN: issue or renew.")] = None
    requested_lifetime: int | None = None
    revised_lifetime: int | None = None
    session_name: str | None = None
    session_id: str | None = None
    session_timeout: float | None = None
    identity_token: Annotated[
        str | None, Meta(description="ActivateSession: anonymous, username, certificate, issued_token.")
    ] = None
    policy_id: str | None = None
    user_name: str | None = None
    token_encryption: Annotated[
        str | None, Meta(description="Username token encryption algorithm; empty = cleartext.")
    ] = None
    certificate_sha1: Annotated[
        str | None, Meta(description="CreateSession / X509 token certificate thumbprint, hex.")
    ] = None
    max_age: float | None = None
    item_count: Annotated[int | None, Meta(description="Operations in the message.")] = None
    items_omitted: Annotated[int | None, Meta(description="Operations beyond the kept ones.")] = None
    nodes: list[OpcuaNode] | None = None
    calls: list[OpcuaCall] | None = None
    results: Annotated[list[int] | None, Meta(description="Operation status codes.")] = None
    subscription_id: int | None = None
    subscription_ids: list[int] | None = None
    publishing_interval: float | None = None
    publishing_enabled: bool | None = None
    notification_sequence: int | None = None
    notifications: Annotated[
        list[str] | None, Meta(description="Publish: notification kinds (data_change, event, ...).")
    ] = None
    delete_subscriptions: bool | None = None
    release_continuation_points: bool | None = None
    endpoints: list[OpcuaEndpoint] | None = None
    applications: list[OpcuaApplication] | None = None
    request_frame: Annotated[int | None, Meta(description="Frame of the paired request.")] = None


class Ot(_Record):
    protocol: str
    role: Literal["request", "response"] | None = None
    action: OtAction | None = None
    anomalies: Annotated[
        list[str] | None, Meta(description="Protocol anomaly codes (see decode/*/README.md).")
    ] = None
    modbus: Modbus | None = None
    iec104: Iec104 | None = None
    enip: Enip | None = None
    cip: Cip | None = None
    dnp3: Dnp3 | None = None
    s7comm: S7comm | None = None
    s7comm_plus: S7commPlus | None = None
    mms: Mms | None = None
    goose: Goose | None = None
    sv: Sv | None = None
    profinet_dcp: ProfinetDcp | None = None
    profinet_rt: ProfinetRt | None = None
    profinet_alarm: ProfinetAlarm | None = None
    profinet_io: ProfinetIo | None = None
    mqtt: Mqtt | None = None
    bacnet: Bacnet | None = None
    opcua: Opcua | None = None


class Asset(_Record):
    """Identity facts a decoder observed about one device; the inventory merges them."""

    ip: str | None = None
    mac: str | None = None
    vendor: str | None = None
    product: str | None = None
    product_code: str | None = None
    model: str | None = None
    device_type: Annotated[
        str | None, Meta(description="Kind of device, e.g. programmable_logic_controller.")
    ] = None
    revision: Annotated[str | None, Meta(description="Firmware / software revision.")] = None
    serial: str | None = None
    name: str | None = None
    url: str | None = None
    device_id: Annotated[
        int | None, Meta(description="Protocol device number, e.g. the BACnet device instance.")
    ] = None
    vendor_id: Annotated[
        int | None, Meta(description="Numeric vendor identifier, e.g. the BACnet vendor id.")
    ] = None
    max_apdu: Annotated[int | None, Meta(description="Largest APDU the device accepts (BACnet).")] = None


class RuleRef(_Record):
    """The detection rule behind an alert."""

    id: str
    name: str
    description: str | None = None
    ruleset: Annotated[str | None, Meta(description="Where the rule came from (file).")] = None


class Technique(_Record):
    id: Annotated[list[str], Meta(description="ATT&CK technique ids, e.g. T0836.")]


class ThreatIndicator(_Record):
    """The threat-intelligence indicator an event matched."""

    type: Annotated[str, Meta(description="ip, domain, url, md5, sha1, sha256, ja3, ja4, user_agent.")]
    value: str
    provider: Annotated[str | None, Meta(description="File or feed URL it came from.")] = None
    confidence: int | None = None
    matched_field: Annotated[str | None, Meta(description="Event field that held the value.")] = None


class Tactic(_Record):
    name: Annotated[
        list[str], Meta(description="ATT&CK tactics, e.g. credential-access, inhibit-response-function.")
    ]


class Threat(_Record):
    framework: str | None = None
    tactic: Tactic | None = None
    technique: Technique | None = None
    indicator: ThreatIndicator | None = None


class Related(_Record):
    events: Annotated[list[str], Meta(description="Ids of the events behind an alert.")]


# -- network telemetry from other tools (Zeek, Suricata, syslog/CEF): ECS names ------------------
class HttpBody(_Record):
    bytes: int | None = None


class HttpRequest(_Record):
    method: str | None = None
    referrer: str | None = None
    body: HttpBody | None = None
    mime_type: str | None = None


class HttpResponse(_Record):
    status_code: int | None = None
    body: HttpBody | None = None
    mime_type: str | None = None


class Http(_Record):
    version: str | None = None
    request: HttpRequest | None = None
    response: HttpResponse | None = None


class TlsClient(_Record):
    server_name: Annotated[str | None, Meta(description="SNI.")] = None
    ja3: str | None = None
    subject: str | None = None
    issuer: str | None = None


class TlsServer(_Record):
    ja3s: str | None = None
    subject: str | None = None
    issuer: str | None = None
    not_before: str | None = None
    not_after: str | None = None


class Tls(_Record):
    version: Annotated[str | None, Meta(description="e.g. 1.2.")] = None
    version_protocol: Annotated[str | None, Meta(description="tls or ssl.")] = None
    cipher: str | None = None
    curve: str | None = None
    established: bool | None = None
    resumed: bool | None = None
    next_protocol: Annotated[str | None, Meta(description="ALPN, e.g. h2.")] = None
    client: TlsClient | None = None
    server: TlsServer | None = None


class SyslogCode(_Record):
    code: int
    name: str | None = None


class Syslog(_Record):
    priority: Annotated[int | None, Meta(description="PRI: facility * 8 + severity.")] = None
    facility: SyslogCode | None = None
    severity: SyslogCode | None = None
    hostname: str | None = None
    appname: str | None = None
    procid: str | None = None
    msgid: str | None = None
    version: Annotated[str | None, Meta(description="1 for RFC 5424; absent for RFC 3164.")] = None
    structured_data: Annotated[
        list[str] | None, Meta(description="RFC 5424 SD elements, each as id param=value ...")
    ] = None


class Log(_Record):
    level: str | None = None
    syslog: Syslog | None = None


class Zeek(_Record):
    uid: Annotated[str | None, Meta(description="Connection uid (joins a flow's logs).")] = None
    log: Annotated[str | None, Meta(description="The log it came from, e.g. conn, modbus.")] = None
    fuid: Annotated[str | None, Meta(description="File uid (files.log).")] = None
    conn_state: str | None = None
    history: str | None = None
    notice: Annotated[str | None, Meta(description="notice.log note, e.g. Scan::Port_Scan.")] = None


class SuricataEve(_Record):
    event_type: str
    flow_id: Annotated[int | None, Meta(description="Joins the records of one flow.")] = None
    tx_id: int | None = None
    in_iface: str | None = None
    app_proto: str | None = None
    flow_state: str | None = None


class Suricata(_Record):
    eve: SuricataEve


class CefDevice(_Record):
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    event_class_id: str | None = None


class Cef(_Record):
    version: str | None = None
    device: CefDevice | None = None
    name: str | None = None
    severity: Annotated[str | None, Meta(description="As sent: 0-10 or Low/Medium/High/Very-High.")] = None
    extensions: Annotated[
        list[str] | None, Meta(description="Extension key=value pairs not mapped to ECS fields.")
    ] = None


class Triage(_Record):
    """What an alert means for the plant, decided by `watchfloor triage` (kept beside the alert)."""

    priority: Annotated[Literal["P1", "P2", "P3", "P4"], Meta(description="P1 = act now.")]
    severity: Annotated[int, Meta(description="Security severity 1-5, from the detector.")]
    impact: Annotated[int, Meta(description="Operational impact 1-5, from the target and operation.")]
    confidence: Literal["low", "medium", "high"]
    reasons: Annotated[list[str], Meta(description="Why: one sentence per factor, in order.")]
    leg: Annotated[Literal["it", "ot"], Meta(description="Which side of the IT/OT boundary.")]
    tactic: Annotated[str | None, Meta(description="Kill-chain stage: the ATT&CK tactic.")] = None
    sans_stage: Annotated[int | None, Meta(description="SANS ICS kill chain stage 1 or 2.")] = None
    asset: Annotated[str | None, Meta(description="The asset the alert is about (site name).")] = None
    suppressed_by: Annotated[
        str | None, Meta(description="The context that suppressed it; kept, never deleted.")
    ] = None
    duplicate_of: Annotated[
        str | None, Meta(description="The open alert with the same identity it merged into.")
    ] = None
    occurrences: Annotated[int, Meta(description="Open alerts: merged duplicates, itself included.")] = 1
    incident: str | None = None


class IncidentRef(_Record):
    id: str


class Incident(_Record):
    """Alerts linked by entities within a time window, placed along one IT/OT kill chain."""

    incident: IncidentRef
    priority: Literal["P1", "P2", "P3", "P4"]
    stages: Annotated[list[str], Meta(description="Kill-chain stages seen, in chain order.")]
    first_seen: str
    last_seen: str
    entities: Annotated[list[str], Meta(description="ip:, mac:, host:, user:, asset: identifiers.")]
    alerts: Annotated[list[str], Meta(description="Alert ids, in time order.")]
    crosses_it_ot: Annotated[bool, Meta(description="An IT foothold leads to OT actions.")]
    summary: str
    reasons: list[str]
    path: Annotated[
        list[str] | None, Meta(description="Hosts in the order the attack reached them, with levels.")
    ] = None


ANOMALY = "anomaly"  # event.action of an anomaly that is not one message (gaps, floods, ...)
FLOW = "flow"  # event.action of a flow record: one TCP/UDP conversation, written when it ends


# -- IT naming protocols the sensor decodes (hostnames for the inventory): ECS `dns.*` -----------
class DnsQuestion(_Record):
    name: str | None = None
    type: Annotated[str | None, Meta(description="Record type asked for, e.g. A, AAAA, PTR.")] = None
    class_: Annotated[str | None, Meta(description="e.g. IN.")] = field(default=None, name="class")


class DnsAnswer(_Record):
    data: str
    type: str | None = None
    ttl: int | None = None
    name: str | None = None


class Dns(_Record):
    id: Annotated[int | None, Meta(description="Transaction id.")] = None
    type: Annotated[Literal["query", "answer"] | None, Meta(description="query or answer.")] = None
    question: DnsQuestion | None = None
    answers: list[DnsAnswer] | None = None
    resolved_ip: list[str] | None = None
    response_code: Annotated[str | None, Meta(description="e.g. NOERROR, NXDOMAIN.")] = None
    header_flags: Annotated[list[str] | None, Meta(description="AA, TC, RD, RA, ...")] = None
    op_code: Annotated[str | None, Meta(description="QUERY, NOTIFY, UPDATE, ...")] = None


class Dhcp(_Record):
    """DHCP / BOOTP (RFC 2131, 2132): the fields that name and address a device."""

    op: Annotated[int, Meta(description="1 request (client), 2 reply (server).")]
    transaction_id: Annotated[int, Meta(description="xid, as Wireshark's dhcp.id.")]
    message_type: Annotated[int | None, Meta(description="Option 53, as dhcp.option.dhcp.")] = None
    message_type_name: str | None = None
    client_mac: Annotated[str | None, Meta(description="chaddr.")] = None
    client_ip: Annotated[str | None, Meta(description="ciaddr.")] = None
    assigned_ip: Annotated[str | None, Meta(description="yiaddr.")] = None
    requested_ip: Annotated[str | None, Meta(description="Option 50.")] = None
    server_id: Annotated[str | None, Meta(description="Option 54.")] = None
    hostname: Annotated[str | None, Meta(description="Option 12.")] = None
    fqdn: Annotated[str | None, Meta(description="Option 81.")] = None
    domain: Annotated[str | None, Meta(description="Option 15.")] = None
    vendor_class: Annotated[str | None, Meta(description="Option 60, e.g. MSFT 5.0.")] = None
    client_id: Annotated[str | None, Meta(description="Option 61, hex.")] = None
    lease_time: Annotated[int | None, Meta(description="Option 51, seconds.")] = None
    routers: list[str] | None = None
    dns_servers: list[str] | None = None
    parameters: Annotated[list[int] | None, Meta(description="Option 55: options asked for.")] = None


class Change(_Record):
    """Inventory change events (event.dataset `inventory`): which fact of the asset changed."""

    field: Annotated[str, Meta(description="e.g. asset.revision, asset.ip, role.")]
    previous: str | None = None
    current: str | None = None


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
    rule: RuleRef | None = None
    threat: Threat | None = None
    tags: Annotated[
        list[str] | None, Meta(description="Alerts: framework tags, e.g. caf.C1.c, nis2.art21.2.b.")
    ] = None
    related: Related | None = None
    host: Host | None = None
    user: User | None = None
    process: Process | None = None
    file: File | None = None
    dll: Dll | None = None
    registry: Registry | None = None
    url: Url | None = None
    user_agent: UserAgent | None = None
    winlog: Winlog | None = None
    cloud: Cloud | None = None
    change: Change | None = None
    dns: Dns | None = None
    dhcp: Dhcp | None = None
    http: Http | None = None
    tls: Tls | None = None
    log: Log | None = None
    zeek: Zeek | None = None
    suricata: Suricata | None = None
    cef: Cef | None = None


def is_message(event: Event) -> bool:
    """Whether an event is one decoded application message (not an anomaly or an asset fact)."""
    return event.event.kind == "event" and event.event.action not in (ANOMALY, FLOW)


# --- IT telemetry (ECS field sets: host, user, process, file, registry, url, winlog, cloud) ------
# Names are ECS's (winlog.* as Winlogbeat writes it); readers fill what the record carries.


class Os(_Record):
    name: str | None = None
    family: Annotated[str | None, Meta(description="e.g. windows, linux.")] = None
    version: str | None = None
    type: str | None = None


class Host(_Record):
    name: Annotated[str | None, Meta(description="As the record names it (FQDN if given).")] = None
    hostname: str | None = None
    id: str | None = None
    domain: str | None = None
    ip: list[str] | None = None
    mac: list[str] | None = None
    os: Os | None = None


class Group(_Record):
    id: str | None = None
    name: str | None = None
    domain: str | None = None


class UserTarget(_Record):
    """ECS user.target: the user an action was done to (e.g. the account created)."""

    id: str | None = None
    name: str | None = None
    domain: str | None = None
    email: str | None = None


class User(_Record):
    id: Annotated[str | None, Meta(description="SID, cloud principal id, ...")] = None
    name: str | None = None
    domain: str | None = None
    email: str | None = None
    full_name: str | None = None
    roles: list[str] | None = None
    group: Group | None = None
    target: UserTarget | None = None


class Hash(_Record):
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    sha512: str | None = None
    imphash: Annotated[str | None, Meta(description="PE import hash (Sysmon IMPHASH).")] = None


class Pe(_Record):
    """PE header metadata (ECS pe.*), e.g. Sysmon OriginalFileName."""

    original_file_name: str | None = None
    description: str | None = None
    product: str | None = None
    company: str | None = None
    file_version: str | None = None
    imphash: str | None = None


class ProcessParent(_Record):
    pid: int | None = None
    entity_id: Annotated[str | None, Meta(description="e.g. Sysmon ProcessGuid.")] = None
    name: str | None = None
    executable: str | None = None
    command_line: str | None = None
    args: list[str] | None = None


class Process(_Record):
    pid: int | None = None
    entity_id: Annotated[str | None, Meta(description="e.g. Sysmon ProcessGuid.")] = None
    name: Annotated[str | None, Meta(description="Executable's file name, e.g. cmd.exe.")] = None
    executable: Annotated[str | None, Meta(description="Full path.")] = None
    command_line: str | None = None
    args: list[str] | None = None
    working_directory: str | None = None
    title: str | None = None
    thread_id: Annotated[int | None, Meta(description="ECS process.thread.id.")] = None
    hash: Hash | None = None
    pe: Pe | None = None
    parent: ProcessParent | None = None


class File(_Record):
    path: str | None = None
    name: str | None = None
    directory: str | None = None
    extension: Annotated[str | None, Meta(description="Without the dot.")] = None
    size: int | None = None
    hash: Hash | None = None
    pe: Pe | None = None


class Dll(_Record):
    """ECS dll.*: a library loaded by a process (Sysmon image load)."""

    path: str | None = None
    name: str | None = None
    hash: Hash | None = None
    pe: Pe | None = None


class RegistryData(_Record):
    type: Annotated[str | None, Meta(description="e.g. REG_SZ, REG_DWORD.")] = None
    strings: list[str] | None = None


class Registry(_Record):
    hive: Annotated[str | None, Meta(description="Abbreviated, e.g. HKLM.")] = None
    key: Annotated[str | None, Meta(description="Key path without the hive.")] = None
    value: Annotated[str | None, Meta(description="Value name.")] = None
    path: Annotated[str | None, Meta(description="Full path: hive, key and value.")] = None
    data: RegistryData | None = None


class Url(_Record):
    original: Annotated[str | None, Meta(description="As the record had it.")] = None
    full: str | None = None
    scheme: str | None = None
    domain: str | None = None
    port: int | None = None
    path: str | None = None
    query: str | None = None
    extension: Annotated[str | None, Meta(description="Of the path's last segment, without the dot.")] = None


class UserAgent(_Record):
    original: str | None = None


class WinlogProcess(_Record):
    pid: int | None = None
    thread_id: Annotated[int | None, Meta(description="Winlogbeat winlog.process.thread.id.")] = None


class WinlogUser(_Record):
    identifier: Annotated[str | None, Meta(description="SID from the System section.")] = None


class Winlog(_Record):
    """A Windows event log record's System section and EventData (Winlogbeat's winlog.*)."""

    channel: Annotated[
        str | None, Meta(description="e.g. Security, Microsoft-Windows-Sysmon/Operational.")
    ] = None
    provider_name: str | None = None
    provider_guid: str | None = None
    event_id: int | None = None
    record_id: int | None = None
    computer_name: str | None = None
    version: int | None = None
    level: str | None = None
    task: str | None = None
    opcode: str | None = None
    keywords: list[str] | None = None
    activity_id: str | None = None
    process: WinlogProcess | None = None
    user: WinlogUser | None = None
    event_data: Annotated[
        dict[str, str] | None,
        Meta(description="EventData (or UserData) name -> value, as text; what Sigma's Windows "
                         "field names (Image, CommandLine, ...) address."),
    ] = None  # fmt: skip


class CloudAccount(_Record):
    id: str | None = None
    name: str | None = None


class CloudService(_Record):
    name: Annotated[str | None, Meta(description="e.g. iam.amazonaws.com, Microsoft.Compute.")] = None


class CloudInstance(_Record):
    id: str | None = None
    name: str | None = None


class CloudProject(_Record):
    id: str | None = None
    name: str | None = None


class Cloud(_Record):
    provider: Annotated[str | None, Meta(description="aws, azure, gcp, ...")] = None
    region: str | None = None
    availability_zone: str | None = None
    account: CloudAccount | None = None
    service: CloudService | None = None
    instance: CloudInstance | None = None
    project: CloudProject | None = None


class Geo(_Record):
    country_iso_code: str | None = None
    country_name: str | None = None
    region_name: str | None = None
    city_name: str | None = None
