"""BACnet/IP (ANSI/ASHRAE 135-2020 Annex J over UDP): BVLL, NPDU, APDU and services."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="bacnet",
    transports=("udp",),
    default_ports=DEFAULT_PORTS,
    spec="ANSI/ASHRAE 135-2020 (BACnet): Annex J (BACnet/IP), Clause 6 (NPDU), Clauses 13-21 "
    "(APDU and services)",
    probe=probe,
    session=deferred(f"{__name__}.session", "BacnetSession"),
)

__all__ = ["DECODER"]
