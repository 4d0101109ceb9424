"""IEC 60870-5-104 (IEC 60870-5-104:2006 with the ASDUs of IEC 60870-5-101:2003)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="iec104",
    transports=("tcp",),
    default_ports=DEFAULT_PORTS,
    spec="IEC 60870-5-104:2006 (APCI); IEC 60870-5-101:2003 §7 (ASDU, information elements)",
    probe=probe,
    session=deferred(f"{__name__}.session", "Iec104Session"),
)

__all__ = ["DECODER"]
