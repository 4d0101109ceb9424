"""Suricata EVE JSON (one record per line) → ECS events.

alert → an alert event (`event.kind = alert`) naming the signature as its rule (`rule.id` = sid,
`ruleset` = suricata), Suricata's severity 1/2/3 as our high/medium/low, ATT&CK ids from the
rule's metadata; flow, anomaly, dns (v1/v2 and v3 layouts), http, tls, fileinfo → network events;
modbus, dnp3 and enip records → the same `ot.*` events our decoders emit, so the OT rule pack runs
on them. Records of other types (stats, smb, netflow, ...) are left out: they are not corrupt. A
line that is not a JSON object, or a record of an imported type that cannot be used, is one
Corrupt; the rest is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec

from ..decode.dnp3.constants import FUNCTIONS as DNP3_FUNCTIONS
from ..decode.dnp3.constants import LINK_PRIMARY, LINK_SECONDARY
from ..decode.enip.constants import COMMANDS as ENIP_COMMANDS
from ..decode.enip.constants import COMMON_SERVICES
from ..decode.modbus.constants import EXCEPTIONS as MODBUS_EXCEPTIONS
from ..decode.modbus.constants import FUNCTIONS as MODBUS_FUNCTIONS
from ..schema import (
    AddressRange,
    Dnp3,
    Endpoint,
    Event,
    EventMeta,
    Modbus,
    Network,
    Observer,
    Ot,
    OtAction,
    Target,
    Technique,
    Threat,
)
from ..schema.events import (
    Cip,
    Dns,
    DnsAnswer,
    DnsQuestion,
    Enip,
    Http,
    HttpBody,
    HttpRequest,
    HttpResponse,
    RuleRef,
    Suricata,
    SuricataEve,
    Tls,
    TlsClient,
    TlsServer,
    UserAgent,
)
from ..schema.time import parse_rfc3339
from . import Corrupt, Format
from ._common import event_id, integer, ip, iso_time, lines, port, text
from .zeek import file_facts, http_url, tls_version

OBSERVER = Observer(product="suricata")
_JSON = msgspec.json.Decoder()
SEVERITY = {1: 4, 2: 3, 3: 2}  # Suricata 1 (highest) .. 3 → our high, medium, low; 4+ informational


def sniff(head: bytes, name: str) -> bool:
    first = head.lstrip()[:8192].split(b"\n", 1)[0]
    return first.startswith(b"{") and b'"event_type"' in first and b'"timestamp"' in first


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ends(r: dict[str, Any]) -> tuple[Endpoint | None, Endpoint | None]:
    src = Endpoint(ip=ip(r.get("src_ip")), port=port(r.get("src_port")))
    dst = Endpoint(ip=ip(r.get("dest_ip")), port=port(r.get("dest_port")))
    return (src if src.ip else None, dst if dst.ip else None)


def _network(r: dict[str, Any], protocol: str | None = None) -> Network:
    proto = text(r.get("proto"))
    return Network(transport=proto.lower() if proto else None,
                   protocol=protocol or text(r.get("app_proto")), community_id=text(r.get("community_id")),
                   vlan_id=(r.get("vlan") or [None])[0] if isinstance(r.get("vlan"), list) else None)  # fmt: skip


def _eve(r: dict[str, Any], etype: str) -> Suricata:
    return Suricata(eve=SuricataEve(event_type=etype, flow_id=integer(r.get("flow_id")),
                                    tx_id=integer(r.get("tx_id")), in_iface=text(r.get("in_iface")),
                                    app_proto=text(r.get("app_proto")),
                                    flow_state=text(_d(r.get("flow")).get("state"))))  # fmt: skip


def _event(r: dict[str, Any], etype: str, origin: str, n: int, ts: str, *, category: list[str],
           type_: list[str] | None, action: str | None, kind: str = "event", **fields: Any) -> Event:  # fmt: skip
    meta = EventMeta(id=event_id(origin, n), kind=kind, category=category, type=type_,  # type: ignore[arg-type]
                     action=action, dataset=f"suricata.{etype}", outcome=fields.pop("outcome", None),
                     duration=fields.pop("duration", None), severity=fields.pop("severity", None))  # fmt: skip
    if "source" not in fields and "destination" not in fields:
        fields["source"], fields["destination"] = _ends(r)
    fields.setdefault("network", _network(r))
    return Event(timestamp=ts, event=meta, observer=OBSERVER, suricata=_eve(r, etype), **fields)


# -- application layers (also found inside alert records) ------------------------------------------
def _dns(d: dict[str, Any]) -> Dns | None:
    if not d:
        return None
    queries = d.get("queries") if isinstance(d.get("queries"), list) else None
    q = _d(queries[0]) if queries else d
    answers: list[DnsAnswer] = []
    for a in d.get("answers") or []:
        a = _d(a)
        data = text(a.get("rdata"))
        if data is not None:
            answers.append(DnsAnswer(data=data, type=text(a.get("rrtype")), ttl=integer(a.get("ttl")),
                                     name=text(a.get("rrname"))))  # fmt: skip
    for rrtype, values in _d(d.get("grouped")).items():  # v2 "grouped" answers
        if not answers and isinstance(values, list):
            answers += [DnsAnswer(data=str(v), type=rrtype) for v in values if not isinstance(v, dict)]
    if d.get("type") == "answer" and d.get("rdata") is not None and not answers:  # v1: one per record
        answers.append(DnsAnswer(data=str(d["rdata"]), type=text(d.get("rrtype")), ttl=integer(d.get("ttl"))))
    resolved = [x for x in (ip(a.data) for a in answers) if x]
    dtype = text(d.get("type"))
    return Dns(id=integer(d.get("id")), type="answer" if dtype == "answer" or answers or d.get("rcode")
               else "query", question=DnsQuestion(name=text(q.get("rrname")), type=text(q.get("rrtype"))),
               answers=answers or None, resolved_ip=resolved or None,
               response_code=text(d.get("rcode")))  # fmt: skip


def _http(h: dict[str, Any]) -> tuple[Http | None, UserAgent | None]:
    if not h:
        return None, None
    status = integer(h.get("status"))
    length = integer(h.get("length"))
    http = Http(version=(text(h.get("protocol")) or "").removeprefix("HTTP/") or None,
                request=HttpRequest(method=text(h.get("http_method")), referrer=text(h.get("http_refer"))),
                response=HttpResponse(status_code=status, mime_type=text(h.get("http_content_type")),
                                      body=HttpBody(bytes=length) if length is not None else None)
                if status is not None or length is not None else None)  # fmt: skip
    ua = text(h.get("http_user_agent"))
    return http, UserAgent(original=ua) if ua else None


def _tls(t: dict[str, Any]) -> Tls | None:
    if not t:
        return None
    proto, version = tls_version(text(t.get("version")))
    return Tls(version=version, version_protocol=proto,
               client=TlsClient(server_name=text(t.get("sni")), ja3=text(_d(t.get("ja3")).get("hash"))),
               server=TlsServer(ja3s=text(_d(t.get("ja3s")).get("hash")), subject=text(t.get("subject")),
                                issuer=text(t.get("issuerdn")), not_before=iso_time(t.get("notbefore")),
                                not_after=iso_time(t.get("notafter"))))  # fmt: skip


def _app_fields(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (dns := _dns(_d(r.get("dns")))) is not None:
        out["dns"] = dns
    h = _d(r.get("http"))
    http, ua = _http(h)
    if http is not None:
        out["http"], out["user_agent"] = http, ua
        out["url"] = http_url(text(h.get("url")), text(h.get("hostname")), port(r.get("dest_port")))
    if (tls := _tls(_d(r.get("tls")))) is not None:
        out["tls"] = tls
    return out


# -- OT records -------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_ENIP_BY_NAME = {_norm(v[0]): k for k, v in ENIP_COMMANDS.items()}
_CIP_BY_NAME = {_norm(v[0]): k for k, v in COMMON_SERVICES.items()}
_DNP3_LINK = {**{(1, k): v for k, v in LINK_PRIMARY.items()}, **{(0, k): v for k, v in LINK_SECONDARY.items()}}


def _modbus_ot(m: dict[str, Any]) -> tuple[Ot, str, str | None] | None:
    req, resp = _d(m.get("request")), _d(m.get("response"))
    part = req or resp
    if not part:
        return None
    fc = integer(part.get("function_raw"))
    if fc is None:
        return None
    fc &= 0x7F
    f = MODBUS_FUNCTIONS.get(fc)
    name = f.name if f else f"unknown-{fc}"
    exc = integer(resp.get("exception_code")) if resp else None
    if exc is None and resp and isinstance(resp.get("exception"), (int, str)):
        exc = integer(resp.get("exception"))
    read = _d(req.get("read")) or _d(req.get("write"))
    start, qty = integer(read.get("address")), integer(read.get("quantity"))
    unit = integer(part.get("unit_id"))
    sub = integer(req.get("subfunction")) if req else None
    mb = Modbus(transaction_id=integer(part.get("transaction_id")), unit_id=unit, function_code=fc,
                function=name, exception_code=exc,
                exception=MODBUS_EXCEPTIONS.get(exc, f"unknown-{exc}") if exc is not None else None,
                subfunction=sub, address=start, quantity=qty)  # fmt: skip
    op = f.operation if f else "other"
    span = AddressRange(start=start, end=start + max((qty or 1) - 1, 0)) if start is not None else None
    outcome = None if not resp else "failure" if exc is not None else "success"
    return (Ot(protocol="modbus", role="request" if req else "response",
               action=OtAction(operation=op, target=Target(unit=unit, object=f.object if f else None),  # type: ignore[arg-type]
                               address=span), modbus=mb), name, outcome)  # fmt: skip


def _dnp3_ot(d: dict[str, Any]) -> tuple[Ot, str, str | None] | None:
    app = _d(d.get("application"))
    fc = integer(app.get("function_code"))
    control = _d(d.get("control"))
    link = None
    if control:
        link = _DNP3_LINK.get((1 if control.get("pri") else 0, integer(control.get("function_code"))))
    f = DNP3_FUNCTIONS.get(fc) if fc is not None else None
    name = f.name if f else (f"unknown-{fc}" if fc is not None else f"link_{link or 'frame'}")
    iin_d = _d(d.get("iin"))
    iin = None
    if iin_d.get("indicators") is not None or iin_d:
        iin = integer(iin_d.get("raw")) if iin_d.get("raw") is not None else None
    app_ctl = _d(app.get("control"))
    dnp3 = Dnp3(source=integer(d.get("src")), destination=integer(d.get("dst")), link_function=link,
                function_code=fc, function=f.name if f else None,
                sequence=integer(app_ctl.get("sequence")),
                first=app_ctl.get("fir") if isinstance(app_ctl.get("fir"), bool) else None,
                final=app_ctl.get("fin") if isinstance(app_ctl.get("fin"), bool) else None,
                confirm=app_ctl.get("con") if isinstance(app_ctl.get("con"), bool) else None,
                unsolicited=app_ctl.get("uns") if isinstance(app_ctl.get("uns"), bool) else None,
                iin=iin, iin_flags=[str(x) for x in iin_d.get("indicators") or []] or None)  # fmt: skip
    dtype = text(d.get("type")) or ""
    is_request = dtype == "request"
    outstation = dnp3.destination if is_request else dnp3.source
    return (Ot(protocol="dnp3", role="request" if is_request else "response",
               action=OtAction(operation=f.operation if f else "session",  # type: ignore[arg-type]
                               target=Target(unit=outstation) if outstation is not None else None),
               dnp3=dnp3), name, None)  # fmt: skip


def _enip_ot(e: dict[str, Any]) -> tuple[Ot, str, str | None] | None:
    req, resp = _d(e.get("request")), _d(e.get("response"))
    part = req or resp
    raw = part.get("command")
    cmd = integer(raw) if not isinstance(raw, str) or raw[:2] == "0x" else _ENIP_BY_NAME.get(_norm(raw))
    name, op = ENIP_COMMANDS.get(cmd, (None, "other")) if cmd is not None else (None, "other")
    name = name or (_norm(raw) if isinstance(raw, str) else "unknown")
    status = text(part.get("status"))
    enip = Enip(command=cmd, command_name=name, session_handle=integer(part.get("session")),
                status_name=status.lower() if status else None)  # fmt: skip
    cip = None
    c = _d(part.get("cip"))
    if c:
        sraw = c.get("service")
        svc = integer(sraw) if not isinstance(sraw, str) or sraw[:2] == "0x" else _CIP_BY_NAME.get(_norm(sraw))
        if svc is not None:
            sname, op = COMMON_SERVICES.get(svc & 0x7F, (f"unknown-{svc & 0x7F}", "other"))
            name = sname
            cip = Cip(service=svc & 0x7F, service_name=sname, class_id=integer(c.get("class")),
                      instance_id=integer(c.get("instance")), attribute_id=integer(c.get("attribute")),
                      status=integer(c.get("status")))  # fmt: skip
    outcome = None if not resp or status is None else "success" if status.lower() == "success" else "failure"
    return (Ot(protocol="enip", role="request" if req else "response",
               action=OtAction(operation=op), enip=enip, cip=cip), name, outcome)  # type: ignore[arg-type]  # fmt: skip


_OT = {"modbus": _modbus_ot, "dnp3": _dnp3_ot, "enip": _enip_ot}


# -- records ----------------------------------------------------------------------------------------
def _alert(r: dict[str, Any], origin: str, n: int, ts: str) -> Event:
    a = _d(r.get("alert"))
    sid, sig = integer(a.get("signature_id")), text(a.get("signature")) or "Suricata alert"
    sev = integer(a.get("severity"))
    meta = _d(a.get("metadata"))
    techniques = sorted({str(t) for k in ("mitre_technique_id", "mitre_attack") for t in meta.get(k) or []
                         if re.fullmatch(r"T\d{4}(\.\d{3})?", str(t))})  # fmt: skip
    action = text(a.get("action")) or "allowed"
    fields = _app_fields(r)
    for proto, conv in _OT.items():
        if r.get(proto):
            got = conv(_d(r.get(proto)))
            if got is not None:
                fields["ot"] = got[0]
    return _event(r, "alert", origin, n, ts, kind="alert", category=["intrusion_detection", "network"],
                  type_=["denied" if action == "blocked" else "allowed"], action=action,
                  severity=SEVERITY.get(sev, 1) if sev is not None else 3, message=sig,
                  rule=RuleRef(id=str(sid) if sid is not None else sig, name=sig,
                               description=text(a.get("category")), ruleset="suricata"),
                  threat=Threat(framework="MITRE ATT&CK", technique=Technique(id=techniques))
                  if techniques else None, **fields)  # fmt: skip


def _flow(r: dict[str, Any], origin: str, n: int, ts: str) -> Event:
    f = _d(r.get("flow"))
    src, dst = _ends(r)
    if src is not None:
        src.bytes, src.packets = integer(f.get("bytes_toserver")), integer(f.get("pkts_toserver"))
    if dst is not None:
        dst.bytes, dst.packets = integer(f.get("bytes_toclient")), integer(f.get("pkts_toclient"))
    start, end = iso_time(f.get("start")), iso_time(f.get("end"))
    duration = None
    if start and end:
        a, b = parse_rfc3339(start), parse_rfc3339(end)
        duration = b - a if a is not None and b is not None and b >= a else None
    state = text(f.get("state"))
    return _event(r, "flow", origin, n, ts, category=["network"], type_=["connection", "end"],
                  action="flow", duration=duration, source=src, destination=dst,
                  message=f"flow {state or ''} ({text(f.get('reason')) or 'no reason'})".strip())  # fmt: skip


def _anomaly(r: dict[str, Any], origin: str, n: int, ts: str) -> Event:
    a = _d(r.get("anomaly"))
    ev = text(a.get("event")) or "anomaly"
    return _event(r, "anomaly", origin, n, ts, category=["network"], type_=["info", "error"],
                  action=ev.lower(), message=f"{text(a.get('type')) or 'anomaly'}: {ev}"
                  + (f" ({a['layer']})" if a.get("layer") else ""))  # fmt: skip


def _protocol_record(r: dict[str, Any], etype: str, origin: str, n: int, ts: str) -> Event:
    fields = _app_fields(r)
    action = {"dns": "dns_query", "http": "http_request", "tls": "tls_handshake"}[etype]
    category = ["network", "web"] if etype == "http" else ["network"]
    outcome = None
    if etype == "http" and (status := integer(_d(r.get("http")).get("status"))) is not None:
        outcome = "success" if status < 400 else "failure"
        h = _d(r.get("http"))
        fields["message"] = f"{h.get('http_method') or '-'} {h.get('hostname') or ''}{h.get('url') or ''} {status}"
        host = text(h.get("hostname"))
        _, dst = _ends(r)
        if dst is not None and host and not ip(host):
            dst.domain = host
            fields["destination"] = dst
    if etype == "dns" and fields.get("dns") is not None and fields["dns"].response_code:
        outcome = "success" if fields["dns"].response_code == "NOERROR" else "failure"
    return _event(r, etype, origin, n, ts, category=category, type_=["protocol"], action=action,
                  outcome=outcome, **fields)  # fmt: skip


def _fileinfo(r: dict[str, Any], origin: str, n: int, ts: str) -> Event:
    f = _d(r.get("fileinfo"))
    facts = [f"{k}={f[k]}" for k in ("filename", "magic", "size", "state", "md5", "sha1", "sha256")
             if f.get(k) not in (None, "")]  # fmt: skip
    return _event(r, "fileinfo", origin, n, ts, category=["file"], type_=["info"], action="file_transfer",
                  message="file " + " ".join(facts),
                  file=file_facts(f.get("filename"), f.get("size"), f.get("md5"), f.get("sha1"),
                                  f.get("sha256")), **_app_fields(r))  # fmt: skip


def _ot_record(r: dict[str, Any], etype: str, origin: str, n: int, ts: str) -> Event | None:
    got = _OT[etype](_d(r.get(etype)))
    if got is None:
        return None
    ot, name, outcome = got
    if ot.role == "response":  # EVE gives the flow's client→server tuple; a response goes back
        src, dst = _ends(r)
        return _event(r, etype, origin, n, ts, category=["network"], type_=["protocol"], action=name,
                      outcome=outcome, ot=ot, source=dst, destination=src)  # fmt: skip
    return _event(r, etype, origin, n, ts, category=["network"], type_=["protocol"], action=name,
                  outcome=outcome, ot=ot)  # fmt: skip


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    for n, raw in lines(stream):
        if raw is None:
            yield Corrupt(f"line {n}", "line too long")
            continue
        if not raw.strip():
            continue
        try:
            r = _JSON.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            yield Corrupt(f"line {n}", f"invalid JSON: {e}")
            continue
        if not isinstance(r, dict):
            yield Corrupt(f"line {n}", "not a JSON object")
            continue
        etype = text(r.get("event_type")) or ""
        ts = iso_time(r.get("timestamp"))
        if ts is None:
            yield Corrupt(f"line {n}", f"timestamp {r.get('timestamp')!r} is not a time")
            continue
        try:
            ev = _record(r, etype, source, n, ts)
        except (TypeError, ValueError, AttributeError, msgspec.ValidationError) as e:
            yield Corrupt(f"line {n}", f"{etype} record not usable: {e}")
            continue
        if isinstance(ev, Event):
            ev.event.original = raw.decode("utf-8", "replace")
            ev.event.module = "suricata"
            yield ev
        elif ev is None and etype in _OT:
            yield Corrupt(f"line {n}", f"{etype} record without a request or response")
        # other event types (stats, smb, netflow, ...) are not imported: left out, not corrupt


def _record(r: dict[str, Any], etype: str, source: str, n: int, ts: str) -> Event | None:
    if etype == "alert":
        return _alert(r, source, n, ts)
    if etype == "flow":
        return _flow(r, source, n, ts)
    if etype == "anomaly":
        return _anomaly(r, source, n, ts)
    if etype in ("dns", "http", "tls"):
        return _protocol_record(r, etype, source, n, ts)
    if etype == "fileinfo":
        return _fileinfo(r, source, n, ts)
    if etype in _OT:
        return _ot_record(r, etype, source, n, ts)
    return None


FORMAT = Format(name="suricata-eve", sniff=sniff, read=read)
