"""PROFINET: DCP, cyclic RT and RTA alarms on EtherType 0x8892, IO-CM over DCE/RPC (UDP)."""

from .._contract import DecoderManifest, deferred
from .constants import ETHERTYPE
from .probe import DEFAULT_PORTS, probe_io, probe_l2

_SPEC = ("IEC 61158-5-10/6-10 (PROFINET IO: DCP, RT, RTA, context management); "
         "DCE 1.1 RPC (connectionless)")  # fmt: skip

DECODER = DecoderManifest(
    name="profinet",
    transports=("ether",),
    default_ports=frozenset(),
    spec=_SPEC,
    probe=probe_l2,
    session=deferred(f"{__name__}.session", "L2Session"),
    ethertypes=frozenset((ETHERTYPE,)),
)

IO_CM_DECODER = DecoderManifest(
    name="profinet_io",
    transports=("udp",),
    default_ports=DEFAULT_PORTS,
    spec=_SPEC,
    probe=probe_io,
    session=deferred(f"{__name__}.session", "IoCmSession"),
)

__all__ = ["DECODER", "IO_CM_DECODER"]
