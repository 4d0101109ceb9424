"""S7 PDUs → schema events: messages, anomalies and SZL identity observations."""

from __future__ import annotations

from struct import unpack
from typing import Any, Literal

from msgspec.structs import replace

from ...capture.flows import Flow
from ...schema import (
    AddressRange,
    Asset,
    Endpoint,
    Event,
    EventMeta,
    Network,
    Ot,
    OtAction,
    S7comm,
    S7commPlus,
    S7Item,
    SzlRecord,
    Target,
)
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    ACK,
    ACK_DATA,
    AREA_DB,
    AREAS,
    CPU_MODES,
    ERROR_CLASSES,
    ERROR_CODES,
    FUNCTIONS,
    GROUP_MODE,
    PI_SERVICES,
    PLC_CONTROL,
    PLUS_FUNCTIONS,
    PLUS_OPCODES,
    READ_VAR,
    RETURN_CODES,
    ROSCTR,
    SUCCESS,
    SZL_NAMES,
    TRANSPORT_SIZES,
    UD_GROUPS,
    UD_SUBFUNCTIONS,
    UD_TYPES,
    USERDATA,
    WRITE_VAR,
)
from .wire import Header, PlusPdu

DATASET = "ot.s7comm"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
# bytes per element of an item transport size (bit: one byte holds it)
_SIZE_BYTES = {0x01: 1, 0x02: 1, 0x03: 1, 0x04: 2, 0x05: 2, 0x06: 4, 0x07: 4, 0x08: 4, 0x09: 2,
               0x0A: 4, 0x0B: 4, 0x0C: 2, 0x0F: 8, 0x1C: 2, 0x1D: 2, 0x1E: 4, 0x1F: 4,
               0x20: 4}  # fmt: skip
Request = tuple[int, int, int | None, dict[str, Any]]
Span = tuple[AddressRange | None, str | None, int | None]
_Converted = tuple[list[dict], list[S7Item], list[S7Item], Span]  # items, addresses, S7Items
# item fields a response's items take from its request's
_ADDRESS = frozenset(("syntax_id", "area", "area_name", "db_number", "byte_address", "bit_address",
                      "transport_size", "transport_size_name", "count"))  # fmt: skip
# request fields a response repeats (it does not carry them itself)
_BORROWED = frozenset(("szl_id", "pi_service", "pi_arguments", "blocks", "filename", "block_type",
                       "block_number", "filesystem"))  # fmt: skip


# item transport size → struct format of its elements (CHAR and the time types stay raw)
_FORMATS = {0x01: "B", 0x02: "B", 0x04: "H", 0x05: "h", 0x06: "I", 0x07: "i", 0x08: "f",
            0x1C: "H", 0x1D: "H"}  # fmt: skip
_WIDTHS = {"B": 1, "H": 2, "h": 2, "I": 4, "i": 4, "f": 4}


def _kw(f: dict[str, Any], size: int | None = None) -> dict[str, Any]:
    """An item's fields as S7Item keywords, with the names of its codes and its data as hex and,
    for numeric transport sizes (the item's own or `size`, its request's), as values."""
    kw = dict(f)
    area = f.get("area")
    if area is not None:
        kw["area_name"] = AREAS.get(area) or f"unknown-{area}"
    own = f.get("transport_size")
    if own is not None:
        kw["transport_size_name"] = TRANSPORT_SIZES.get(own) or f"unknown-{own}"
        size = own
    rc = f.get("return_code")
    if rc is not None:
        kw["return_code_name"] = RETURN_CODES.get(rc) or f"unknown-{rc}"
    data = f.get("data")
    if data is not None:
        kw["data"] = data.hex()
        fmt = _FORMATS.get(size)  # type: ignore[arg-type]
        if fmt is not None:  # (items other than S7ANY have no transport size)
            n, rest = divmod(len(data), _WIDTHS[fmt])
            if n and not rest:
                vals = list(unpack(f">{n}{fmt}", data))
                if fmt == "f":
                    kw["real_values"] = vals
                else:
                    kw["values"] = [v & 1 for v in vals] if size == 0x01 else vals
    return kw


def _answer(addr: S7Item, it: dict[str, Any]) -> S7Item:
    """A response item: its request's address item with the answer's return code and data (as
    `replace(addr, **_kw(it, addr.transport_size))`, without the keyword dicts)."""
    rc = it["return_code"]
    data = it.get("data")
    hexed = values = reals = None
    if data is not None:
        hexed = data.hex()
        size = addr.transport_size
        fmt = _FORMATS.get(size)  # type: ignore[arg-type]
        if fmt == "B":  # BIT, BYTE: the bytes themselves
            if data:
                values = [v & 1 for v in data] if size == 0x01 else list(data)
        elif fmt is not None:
            n, rest = divmod(len(data), _WIDTHS[fmt])
            if n and not rest:
                vals = list(unpack(f">{n}{fmt}", data))
                if fmt == "f":
                    reals = vals
                else:
                    values = vals
    if reals is None:
        return S7Item(syntax_id=addr.syntax_id, area=addr.area, area_name=addr.area_name,
                      db_number=addr.db_number, byte_address=addr.byte_address,
                      bit_address=addr.bit_address, transport_size=addr.transport_size,
                      transport_size_name=addr.transport_size_name, count=addr.count,
                      return_code=rc, return_code_name=RETURN_CODES.get(rc) or f"unknown-{rc}",
                      data_transport_size=it.get("data_transport_size"), length=it.get("length"),
                      data=hexed, values=values)  # fmt: skip
    return S7Item(syntax_id=addr.syntax_id, area=addr.area, area_name=addr.area_name,
                  db_number=addr.db_number, byte_address=addr.byte_address,
                  bit_address=addr.bit_address, transport_size=addr.transport_size,
                  transport_size_name=addr.transport_size_name, count=addr.count,
                  return_code=rc, return_code_name=RETURN_CODES.get(rc) or f"unknown-{rc}",
                  data_transport_size=it.get("data_transport_size"), length=it.get("length"),
                  data=hexed, real_values=reals)  # fmt: skip


def _span(items: list[dict]) -> Span:
    """Address range, object kind and DB number of a single-item S7ANY access."""
    if len(items) != 1 or "byte_address" not in items[0]:
        return None, None, None
    it = items[0]
    area, start = it["area"], it["byte_address"]
    n = it["count"] * _SIZE_BYTES.get(it["transport_size"], 1) if it["transport_size"] != 1 else 1
    name = AREAS.get(area, f"unknown-{area}")
    return (AddressRange(start=start, end=start + max(n - 1, 0)), name,
            it["db_number"] if area == AREA_DB or area == 0x85 else None)  # fmt: skip


def _szl_records(szl_id: int, records: list[bytes]) -> list[SzlRecord] | None:
    """Identity SZL records (0xxx11 module identification, 0xxx1C component identification)."""
    low, out = szl_id & 0xFF, []
    for r in records:
        index = (r[0] << 8) | r[1]
        if low == 0x11 and len(r) == 28:  # index, order number (20), type, versions (2 + 2)
            text = r[2:22].decode("latin-1").strip("\x00 ")
            version = f"V{r[25]}.{r[26]}.{r[27]}" if r[24] == 0x56 else None  # 'V' x y z
            out.append(SzlRecord(index=index, value=text, version=version))
        elif low == 0x1C and len(r) == 34:
            if index == 9:  # manufacturer id and profile: binary
                out.append(SzlRecord(index=index, value=r[2:].hex()))
            else:
                out.append(SzlRecord(index=index, value=r[2:].decode("latin-1").strip("\x00 ")))
    return out or None


class Emitter:
    """Builds one flow's events; objects shared by every event of the flow are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="s7comm",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.rack: int | None = None
        self.slot: int | None = None
        self.station: str | None = None
        self.tpdu_size: int | None = None
        self.converted: dict[int, _Converted] = {}
        # read var jobs: event parts made once per parsed job (the session repeats the object)
        self.read_jobs: dict[int, tuple[dict[str, Any], OtAction, S7comm]] = {}
        # read/write var answers: items, any item failed, OtAction; by (answer, request items)
        self.answers: dict[tuple[int, int], tuple[dict, list, list[S7Item], bool, OtAction]] = {}
        self.targets: dict[tuple[int | None, str | None], Target | None] = {}

    def connection(self, called_tsap: bytes | None, tpdu_size: int | None) -> None:
        """S7 called TSAP: connection type (1 PG, 2 OP, 3 S7 basic), then rack * 32 + slot."""
        if called_tsap and len(called_tsap) == 2 and called_tsap[0] < 0x20:
            self.rack, self.slot = called_tsap[1] >> 5, called_tsap[1] & 0x1F
            self.station = f"rack {self.rack} slot {self.slot}"
            self.targets.clear()
            self.read_jobs.clear()
            self.answers.clear()
        if tpdu_size:
            self.tpdu_size = tpdu_size

    def _converted(self, items: list[dict]) -> _Converted:
        """A request's items as keywords, S7Items and span, made once per list object: the session
        hands the same parsed list for a repeated (polling) read job; events are read-only."""
        hit = self.converted.get(id(items))
        if hit is None or hit[0] is not items:
            if len(self.converted) >= 256:
                self.converted.clear()
            kws = [_kw(it) for it in items]
            addrs = [S7Item(**{k: v for k, v in kw.items() if k in _ADDRESS}) for kw in kws]
            hit = self.converted[id(items)] = (items, addrs, [S7Item(**kw) for kw in kws],
                                               _span(items))  # fmt: skip
        return hit

    def _target(self, db: int | None, obj: str | None) -> Target | None:
        key = (db, obj)
        if key in self.targets:
            return self.targets[key]
        if len(self.targets) >= 256:
            self.targets.clear()
        t = self.targets[key] = (None if db is None and obj is None and self.station is None
                                 else Target(unit=db, station=self.station, object=obj))  # fmt: skip
        return t

    def _event(self, d: int, ts_ns: int, name: str, outcome: Literal["success", "failure"] | None,
               duration: int | None, role: Literal["request", "response"], action: OtAction,
               anomalies: list[str] | None, s7: S7comm) -> Event:  # fmt: skip
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="s7comm", role=role, action=action, anomalies=anomalies, s7comm=s7),
        )

    def read_job(self, d: int, h: Header, fields: dict[str, Any], ts_ns: int,
                 anomalies: list[str] | None) -> Event:  # fmt: skip
        """A read var job whose parameter parsed to `fields` (the session's cached object, repeated
        by polling): its OtAction and S7comm are made once, each event takes its PDU reference.
        The same event as `message`."""
        hit = self.read_jobs.get(id(fields))
        if hit is None or hit[0] is not fields:
            if len(self.read_jobs) >= 256:
                self.read_jobs.clear()
            items = fields["items"]
            _, _, s7items, (span, area_name, target_db) = self._converted(items)
            code = FUNCTIONS[READ_VAR]
            action = OtAction(operation=code.operation, address=span,  # type: ignore[arg-type]
                              values=s7items[0].values if len(items) == 1 else None,
                              target=self._target(target_db, area_name or code.object))
            s7 = S7comm(rosctr=h.rosctr, rosctr_name=ROSCTR[h.rosctr], pdu_reference=0,
                        rack=self.rack, slot=self.slot, function_code=READ_VAR,
                        function=code.name, item_count=fields["item_count"], items=s7items)
            hit = self.read_jobs[id(fields)] = (fields, action, s7)
        return self._event(d, ts_ns, FUNCTIONS[READ_VAR].name, None, None, "request", hit[1],
                           anomalies, replace(hit[2], pdu_reference=h.pdu_reference))

    def write_job(self, d: int, h: Header, fields: dict[str, Any], values: list[dict[str, Any]],
                  ts_ns: int, anomalies: list[str] | None) -> Event:  # fmt: skip
        """A write var job of S7ANY items: `fields` holds the (cached) addresses, `values` this
        PDU's data items. The same event as `message` with the items merged."""
        items = fields["items"]
        _, addrs, _, (span, area_name, target_db) = self._converted(items)
        s7items = [_answer(addr, it) for addr, it in zip(addrs, values, strict=True)]
        code = FUNCTIONS[WRITE_VAR]
        action = OtAction(operation=code.operation, address=span,  # type: ignore[arg-type]
                          values=s7items[0].values if len(items) == 1 else None,
                          target=self._target(target_db, area_name or code.object))
        s7 = S7comm(rosctr=h.rosctr, rosctr_name=ROSCTR[h.rosctr], pdu_reference=h.pdu_reference,
                    rack=self.rack, slot=self.slot, function_code=WRITE_VAR, function=code.name,
                    item_count=fields["item_count"], items=s7items)  # fmt: skip
        return self._event(d, ts_ns, code.name, None, None, "request", action, anomalies, s7)

    def rw_response(self, d: int, h: Header, fc: int, fields: dict[str, Any], ts_ns: int,
                    request: Request, anomalies: list[str] | None) -> Event | None:
        """A read/write var answer paired with a request of as many items, built directly (the
        same event as `message`); None when `message` has to do it."""
        req = request[3]
        req_items = req.get("items")
        items = fields["items"]
        if req_items is None or len(req_items) != len(items) or not _BORROWED.isdisjoint(req):
            return None
        # polling answers repeat: the session hands the same parsed fields for the same bytes,
        # so items, item outcome and OtAction are made once per (answer, request items)
        hit = self.answers.get((id(fields), id(req_items)))
        if hit is None or hit[0] is not fields or hit[1] is not req_items:
            failed = False
            for it in items:
                rc = it["return_code"]
                if rc != SUCCESS and rc != 0:
                    failed = True
                    break
            _, addrs, _, (span, area_name, target_db) = self._converted(req_items)
            s7items = [_answer(addr, it) for addr, it in zip(addrs, items, strict=True)]
            code = FUNCTIONS[fc]
            action = OtAction(operation=code.operation, address=span,  # type: ignore[arg-type]
                              values=s7items[0].values if len(items) == 1 else None,
                              target=self._target(target_db, area_name or code.object))
            if len(self.answers) >= 256:
                self.answers.clear()
            hit = self.answers[(id(fields), id(req_items))] = (fields, req_items, s7items, failed,
                                                               action)  # fmt: skip
        _, _, s7items, failed, action = hit
        outcome: Literal["success", "failure"] = (
            "failure" if failed or h.error_class else "success")  # fmt: skip
        code = FUNCTIONS[fc]
        ecls, ecode = h.error_class, h.error_code
        error = None
        if ecls or ecode:
            ecls, ecode = ecls or 0, ecode or 0
            error = ERROR_CODES.get((ecls << 8) | ecode) or ERROR_CLASSES.get(ecls) or f"unknown-{ecls}"
        s7 = S7comm(rosctr=ACK_DATA, rosctr_name=ROSCTR[ACK_DATA], pdu_reference=h.pdu_reference,
                    rack=self.rack, slot=self.slot, function_code=fc, function=code.name,
                    error_class=ecls, error_code=ecode, error=error, item_count=fields["item_count"],
                    items=s7items, request_frame=request[0])  # fmt: skip
        return self._event(d, ts_ns, code.name, outcome, ts_ns - request[1], "response", action,
                           anomalies, s7)

    def message(self, d: int, h: Header, fc: int | None, group: int | None, sub: int | None,
                fields: dict[str, Any], is_request: bool | None, ts_ns: int,
                request: Request | None, anomalies: list[str] | None) -> Event:  # fmt: skip
        rosctr = h.rosctr
        f = dict(fields)
        obj = None
        if fc is not None:
            code = FUNCTIONS.get(fc)
            name, op = (code.name, code.operation) if code else (f"unknown-{fc}", "other")
            obj = code.object if code else None
            f["function_code"], f["function"] = fc, name
            if fc == PLC_CONTROL:  # named by its PI service (the response's from its request)
                pi = request[3] if request is not None and "pi_service" not in f else f
                service = pi.get("pi_service")
                if service is not None:
                    name, op = PI_SERVICES.get(service, PI_SERVICES.get(service[:3], (name, op)))
                    if service == "P_PROGRAM" and (pi.get("pi_arguments") or "").startswith("C"):
                        name = "plc_cold_start"
        elif rosctr == USERDATA and group is not None:
            g = UD_GROUPS.get(group)
            gname, op = (g.name, g.operation) if g else (f"unknown-{group}", "other")
            obj = g.object if g else None
            f["userdata_group"], f["userdata_group_name"] = group, gname
            name = gname
            if sub is not None and group == GROUP_MODE:
                # mode transition: this byte is the CPU's new mode (Wireshark's
                # s7comm.param.modetrans.subfunc), not a subfunction
                f["cpu_mode"] = sub
                f["cpu_mode_name"] = CPU_MODES.get(sub, f"unknown-{sub}")
            elif sub is not None:
                sname, sop = UD_SUBFUNCTIONS.get((group, sub), (f"unknown-{sub}", None))
                f["userdata_subfunction"], f["userdata_subfunction_name"] = sub, sname
                name, op = sname, sop or op
            utype = f.get("userdata_type")
            if utype is not None:
                f["userdata_type"] = UD_TYPES.get(utype, f"unknown-{utype}")
        elif request is not None and request[2] is not None and rosctr == ACK:
            # an Ack carries no parameter: it is named after the job it acknowledges
            code = FUNCTIONS.get(request[2])
            name, op = (code.name, code.operation) if code else (f"unknown-{request[2]}", "other")
            service = request[3].get("pi_service")
            if request[2] == PLC_CONTROL and service is not None:
                name, op = PI_SERVICES.get(service, PI_SERVICES.get(service[:3], (name, op)))
        else:
            name, op = ROSCTR.get(rosctr, f"rosctr-{rosctr}"), "other"
        outcome: Literal["success", "failure"] | None = None
        duration = None
        if is_request is False:
            outcome = "success"
            if h.error_class or f.get("error_code") or f.get("return_code", SUCCESS) not in (
                    SUCCESS, 0):  # fmt: skip
                outcome = "failure"
            if request is not None:
                f["request_frame"] = request[0]
                duration = ts_ns - request[1]
                req = request[3]
                if not _BORROWED.isdisjoint(req):
                    for k in _BORROWED.intersection(req):
                        f.setdefault(k, req[k])
        if h.error_class is not None:
            f["error_class"], f["error_code"] = h.error_class, h.error_code
            if h.error_class or h.error_code:
                f["error"] = (ERROR_CODES.get((h.error_class << 8) | h.error_code)  # type: ignore[operator]
                              or ERROR_CLASSES.get(h.error_class) or f"unknown-{h.error_class}")
        elif f.get("error_code"):  # userdata: a 16-bit code in the parameter
            f["error"] = ERROR_CODES.get(f["error_code"]) or f"unknown-{f['error_code']}"
        span = target_db = values = None
        items = f.get("items")
        if items is not None:
            req_items = request[3].get("items") if request is not None else None
            if req_items is not None and len(req_items) != len(items):
                req_items = None
            if is_request is False:
                for it in items:
                    if it.get("return_code", SUCCESS) not in (SUCCESS, 0):
                        outcome = "failure"
                        break
            if is_request or req_items is not None:
                hit = self._converted(req_items or items)
                span, area_name, target_db = hit[3]
                f["items"] = hit[2] if is_request else [
                    replace(addr, **_kw(it, addr.transport_size))
                    for addr, it in zip(hit[1], items, strict=True)]
            else:
                span, area_name, target_db = _span(items)
                f["items"] = [S7Item(**_kw(it)) for it in items]
            obj = area_name or obj
            if len(items) == 1:
                values = f["items"][0].values
        if "szl_id" in f:
            sid = f["szl_id"]
            f["szl_id_name"] = SZL_NAMES.get(sid, SZL_NAMES.get(sid & 0xFF, f"unknown-{sid}"))
            if "szl_records" in f:
                f["szl_records"] = _szl_records(sid, f["szl_records"])
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(
                protocol="s7comm",
                role=None if is_request is None else "request" if is_request else "response",
                action=OtAction(operation=op, address=span, values=values,  # type: ignore[arg-type]
                                target=self._target(target_db, obj)),
                anomalies=anomalies,
                s7comm=S7comm(rosctr=rosctr, rosctr_name=ROSCTR.get(rosctr, f"unknown-{rosctr}"),
                              pdu_reference=h.pdu_reference, rack=self.rack, slot=self.slot,
                              **f),  # fmt: skip
            ),
        )

    def plus(self, d: int, p: PlusPdu, is_request: bool | None, ts_ns: int,
             request: Request | None, anomalies: list[str] | None) -> Event:  # fmt: skip
        fn = p.function_code
        if fn is None and request is None:
            code = None
        else:
            fn = fn if fn is not None else request[2] if request else None
            code = PLUS_FUNCTIONS.get(fn) if fn is not None else None
        fname = None if fn is None else code.name if code else f"unknown-{fn}"
        opname = None if p.opcode is None else PLUS_OPCODES.get(p.opcode, f"unknown-{p.opcode}")
        action = fname or ("keepalive" if p.version == 0xFE else opname or "unknown")
        duration = request_frame = None
        if request is not None:
            request_frame, duration = request[0], ts_ns - request[1]
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=action, dataset="ot.s7comm_plus", duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(
                protocol="s7comm_plus",
                role=None if is_request is None else "request" if is_request else "response",
                action=OtAction(operation=code.operation if code else "other",  # type: ignore[arg-type]
                                target=Target(object=code.object) if code and code.object else None),
                anomalies=anomalies,
                s7comm_plus=S7commPlus(version=p.version, opcode=p.opcode, opcode_name=opname,
                                       function_code=fn, function=fname,
                                       sequence_number=p.sequence_number,
                                       session_id=p.session_id, integrity=p.integrity,
                                       transport_flags=p.transport_flags,
                                       data_length=p.data_length,
                                       request_frame=request_frame),  # fmt: skip
            ),
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "s7comm", d, ts_ns, code, text)


def identity(server: Endpoint, ts_ns: int, szl_id: int, records: list[bytes]) -> Event | None:
    """SZL module (0x0011) / component (0x001C) identification → an asset observation."""
    recs = _szl_records(szl_id, records)
    if not recs:
        return None
    v = {r.index: r.value for r in recs}
    low = szl_id & 0xFF
    if low == 0x11:
        fw = next((r.version for r in recs if r.index == 7), None)
        asset = Asset(ip=server.ip, mac=server.mac, product_code=v.get(1) or None, revision=fw)
    else:
        asset = Asset(ip=server.ip, mac=server.mac, name=v.get(1) or None, product=v.get(2) or None,
                      serial=v.get(5) or None, model=v.get(7) or None)  # fmt: skip
    if asset == Asset(ip=server.ip, mac=server.mac):
        return None
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action="read_szl", dataset=DATASET),  # fmt: skip
        asset=asset,
        ot=Ot(protocol="s7comm"),
    )
