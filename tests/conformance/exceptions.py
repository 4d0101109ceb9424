"""Frames where Wireshark (tshark 4.0) is demonstrably wrong, per capture and protocol.

Rules for adding an entry (DESIGN.md §3.2: "Wireshark is the oracle; where it is demonstrably
wrong, the test records the exception and why"):

* look at the bytes first (``tshark -r CAP -Y frame.number==N -x`` / ``-T fields -e tcp.payload``)
  and write down, in ``reason``, what the bytes are and why Wireshark's reading is wrong;
* a mismatch that is a likely bug in our decoder is NOT an exception -- report it instead;
* where the right answer is known, give it in ``expected`` (frame -> list of records in the
  order of the protocol's fields, see ``tshark.PROTOCOLS``): our decoder must then produce exactly
  that at the frame. Without ``expected`` the frame is simply not compared.

``capture`` is matched as a path suffix (``/``-separated) of the capture's resolved path, so an
entry for ``pcaps/ITI__ICS-Security-Tools/pcaps/ModbusTCP/mb2.pcap`` applies to the corpus copy
wherever ``../shared`` lives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WiresharkException:
    protocol: str
    capture: str
    frames: tuple[int, ...]
    reason: str
    expected: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)


_MB2 = "pcaps/ITI__ICS-Security-Tools/pcaps/ModbusTCP/mb2.pcap"
_TDP1 = "pcaps/ITI__ICS-Security-Tools/pcaps/openics/MODBUS-TestDataPart1.pcap"
_FUZZ72 = "pcaps/zeek__zeek/testing/btest/Traces/modbus/fuzz-72.pcap"
_SEGMENTED = "tests/captures/modbus_segmented.pcap"
_UDP = "tests/captures/modbus_udp.pcap"

EXCEPTIONS: list[WiresharkException] = [
    WiresharkException(
        protocol="modbus",
        capture=_MB2,
        frames=(1131,),
        reason=(
            "Overlapping retransmission carrying new data. Frame 1131 (tcp.stream 0, 60689->502, "
            "rel. seq 139, 60 bytes) repeats the 12-byte request trans 22505 first sent in frame 1014 "
            "and then carries 48 bytes never sent before: four MBAP requests 57ea/57eb/57ec/57ed 0000 "
            "0006 ff 04 ... = trans 22506-22509, unit 255, FC 4. The server answers exactly these four "
            "in frame 3008. tshark 4.0 flags 1131 as a retransmission and hands none of its bytes to "
            "the Modbus dissector (tcp.no_subdissector_on_error=FALSE does not change that; "
            "tcp.reassemble_out_of_order=TRUE does dissect them at 1131), so the four requests are "
            "missing from Wireshark's output."
        ),
        expected={1131: [(22506, 255, 4), (22507, 255, 4), (22508, 255, 4), (22509, 255, 4)]},
    ),
    WiresharkException(
        protocol="modbus",
        capture=_MB2,
        frames=(13176,),
        reason=(
            "Overlapping retransmission carrying new data. Frame 13176 (tcp.stream 15, 502->64338, "
            "rel. seq 5232, 269 bytes) repeats the 239-byte response trans 9823 of frame 13142 and "
            "appends 30 new bytes: 2660 0000 000b ff 04 08.. (response trans 9824, FC 4, 8 data bytes) "
            "and 2661 0000 0007 ff 02 04 7ca3c801 (response trans 9825, FC 2). Their requests are in "
            "frame 13132 (trans 9823|9824|9825, FC 4|4|2); these bytes appear in no other frame. "
            "tshark 4.0 treats the whole segment as a retransmission and never dissects the tail "
            "(with tcp.reassemble_out_of_order=TRUE it does, at this frame)."
        ),
        expected={13176: [(9824, 255, 4), (9825, 255, 2)]},
    ),
    WiresharkException(
        protocol="modbus",
        capture=_MB2,
        frames=(3674,),
        reason=(
            "Late data in a retransmission. Frame 3674 (tcp.stream 0, 502->60689, rel. seq 371, 299 "
            "bytes, FIN) starts with 13 bytes never captured before: 57e9 0000 0007 ff 04 04 00000000 "
            "= response trans 22505 (unit 255, FC 4) to the request of frame 1014. (Frame 2878 shows "
            "the gap: 'previous segment not captured', and frame 3008 starts at seq 384.) The other "
            "286 bytes repeat frame 3008. tshark 4.0 flags the segment as a retransmission and "
            "dissects none of it. With tcp.reassemble_out_of_order=TRUE it dissects the response "
            "here, together with the four already shown at 3008."
        ),
        expected={3674: [(22505, 255, 4)]},
    ),
    WiresharkException(
        protocol="modbus",
        capture=_TDP1,
        frames=(113,),
        reason=(
            "No resynchronisation after a bad length field. Frames 111 and 113 (10.0.0.8:502 -> "
            "10.0.0.57:4446) carry the same 14 bytes: 0001 0000 0005 0a 2a 0e04 0101 0123. The MBAP "
            "length field (5) covers only 11 of them. tshark dissects the first 11 bytes at 111 and "
            "keeps the 3 stray bytes 01 01 23 as the start of the next PDU. At 113 it prepends them, "
            "reads protocol id 0x2300, and shows all of frame 113 as undissected data. But frame 113 "
            "starts with the same valid MBAP header as 111: trans 1, unit 10, FC 42."
        ),
        expected={113: [(1, 10, 42)]},
    ),
    WiresharkException(
        protocol="modbus",
        capture=_FUZZ72,
        frames=(7, 19, 21, 23, 25, 26, 27, 32),
        reason=(
            "Fuzzed TCP/MBAP header fields make tshark skip genuine ADUs. No payload in this capture "
            "occurs twice, and the skipped ADUs continue the function-code sweep of their neighbours. "
            "Frame 7 (000000000006 01 22 00000000, FC 34, between FC 33 at frame 6 and FC 35 at "
            "frame 9): frame 6's length field was fuzzed to 4, so 2 of its bytes are left over. tshark "
            "glues them in front of frame 7, reads length 0, and shows frame 7 as data. "
            "Frames 19, 21, 25, 26, 27, 32 (9-byte exception responses from port 502: "
            "000000000003 01 af|b3|b6|ba|bb|c2 01): frame 12's sequence number is off by exactly "
            "0x20000 (one flipped bit: 2323117841 where about 2322986769 belongs). tshark's highest "
            "seen sequence number then jumps ahead, so it flags every later server segment as a "
            "retransmission and never dissects it. "
            "Frame 23 (00f3 0000 0006 01 35 00000000: trans 243, FC 53, between FC 52 at 22 and FC 54 "
            "at 24) has a corrupted sequence number inside an earlier gap. tshark calls it a "
            "spurious retransmission, although its bytes appear nowhere else."
        ),
        expected={
            7: [(0, 1, 34)], 19: [(0, 1, 47)], 21: [(0, 1, 51)], 23: [(243, 1, 53)],
            25: [(0, 1, 54)], 26: [(0, 1, 58)], 27: [(0, 1, 59)], 32: [(0, 1, 66)],
        },
    ),
    WiresharkException(
        protocol="modbus",
        capture=_SEGMENTED,
        frames=(29,),
        reason=(
            "MBAP header split over segments shorter than 8 bytes. Frames 27, 28 and 29 carry "
            "000900 | 00000f | 0110003c0004080009000900090009. Together these are one ADU: trans 9, "
            "length 15, unit 1, FC 16, completed at frame 29 and answered at frame 30. tshark 4.0's "
            "Modbus/TCP dissector refuses a segment that starts a PDU with fewer than 8 bytes, so it "
            "never asks TCP to reassemble, and all three frames show as data (tests/captures/SOURCE.md "
            "says the same)."
        ),
        expected={29: [(9, 1, 16)]},
    ),
    WiresharkException(
        protocol="modbus",
        capture=_UDP,
        frames=(7,),
        reason=(
            "Two ADUs in one Modbus/UDP datagram. Frame 7's 24-byte UDP payload is "
            "0004 0000 0006 01 01 0000 0008 | 0005 0000 0006 01 01 0008 0008: two complete MBAP "
            "requests (trans 4 and 5, FC 1), each answered in its own datagram (frames 8 and 9). "
            "tshark 4.0's mbudp dissector reads one ADU per datagram and leaves the second as "
            "undissected bytes."
        ),
        expected={7: [(4, 1, 1), (5, 1, 1)]},
    ),
    WiresharkException(
        protocol="s7comm",
        capture="pcaps/ITI__ICS-Security-Tools/pcaps/s7/S7Comm/s7comm_clean.pcap",
        frames=(398, 412, 1273, 1456, 1611, 1746, 2002, 2296, 2299, 2859, 3654, 4060),
        reason=(
            "Responses whose first copy was never captured. E.g. frame 396 (65371->102) is the Read "
            "Var job PDU ref 0x00f2; frame 397 (the next job) acknowledges server bytes up to rel. "
            "seq 5493 that the capture never saw ('ACKed unseen segment'); frame 398 (102->65371, "
            "rel. seq 5467, 26 bytes: 0300001a 02f080 32 03 0000 00f2 0002 0005 0000 | 04 01 | "
            "ff 04 0008 00) is the server's retransmission of that missing segment: the Ack-Data "
            "Read Var answering PDU ref 0x00f2. No earlier frame from port 102 carries rel. seq "
            "5467, so 398 is the only copy of these bytes. tshark 4.0 marks it 'Spurious "
            "Retransmission' (already ACKed) and hands none of it to TPKT/S7comm, so the response "
            "is missing from Wireshark's output. The same holds for every frame listed (each a "
            "26-byte Ack-Data Read Var from port 102, flagged tcp.analysis.spurious_retransmission, "
            "with no earlier segment at its sequence number)."
        ),
        expected={398: [(3, 4, None, None)], 412: [(3, 4, None, None)], 1273: [(3, 4, None, None)], 1456: [(3, 4, None, None)], 1611: [(3, 4, None, None)], 1746: [(3, 4, None, None)], 2002: [(3, 4, None, None)], 2296: [(3, 4, None, None)], 2299: [(3, 4, None, None)], 2859: [(3, 4, None, None)], 3654: [(3, 4, None, None)], 4060: [(3, 4, None, None)]},
    ),
]


def exceptions_for(capture: str | Path, protocol: str) -> dict[int, Any]:
    """``{frame: reason}`` or ``{frame: (reason, expected_records)}`` for ``tshark.compare``."""
    path = Path(capture).resolve().as_posix()
    out: dict[int, Any] = {}
    for exc in EXCEPTIONS:
        if exc.protocol != protocol:
            continue
        suffix = exc.capture.strip("/")
        if not (path == suffix or path.endswith("/" + suffix)):
            continue
        for frame in exc.frames:
            out[frame] = (exc.reason, exc.expected[frame]) if frame in exc.expected else exc.reason
    return out
