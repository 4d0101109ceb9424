"""OPC UA binary over TCP (OPC 10000-6 UA Connection Protocol and UA Secure Conversation)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="opcua",
    transports=("tcp",),
    default_ports=DEFAULT_PORTS,
    spec="OPC 10000-6 (Mappings) §6.7, §7.1; OPC 10000-4 (Services)",
    probe=probe,
    session=deferred(f"{__name__}.session", "OpcuaSession"),
)

__all__ = ["DECODER"]
