"""GOOSE frames (IEC 61850-8-1 Annex A) → their header and PDU fields. The data values use the
MMS Data encoding (rendered by `mms.wire.render`). Pure; raises only Malformed / NeedMoreData."""

from __future__ import annotations

from struct import unpack_from
from typing import Any, NamedTuple

from .._contract import Malformed
from ..ber import APPLICATION, CONSTRUCTED, CONTEXT, boolean, children, text, tlv, unsigned, utc_time
from ..mms.wire import render, scalar
from .constants import (
    ALL_DATA,
    CONF_REV,
    DAT_SET,
    ENTRIES,
    GO_ID,
    GOCB_REF,
    HEADER,
    MAX_VALUES,
    NDS_COM,
    SIMULATE_BIT,
    SQ_NUM,
    ST_NUM,
    T,
    TEST,
    TTL,
)


class Header(NamedTuple):
    appid: int
    length: int  # from APPID on, as the frame states it
    reserved1: int
    reserved2: int
    end: int  # where the APDU ends in the payload (the stated length, bounded by the bytes)


def header(data: bytes) -> Header:
    """The 8-byte GOOSE/SV header; the payload may carry Ethernet padding after `length`."""
    if len(data) < HEADER:
        raise Malformed("frame shorter than the GOOSE/SV header")
    appid, length, r1, r2 = unpack_from(">HHHH", data)
    if length < HEADER:
        raise Malformed(f"length {length} shorter than the header")
    return Header(appid, length, r1, r2, min(length, len(data)))


def parse(data: bytes) -> tuple[Header, dict[str, Any], list[int | None], bool]:
    """(header, PDU fields, integer values of the data set entries, complete)."""
    h = header(data)
    cls, num, s, e = tlv(data, HEADER, h.end, truncated_ok=True)
    if cls != APPLICATION | CONSTRUCTED or num != 1:
        raise Malformed(f"not a goosePdu (identifier 0x{data[HEADER]:02x})")
    complete = h.length <= len(data) and e <= h.end
    e = min(e, h.end)  # a truncated frame: the elements that are there
    f: dict[str, Any] = {"simulation": bool(h.reserved1 & SIMULATE_BIT)}
    scalars: list[int | None] = []
    pos = s
    try:  # a malformed element ends the PDU; what came before it is kept
        while pos < e:
            ccls, n, cs, ce = tlv(data, pos, e)
            pos = ce
            if ccls == CONTEXT and n < ALL_DATA:
                _element(data, n, cs, ce, f)
            elif ccls == CONTEXT | CONSTRUCTED and n == ALL_DATA:
                _all_data(data, cs, ce, f, scalars)
            else:  # not in IECGoosePdu: skipped, and counted
                f["unknown_elements"] = f.get("unknown_elements", 0) + 1
    except Malformed:
        complete = False
    return h, f, scalars, complete


def _element(data: bytes, n: int, cs: int, ce: int, f: dict[str, Any]) -> None:
    if n == GOCB_REF:
        f["gocb_ref"] = text(data, cs, ce)
    elif n == TTL:
        f["time_allowed_to_live"] = unsigned(data, cs, ce)
    elif n == DAT_SET:
        f["dat_set"] = text(data, cs, ce)
    elif n == GO_ID:
        f["go_id"] = text(data, cs, ce)
    elif n == T:
        f["t"] = utc_time(data, cs, ce)
        f["t_raw"] = data[cs : ce - 1]  # seconds and fraction (the quality octet apart)
        f["time_quality"] = data[ce - 1]
    elif n == ST_NUM:
        f["st_num"] = unsigned(data, cs, ce)
    elif n == SQ_NUM:
        f["sq_num"] = unsigned(data, cs, ce)
        f["sq_span"] = (cs, ce)
    elif n == TEST:
        f["test"] = boolean(data, cs, ce)
    elif n == CONF_REV:
        f["conf_rev"] = unsigned(data, cs, ce)
    elif n == NDS_COM:
        f["nds_com"] = boolean(data, cs, ce)
    elif n == ENTRIES:
        f["num_dat_set_entries"] = unsigned(data, cs, ce)


def _all_data(data: bytes, s: int, e: int, f: dict[str, Any], scalars: list[int | None]) -> None:
    values: list[str] = []
    f["values"] = values
    count = 0
    for v in children(data, s, e):
        count += 1
        f["data_entries"] = count
        if count <= MAX_VALUES:
            values.append(render(data, v))
            scalars.append(scalar(data, v))
    f["data_entries"] = count
    if count > MAX_VALUES:
        f["values_omitted"] = count - MAX_VALUES
