"""DNS, mDNS and LLMNR over UDP (RFC 1035, RFC 6762, RFC 4795): names for the inventory."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="dns",
    transports=("udp",),
    default_ports=DEFAULT_PORTS,
    spec="RFC 1035 (DNS), RFC 6762 (mDNS), RFC 4795 (LLMNR)",
    probe=probe,
    session=deferred(f"{__name__}.session", "DnsSession"),
)

__all__ = ["DECODER"]
