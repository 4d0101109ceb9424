"""Zeek logs (TSV with `#fields` headers, or JSON lines) → ECS events.

IT logs: conn, dns, http, ssl, files, notice, weird, dhcp. OT logs of Zeek's own analyzers and of
CISA's ICSNPP plugins (modbus, dnp3, s7comm, s7comm_plus, enip, cip, cip_identity, bacnet,
opcua_binary, profinet_io_cm) become the same `ot.*` events our decoders emit: `ot.protocol`,
`ot.role`, `ot.action.operation` and the protocol's codes mean what they mean in `decode/`, so the
OT rule pack runs on them unchanged. Detail logs that repeat the messages of their protocol's main
log (modbus_detailed, dnp3_control, dnp3_objects, s7comm_read_szl, opcua_binary_* detail tables,
...) are not imported: each message is one event, from the main log.

A log whose header was stripped (Zeek's test baselines keep only the rows) is still read when its
name and column count match a layout known here. One `Corrupt` per unusable row (bad time, wrong
column count, invalid JSON); the rest of the log is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import msgspec

from ..decode.dnp3.constants import FUNCTIONS as DNP3_FUNCTIONS
from ..decode.enip.constants import (
    COMMANDS as ENIP_COMMANDS,
)
from ..decode.enip.constants import (
    COMMON_SERVICES,
    CONNECTION_MANAGER_SERVICES,
    FILE_SERVICES,
)
from ..decode.modbus.constants import EXCEPTIONS as MODBUS_EXCEPTIONS
from ..decode.modbus.constants import FUNCTIONS as MODBUS_FUNCTIONS
from ..decode.s7comm.constants import FUNCTIONS as S7_FUNCTIONS
from ..decode.s7comm.constants import (
    PLUS_FUNCTIONS,
    PLUS_OPCODES,
    UD_GROUPS,
    UD_SUBFUNCTIONS,
    UD_TYPES,
)
from ..schema import (
    Asset,
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
)
from ..schema.events import (
    Cip,
    Dns,
    DnsAnswer,
    DnsQuestion,
    Enip,
    File,
    Hash,
    Http,
    HttpBody,
    HttpRequest,
    HttpResponse,
    RuleRef,
    S7comm,
    S7commPlus,
    Tls,
    TlsClient,
    TlsServer,
    Url,
    UserAgent,
    Zeek,
)
from . import Corrupt, Format
from ._common import epoch_time, event_id, integer, ip, iso_time, lines, port, text

OBSERVER = Observer(product="zeek")
_JSON = msgspec.json.Decoder()

# Layouts of logs whose header is missing, by (path, number of columns). Field names as Zeek writes
# them (base analyzers of Zeek 6/7, CISA ICSNPP plugins' current releases).
_ID = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"]
_DIR = ["is_orig", "source_h", "source_p", "destination_h", "destination_p"]
KNOWN_LAYOUTS: dict[tuple[str, int], list[str]] = {
    ("modbus", 8): [*_ID, "func", "exception"],
    ("modbus", 11): [*_ID, "tid", "unit", "func", "pdu_type", "exception"],
    ("modbus", 16): [*_ID, *_DIR, "tid", "unit", "func", "network_direction", "exception"],
    ("dnp3", 9): [*_ID, "fc_request", "fc_reply", "iin"],
    ("enip", 18): [*_ID, *_DIR, "enip_command_code", "enip_command", "length", "session_handle",
                   "enip_status", "sender_context", "options"],
    ("cip", 23): [*_ID, *_DIR, "cip_sequence_count", "direction", "cip_service_code", "cip_service",
                  "cip_status_code", "cip_status", "cip_extended_status_code", "cip_extended_status",
                  "class_id", "class_name", "instance_id", "attribute_id"],
}  # fmt: skip

_HEADERLESS = ("### ",)  # btest baseline banner


def sniff(head: bytes, name: str) -> bool:
    """Zeek TSV (a `#separator` / `#fields` header), or JSON lines with Zeek's `uid`/`id.orig_h`
    keys or `_path`."""
    start = head.lstrip()[:4096]
    if start.startswith(b"#separator") or b"\n#fields\t" in head[:8192]:
        return True
    if start.startswith(b"{"):
        first = start.split(b"\n", 1)[0]
        return (b'"id.orig_h"' in first or b'"_path"' in first) and b'"ts"' in first \
            and b'"event_type"' not in first  # fmt: skip
    # a header-stripped btest baseline of a log whose layout is known
    stem = _path_from_name(name)
    if start.startswith(b"### BTest") and stem:
        rows = [r for r in head.split(b"\n")[1:3] if r and not r.startswith(b"#")]
        return bool(rows) and (stem, rows[0].count(b"\t") + 1) in KNOWN_LAYOUTS
    return False


def _path_from_name(name: str) -> str | None:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = re.match(r"([a-z0-9_]+?)(?:\.\d{2}:\d{2}:\d{2}-\d{2}:\d{2}:\d{2})?\.(?:log|json)", base)
    return m.group(1) if m else None


class _Header:
    def __init__(self) -> None:
        self.sep = "\t"
        self.set_sep = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path: str | None = None
        self.fields: list[str] | None = None
        self.types: list[str] | None = None


def _unescape(value: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value) \
        if "\\x" in value else value  # fmt: skip


def _tsv_value(raw: str, typ: str | None, h: _Header) -> Any:
    if raw == h.unset:
        return None
    container = typ is not None and typ.startswith(("set[", "vector["))
    if container:
        if raw == h.empty:
            return []
        return [_unescape(v) for v in raw.split(h.set_sep)]
    if raw == h.empty:
        return ""
    if typ == "bool":
        return raw == "T"
    return _unescape(raw)


def _records(stream: BinaryIO, name: str) -> Iterator[tuple[int, str | None, dict[str, Any] | Corrupt, str]]:
    """(line, log path, record, the row as read) for every data row of a TSV or JSON Zeek log."""
    h = _Header()
    fallback = _path_from_name(name)
    for n, raw in lines(stream):
        if raw is None:
            yield n, h.path, Corrupt(f"line {n}", "line too long"), ""
            continue
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        if line.startswith("{"):
            try:
                rec = _JSON.decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError) as e:
                yield n, h.path, Corrupt(f"line {n}", f"invalid JSON: {e}"), line
                continue
            if not isinstance(rec, dict):
                yield n, h.path, Corrupt(f"line {n}", "not a JSON object"), line
                continue
            rec = _flatten(rec)
            yield n, text(rec.get("_path")) or h.path or fallback, rec, line
            continue
        if line.startswith("#"):
            _directive(line, h)
            continue
        values = line.split(h.sep)
        fields = h.fields
        if fields is None:
            fields = KNOWN_LAYOUTS.get((h.path or fallback or "", len(values)))
            if fields is None:
                yield n, h.path or fallback, Corrupt(f"line {n}", "a data row before any #fields header "
                                                     "(and no known layout for this log)"), line  # fmt: skip
                continue
        if len(values) != len(fields):
            yield n, h.path or fallback, Corrupt(f"line {n}", f"{len(values)} columns, the header "
                                                 f"names {len(fields)}"), line  # fmt: skip
            continue
        types = h.types if h.types and len(h.types) == len(fields) else [None] * len(fields)
        yield n, h.path or fallback, {f: _tsv_value(v, t, h) for f, v, t in zip(fields, values, types)}, line


def _directive(line: str, h: _Header) -> None:
    if line.startswith("#separator"):
        sep = line[len("#separator"):].strip()
        h.sep = _unescape(sep) if sep else "\t"
        return
    key, _, value = line[1:].partition(h.sep)
    if key == "set_separator":
        h.set_sep = value
    elif key == "empty_field":
        h.empty = value
    elif key == "unset_field":
        h.unset = value
    elif key == "path":
        h.path = value
    elif key == "fields":
        h.fields = value.split(h.sep)
    elif key == "types":
        h.types = value.split(h.sep)


def _flatten(rec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Zeek JSON may nest `id` (`{"id": {"orig_h": ...}}`) or write dotted keys: one form here."""
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# -- common parts ---------------------------------------------------------------------------------
def _time(value: Any) -> str | None:
    return epoch_time(value) if not isinstance(value, str) or not ("-" in value[1:] and "T" in value) \
        else iso_time(value)  # fmt: skip


def _conn_ends(r: dict[str, Any]) -> tuple[Endpoint | None, Endpoint | None]:
    src = Endpoint(ip=ip(r.get("id.orig_h")), port=port(r.get("id.orig_p")))
    dst = Endpoint(ip=ip(r.get("id.resp_h")), port=port(r.get("id.resp_p")))
    return (src if src.ip or src.port is not None else None, dst if dst.ip or dst.port is not None else None)


def _message_ends(r: dict[str, Any], is_request: bool) -> tuple[Endpoint | None, Endpoint | None]:
    """Sender and receiver of one message: ICSNPP's source_h/destination_h where logged, else the
    connection's ends (originator → responder for requests)."""
    if r.get("source_h") is not None:
        return (Endpoint(ip=ip(r.get("source_h")), port=port(r.get("source_p"))),
                Endpoint(ip=ip(r.get("destination_h")), port=port(r.get("destination_p"))))  # fmt: skip
    src, dst = _conn_ends(r)
    return (src, dst) if is_request else (dst, src)


def _duration_ns(value: Any) -> int | None:
    try:
        return round(float(value) * 1e9)
    except (TypeError, ValueError):
        return None


def _zeek(r: dict[str, Any], path: str, **extra: Any) -> Zeek:
    return Zeek(uid=text(r.get("uid")), log=path, **extra)


def _base(r: dict[str, Any], path: str, origin: str, n: int, ts: str, *, kind: str = "event",
          category: list[str], type_: list[str] | None, action: str | None, **fields: Any) -> Event:  # fmt: skip
    meta = EventMeta(id=event_id(origin, n), kind=kind, category=category, type=type_,  # type: ignore[arg-type]
                     action=action, dataset=f"zeek.{path}", outcome=fields.pop("outcome", None),
                     duration=fields.pop("duration", None), severity=fields.pop("severity", None))  # fmt: skip
    zeek = fields.pop("zeek", None) or _zeek(r, path)
    return Event(timestamp=ts, event=meta, observer=OBSERVER, zeek=zeek, **fields)


def _network(r: dict[str, Any], protocol: str | None, transport: str | None = None) -> Network:
    return Network(transport=text(r.get("proto")) or transport, protocol=protocol,
                   community_id=text(r.get("community_id")))  # fmt: skip


def _bool(value: Any) -> bool | None:
    """Zeek's T/F (typed in TSV with a #types header, text without one), JSON true/false."""
    if isinstance(value, bool):
        return value
    return {"T": True, "F": False, "true": True, "false": False}.get(value) if isinstance(value, str) else None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and v != ""]
    return [str(value)]


# -- IT logs ----------------------------------------------------------------------------------------
def _conn(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    if src is not None:
        src.bytes, src.packets = integer(r.get("orig_bytes")), integer(r.get("orig_pkts"))
    if dst is not None:
        dst.bytes, dst.packets = integer(r.get("resp_bytes")), integer(r.get("resp_pkts"))
    state = text(r.get("conn_state"))
    services = _list(r.get("service"))
    outcome = "failure" if state in ("REJ", "S0", "RSTOS0", "RSTRH", "SH", "SHR", "OTH") and \
        not (dst and dst.bytes) else "success" if state else None  # fmt: skip
    return _base(r, path, source, n, ts, category=["network"], type_=["connection"],
                 action="connection", outcome=outcome, duration=_duration_ns(r.get("duration")),
                 source=src, destination=dst,
                 network=_network(r, ",".join(services) or None),
                 zeek=_zeek(r, path, conn_state=state, history=text(r.get("history"))))  # fmt: skip


def _dns(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    answers_raw, ttls = _list(r.get("answers")), r.get("TTLs") or []
    answers = []
    for i, a in enumerate(answers_raw):
        ttl = ttls[i] if isinstance(ttls, list) and i < len(ttls) else None
        t = integer(ttl) if ttl is not None else None
        if t is None and ttl is not None:
            try:
                t = int(float(ttl))
            except (TypeError, ValueError):
                t = None
        answers.append(DnsAnswer(data=a, ttl=t))
    resolved = [x for x in (ip(a) for a in answers_raw) if x]
    flags = [f for f, k in (("AA", "AA"), ("TC", "TC"), ("RD", "RD"), ("RA", "RA")) if r.get(k) is True]
    rcode = text(r.get("rcode_name"))
    dns = Dns(id=integer(r.get("trans_id")), type="answer" if rcode or answers else "query",
              question=DnsQuestion(name=text(r.get("query")), type=text(r.get("qtype_name")),
                                   class_=text(r.get("qclass_name"))),
              answers=answers or None, resolved_ip=resolved or None, response_code=rcode,
              header_flags=flags or None)  # fmt: skip
    outcome = None if rcode is None else "success" if rcode == "NOERROR" else "failure"
    return _base(r, path, source, n, ts, category=["network"], type_=["protocol"],
                 action="dns_query", outcome=outcome, source=src, destination=dst,
                 network=_network(r, "dns"), dns=dns)  # fmt: skip


def _http(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    host = text(r.get("host"))
    if dst is not None and host and not ip(host):
        dst.domain = host
    status = integer(r.get("status_code"))
    req_len, resp_len = integer(r.get("request_body_len")), integer(r.get("response_body_len"))
    orig_mime, resp_mime = _list(r.get("orig_mime_types")), _list(r.get("resp_mime_types"))
    http = Http(version=text(r.get("version")),
                request=HttpRequest(method=text(r.get("method")), referrer=text(r.get("referrer")),
                                    body=HttpBody(bytes=req_len) if req_len is not None else None,
                                    mime_type=orig_mime[0] if orig_mime else None),
                response=HttpResponse(status_code=status,
                                      body=HttpBody(bytes=resp_len) if resp_len is not None else None,
                                      mime_type=resp_mime[0] if resp_mime else None)
                if status is not None or resp_len is not None else None)  # fmt: skip
    ua = text(r.get("user_agent"))
    uri = text(r.get("uri"))
    message = f"{r.get('method') or '-'} {host or ''}{uri or ''} {status if status is not None else '-'}"
    outcome = None if status is None else "success" if status < 400 else "failure"
    return _base(r, path, source, n, ts, category=["network", "web"], type_=["protocol", "access"],
                 action="http_request", outcome=outcome, message=message, source=src,
                 destination=dst, network=_network(r, "http", "tcp"), http=http,
                 url=http_url(uri, host, dst.port if dst else None),
                 user_agent=UserAgent(original=ua) if ua else None)  # fmt: skip


def http_url(uri: str | None, host: str | None, dport: int | None) -> Url | None:
    """ECS url.* of a request: `uri` as sent (a path, or a full URL through a proxy), its host."""
    if not uri and not host:
        return None
    original = uri
    if uri and "://" in uri:
        scheme, _, rest = uri.partition("://")
        authority, slash, tail = rest.partition("/")
        host = host or authority.split(":")[0]
        uri = slash + tail
    else:
        scheme = "https" if dport == 443 else "http"
    path, _, query = (uri or "").partition("?")
    full = f"{scheme}://{host}{uri or ''}" if host else None
    last = path.rsplit("/", 1)[-1]
    ext = last.rsplit(".", 1)[1].lower() if "." in last[1:] else None
    return Url(original=original or full, full=full, scheme=scheme, domain=host or None,
               path=path or None, query=query or None, extension=ext)  # fmt: skip


def file_facts(name: object, size: object, md5: object, sha1: object, sha256: object) -> File | None:
    h = Hash(md5=text(md5), sha1=text(sha1), sha256=text(sha256))
    f = File(name=text(name), size=integer(size),
             hash=h if h.md5 or h.sha1 or h.sha256 else None)  # fmt: skip
    if f.name:
        base = f.name.replace("\\", "/").rsplit("/", 1)[-1]
        f.name = base or f.name
        f.extension = base.rsplit(".", 1)[1].lower() if "." in base else None
    return f if f.name or f.size is not None or f.hash else None


_TLS_VERSIONS = {"TLSv10": ("tls", "1.0"), "TLSv11": ("tls", "1.1"), "TLSv12": ("tls", "1.2"),
                 "TLSv13": ("tls", "1.3"), "SSLv2": ("ssl", "2.0"), "SSLv3": ("ssl", "3.0"),
                 "DTLSv10": ("dtls", "1.0"), "DTLSv12": ("dtls", "1.2"), "DTLSv13": ("dtls", "1.3")}  # fmt: skip


def tls_version(value: str | None) -> tuple[str | None, str | None]:
    """`TLSv12` / `TLS 1.2` → (protocol, version)."""
    if not value:
        return None, None
    if value in _TLS_VERSIONS:
        return _TLS_VERSIONS[value]
    m = re.match(r"(TLS|SSL|DTLS)\s*v?\s*(\d)\.?(\d)?", value, re.IGNORECASE)
    if m:
        return m.group(1).lower(), f"{m.group(2)}.{m.group(3) or 0}"
    return None, value


def _ssl(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    proto, version = tls_version(text(r.get("version")))
    sni = text(r.get("server_name"))
    tls = Tls(version=version, version_protocol=proto, cipher=text(r.get("cipher")),
              curve=text(r.get("curve")), established=r.get("established") if isinstance(
                  r.get("established"), bool) else None,
              resumed=r.get("resumed") if isinstance(r.get("resumed"), bool) else None,
              next_protocol=text(r.get("next_protocol")),
              client=TlsClient(server_name=sni, ja3=text(r.get("ja3")),
                               subject=text(r.get("client_subject")),
                               issuer=text(r.get("client_issuer"))),
              server=TlsServer(ja3s=text(r.get("ja3s")), subject=text(r.get("subject")),
                               issuer=text(r.get("issuer"))))  # fmt: skip
    if dst is not None and sni:
        dst.domain = sni
    est = tls.established
    return _base(r, path, source, n, ts, category=["network"], type_=["protocol"],
                 action="tls_handshake", outcome=None if est is None else "success" if est else "failure",
                 source=src, destination=dst, network=_network(r, "tls", "tcp"), tls=tls)  # fmt: skip


def _files(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    if src is None:
        tx, rx = _list(r.get("tx_hosts")), _list(r.get("rx_hosts"))
        src = Endpoint(ip=ip(tx[0])) if tx and ip(tx[0]) else None
        dst = Endpoint(ip=ip(rx[0])) if rx and ip(rx[0]) else None
    facts = [f"{k}={r[k]}" for k in ("filename", "mime_type", "total_bytes", "seen_bytes", "md5",
                                     "sha1", "sha256", "source") if r.get(k) not in (None, "")]  # fmt: skip
    return _base(r, path, source, n, ts, category=["file"], type_=["info"], action="file_transfer",
                 message="file " + " ".join(facts), source=src, destination=dst,
                 network=Network(protocol=(text(r.get("source")) or "").lower() or None),
                 file=file_facts(r.get("filename"), r.get("total_bytes") or r.get("seen_bytes"),
                                 r.get("md5"), r.get("sha1"), r.get("sha256")),
                 zeek=_zeek(r, path, fuid=text(r.get("fuid"))))  # fmt: skip


def _notice(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    if src is None and r.get("src") is not None:
        src = Endpoint(ip=ip(r.get("src")))
    if dst is None and r.get("dst") is not None:
        dst = Endpoint(ip=ip(r.get("dst")), port=port(r.get("p")))
    note = text(r.get("note")) or "notice"
    msg = text(r.get("msg"))
    return _base(r, path, source, n, ts, kind="alert", category=["intrusion_detection", "network"],
                 type_=["info"], action=note, severity=3,
                 message=f"{note}: {msg}" if msg else note, source=src, destination=dst,
                 rule=RuleRef(id=note, name=note, description=text(r.get("sub")), ruleset="zeek"),
                 zeek=_zeek(r, path, notice=note))  # fmt: skip


def _weird(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    name = text(r.get("name")) or "weird"
    addl = text(r.get("addl"))
    return _base(r, path, source, n, ts, category=["network"], type_=["info", "error"],
                 action=name, message=f"weird: {name}" + (f" ({addl})" if addl else ""),
                 source=src, destination=dst)  # fmt: skip


def _dhcp(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _conn_ends(r)
    client = Endpoint(ip=ip(r.get("client_addr")) or ip(r.get("assigned_addr")),
                      mac=text(r.get("mac")), domain=text(r.get("host_name")))  # fmt: skip
    server = Endpoint(ip=ip(r.get("server_addr"))) if r.get("server_addr") else dst
    types = _list(r.get("msg_types"))
    facts = [f"{k}={r[k]}" for k in ("assigned_addr", "host_name", "domain", "lease_time")
             if r.get(k) not in (None, "")]  # fmt: skip
    return _base(r, path, source, n, ts, category=["network"], type_=["protocol"],
                 action="dhcp_" + (types[-1].lower() if types else "message"),
                 message="DHCP " + ",".join(types) + (" " + " ".join(facts) if facts else ""),
                 source=client if client.ip or client.mac else src, destination=server,
                 network=Network(transport="udp", protocol="dhcp"))  # fmt: skip


# -- OT logs -----------------------------------------------------------------------------------------
def _by_name(table: dict[int, Any]) -> dict[str, int]:
    return {(v[0] if isinstance(v, tuple) else v.name).replace("_", "").lower(): k for k, v in table.items()}


_MODBUS_BY_NAME = _by_name(MODBUS_FUNCTIONS)
_MODBUS_BY_NAME.update({"reportslaveid": 17, "encapinterfacetransport": 43})  # Zeek's names
_MODBUS_EXC_BY_NAME = {v.replace("_", "").lower(): k for k, v in MODBUS_EXCEPTIONS.items()}
_DNP3_BY_NAME = _by_name(DNP3_FUNCTIONS)
_DNP3_BY_NAME.update({"directoperatenoack": 6, "immedfreeze": 7, "immedfreezenr": 8,
                      "immedfreezenoack": 8, "freezeclearnoack": 10, "freezeattimenoack": 12,
                      "authenticateerr": 131, "authrequest": 32, "authrequestnoack": 33,
                      "initializeappl": 16, "startappl": 17, "stopappl": 18, "startapplication": 17,
                      "stopapplication": 18, "initializeapplication": 16, "recordcurrenttime": 24,
                      "saveconfig": 19, "unsolicitedresponse": 130, "authenticateresp": 131})  # fmt: skip


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _ot_event(r: dict[str, Any], path: str, source: str, n: int, ts: str, protocol: str,
              is_request: bool, action: str, op: str, ot_fields: dict[str, Any], *,
              outcome: str | None = None, target: Target | None = None,
              paired: bool = False, unsolicited: bool = False) -> Event:  # fmt: skip
    """One OT message (or, from logs with one row per transaction, one request with its outcome)."""
    src, dst = _message_ends(r, is_request)
    role = None if unsolicited else "request" if is_request else "response"
    ot = Ot(protocol=protocol, role=role,
            action=OtAction(operation=op, target=target), **ot_fields)  # type: ignore[arg-type]  # fmt: skip
    return _base(r, path, source, n, ts, category=["network"], type_=["protocol"], action=action,
                 outcome=outcome, source=src, destination=dst,
                 network=_network(r, protocol, "tcp"), ot=ot,
                 message="request and its response (one log row)" if paired else None)  # fmt: skip


def _modbus(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    func = text(r.get("func")) or ""
    exc_name = text(r.get("exception"))
    if func.upper().endswith("_EXCEPTION"):  # Zeek: an exception response names its function so
        func = func[: -len("_EXCEPTION")]
        exc_name = exc_name or "exception"
    fc = _MODBUS_BY_NAME.get(_key(func))
    if fc is None:
        fc = integer(func.rsplit("-", 1)[-1]) if func.lower().startswith("unknown") else None
        if fc is not None and fc & 0x80:  # Zeek names an exception reply by its raw code
            fc, exc_name = fc & 0x7F, exc_name or "exception"
    pdu = (text(r.get("pdu_type")) or "").upper()
    paired = not pdu  # Zeek's own modbus.log: one row per request, written with its response
    is_request = pdu.startswith("REQ") or paired
    f = MODBUS_FUNCTIONS.get(fc) if fc is not None else None
    name = f.name if f else (f"unknown-{fc}" if fc is not None else _key(func) or "unknown")
    exc = None
    if exc_name:
        exc = _MODBUS_EXC_BY_NAME.get(_key(exc_name))
    outcome = ("failure" if exc_name else "success") if (paired or not is_request) else None
    unit = integer(r.get("unit"))
    modbus = Modbus(transaction_id=integer(r.get("tid")), unit_id=unit, function_code=fc if fc is not None else -1,
                    function=name, exception_code=exc,
                    exception=MODBUS_EXCEPTIONS.get(exc) if exc is not None else
                    (exc_name.lower() if exc_name else None))  # fmt: skip
    op = f.operation if f else "other"
    if fc in (8, 43):
        op = "diagnostic" if fc == 8 else "other"
    return _ot_event(r, path, source, n, ts, "modbus", is_request, name, op, {"modbus": modbus},
                     outcome=outcome, paired=paired,
                     target=Target(unit=unit, object=f.object if f else None)
                     if unit is not None or (f and f.object) else None)  # fmt: skip


def _dnp3(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    req, reply = text(r.get("fc_request")), text(r.get("fc_reply"))
    is_request = req is not None
    name_raw = req if is_request else reply or ""
    fc = _DNP3_BY_NAME.get(_key(name_raw or ""))
    f = DNP3_FUNCTIONS.get(fc) if fc is not None else None
    name = f.name if f else _key(name_raw or "") or "unknown"
    iin = integer(r.get("iin"))
    outcome = None
    if reply is not None:
        outcome = "failure" if iin is not None and iin & 0x0007 else "success"
    dnp3 = Dnp3(function_code=fc, function=name, iin=iin if reply is not None else None)
    return _ot_event(r, path, source, n, ts, "dnp3", is_request, name,
                     f.operation if f else "other", {"dnp3": dnp3}, outcome=outcome,
                     paired=is_request and reply is not None)  # fmt: skip


_S7_ROSCTR = {1: "job", 2: "ack", 3: "ack_data", 7: "userdata"}


def _s7comm(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    rosctr = integer(r.get("rosctr_code"))
    fcode = integer(r.get("function_code"))
    sub = integer(r.get("subfunction_code"))
    err_class, err_code = integer(r.get("error_class")), integer(r.get("error_code"))
    ud_type = group = None
    if rosctr == 7 and fcode is not None:
        ud_type, group = UD_TYPES.get(fcode >> 4, f"unknown-{fcode >> 4}"), fcode & 0x0F
        is_request = ud_type == "request"
        g = UD_GROUPS.get(group)
        sname, sop = UD_SUBFUNCTIONS.get((group, sub), (None, None)) if sub is not None else (None, None)
        name = sname or (g.name if g else f"unknown-{fcode}")
        op = sop or (g.operation if g else "other")
        s7 = S7comm(rosctr=7, rosctr_name="userdata", pdu_reference=integer(r.get("pdu_reference")) or 0,
                    userdata_type=ud_type, userdata_group=group,
                    userdata_group_name=g.name if g else None, userdata_subfunction=sub,
                    userdata_subfunction_name=sname, error_class=err_class, error_code=err_code,
                    error=text(r.get("error_class")) if err_class is None else None)  # fmt: skip
    else:
        is_request = rosctr == 1
        code = S7_FUNCTIONS.get(fcode) if fcode is not None else None
        name = code.name if code else (f"unknown-{fcode}" if fcode is not None else
                                        _key(text(r.get("function_name")) or "") or "unknown")
        op = code.operation if code else "other"
        s7 = S7comm(rosctr=rosctr if rosctr is not None else -1,
                    rosctr_name=_S7_ROSCTR.get(rosctr, f"unknown-{rosctr}") if rosctr is not None else "unknown",
                    pdu_reference=integer(r.get("pdu_reference")) or 0,
                    function_code=fcode, function=name, error_class=err_class, error_code=err_code,
                    error=text(r.get("error_class")) if err_class is None else None)  # fmt: skip
    outcome = None
    if not is_request and (err_class is not None or text(r.get("error_class"))):
        ok = (err_class == 0 and not err_code) or text(r.get("error_class")) == "No error"
        outcome = "success" if ok else "failure"
    return _ot_event(r, path, source, n, ts, "s7comm", is_request, name, op, {"s7comm": s7},
                     outcome=outcome)  # fmt: skip


def _s7comm_plus(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    opcode, fcode = integer(r.get("opcode")), integer(r.get("function_code"))
    code = PLUS_FUNCTIONS.get(fcode) if fcode is not None else None
    name = code.name if code else (_key(text(r.get("function_name")) or "") or "unknown")
    opname = PLUS_OPCODES.get(opcode, f"unknown-{opcode}") if opcode is not None else None
    name = name if code or fcode is not None else opname or name
    is_request = opcode == 0x31 or (_bool(r.get("is_orig")) is True and opcode is None)
    plus = S7commPlus(version=integer(r.get("version")) or 0, opcode=opcode,
                      opcode_name=opname, function_code=fcode, function=name)  # fmt: skip
    return _ot_event(r, path, source, n, ts, "s7comm_plus", is_request, name,
                     code.operation if code else "other", {"s7comm_plus": plus},
                     unsolicited=opcode == 0x33)  # fmt: skip


def _enip(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    cmd = integer(r.get("enip_command_code"))
    name, op = ENIP_COMMANDS.get(cmd, (None, "other")) if cmd is not None else (None, "other")
    name = name or _key(text(r.get("enip_command")) or "") or "unknown"
    is_request = _bool(r.get("is_orig")) is not False
    status = text(r.get("enip_status"))
    enip = Enip(command=cmd, command_name=name, length=integer(r.get("length")),
                session_handle=integer(r.get("session_handle")),
                status_name=_key(status) if status else None, sender_context=text(r.get("sender_context")),
                options=integer(r.get("options")))  # fmt: skip
    outcome = None if is_request or status is None else "success" if _key(status) == "success" else "failure"
    return _ot_event(r, path, source, n, ts, "enip", is_request, name, op, {"enip": enip},
                     outcome=outcome)  # fmt: skip


def _cip(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    service = integer(r.get("cip_service_code"))
    class_id = integer(r.get("class_id"))
    is_request = (text(r.get("direction")) or "request").lower() != "response"
    svc = service & 0x7F if service is not None else None
    table = CONNECTION_MANAGER_SERVICES if class_id == 0x06 else FILE_SERVICES if class_id == 0x37 else {}
    name, op = table.get(svc) or COMMON_SERVICES.get(svc) or (None, "other")  # type: ignore[arg-type]
    name = name or _key(text(r.get("cip_service")) or "") or f"unknown-{svc}"
    status = integer(r.get("cip_status_code"))
    cip = Cip(service=svc if svc is not None else -1, service_name=name, class_id=class_id,
              class_name=text(r.get("class_name")), instance_id=integer(r.get("instance_id")),
              attribute_id=integer(r.get("attribute_id")), status=status,
              status_name=_key(text(r.get("cip_status")) or "") or None)  # fmt: skip
    outcome = None if is_request or status is None else "success" if status == 0 else "failure"
    return _ot_event(r, path, source, n, ts, "enip", is_request, name, op, {"cip": cip},
                     outcome=outcome)  # fmt: skip


def _cip_identity(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    src, dst = _message_ends(r, False)
    sock = ip(r.get("socket_address"))
    return _base(r, path, source, n, ts, kind="asset", category=["host"], type_=["info"],
                 action="list_identity", source=src, destination=dst, ot=Ot(protocol="enip"),
                 asset=Asset(ip=sock if sock and sock != "0.0.0.0" else (src.ip if src else None),
                             vendor=text(r.get("vendor_name")), product=text(r.get("product_name")),
                             product_code=text(r.get("product_code")),
                             device_type=text(r.get("device_type_name")),
                             revision=text(r.get("revision")), serial=text(r.get("serial_number"))))  # fmt: skip


# Protocols whose decoders are elsewhere in the tree: the protocol-neutral layer only.
_BACNET_OPS = {"readproperty": "read", "readpropertymultiple": "read", "readrange": "read",
               "writeproperty": "write", "writepropertymultiple": "write", "whois": "discovery",
               "iam": "discovery", "whohas": "discovery", "ihave": "discovery",
               "reinitializedevice": "control", "devicecommunicationcontrol": "control",
               "atomicwritefile": "program", "atomicreadfile": "read", "subscribecov": "read",
               "timesynchronization": "config", "utctimesynchronization": "config",
               "createobject": "config", "deleteobject": "config"}  # fmt: skip


def _bacnet(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    service = text(r.get("pdu_service")) or text(r.get("bvlc_function")) or "unknown"
    pdu = (text(r.get("pdu_type")) or "").lower()
    is_request = "request" in pdu or pdu.startswith(("confirmed", "unconfirmed")) or \
        (_bool(r.get("is_orig")) is True and not pdu)  # fmt: skip
    name = _key(service)
    return _ot_event(r, path, source, n, ts, "bacnet", is_request, name,
                     _BACNET_OPS.get(name, "other"), {})  # fmt: skip


_OPCUA_OPS = {"read": "read", "write": "write", "browse": "discovery", "browsenext": "discovery",
              "getendpoints": "discovery", "findservers": "discovery", "call": "control",
              "createsession": "session", "activatesession": "session", "closesession": "session",
              "opensecurechannel": "session", "closesecurechannel": "session",
              "createsubscription": "read", "createmonitoreditems": "read", "publish": "read",
              "addnodes": "config", "deletenodes": "config", "addreferences": "config",
              "deletereferences": "config", "historyread": "read", "historyupdate": "write"}  # fmt: skip


def _opcua(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    ident = text(r.get("identifier_str")) or text(r.get("msg_type")) or "unknown"
    base = _key(re.sub(r"(Request|Response)$", "", ident))
    is_request = not ident.endswith("Response") and _bool(r.get("is_orig")) is not False
    return _ot_event(r, path, source, n, ts, "opcua", is_request, base,
                     _OPCUA_OPS.get(base, "other"), {})  # fmt: skip


def _profinet(r: dict[str, Any], path: str, source: str, n: int, ts: str) -> Event:
    op_name = text(r.get("operation")) or text(r.get("operation_type")) or "unknown"
    name = _key(op_name)
    pkt = (text(r.get("packet_type")) or "").lower()
    is_request = pkt != "response"
    op = {"write": "write", "read": "read", "connect": "session", "release": "session",
          "control": "control", "readimplicit": "read"}.get(name, "other")  # fmt: skip
    return _ot_event(r, path, source, n, ts, "profinet", is_request, name, op, {})


MAPPERS: dict[str, Callable[[dict[str, Any], str, str, int, str], Event]] = {
    "conn": _conn, "dns": _dns, "http": _http, "ssl": _ssl, "files": _files, "notice": _notice,
    "weird": _weird, "dhcp": _dhcp,
    "modbus": _modbus, "dnp3": _dnp3, "s7comm": _s7comm, "s7comm_plus": _s7comm_plus,
    "enip": _enip, "cip": _cip, "cip_identity": _cip_identity, "bacnet": _bacnet,
    "opcua_binary": _opcua, "profinet_io_cm": _profinet,
}  # fmt: skip


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    """Events of one Zeek log (`source` names it: file name or source id). Logs of other kinds
    (Zeek's housekeeping, detail logs, protocols not mapped) give no events: they are not corrupt."""
    for n, path, rec, line in _records(stream, source):
        if isinstance(rec, Corrupt):
            yield rec
            continue
        mapper = MAPPERS.get(path or "")
        if mapper is None:
            continue
        ts = _time(rec.get("ts"))
        if ts is None:
            yield Corrupt(f"line {n}", f"ts {rec.get('ts')!r} is not a time")
            continue
        try:
            ev = mapper(rec, path, source, n, ts)  # type: ignore[arg-type]
        except (TypeError, ValueError, msgspec.ValidationError) as e:
            yield Corrupt(f"line {n}", f"{path} record not usable: {e}")
            continue
        ev.event.original = line
        ev.event.module = "zeek"
        yield ev


FORMAT = Format(name="zeek", sniff=sniff, read=read)
