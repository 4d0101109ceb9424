"""The event schema, defined once (events.py); JSON Schema and store layout derive from it."""

from .events import (
    ANOMALY,
    SCHEMA_VERSION,
    AddressRange,
    Asset,
    DeviceObject,
    Dnp3,
    Dnp3Object,
    Dnp3Point,
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
    Target,
    is_message,
)

__all__ = [
    "ANOMALY", "SCHEMA_VERSION", "is_message", "AddressRange", "Asset", "DeviceObject", "Dnp3", "Dnp3Object", "Dnp3Point", "Endpoint", "Event", "EventMeta", "FileRecord",
    "Modbus", "Network", "Observer", "Ot", "OtAction", "Pcap", "Target",
]  # fmt: skip
