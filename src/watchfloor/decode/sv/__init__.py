"""IEC 61850-9-2 Sampled Values on EtherType 0x88BA: one summary per stream (svID)."""

from .._contract import DecoderManifest, deferred
from ..goose.constants import ETHERTYPE_SV
from .probe import probe

DECODER = DecoderManifest(
    name="sv",
    transports=("ether",),
    default_ports=frozenset(),
    spec="IEC 61850-9-2 Ed.2 §8.5 (Sampled Values); ASN.1 BER (ITU-T X.690)",
    probe=probe,
    session=deferred(f"{__name__}.session", "SvSession"),
    ethertypes=frozenset((ETHERTYPE_SV,)),
)

__all__ = ["DECODER"]
