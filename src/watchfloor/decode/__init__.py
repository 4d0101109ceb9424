"""Protocol decoders: one package per protocol, each exporting a DECODER manifest."""

from ._contract import DecoderManifest, Malformed, NeedMoreData, WireError
from .dhcp import DECODER as DHCP
from .dnp3 import DECODER as DNP3
from .dns import DECODER as DNS
from .enip import DECODER as ENIP
from .iec104 import DECODER as IEC104
from .modbus import DECODER as MODBUS
from .s7comm import DECODER as S7COMM

DECODERS: tuple[DecoderManifest, ...] = (MODBUS, DNP3, IEC104, S7COMM, ENIP)
# IT naming protocols (host names for the inventory), after the OT decoders in probe order
DECODERS += (DHCP, DNS)

__all__ = ["DECODERS", "DecoderManifest", "Malformed", "NeedMoreData", "WireError"]
