"""Modbus/TCP and Modbus/UDP (MODBUS Application Protocol V1.1b3, Messaging on TCP/IP V1.0b)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="modbus",
    transports=("tcp", "udp"),
    default_ports=DEFAULT_PORTS,
    spec="MODBUS Application Protocol Specification V1.1b3; Messaging on TCP/IP Guide V1.0b",
    probe=probe,
    session=deferred(f"{__name__}.session", "ModbusSession"),
)

__all__ = ["DECODER"]
