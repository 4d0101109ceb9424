"""Protocol decoders: one package per protocol, each exporting a DECODER manifest."""

from ._contract import DecoderManifest, Malformed, NeedMoreData, WireError
from .modbus import DECODER as MODBUS
from .s7comm import DECODER as S7COMM

DECODERS: tuple[DecoderManifest, ...] = (MODBUS, S7COMM)

__all__ = ["DECODERS", "DecoderManifest", "Malformed", "NeedMoreData", "WireError"]
