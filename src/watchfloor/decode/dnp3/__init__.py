"""DNP3 over TCP and UDP (IEEE Std 1815-2012)."""

from .._contract import DecoderManifest
from .probe import DEFAULT_PORTS, probe
from .session import Dnp3Session

DECODER = DecoderManifest(
    name="dnp3",
    transports=("tcp", "udp"),
    default_ports=DEFAULT_PORTS,
    spec="IEEE Std 1815-2012 (DNP3): data link, transport and application layers",
    probe=probe,
    session=Dnp3Session,
)

__all__ = ["DECODER"]
