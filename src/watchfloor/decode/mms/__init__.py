"""IEC 61850 MMS (ISO 9506) over ISO transport: TPKT, COTP, ISO session, presentation and ACSE
on TCP 102."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="mms",
    transports=("tcp",),
    default_ports=DEFAULT_PORTS,
    spec="ISO 9506-2 (MMS); ISO 8327-1 (session), ISO 8823-1 (presentation), ISO 8650-1 (ACSE); "
    "RFC 1006 (TPKT); ISO 8073 (COTP class 0); IEC 61850-8-1 (mapping)",
    probe=probe,
    session=deferred(f"{__name__}.session", "MmsSession"),
    preamble=True,
)

__all__ = ["DECODER"]
