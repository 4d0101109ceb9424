"""BACnet/IP datagrams → BVLC, NPDU and APDU header fields. Pure and stateless: raises only
NeedMoreData (the datagram is shorter than its BVLC length says) or Malformed.

Layouts: ANSI/ASHRAE 135-2020 Annex J.2 (BVLL), 6.2 (NPDU), 20.1.2-20.1.9 (APDU headers). The
service parameters after the APDU header are read by services.py.
"""

from __future__ import annotations

import socket
from typing import Any, Final

from .._contract import Malformed, NeedMoreData
from .constants import (
    ABORT,
    BVLC_TYPE,
    COMPLEX_ACK,
    CONFIRMED,
    ERROR,
    FORWARDED_NPDU,
    MAX_APDU,
    MAX_SEGMENTS,
    NETWORK_LISTS,
    NPDU_FUNCTIONS,
    REJECT,
    SEGMENT_ACK,
    SIMPLE_ACK,
    UNCONFIRMED,
)

Fields = dict[str, Any]  # ot.bacnet names → values


def bip_address(buf: bytes, pos: int) -> str:
    """A 6-octet B/IP address (J.1.2): IPv4 address and UDP port."""
    return f"{socket.inet_ntoa(buf[pos : pos + 4])}:{(buf[pos + 4] << 8) | buf[pos + 5]}"


def parse_bvlc(buf: bytes) -> tuple[int, Fields, int, int]:
    """(function, fields, start of the NPDU or -1, the BVLC length field). The datagram is the
    message: a BVLC length that disagrees with it is the caller's anomaly, and the contents are
    read to the end of the datagram (as Wireshark does)."""
    if len(buf) < 4:
        raise NeedMoreData(4 - len(buf))
    if buf[0] != BVLC_TYPE:
        raise Malformed(f"BVLC type {buf[0]:#x}, BACnet/IP is 0x81")
    function, declared = buf[1], (buf[2] << 8) | buf[3]
    length = len(buf)
    f: Fields = {"bvlc_function": function}
    if function in NPDU_FUNCTIONS:
        if function == FORWARDED_NPDU:
            if length < 10:
                raise Malformed("Forwarded-NPDU without its original source address")
            f["forwarded_from"] = bip_address(buf, 4)
            return function, f, 10, declared
        return function, f, 4, declared
    body = length - 4
    if function == 0x00:
        if body != 2:
            raise Malformed("BVLC-Result without its 2-octet result code")
        f["bvlc_result_code"] = (buf[4] << 8) | buf[5]
    elif function in (0x01, 0x03, 0x07):  # BDT / FDT entries, 10 octets each
        if body % 10:
            raise Malformed(f"table of {body} octets is not a whole number of 10-octet entries")
        entries = []
        for p in range(4, length, 10):
            addr = bip_address(buf, p)
            if function == 0x07:
                ttl, left = (buf[p + 6] << 8) | buf[p + 7], (buf[p + 8] << 8) | buf[p + 9]
                entries.append(f"{addr} ttl={ttl} remaining={left}")
            else:
                entries.append(f"{addr} mask={socket.inet_ntoa(buf[p + 6 : p + 10])}")
        f["table_entries"] = entries
    elif function == 0x05:
        if body != 2:
            raise Malformed("Register-Foreign-Device without its 2-octet time-to-live")
        f["foreign_device_ttl"] = (buf[4] << 8) | buf[5]
    elif function == 0x08:
        if body != 6:
            raise Malformed("Delete-Foreign-Device-Table-Entry without its 6-octet address")
        f["table_entries"] = [bip_address(buf, 4)]
    elif function in (0x02, 0x06) and body:
        raise Malformed(f"{body} octets after a read-table request")
    return function, f, -1, declared


def parse_npdu(buf: bytes, pos: int, end: int, f: Fields) -> int:
    """The NPDU header at `pos` into `f`; returns where the APDU starts, or -1 for a network
    layer message (whose type and networks are then in `f`)."""
    if end - pos < 2:
        raise Malformed("NPDU shorter than its version and control octets")
    if buf[pos] != 1:
        raise Malformed(f"NPDU version {buf[pos]}, BACnet is 1")
    control = buf[pos + 1]
    pos += 2
    f["expecting_reply"] = bool(control & 4)
    f["network_priority"] = control & 3
    try:
        if control & 0x20:
            f["destination_network"] = (buf[pos] << 8) | buf[pos + 1]
            dlen = buf[pos + 2]
            f["destination_address"] = buf[pos + 3 : pos + 3 + dlen].hex()
            pos += 3 + dlen
        if control & 0x08:
            f["source_network"] = (buf[pos] << 8) | buf[pos + 1]
            slen = buf[pos + 2]
            if not slen:
                raise Malformed("SNET present with a zero SLEN")
            f["source_address"] = buf[pos + 3 : pos + 3 + slen].hex()
            pos += 3 + slen
        if control & 0x20:
            f["hop_count"] = buf[pos]
            pos += 1
        if pos > end:
            raise IndexError
        if not control & 0x80:
            return pos
        mtype = buf[pos]
        pos += 1
        f["network_message_type"] = mtype
        if mtype >= 0x80:
            f["vendor_id"] = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
    except IndexError:
        raise Malformed("NPDU header runs past the datagram") from None
    if pos > end:
        raise Malformed("NPDU header runs past the datagram")
    if mtype in NETWORK_LISTS and end > pos and (end - pos) % 2 == 0:
        f["networks"] = [(buf[p] << 8) | buf[p + 1] for p in range(pos, end, 2)]
    elif mtype == 0x03 and end - pos >= 3:
        f["network_reject_reason"] = buf[pos]
        f["networks"] = [(buf[pos + 1] << 8) | buf[pos + 2]]
    elif mtype == 0x13 and end - pos >= 3:
        f["networks"] = [(buf[pos] << 8) | buf[pos + 1]]
    return -1


def parse_apdu(buf: bytes, pos: int, end: int, f: Fields) -> int:
    """The APDU header at `pos` into `f`; returns where the service parameters start (end of the
    header). Fields depend on the PDU type (20.1.2-20.1.9)."""
    if pos >= end:
        raise Malformed("NPDU without an APDU")
    b = buf[pos]
    t = b >> 4
    need = _HEADER.get(t)
    if need is None:  # reserved PDU types 8-15
        f["apdu_type"] = t
        return pos + 1
    seg = t in (CONFIRMED, COMPLEX_ACK) and bool(b & 8)
    if seg:
        need += 2
    if end - pos < need:  # not an APDU yet: its type is not reported (nor by Wireshark)
        raise Malformed(f"{APDU_NAME[t]} header shorter than {need} octets")
    f["apdu_type"] = t
    if t == CONFIRMED:
        f["segmented"], f["more_follows"] = seg, bool(b & 4)
        f["segmented_response_accepted"] = bool(b & 2)
        f["max_segments"] = MAX_SEGMENTS[(buf[pos + 1] >> 4) & 7]
        code = buf[pos + 1] & 15
        f["max_apdu"] = MAX_APDU[code] if code < len(MAX_APDU) else None
        f["invoke_id"] = buf[pos + 2]
        p = pos + 3
    elif t == UNCONFIRMED:
        f["service"] = buf[pos + 1]
        return pos + 2
    elif t == COMPLEX_ACK:
        f["segmented"], f["more_follows"] = seg, bool(b & 4)
        f["invoke_id"] = buf[pos + 1]
        p = pos + 2
    elif t == SEGMENT_ACK:
        f["negative_ack"], f["from_server"] = bool(b & 2), bool(b & 1)
        f["invoke_id"], f["sequence_number"], f["window_size"] = buf[pos + 1], buf[pos + 2], buf[pos + 3]
        return pos + 4
    elif t == REJECT:
        f["invoke_id"], f["reject_reason"] = buf[pos + 1], buf[pos + 2]
        return pos + 3
    elif t == ABORT:
        f["from_server"] = bool(b & 1)
        f["invoke_id"], f["abort_reason"] = buf[pos + 1], buf[pos + 2]
        return pos + 3
    else:  # SIMPLE_ACK, ERROR
        f["invoke_id"], f["service"] = buf[pos + 1], buf[pos + 2]
        return pos + 3
    if seg:
        f["sequence_number"], f["window_size"] = buf[p], buf[p + 1]
        p += 2
    f["service"] = buf[p]
    return p + 1


_HEADER: Final = {CONFIRMED: 4, UNCONFIRMED: 2, SIMPLE_ACK: 3, COMPLEX_ACK: 3, SEGMENT_ACK: 4, ERROR: 3,
                  REJECT: 3, ABORT: 3}  # fmt: skip
APDU_NAME: Final = ("Confirmed-Request", "Unconfirmed-Request", "SimpleACK", "ComplexACK", "SegmentACK",
                    "Error", "Reject", "Abort")  # fmt: skip
