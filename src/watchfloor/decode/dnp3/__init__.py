"""DNP3 over TCP and UDP (IEEE Std 1815-2012)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="dnp3",
    transports=("tcp", "udp"),
    default_ports=DEFAULT_PORTS,
    spec="IEEE Std 1815-2012 (DNP3): data link, transport and application layers",
    probe=probe,
    session=deferred(f"{__name__}.session", "Dnp3Session"),
)

__all__ = ["DECODER"]
