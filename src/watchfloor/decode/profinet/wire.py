"""PROFINET bytes → PDUs: DCP, cyclic RT data, RTA alarms (all after EtherType 0x8892) and IO-CM
calls (DCE/RPC connectionless over UDP). Pure functions; raise only NeedMoreData/Malformed.

A layer-2 payload starts at the FrameID and may end in Ethernet padding: every parser here
reads the protocol's own lengths, never the frame's.
"""

from __future__ import annotations

import socket
from struct import Struct
from typing import Any, Final

from .._contract import Malformed, NeedMoreData
from .constants import (
    ALARM_FRAME_IDS,
    BLOCK_ERRORS,
    BLOCK_TYPES,
    CONTROL_BLOCKS,
    GET,
    HELLO,
    IDENTIFY,
    PNIO_UUID_TAIL,
    SET,
    option_name,
)

_U16: Final = Struct("!H")
_DCP: Final = Struct("!HBBIHH")  # frame id, service id, service type, xid, delay/reserved, data length
_BLOCK: Final = Struct("!BBH")  # option, suboption, block length
_APDU: Final = Struct("!HBB")  # cycle counter, data status, transfer status
_RTA: Final = Struct("!HHHBBHHH")  # frame id, dst, src, pdu type, add flags, send seq, ack seq, var len
_ALARM: Final = Struct("!HIHH")  # alarm type, API, slot, subslot
_U16_2: Final = Struct("!HH")

Pdu = dict[str, Any]


def frame_id(payload: bytes) -> int:
    if len(payload) < 2:
        raise NeedMoreData(2 - len(payload))
    return payload[0] << 8 | payload[1]  # (compiled: cheaper than an unpack and its tuple)


# -- DCP ------------------------------------------------------------------------------------------
def parse_dcp(payload: bytes) -> tuple[Pdu, list[tuple[int, int, bytes]]]:
    """DCP header fields and its blocks as (option, suboption, data). Request blocks of Get have
    no length (option, suboption pairs); Set request and response/Hello blocks start with a
    2-byte BlockQualifier/BlockInfo, kept at the start of `data`."""
    if len(payload) < 12:
        raise NeedMoreData(12 - len(payload))
    fid, sid, stype, xid, delay, length = _DCP.unpack_from(payload)
    end = 12 + length
    if end > len(payload):
        raise Malformed(f"DCPDataLength {length} exceeds the frame ({len(payload) - 12} bytes)")
    pdu: Pdu = {"frame_id": fid, "service_id": sid, "service_type": stype, "xid": xid}
    if sid == IDENTIFY and stype == 0:
        pdu["response_delay"] = delay
    blocks: list[tuple[int, int, bytes]] = []
    pos = 12
    if sid == GET and stype == 0:  # option/suboption pairs, no lengths
        while pos + 2 <= end:
            blocks.append((payload[pos], payload[pos + 1], b""))
            pos += 2
        if pos != end:
            raise Malformed("odd byte after the Get request's option pairs")
        return pdu, blocks
    while pos < end:
        if pos + 4 > end:
            raise Malformed(f"block header cut at offset {pos}")
        option, sub, blen = _BLOCK.unpack_from(payload, pos)
        pos += 4
        if pos + blen > end:
            raise Malformed(f"block {option}/{sub} length {blen} exceeds DCPDataLength")
        blocks.append((option, sub, payload[pos : pos + blen]))
        pos += blen + (blen & 1)  # blocks are padded to an even length
    return pdu, blocks


def has_block_info(sid: int, stype: int) -> bool:
    """Whether this PDU's blocks start with BlockInfo/BlockQualifier (2 bytes)."""
    return stype != 0 or sid in (SET, HELLO)


def text(b: bytes) -> str:
    """A name field: it ends at the first NUL (some stacks pad the block with zeros)."""
    return b.split(b"\0", 1)[0].decode("latin-1")


def ip4(b: bytes) -> str:
    return socket.inet_ntoa(b)


# -- cyclic RT data and RTA alarms ----------------------------------------------------------------
def parse_rt(payload: bytes) -> tuple[int, int, int]:
    """Cycle counter, DataStatus, TransferStatus: the APDU status, the frame's last 4 bytes."""
    if len(payload) < 6:
        raise Malformed("cyclic frame shorter than a frame id and an APDU status")
    return _APDU.unpack_from(payload, len(payload) - 4)


def parse_alarm(payload: bytes) -> Pdu:
    """An RTA PDU; for DATA PDUs carrying an AlarmNotification, the alarm's type and address."""
    if len(payload) < _RTA.size:
        raise Malformed("RTA PDU shorter than its header")
    fid, dst, src, ptype, _, sseq, aseq, vlen = _RTA.unpack_from(payload)
    pdu: Pdu = {"frame_id": fid, "priority": ALARM_FRAME_IDS.get(fid, "low"),
                "pdu_type": ptype & 0x0F, "dst_endpoint": dst, "src_endpoint": src,
                "send_seq": sseq, "ack_seq": aseq}  # fmt: skip
    body = payload[_RTA.size : _RTA.size + vlen]
    if pdu["pdu_type"] == 1 and len(body) >= 20:  # BlockHeader(6), AlarmType, API, Slot, Subslot
        btype = _U16.unpack_from(body)[0]
        if btype in (0x0001, 0x0002):  # AlarmNotification high/low
            atype, api, slot, subslot = _ALARM.unpack_from(body, 6)
            pdu.update(alarm_type=atype, api=api, slot=slot, subslot=subslot)
            if len(body) >= 26:  # ModuleIdent(4), SubmoduleIdent(4), AlarmSpecifier(2)
                pdu["alarm_specifier"] = _U16.unpack_from(body, 24)[0]
    return pdu


# -- IO-CM: DCE/RPC connectionless (DCE 1.1 RPC §12.5) --------------------------------------------
_RPC_LE: Final = Struct("<16s16s16sIIIHHHHHBB")
_RPC_BE: Final = Struct(">16s16s16sIIIHHHHHBB")
RPC_HEADER: Final = 80


def uuid_text(raw: bytes, little: bool) -> str:
    """A DCE UUID as text; the first three fields follow the header's byte order."""
    h = _uuid_be(raw, little).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid_be(raw: bytes, little: bool) -> bytes:
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:] if little else raw


def parse_rpc(data: bytes) -> tuple[Pdu, bytes]:
    """The connectionless DCE/RPC header of a PNIO call, and its body (this fragment's)."""
    if len(data) < RPC_HEADER:
        raise NeedMoreData(RPC_HEADER - len(data))
    if data[0] != 4:
        raise Malformed(f"DCE/RPC version {data[0]}, not 4 (connectionless)")
    ptype, flags1 = data[1] & 0x1F, data[2]
    little = bool(data[4] & 0x10)
    _, iface, act, _, _, seq, opnum, _, _, blen, frag, _, _ = (
        _RPC_LE if little else _RPC_BE).unpack_from(data, 8)  # fmt: skip
    iface_be = _uuid_be(iface, little)
    if iface_be[:3] != b"\xde\xa0\x00" or iface_be[4:] != PNIO_UUID_TAIL:
        raise Malformed("not a PNIO interface")
    fragmented = bool(flags1 & 0x04)
    pdu: Pdu = {"packet_type": ptype, "interface": iface_be[3], "opnum": opnum,
                "activity": uuid_text(act, little), "sequence": seq, "fragment": frag,
                "more_fragments": fragmented and not flags1 & 0x02, "little": little}  # fmt: skip
    return pdu, data[RPC_HEADER : RPC_HEADER + blen]


_NDR_LE, _NDR_BE = Struct("<IIIII"), Struct(">IIIII")


def pnio_body(pdu: Pdu, body: bytes) -> None:
    """Five NDR words (byte order of the header) frame the blocks: ArgsMaximum (request) or
    PNIOStatus (response: ErrorCode in the most significant byte), ArgsLength, MaximumCount,
    Offset, ActualCount."""
    if pdu["packet_type"] not in (0, 2) or len(body) < 20:
        return
    words = (_NDR_LE if pdu["little"] else _NDR_BE).unpack_from(body)
    count = words[4]
    if pdu["packet_type"] == 2:
        pdu["status"] = words[0]
    blocks = body[20 : 20 + count]
    types: list[int] = []
    at = 0
    while at + 6 <= len(blocks) and len(types) < 64:
        btype, blen = _U16_2.unpack_from(blocks, at)
        types.append(btype)
        _block(pdu, btype, blocks[at + 6 : at + 4 + blen])
        if blen < 2 or btype in (0x0008, 0x0009, 0x8008, 0x8009):  # record data follows
            break
        at += 4 + blen
    if types:
        pdu["blocks"] = types


_AR: Final = Struct("!H16sH")
_RW: Final = Struct("!H16sIHH2xHI")
_CTRL: Final = Struct("!2x16sH2xH")


def _block(pdu: Pdu, btype: int, b: bytes) -> None:
    """Fields of the blocks an analyst asks about (AR, record header, control)."""
    if btype == 0x0101 and len(b) >= 52:  # ARBlockReq
        art, uuid, key = _AR.unpack_from(b)
        pdu.update(ar_type=art, ar_uuid=uuid_text(uuid, False), session_key=key)
        nlen = _U16.unpack_from(b, 50)[0]
        pdu["station_name"] = text(b[52 : 52 + nlen])
    elif btype in (0x8101,) and len(b) >= 20:
        art, uuid, key = _AR.unpack_from(b)
        pdu.update(ar_type=art, ar_uuid=uuid_text(uuid, False), session_key=key)
    elif btype in (0x0008, 0x0009, 0x8008, 0x8009) and len(b) >= _RW.size:
        _, uuid, api, slot, subslot, index, rlen = _RW.unpack_from(b)
        pdu.update(ar_uuid=uuid_text(uuid, False), api=api, slot=slot, subslot=subslot,
                   index=index, record_length=rlen)  # fmt: skip
    elif btype in CONTROL_BLOCKS and len(b) >= _CTRL.size:
        uuid, key, cmd = _CTRL.unpack_from(b)
        pdu.update(ar_uuid=uuid_text(uuid, False), session_key=key, control_command=cmd)


def block_name(btype: int) -> str:
    return BLOCK_TYPES.get(btype, f"unknown-0x{btype:04x}")


# -- DCP blocks → fields ----------------------------------------------------------------------------

def dcp_fields(sid: int, stype: int, blocks: list[tuple[int, int, bytes]]) -> tuple[Pdu, list[str]]:
    """What the blocks say, as ProfinetDcp fields, and the names of blocks too short for their
    content (decoded as far as they go)."""
    f: Pdu = {}
    bad: list[str] = []
    info = has_block_info(sid, stype)
    names: list[str] = []
    control: list[str] = []
    for option, sub, data in blocks:
        name = option_name(option, sub)
        names.append(name)
        if option == 5 and sub == 4:  # Control/Response: option, suboption, error; no BlockInfo
            if len(data) < 3:
                bad.append(name)
                continue
            f["response_option"] = option_name(data[0], data[1])
            f["block_error"] = data[2]
            f["block_error_name"] = BLOCK_ERRORS.get(data[2], f"unknown-{data[2]}")
            continue
        if sid == GET and stype == 0:  # a Get request only names what it asks for
            continue
        if info:
            if len(data) < 2:
                bad.append(name)
                continue
            head, value = _U16.unpack_from(data)[0], data[2:]
        else:
            head, value = None, data
        if option == 5:  # Set control blocks: BlockQualifier (+ signal value)
            kind = name.split("/", 1)[1]
            control.append(kind)
            if kind == "signal" and len(value) >= 2:
                f["signal_value"] = _U16.unpack_from(value)[0]
            elif kind == "reset_to_factory" and head is not None:
                f["reset_mode"] = head >> 1
            continue
        if head is not None and stype == 0 and "block_qualifier" not in f and sid == SET:
            f["block_qualifier"] = head
        if option == 1 and sub in (2, 3):
            if len(value) < 12:
                bad.append(name)
                continue
            f.update(ip=ip4(value[0:4]), netmask=ip4(value[4:8]), gateway=ip4(value[8:12]))
            if head is not None and stype != 0:
                f["ip_block_info"] = head
        elif option == 1 and sub == 1:
            if len(value) < 6:
                bad.append(name)
                continue
            f["mac"] = value[:6].hex(":")
        elif option == 2 and sub in (1, 2, 6):
            key = {1: "vendor_value", 2: "name_of_station", 6: "alias_name"}[sub]
            f[key] = text(value)
        elif option == 2 and sub == 3:
            if len(value) < 4:
                bad.append(name)
                continue
            f["vendor_id"], f["device_id"] = _U16_2.unpack_from(value)
        elif option == 2 and sub == 4:
            if not value:
                bad.append(name)
                continue
            f["device_role"] = value[0]
        elif option == 2 and sub == 7:
            if len(value) < 2:
                bad.append(name)
                continue
            f["device_instance"] = value[0] << 8 | value[1]
    if names:
        f["options"] = names
    if control:
        f["control"] = control
    return f, bad
