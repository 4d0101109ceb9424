"""BACnet/IP (ANSI/ASHRAE 135-2020 Annex J over UDP): BVLL, NPDU, APDU and services."""

from .._contract import DecoderManifest
from .probe import DEFAULT_PORTS, probe
from .session import BacnetSession

DECODER = DecoderManifest(
    name="bacnet",
    transports=("udp",),
    default_ports=DEFAULT_PORTS,
    spec="ANSI/ASHRAE 135-2020 (BACnet): Annex J (BACnet/IP), Clause 6 (NPDU), Clauses 13-21 "
    "(APDU and services)",
    probe=probe,
    session=BacnetSession,
)

__all__ = ["DECODER"]
