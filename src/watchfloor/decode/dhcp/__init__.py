"""DHCP (RFC 2131, options RFC 2132): which MAC has which address and host name."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="dhcp",
    transports=("udp",),
    default_ports=DEFAULT_PORTS,
    spec="RFC 2131 (DHCP), RFC 2132 (options), RFC 4702 (client FQDN)",
    probe=probe,
    session=deferred(f"{__name__}.session", "DhcpSession"),
)

__all__ = ["DECODER"]
