"""Modbus/TCP and Modbus/UDP (MODBUS Application Protocol V1.1b3, Messaging on TCP/IP V1.0b)."""

from .._contract import DecoderManifest
from .probe import DEFAULT_PORTS, probe
from .session import ModbusSession

DECODER = DecoderManifest(
    name="modbus",
    transports=("tcp", "udp"),
    default_ports=DEFAULT_PORTS,
    spec="MODBUS Application Protocol Specification V1.1b3; Messaging on TCP/IP Guide V1.0b",
    probe=probe,
    session=ModbusSession,
)

__all__ = ["DECODER"]
