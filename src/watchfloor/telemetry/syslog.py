"""Syslog (RFC 5424, RFC 3164 / BSD, and the plain lines of /var/log files) and CEF → ECS events.

One message per line in files. `parse` turns one message into an event; the `watchfloor listen`
listener uses it too. The original message is kept in `event.original`.

- RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD...] MSG` → `log.syslog.*` (facility,
  severity, hostname, appname, procid, msgid, structured data), `host.hostname`, `process.name/pid`.
- RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`. It names no year and no zone: the time is
  read as UTC in the year that puts it at most a day after `now` (the receipt time for the
  listener, the read time for files) — the convention of syslog servers.
- CEF (`CEF:0|vendor|product|version|class id|name|severity|extension`, bare or after a syslog
  header): the header → `observer.*`, `event.code`, `event.severity`, `cef.*`; the extension keys of
  the CEF standard → ECS (`src`→`source.ip`, `suser`→`user.name`, `request`→`url.original`, ...);
  the keys with no ECS field stay in `cef.extensions` as `key=value`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from ..schema import Endpoint, Event, EventMeta, Network, Observer
from ..schema.events import (
    Cef,
    CefDevice,
    File,
    Hash,
    Host,
    Http,
    HttpRequest,
    Log,
    Process,
    Syslog,
    SyslogCode,
    Url,
    User,
    UserAgent,
)
from ..schema.time import rfc3339
from . import Corrupt, Format
from ._common import event_id, integer, ip, iso_time, lines, port

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1",
              "local2", "local3", "local4", "local5", "local6", "local7")  # fmt: skip
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
# syslog severity → our event.severity (1 informational .. 5 critical), for messages that say it
_OUR_SEVERITY = {0: 5, 1: 5, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1, 7: 1}

_PRI = re.compile(rb"<(\d{1,3})>")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                        "Oct", "Nov", "Dec"), 1)}  # fmt: skip
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ")
_TAG = re.compile(r"([^\s:\[]{1,64})(?:\[([^\]\s]{1,32})\])?: ?")
_SD_ELEMENT = re.compile(r'\[((?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*)\]')


class NotSyslog(ValueError):
    """The bytes are not a syslog or CEF message (the reason says why)."""


def sniff(head: bytes, name: str) -> bool:
    first = head.lstrip()[:4096].split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"CEF:"):
        return True
    m = _PRI.match(first)
    if m and int(m.group(1)) < 192:
        rest = first[m.end():]
        return rest[:2] == b"1 " or bool(_BSD_TIME.match(rest.decode("latin-1"))) or b"CEF:" in rest[:200] \
            or bool(re.match(rb"\d{4}-\d{2}-\d{2}T", rest))  # fmt: skip
    # plain /var/log/syslog lines: "Mmm dd hh:mm:ss host tag: ..." (several of them)
    rows = [r for r in head[:16384].split(b"\n")[:5] if r.strip()]
    return bool(rows) and all(_BSD_TIME.match(r.decode("latin-1")) and b": " in r for r in rows[:3])


def _bsd_time(month: str, day: str, hh: str, mm: str, ss: str, frac: str | None, now: float) -> str | None:
    mon = _MONTHS.get(month)
    if mon is None:
        return None
    year = time.gmtime(now).tm_year
    for y in (year, year - 1):
        try:
            when = datetime(y, mon, int(day), int(hh), int(mm), int(ss), int((frac or "0").ljust(6, "0")),
                            tzinfo=UTC)  # fmt: skip
        except ValueError:
            continue
        if when.timestamp() <= now + 86400:
            return rfc3339(int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000)
    return None


def _sd_params(body: str) -> tuple[str, list[tuple[str, str]]]:
    sd_id, _, rest = body.partition(" ")
    params = [(k, re.sub(r"\\([\"\\\]])", r"\1", v))
              for k, v in re.findall(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*)"', rest)]  # fmt: skip
    return sd_id, params


def parse(data: bytes, source: str, position: int, now: float | None = None,
          peer: tuple[str, int] | None = None) -> Event:  # fmt: skip
    """One syslog/CEF message → an event with id `<source>-<position>`; NotSyslog if it is not one.
    `peer`: the sender's address (listener), recorded as `source.ip/port` when the message names
    no source of its own."""
    now = time.time() if now is None else now
    text_ = data.decode("utf-8", "replace").rstrip("\r\n\x00")
    if not text_.strip():
        raise NotSyslog("empty message")
    original = text_
    sl = Syslog()
    ts: str | None = None
    host = app = procid = None
    rest = text_
    m = _PRI.match(data)
    if m:
        pri = int(m.group(1))
        if pri > 191:
            raise NotSyslog(f"priority {pri} is above 191")
        fac, sev = divmod(pri, 8)
        sl.priority = pri
        sl.facility = SyslogCode(code=fac, name=FACILITIES[fac])
        sl.severity = SyslogCode(code=sev, name=SEVERITIES[sev])
        rest = text_[len(m.group(0).decode()):]
    if rest.startswith("1 ") and m:  # RFC 5424
        parts = rest.split(" ", 6)
        if len(parts) < 6:
            raise NotSyslog("RFC 5424 header has fewer than 6 fields")
        _, stamp, host, app, procid, msgid = parts[:6]
        tail = parts[6] if len(parts) > 6 else ""
        sl.version = "1"
        if stamp != "-":
            ts = iso_time(stamp)
            if ts is None:
                raise NotSyslog(f"RFC 5424 timestamp {stamp!r} is not a time")
        host, app, procid = (None if v == "-" else v for v in (host, app, procid))
        sl.msgid = None if msgid == "-" else msgid
        if tail.startswith("-"):
            tail = tail[2:] if tail.startswith("- ") else tail[1:]
        elif tail.startswith("["):
            sds = []
            pos = 0
            while (sd := _SD_ELEMENT.match(tail, pos)) is not None:
                sd_id, params = _sd_params(sd.group(1))
                sds.append(" ".join([sd_id, *(f"{k}={v}" for k, v in params)]))
                pos = sd.end()
            if not sds:
                raise NotSyslog("RFC 5424 structured data is malformed")
            sl.structured_data = sds
            tail = tail[pos:].lstrip(" ")
        rest = tail.removeprefix("\ufeff")
    else:  # RFC 3164, rsyslog's ISO-time variant, or a bare CEF
        bsd = _BSD_TIME.match(rest)
        iso = re.match(r"(\d{4}-\d{2}-\d{2}T\S+) ", rest)
        if bsd:
            ts = _bsd_time(*bsd.groups(), now=now)  # type: ignore[arg-type]
            rest = rest[bsd.end():]
        elif iso:
            ts = iso_time(iso.group(1))
            rest = rest[iso.end():]
        if (bsd or iso) and not rest.startswith("CEF:"):
            h, _, after = rest.partition(" ")
            if h and not h.endswith(":") and after:
                host, rest = h, after
            elif h.endswith(":"):  # no host, the tag follows the time
                pass
        elif not m and not rest.startswith("CEF:"):
            raise NotSyslog("neither a syslog header nor a CEF message")
        if not rest.startswith("CEF:"):
            tag = _TAG.match(rest)
            if tag and not rest.startswith("CEF:"):
                app, procid = tag.group(1), tag.group(2)
                rest = rest[tag.end():]
    if host is not None:
        sl.hostname = host
    if app is not None:
        sl.appname = app
    if procid is not None:
        sl.procid = procid
    cef_at = rest.find("CEF:")
    fields: dict[str, Any] = {}
    if cef_at == 0 or (cef_at > 0 and cef_at < 64 and rest[:cef_at].rstrip().endswith(":")):
        fields = _cef(rest[cef_at:])
        message = fields.pop("message")
    else:
        message = rest
    ts = fields.pop("timestamp", None) or ts or rfc3339(int(now * 1e9))
    sev = sl.severity.code if sl.severity else None
    meta = EventMeta(id=event_id(source, position), kind="event",
                     category=fields.pop("category", None) or [], type=["info"],
                     action=fields.pop("action", None), dataset="syslog.cef" if "cef" in fields else "syslog",
                     severity=fields.pop("severity", None) or (_OUR_SEVERITY.get(sev) if sev is not None else None),
                     code=fields.pop("code", None), original=original,
                     outcome=fields.pop("outcome", None), module="cef" if "cef" in fields else "syslog")  # fmt: skip
    if peer is not None and "source" not in fields:
        fields["source"] = Endpoint(ip=ip(peer[0]), port=peer[1])
    if host and "host" not in fields:
        fields["host"] = Host(hostname=host, name=host)
    if app and "process" not in fields:
        fields["process"] = Process(name=app, pid=integer(procid) if procid else None)
    has_sl = sl.priority is not None or sl.hostname or sl.appname
    return Event(timestamp=ts, event=meta, message=message or None,
                 log=Log(level=SEVERITIES[sev] if sev is not None else None, syslog=sl) if has_sl else None,
                 **fields)  # fmt: skip


# -- CEF ---------------------------------------------------------------------------------------------
def _split_header(text_: str) -> tuple[list[str], str]:
    fast = text_.split("|", 7)
    if len(fast) == 8 and "\\" not in text_[: len(text_) - len(fast[7])]:
        return fast[:7], fast[7]
    parts, cur, i = [], [], 0
    while i < len(text_) and len(parts) < 7:
        c = text_[i]
        if c == "\\" and i + 1 < len(text_) and text_[i + 1] in "|\\":
            cur.append(text_[i + 1])
            i += 2
            continue
        if c == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if len(parts) < 7:
        raise NotSyslog(f"CEF header has {len(parts) + 1} of its 8 fields")
    return parts, text_[i:]


_EXT_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\[\]-]+)=")


def extension(text_: str) -> list[tuple[str, str]]:
    """CEF extension `k=v k2=v 2` → pairs; a value runs to the next unescaped ` key=`."""
    out = []
    keys = [m for m in _EXT_KEY.finditer(text_) if text_[m.start() - 1:m.start()] != "\\"
            or not _escaped(text_, m.end() - 1)]
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(text_)
        value = text_[m.end():end].rstrip(" ")
        if "\\" in value:
            value = re.sub(r"\\([=\\])", r"\1", value).replace("\\n", "\n").replace("\\r", "\r")
        out.append((m.group(1), value))
    return out


def _escaped(text_: str, at: int) -> bool:
    n = 0
    while at - 1 - n >= 0 and text_[at - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


_CEF_SEVERITY = {"low": 2, "medium": 3, "high": 4, "very-high": 5, "veryhigh": 5, "unknown": None}


def _cef_severity(value: str) -> int | None:
    n = integer(value)
    if n is not None:
        return 2 if n <= 3 else 3 if n <= 6 else 4 if n <= 8 else 5
    return _CEF_SEVERITY.get(value.strip().lower())


def _cef_time(value: str) -> str | None:
    n = integer(value)
    if n is not None:  # milliseconds since the epoch
        return rfc3339(n * 1_000_000) if 0 < n < 253402300800000 else None
    for fmt in ("%b %d %Y %H:%M:%S.%f", "%b %d %Y %H:%M:%S", "%b %d %H:%M:%S.%f %Y"):
        try:
            when = datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return rfc3339(int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000)
    return iso_time(value)


def _cef(text_: str) -> dict[str, Any]:
    header, ext = _split_header(text_)
    version = header[0][4:]
    vendor, product, dversion, class_id, name, severity = header[1:7]
    pairs = extension(ext)
    kv = dict(pairs)
    src = Endpoint(ip=ip(kv.get("src")) or ip(kv.get("c6a2")), port=port(kv.get("spt")),
                   mac=kv.get("smac"), domain=kv.get("shost"), bytes=integer(kv.get("out")))  # fmt: skip
    dst = Endpoint(ip=ip(kv.get("dst")) or ip(kv.get("c6a3")), port=port(kv.get("dpt")),
                   mac=kv.get("dmac"), domain=kv.get("dhost"), bytes=integer(kv.get("in")))  # fmt: skip
    used = {"src", "spt", "smac", "shost", "out", "dst", "dpt", "dmac", "dhost", "in", "c6a2", "c6a3",
            "suser", "duser", "proto", "app", "act", "msg", "request", "requestMethod",
            "requestClientApplication", "fname", "fsize", "fileHash", "filePath", "rt", "end", "start",
            "outcome", "sproc", "spid", "dproc", "dpid", "dvchost", "dvc", "cat"}  # fmt: skip
    out: dict[str, Any] = {
        "cef": Cef(version=version, device=CefDevice(vendor=vendor or None, product=product or None,
                                                     version=dversion or None,
                                                     event_class_id=class_id or None),
                   name=name or None, severity=severity or None,
                   extensions=[f"{k}={v}" for k, v in pairs if k not in used] or None),
        "observer": Observer(vendor=vendor or None, product=product or None, version=dversion or None,
                             name=kv.get("dvchost") or kv.get("dvc")),
        "code": class_id or None,
        "severity": _cef_severity(severity),
        "message": kv.get("msg") or name or None,
        "action": kv.get("act") or (name or None),
    }
    if src.ip or src.port is not None or src.domain:
        out["source"] = src
    if dst.ip or dst.port is not None or dst.domain:
        out["destination"] = dst
    if "source" in out or "destination" in out:
        out["category"] = ["network"]
        proto = kv.get("proto")
        if proto or kv.get("app"):
            out["network"] = Network(transport=proto.lower() if proto else None, protocol=kv.get("app"))
    user = kv.get("suser") or kv.get("duser")
    if user:
        out["user"] = User(name=user)
    if kv.get("request"):
        out["url"] = Url(original=kv["request"])
    if kv.get("requestMethod"):
        out["http"] = Http(request=HttpRequest(method=kv["requestMethod"]))
    if kv.get("requestClientApplication"):
        out["user_agent"] = UserAgent(original=kv["requestClientApplication"])
    if kv.get("fname") or kv.get("fileHash"):
        h = kv.get("fileHash") or ""
        hashes = {32: "md5", 40: "sha1", 64: "sha256"}
        out["file"] = File(name=kv.get("fname"), path=kv.get("filePath"), size=integer(kv.get("fsize")),
                           hash=Hash(**{hashes[len(h)]: h.lower()}) if len(h) in hashes else None)  # fmt: skip
    proc = kv.get("sproc") or kv.get("dproc")
    if proc:
        out["process"] = Process(name=proc, pid=integer(kv.get("spid") or kv.get("dpid")))
    oc = (kv.get("outcome") or "").lower()
    if oc in ("success", "failure"):
        out["outcome"] = oc
    elif oc in ("failed", "fail", "denied", "blocked"):
        out["outcome"] = "failure"
    when = kv.get("rt") or kv.get("end") or kv.get("start")
    if when and (t := _cef_time(when)):
        out["timestamp"] = t
    return out


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    now = time.time()
    for n, raw in lines(stream):
        if raw is None:
            yield Corrupt(f"line {n}", "line too long")
            continue
        if not raw.strip():
            continue
        try:
            yield parse(raw, source, n, now)
        except NotSyslog as e:
            yield Corrupt(f"line {n}", str(e))
        except (ValueError, TypeError) as e:
            yield Corrupt(f"line {n}", f"message not usable: {e}")


FORMAT = Format(name="syslog", sniff=sniff, read=read)
