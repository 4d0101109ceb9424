"""EtherNet/IP encapsulation and CIP (CIP Networks Library Vol. 1 and Vol. 2)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="enip",
    transports=("tcp", "udp"),
    default_ports=DEFAULT_PORTS,
    spec="The CIP Networks Library Vol. 1 (CIP) and Vol. 2 (EtherNet/IP adaptation); "
    "Rockwell 1756-PM020 (Logix tag services)",
    probe=probe,
    session=deferred(f"{__name__}.session", "EnipSession"),
)

__all__ = ["DECODER"]
