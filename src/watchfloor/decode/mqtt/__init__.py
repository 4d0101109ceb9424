"""MQTT 3.1, 3.1.1 and 5.0 over TCP (OASIS MQTT Version 3.1.1 and Version 5.0)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="mqtt",
    transports=("tcp",),
    default_ports=DEFAULT_PORTS,
    spec="MQTT Version 3.1.1 (OASIS Standard, 2014); MQTT Version 5.0 (OASIS Standard, 2019)",
    probe=probe,
    session=deferred(f"{__name__}.session", "MqttSession"),
)

__all__ = ["DECODER"]
