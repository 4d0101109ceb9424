"""Protocol decoders: one package per protocol, each exporting a DECODER manifest."""

from ._contract import DecoderManifest, Malformed, NeedMoreData, WireError
from .bacnet import DECODER as BACNET
from .dhcp import DECODER as DHCP
from .dnp3 import DECODER as DNP3
from .dns import DECODER as DNS
from .enip import DECODER as ENIP
from .goose import DECODER as GOOSE
from .iec104 import DECODER as IEC104
from .mms import DECODER as MMS
from .modbus import DECODER as MODBUS
from .mqtt import DECODER as MQTT
from .opcua import DECODER as OPCUA
from .profinet import DECODER as PROFINET
from .profinet import IO_CM_DECODER as PROFINET_IO
from .s7comm import DECODER as S7COMM
from .sv import DECODER as SV

OT_DECODERS: tuple[DecoderManifest, ...] = (
    MODBUS, DNP3, IEC104, S7COMM, ENIP, OPCUA, PROFINET, PROFINET_IO, MQTT, BACNET, MMS, GOOSE, SV,
)  # fmt: skip
# IT naming protocols (host names for the inventory), after the OT decoders in probe order
DECODERS = OT_DECODERS + (DHCP, DNS)
OT_PROTOCOLS = frozenset(d.name for d in OT_DECODERS)

__all__ = ["DECODERS", "OT_DECODERS", "OT_PROTOCOLS", "DecoderManifest", "Malformed", "NeedMoreData",
           "WireError"]  # fmt: skip
