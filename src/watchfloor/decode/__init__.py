"""Protocol decoders: one package per protocol, each exporting a DECODER manifest."""

from ._contract import DecoderManifest, Malformed, NeedMoreData, WireError
from .iec104 import DECODER as IEC104
from .modbus import DECODER as MODBUS

DECODERS: tuple[DecoderManifest, ...] = (MODBUS, IEC104)

__all__ = ["DECODERS", "DecoderManifest", "Malformed", "NeedMoreData", "WireError"]
