"""The event schema, defined once (events.py); JSON Schema and store layout derive from it."""

from .events import (
    ANOMALY,
    SCHEMA_VERSION,
    AddressRange,
    Asset,
    DeviceObject,
    Endpoint,
    Event,
    FileRecord,
    EventMeta,
    Modbus,
    Network,
    Observer,
    Ot,
    OtAction,
    Pcap,
    S7comm,
    S7commPlus,
    S7Item,
    SzlRecord,
    Target,
    is_message,
)

__all__ = [
    "ANOMALY", "SCHEMA_VERSION", "is_message", "AddressRange", "Asset", "DeviceObject", "Endpoint", "Event", "EventMeta", "FileRecord",
    "Modbus", "Network", "Observer", "Ot", "OtAction", "Pcap", "Target",
    "S7comm", "S7commPlus", "S7Item", "SzlRecord",
]  # fmt: skip
