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
    Iec104,
    Iec104Object,
    EventMeta,
    Modbus,
    Network,
    Observer,
    Ot,
    OtAction,
    Pcap,
    Related,
    RuleRef,
    Target,
    Technique,
    Threat,
    ThreatIndicator,
    is_message,
)

__all__ = [
    "ANOMALY", "SCHEMA_VERSION", "is_message", "AddressRange", "Asset", "DeviceObject", "Dnp3", "Dnp3Object",
    "Dnp3Point", "Endpoint", "Event", "EventMeta", "FileRecord", "Iec104", "Iec104Object", "Modbus", "Network",
    "Observer", "Ot", "OtAction", "Pcap", "Related", "RuleRef", "Target", "Technique", "Threat", "ThreatIndicator",
]  # fmt: skip
