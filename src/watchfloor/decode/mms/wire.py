"""MMS PDUs (ISO 9506-2, BER) → their type, invoke id, service and the fields an OT engineer
reads: object names (domain/item), data values, name lists, errors, initiate parameters.

Pure and stateless; raises only NeedMoreData or Malformed (the BER reader's).
"""

from __future__ import annotations

from struct import unpack
from typing import Any, NamedTuple

from .._contract import Malformed
from ..ber import CONSTRUCTED, CONTEXT, UNIVERSAL, Tlv, bits, boolean, children, date_text, integer, text, tlv, unsigned, utc_time
from .constants import (
    CANCEL_ERROR,
    CANCEL_REQUEST,
    CANCEL_RESPONSE,
    CONCLUDE_ERROR,
    CONFIRMED_ERROR,
    CONFIRMED_REQUEST,
    CONFIRMED_RESPONSE,
    DOMAIN_SERVICES,
    FILE_SERVICES,
    GET_NAME_LIST,
    GET_NAMED_VARIABLE_LIST_ATTRIBUTES,
    GET_VARIABLE_ACCESS_ATTRIBUTES,
    IDENTIFY,
    INITIATE_ERROR,
    INITIATE_REQUEST,
    INITIATE_RESPONSE,
    MAX_NAMES,
    MAX_TEXT,
    MAX_VALUES,
    PROGRAM_SERVICES,
    READ,
    REJECT,
    UNCONFIRMED,
    WRITE,
)

_CC = CONTEXT | CONSTRUCTED
_SEQ = UNIVERSAL | CONSTRUCTED
_VISIBLE, _GRAPHIC = 26, 25  # UNIVERSAL VisibleString (Identifier), GraphicString (file names)

Name = tuple[str, str | None, str]  # scope (vmd/domain/aa), domain, item


class Pdu(NamedTuple):
    type: int  # MMSpdu choice (constants.PDU_TYPES)
    invoke_id: int | None
    service: int | None  # confirmed service (request/response) or unconfirmed service
    fields: dict[str, Any]
    complete: bool  # False: bytes after the PDU, or a service body that did not parse


MAX_CACHE = 256


def parse(pdu: bytes, cache: dict[bytes, tuple[int, dict[str, Any], bool]] | None = None) -> Pdu:
    """One MMSpdu. `cache` (bounded here) keeps the parsed services of confirmed requests by their
    bytes: a poll repeats the same request with a new invoke id only. Cached fields are shared:
    callers never change them."""
    cls, num, s, e = tlv(pdu, 0, len(pdu))
    if cls & 0xC0 != CONTEXT or num > 13:
        raise Malformed(f"not an MMSpdu (identifier 0x{pdu[0]:02x})")
    complete = e == len(pdu)
    fields: dict[str, Any] = {}
    invoke = service = None
    if num == CONFIRMED_REQUEST or num == CONFIRMED_RESPONSE:
        if not cls & CONSTRUCTED:
            raise Malformed("confirmed PDU is not constructed")
        pos = s
        t = tlv(pdu, pos, e)
        if t[0] != UNIVERSAL or t[1] != 2:
            raise Malformed("confirmed PDU without its invokeID")
        invoke = unsigned(pdu, t[2], t[3])
        pos = t[3]
        if pos < e:
            t = tlv(pdu, pos, e)
            if num == CONFIRMED_REQUEST and t[0] == _SEQ and t[1] == 16:  # listOfModifier
                pos = t[3]
                if pos < e:
                    t = tlv(pdu, pos, e)
        if pos >= e or t[0] & 0xC0 != CONTEXT:  # no (valid) service: reported without one
            return Pdu(num, invoke, None, fields, False)
        service = t[1]
        if num == CONFIRMED_REQUEST and cache is not None:
            key = pdu[pos:e]
            hit = cache.get(key)
            if hit is not None:
                return Pdu(num, invoke, hit[0], hit[1], hit[2] and complete)
        try:
            if num == CONFIRMED_REQUEST:
                _request(pdu, service, t, fields)
            else:
                _response(pdu, service, t, fields)
        except Malformed:
            complete = False
        if num == CONFIRMED_REQUEST and cache is not None:
            if len(cache) >= MAX_CACHE:
                cache.clear()
            cache[key] = (service, fields, complete)
    elif num == CONFIRMED_ERROR or num == CANCEL_ERROR:
        for c in children(pdu, s, e):
            if c[0] == CONTEXT and c[1] == 0:
                invoke = unsigned(pdu, c[2], c[3])
            elif c[0] == _CC and c[1] == (2 if num == CONFIRMED_ERROR else 1):
                _service_error(pdu, c[2], c[3], fields)
    elif num == UNCONFIRMED:
        t = tlv(pdu, s, e)
        service = t[1]
        try:
            if service == 0 and t[0] == _CC:
                _information_report(pdu, t, fields)
        except Malformed:
            complete = False
    elif num == REJECT:
        for c in children(pdu, s, e):
            if c[0] == CONTEXT and c[1] == 0:
                invoke = unsigned(pdu, c[2], c[3])
            elif c[0] == CONTEXT and c[2] < c[3]:
                fields["reject_type"], fields["reject_code"] = c[1], integer(pdu, c[2], c[3])
    elif num == CANCEL_REQUEST or num == CANCEL_RESPONSE:
        invoke = unsigned(pdu, s, e)
    elif num == INITIATE_REQUEST or num == INITIATE_RESPONSE:
        _initiate(pdu, s, e, fields)
    elif num == INITIATE_ERROR or num == CONCLUDE_ERROR:
        _service_error(pdu, s, e, fields)
    return Pdu(num, invoke, service, fields, complete)


# -- names ---------------------------------------------------------------------------------
def object_name(buf: bytes, t: Tlv) -> Name:
    """ObjectName ::= CHOICE { vmd-specific [0], domain-specific [1] SEQUENCE, aa-specific [2] }."""
    cls, num, s, e = t
    if num == 1 and cls == _CC:
        parts = [text(buf, c[2], c[3]) for c in children(buf, s, e)]
        if len(parts) != 2:
            raise Malformed("domain-specific name is not (domainId, itemId)")
        return "domain", parts[0], parts[1]
    if num in (0, 2) and cls == CONTEXT:
        return ("vmd" if num == 0 else "aa"), None, text(buf, s, e)
    raise Malformed("ObjectName of unknown form")


def _variables(buf: bytes, t: Tlv, fields: dict[str, Any]) -> None:
    """VariableAccessSpecification ::= CHOICE { listOfVariable [0], variableListName [1] }."""
    cls, num, s, e = t
    if num == 1:
        fields["variable_list"] = object_name(buf, tlv(buf, s, e))
        return
    if num != 0:
        raise Malformed("unknown VariableAccessSpecification")
    names: list[Name] = []
    for item in children(buf, s, e):  # SEQUENCE { variableSpecification, alternateAccess [5] }
        spec = tlv(buf, item[2], item[3])
        if spec[1] == 0 and spec[0] == _CC:  # name [0] ObjectName
            if len(names) < MAX_NAMES:
                names.append(object_name(buf, tlv(buf, spec[2], spec[3])))
        else:
            names.append(("address", None, f"unknown-{spec[1]}"))
    fields["variables"] = names


def _file_name(buf: bytes, s: int, e: int) -> str:
    """FileName ::= SEQUENCE OF GraphicString, joined."""
    return "".join(text(buf, c[2], c[3]) for c in children(buf, s, e))


# -- data ----------------------------------------------------------------------------------
def render(buf: bytes, t: Tlv, depth: int = 0) -> str:
    """One Data value as compact text: structures {a,b}, arrays [a,b], strings quoted,
    bit strings as 0b..., octet strings as 0x..., UtcTime as RFC 3339."""
    cls, num, s, e = t
    if depth > 12:
        raise Malformed("Data nested too deeply")
    if cls == _CC and (num == 1 or num == 2):
        parts = []
        while s < e:  # children() inlined: structures are most of a report's values
            c = tlv(buf, s, e)
            parts.append(render(buf, c, depth + 1))
            s = c[3]
        inner = ",".join(parts)
        out = f"[{inner}]" if num == 1 else f"{{{inner}}}"
    elif cls != CONTEXT:
        raise Malformed("Data of unknown form")
    elif num == 3:
        out = "true" if boolean(buf, s, e) else "false"
    elif num == 5:
        out = str(integer(buf, s, e))
    elif num == 6:
        out = str(unsigned(buf, s, e))
    elif num == 7:
        out = _float(buf, s, e)
    elif num == 4 or num == 14:
        out = "0b" + bits(buf, s, e)
    elif num == 9:
        out = "0x" + buf[s:e].hex()
    elif num in (10, 16, 11):
        out = '"' + text(buf, s, e) + '"'
    elif num == 17:
        out = utc_time(buf, s, e)
    elif num == 12:
        out = _binary_time(buf, s, e)
    elif num == 13:
        out = str(integer(buf, s, e))
    else:
        out = f"unknown-{num}:0x{buf[s:e].hex()}"
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 3] + "..."


def _float(buf: bytes, s: int, e: int) -> str:
    """FloatingPoint: an exponent-width octet, then IEEE 754 single (4) or double (8) bytes."""
    if e - s == 5:
        return repr(unpack(">f", buf[s + 1 : e])[0])
    if e - s == 9:
        return repr(unpack(">d", buf[s + 1 : e])[0])
    raise Malformed("floating-point of unsupported size")


def _binary_time(buf: bytes, s: int, e: int) -> str:
    """TimeOfDay: ms since midnight, and (6 octets) days since 1984-01-01."""
    if e - s == 4:
        return f"ms={int.from_bytes(buf[s:e], 'big')}"
    if e - s == 6:
        ms, days = int.from_bytes(buf[s : s + 4], "big"), int.from_bytes(buf[s + 4 : e], "big")
        secs = _EPOCH_1984 + days * 86400 + ms // 1000
        return f"{date_text(secs)}.{ms % 1000:03d}Z"
    raise Malformed("binary-time of unsupported size")


_EPOCH_1984 = 441763200  # 1984-01-01T00:00:00Z in seconds since 1970


def scalar(buf: bytes, t: Tlv) -> int | None:
    """The integer a boolean/integer/unsigned Data value holds (ot.action.values), else None;
    for a structure, its first member's (IEC 61850 Oper: ctlVal comes first)."""
    cls, num, s, e = t
    if cls == _CC and num == 2 and s < e:
        return scalar(buf, tlv(buf, s, e))
    if cls != CONTEXT or s >= e:
        return None
    if num == 3:
        return 1 if buf[s] else 0
    if num == 5:
        return integer(buf, s, e)
    if num == 6:
        return unsigned(buf, s, e)
    return None


def _data_list(buf: bytes, s: int, e: int, fields: dict[str, Any], results: bool) -> None:
    """SEQUENCE OF Data (write) or of AccessResult (read response, report): rendered values;
    a failure [0] DataAccessError shows as `failure:<code>`."""
    values: list[str] = []
    ints: list[int | None] = []
    failures: list[int] = []
    n = 0
    while s < e:
        c = tlv(buf, s, e)
        s = c[3]
        n += 1
        if n > MAX_VALUES:
            continue
        if results and c[0] == CONTEXT and c[1] == 0:
            code = integer(buf, c[2], c[3])
            failures.append(code)
            values.append(f"failure:{code}")
            ints.append(None)
        else:
            values.append(render(buf, c))
            ints.append(scalar(buf, c))
    fields["values"] = values
    fields["scalars"] = ints
    if failures:
        fields["failures"] = failures
    if n > MAX_VALUES:
        fields["values_omitted"] = n - MAX_VALUES


# -- services ------------------------------------------------------------------------------
def _request(buf: bytes, service: int, t: Tlv, fields: dict[str, Any]) -> None:
    cls, _, s, e = t
    if service == READ:
        for c in children(buf, s, e):
            if c[0] == _CC and c[1] == 1:
                _variables(buf, tlv(buf, c[2], c[3]), fields)
    elif service == WRITE:
        spec = tlv(buf, s, e)
        _variables(buf, spec, fields)
        data = tlv(buf, spec[3], e)
        _data_list(buf, data[2], data[3], fields, False)
    elif service == GET_NAME_LIST:
        for c in children(buf, s, e):
            if c[1] == 0 and c[0] == _CC:
                oc = tlv(buf, c[2], c[3])
                fields["object_class"] = integer(buf, oc[2], oc[3])
            elif c[1] == 1 and c[0] == _CC:
                sc = tlv(buf, c[2], c[3])
                fields["scope"] = ("vmd", "domain", "aa")[sc[1]] if sc[1] < 3 else f"unknown-{sc[1]}"
                if sc[1] == 1:
                    fields["domain"] = text(buf, sc[2], sc[3])
            elif c[1] == 2 and c[0] == CONTEXT:
                fields["continue_after"] = text(buf, c[2], c[3])
    elif service == GET_VARIABLE_ACCESS_ATTRIBUTES:
        c = tlv(buf, s, e)
        if c[1] == 0 and c[0] == _CC:
            fields["variables"] = [object_name(buf, tlv(buf, c[2], c[3]))]
    elif service == GET_NAMED_VARIABLE_LIST_ATTRIBUTES or service in (11, 13):
        if service == 13:  # deleteNamedVariableList: listOfVariableListName [1]
            for c in children(buf, s, e):
                if c[1] == 1 and c[0] == _CC:
                    names = [object_name(buf, n) for n in children(buf, c[2], c[3])]
                    if names:
                        fields["variable_list"] = names[0]
            return
        first = tlv(buf, s, e)
        fields["variable_list"] = object_name(buf, first)
        if service == 11 and first[3] < e:  # defineNamedVariableList: listOfVariable [0]
            _variables(buf, tlv(buf, first[3], e), fields)
    elif service in DOMAIN_SERVICES or service in PROGRAM_SERVICES:
        key = "domain" if service in DOMAIN_SERVICES else "program_invocation"
        if not cls & CONSTRUCTED:
            fields[key] = text(buf, s, e)
        else:
            for c in children(buf, s, e):
                if c[1] == 0 and c[0] == CONTEXT:
                    fields[key] = text(buf, c[2], c[3])
                elif c[0] == _CC and c[1] in (1, 4) and service in (32, 33, 34, 35):
                    if any(x[1] == _GRAPHIC for x in children(buf, c[2], c[3])):
                        fields["file_name"] = _file_name(buf, c[2], c[3])
    elif service in FILE_SERVICES:
        if not cls & CONSTRUCTED:  # fileRead / fileClose: the FRSM id
            fields["frsm_id"] = integer(buf, s, e)
        elif service == 76:  # fileDelete ::= FileName
            fields["file_name"] = _file_name(buf, s, e)
        else:
            for c in children(buf, s, e):
                if c[0] == _CC and c[1] == (1 if service == 46 else 0):
                    fields["file_name"] = _file_name(buf, c[2], c[3])
                elif c[0] == _CC and c[1] == 1 and service == 75:
                    fields["new_file_name"] = _file_name(buf, c[2], c[3])
                elif c[0] == _CC and c[1] == 2 and service == 46:
                    fields["new_file_name"] = _file_name(buf, c[2], c[3])


def _response(buf: bytes, service: int, t: Tlv, fields: dict[str, Any]) -> None:
    cls, _, s, e = t
    if service == READ:
        for c in children(buf, s, e):
            if c[0] == _CC and c[1] == 0:
                _variables(buf, tlv(buf, c[2], c[3]), fields)
            elif c[0] == _CC and c[1] == 1:
                _data_list(buf, c[2], c[3], fields, True)
    elif service == WRITE:
        failures, n = [], 0
        for c in children(buf, s, e):
            n += 1
            if c[1] == 0 and c[2] < c[3]:
                failures.append(integer(buf, c[2], c[3]))
        fields["results"] = n
        if failures:
            fields["failures"] = failures
    elif service == GET_NAME_LIST:
        for c in children(buf, s, e):
            if c[0] == _CC and c[1] == 0:
                ids = [text(buf, x[2], x[3]) for x in children(buf, c[2], c[3])]
                fields["identifiers"] = ids[:MAX_NAMES]
                if len(ids) > MAX_NAMES:
                    fields["values_omitted"] = len(ids) - MAX_NAMES
            elif c[0] == CONTEXT and c[1] == 1:
                fields["more_follows"] = boolean(buf, c[2], c[3])
        fields.setdefault("more_follows", True)  # DEFAULT TRUE
    elif service == IDENTIFY:
        for c in children(buf, s, e):
            if c[0] == CONTEXT and c[1] in (0, 1, 2):
                fields[("vendor", "model", "revision")[c[1]]] = text(buf, c[2], c[3])
    elif service == GET_NAMED_VARIABLE_LIST_ATTRIBUTES:
        for c in children(buf, s, e):
            if c[0] == _CC and c[1] == 1:
                _variables(buf, (_CC, 0, c[2], c[3]), fields)
            elif c[0] == CONTEXT and c[1] == 0:
                fields["deletable"] = boolean(buf, c[2], c[3])
    elif service == 77:  # fileDirectory: listOfDirectoryEntry [0], moreFollows [1]
        for c in children(buf, s, e):
            if c[0] == _CC and c[1] == 0:
                names = []
                for entry in children(buf, c[2], c[3]):
                    for x in children(buf, entry[2], entry[3]):
                        if x[0] == _CC and x[1] == 0:
                            names.append(_file_name(buf, x[2], x[3]))
                fields["identifiers"] = names[:MAX_NAMES]
            elif c[0] == CONTEXT and c[1] == 1:
                fields["more_follows"] = boolean(buf, c[2], c[3])
    elif service == 72 and cls & CONSTRUCTED:  # fileOpen: frsmID [0], fileAttributes [1]
        for c in children(buf, s, e):
            if c[0] == CONTEXT and c[1] == 0:
                fields["frsm_id"] = integer(buf, c[2], c[3])
            elif c[0] == _CC and c[1] == 1:
                for x in children(buf, c[2], c[3]):
                    if x[0] == CONTEXT and x[1] == 0:
                        fields["file_size"] = unsigned(buf, x[2], x[3])
    elif service == 73 and cls & CONSTRUCTED:  # fileRead: fileData [0], moreFollows [1]
        for c in children(buf, s, e):
            if c[0] == CONTEXT and c[1] == 0:
                fields["data_length"] = c[3] - c[2]
            elif c[0] == CONTEXT and c[1] == 1:
                fields["more_follows"] = boolean(buf, c[2], c[3])
        fields.setdefault("more_follows", True)
    elif service in (26, 29) and cls & CONSTRUCTED:  # initiate download/upload: ULSM id etc.
        for c in children(buf, s, e):
            if c[0] == CONTEXT and c[1] == 0 and service == 29:
                fields["ulsm_id"] = integer(buf, c[2], c[3])


def _information_report(buf: bytes, t: Tlv, fields: dict[str, Any]) -> None:
    """InformationReport ::= SEQUENCE { variableAccessSpecification, listOfAccessResult [0] }."""
    _, _, s, e = t
    spec = tlv(buf, s, e)
    _variables(buf, spec, fields)
    if spec[3] < e:
        data = tlv(buf, spec[3], e)
        _data_list(buf, data[2], data[3], fields, True)


def _service_error(buf: bytes, s: int, e: int, fields: dict[str, Any]) -> None:
    """ServiceError ::= SEQUENCE { errorClass [0] CHOICE { vmd-state [0] ... }, ... }."""
    for c in children(buf, s, e):
        if c[0] == _CC and c[1] == 0:
            cl = tlv(buf, c[2], c[3])
            fields["error_class"] = cl[1]
            if cl[2] < cl[3]:
                fields["error_code"] = integer(buf, cl[2], cl[3])
        elif c[0] == CONTEXT and c[1] == 2:
            fields["error_text"] = text(buf, c[2], c[3])[:MAX_TEXT]


def _initiate(buf: bytes, s: int, e: int, fields: dict[str, Any]) -> None:
    """Initiate-Request/ResponsePDU: the negotiated association parameters."""
    for c in children(buf, s, e):
        if c[0] == CONTEXT and c[2] < c[3] and c[1] <= 3:
            name = ("max_pdu_size", "max_outstanding_calling", "max_outstanding_called",
                    "nesting_level")[c[1]]  # fmt: skip
            fields[name] = integer(buf, c[2], c[3])
        elif c[0] == _CC and c[1] == 4:
            for x in children(buf, c[2], c[3]):
                if x[0] == CONTEXT and x[1] == 0 and x[2] < x[3]:
                    fields["version"] = integer(buf, x[2], x[3])
