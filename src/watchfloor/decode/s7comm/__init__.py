"""S7comm and S7comm-plus on ISO transport (RFC 1006 TPKT + ISO 8073 COTP, TCP 102)."""

from .._contract import DecoderManifest, deferred
from .probe import DEFAULT_PORTS, probe

DECODER = DecoderManifest(
    name="s7comm",
    transports=("tcp",),
    default_ports=DEFAULT_PORTS,
    spec="RFC 1006 (TPKT); ISO 8073 / X.224 (COTP class 0); S7comm and S7comm-plus (Siemens, "
    "unpublished: layouts as publicly reverse-engineered)",
    probe=probe,
    session=deferred(f"{__name__}.session", "S7Session"),
    preamble=True,
)

__all__ = ["DECODER"]
