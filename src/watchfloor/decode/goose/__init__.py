"""IEC 61850 GOOSE (IEC 61850-8-1 Annex A) on EtherType 0x88B8."""

from .._contract import DecoderManifest, deferred
from .constants import ETHERTYPE_GOOSE
from .probe import probe

DECODER = DecoderManifest(
    name="goose",
    transports=("ether",),
    default_ports=frozenset(),
    spec="IEC 61850-8-1 Ed.2 Annex A (GOOSE); ASN.1 BER (ITU-T X.690)",
    probe=probe,
    session=deferred(f"{__name__}.session", "GooseSession"),
    ethertypes=frozenset((ETHERTYPE_GOOSE,)),
)

__all__ = ["DECODER"]
