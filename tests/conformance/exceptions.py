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
        protocol="iec104",
        capture="tests/captures/iec104/iec104_anomalies.pcap",
        frames=(12,),
        reason=(
            "A complete I frame after an APDU of length 2. Frame 11 carries 68 02 01 00 (start, "
            "APDU length 2: shorter than the 4-octet control field, so a frame of 4 octets with no "
            "type); frame 12 carries 68 07 0e 00 00 00 0d 01 03: start, length 7, I format "
            "N(S)=7 N(R)=0, and a 3-octet ASDU: type 13 (M_ME_NC_1), VSQ 1, COT 3 (no common "
            "address: the ASDU is cut short). tshark 4.0 reassembles both segments into one "
            "13-octet PDU, stops at the short APDU with 'APDU less than 4 bytes' (malformed) and "
            "never dissects the I frame, so its type, type id and cause are missing."
        ),
        expected={12: [(0, 13, 3, None)]},
    ),
    WiresharkException(
        protocol="dnp3",
        capture="pcaps/ntop__nDPI/tests/cfgs/default/pcap/dnp3.pcap",
        frames=(11, 12, 35, 36, 50, 51, 89, 90, 104, 105, 131, 132, 140, 141, 194, 195, 239, 240, 362, 363, 440, 441, 455, 456, 482, 483, 515, 516),
        reason=(
            "The capture holds every packet of these conversations up to three times: the copies "
            "are byte-identical, IP id included (e.g. frames 10, 11, 12: ip.id 0x9263, seq 1, 17 "
            "bytes 05640a44030004007caee6f78210004fbd, one unsolicited response 3->4). A duplicate "
            "segment carries no new byte and the receiving TCP stack discards it; the outstation "
            "sent one message. tshark 4.0 flags each copy as a (fast) retransmission and still "
            "dissects it again as a new DNP3 message. We report each message once, at its first "
            "copy; the copies must carry nothing."
        ),
        expected={11: [], 12: [], 35: [], 36: [], 50: [], 51: [], 89: [], 90: [], 104: [], 105: [], 131: [], 132: [], 140: [], 141: [], 194: [], 195: [], 239: [], 240: [], 362: [], 363: [], 440: [], 441: [], 455: [], 456: [], 482: [], 483: [], 515: [], 516: []},
    ),
    WiresharkException(
        protocol="dnp3",
        capture="pcaps/cisagov__icsnpp-dnp3/testing/traces/dnp3_example.pcap",
        frames=(18, 114, 210, 311, 810),
        reason=(
            "Transport sequence wrap-around (IEEE 1815-2012 §8.2.1.3: the sequence counts modulo "
            "64). Frame 17 carries transport octet 0x7f (FIR, sequence 63) and the first 249 octets "
            "of a response 5->100 (AL c8 81: FIR FIN seq 8, function 129); frame 18 carries 0x80 "
            "(FIN, sequence 0) and its last 49 octets. tshark 4.0 shows 17 and 18 as 'Unreassembled "
            "fragment 63 / 0' and never completes the response (likewise 113/114 and 209/210). At "
            "frame 311 (0xc0: FIR FIN seq 0, one segment c0 c8 81 00 00 0c 01 17 ..., a CROB echo "
            "response) it merges the stale sequence-0 segment of frame 210 into the fragment "
            "('Conflicting data in fragment overlap') and shows function 0 (Confirm). At 810 "
            "(0x80, FIN seq 0 after 808 = 0x7e FIR seq 62 with AL f7 82 and 809 = 0x3f) the "
            "unsolicited response is again left unreassembled."
        ),
        expected={18: [(100, 5, 129)], 114: [(100, 5, 129)], 210: [(100, 5, 129)],
                  311: [(100, 5, 129)], 810: [(100, 5, 130)]},
    ),
    WiresharkException(
        protocol="dnp3",
        capture="labeled/qut_dnp3/Injection/training/infrequent/attacker.pcap.zip/attacker.pcap",
        frames=(167646,),
        reason=(
            "An injected DNP3 frame on a port-80 conversation: frame 167646 (127.0.0.1:20000 -> "
            "127.0.0.1:80, 23 bytes) is 0564 10 44 0000 0100 13fc | c6 ff 82 0000 02 01 17 01 01 81 "
            "| 75d9: start octets, LEN 16, header CRC 0xfc13 and data CRC 0xd975 both correct, "
            "an unsolicited response (0x82) from 1 to 0 carrying g2v1 index 1. tshark 4.0 hands the "
            "payload of this conversation to no dissector (shown as bare TCP), so the message is "
            "missing from its output; our recognition is port-independent."
        ),
        expected={167646: [(0, 1, 130)]},
    ),
    WiresharkException(
        protocol="dnp3",
        capture="labeled/qut_dnp3/MITM/training/infrequent/attacker.pcap.zip/attacker.pcap",
        frames=(33053, 33062, 84400, 84408, 84415, 130356, 225191, 246886),
        reason=(
            "ARP-spoofing capture: the attacker forwards every segment, so each appears twice. "
            "These frames are byte-identical copies (same TCP stream, sequence number, length "
            "and payload) of a segment seen a few frames earlier (33047, 33056, 84397, 84401, "
            "84410, 130350, 225185, 246880), which both tshark and we decode. A duplicate "
            "segment carries no new byte; tshark 4.0 flags it as a (fast) retransmission and "
            "still dissects it as a second DNP3 message."
        ),
        expected={f: [] for f in (33053, 33062, 84400, 84408, 84415, 130356, 225191, 246886)},
    ),
    WiresharkException(
        protocol="dnp3",
        capture="tests/captures/dnp3/dnp3_port_4000.pcap",
        frames=(9,),
        reason=(
            "Transport sequence wrap-around, made on purpose (tests/captures/dnp3/SOURCE.md): the "
            "600-octet response 10->1 travels in three link frames with transport octets 0x7e "
            "(FIR, sequence 62), 0x3f (63) and 0x80 (FIN, sequence 0); the last one ends in frame "
            "9. tshark 4.0 lists them as 'Unreassembled fragment 62 / 63 / 0' and never completes "
            "the fragment, as in the ICSNPP capture above."
        ),
        expected={9: [(1, 10, 129)]},
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
    WiresharkException(
        protocol="opcua",
        capture="pcaps/cisagov__icsnpp-opcua-binary/tests/traces/opcua_with-gap.pcap",
        frames=(30,),
        reason=(
            "Segments whose only copy is flagged a spurious retransmission. Frame 12 (4840->60952, "
            "rel. seq 164) starts 4d534746 a6360000 = MSG F, size 0x36a6 = 13990 bytes: the "
            "CreateSessionResponse (service 464) to request id 2, ending at rel. seq 14154. Its "
            "server segments are frames 12, 13, 14, 17, 18, 21, 23 (seq 164..10383), 26 (seq "
            "10384, 1460 bytes), 27 (seq 11844) and 30 (seq 13304, 850 bytes, nxtseq 14154). The "
            "capture dropped the first copies of 26 and 30 (frames 24 and 28 are the dup ACKs, and "
            "the client's frames 25 and 29 ACK those bytes), so 26 and 30 are the only copies of "
            "their bytes. tshark 4.0 marks both 'spurious retransmission' and never completes the "
            "reassembly: the response is missing from Wireshark's output. Frame 31 (the client's "
            "ActivateSessionRequest) shows the client did receive it."
        ),
        expected={30: [("MSG", 464)]},
    ),
    WiresharkException(
        protocol="opcua",
        capture="tests/captures/opcua/opcua_midstream.pcap",
        frames=(3, 5, 7),
        reason=(
            "A capture that starts mid-stream. Frame 1 (4840->50001, 56 bytes) is the tail of a "
            "ReadResponse: 00000200 00 00 bc02 0000 2c01... tshark 4.0 reads bytes 4-7 as an OPC UA "
            "message size (0x02bc0000 = 45875200) and keeps waiting for that many bytes, so every "
            "later server segment is swallowed as 'TCP segment of a reassembled PDU'. Frames 3, 5 "
            "and 7 are each one whole message: 4d534746 42000000 = MSG F, size 0x42 = 66 = the "
            "segment length, type id 01 00 7a02 = ns 0, i=634 (ReadResponse), answering the "
            "ReadRequests of frames 2, 4 and 6 (same request ids 301-303)."
        ),
        expected={3: [("MSG", 634)], 5: [("MSG", 634)], 7: [("MSG", 634)]},
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
