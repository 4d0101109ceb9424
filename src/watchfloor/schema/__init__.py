"""The event schema, defined once (events.py); JSON Schema and store layout derive from it."""

from .events import (
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
    Target,
)

__all__ = [
    "SCHEMA_VERSION", "AddressRange", "Asset", "DeviceObject", "Endpoint", "Event", "EventMeta", "FileRecord",
    "Modbus", "Network", "Observer", "Ot", "OtAction", "Pcap", "Target",
]  # fmt: skip
