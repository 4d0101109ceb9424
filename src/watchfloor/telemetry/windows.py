"""Windows event log records → events (ECS `winlog.*`, plus `host`, `user`, `process`, `file`,
`registry`, `source`/`destination` where the record says them).

Every Windows input (EVTX, exported XML, exported JSON in its three common shapes) is first brought
to one neutral form, `Record` (the System section and the EventData / UserData values as text);
`to_event` maps that to the schema, so all of them produce the same events for the same record.
`winlog.event_data` keeps every value under its Windows name (spaces removed: Defender's
"Threat Name" is `ThreatName`, the name SigmaHQ's Windows rules use): it is what Sigma's Windows
field names address. The ECS fields are filled from the names Sysmon and the Security log use.
"""

from __future__ import annotations

import hashlib
import ntpath
from dataclasses import dataclass, field
from typing import Any

from ..schema import Event
from ..schema.events import (
    Dll,
    Endpoint,
    EventMeta,
    File,
    Hash,
    Host,
    Network,
    Pe,
    Process,
    ProcessParent,
    Registry,
    RegistryData,
    User,
    UserTarget,
    Winlog,
    WinlogProcess,
    WinlogUser,
)
from ..schema.time import parse_rfc3339, rfc3339

SYSMON = "Microsoft-Windows-Sysmon"
SECURITY = "Microsoft-Windows-Security-Auditing"


@dataclass(slots=True)
class Record:
    """One Windows event in neutral form: System values and event data, all optional."""

    event_id: int | None = None
    provider_name: str | None = None
    provider_guid: str | None = None
    channel: str | None = None
    computer: str | None = None
    time: str | None = None
    record_id: int | None = None
    version: int | None = None
    level: str | None = None
    task: str | None = None
    opcode: str | None = None
    keywords: str | None = None
    activity_id: str | None = None
    pid: int | None = None
    thread_id: int | None = None
    user_sid: str | None = None
    data: dict[str, str] = field(default_factory=dict)


def text(value: Any) -> str | None:
    """A record value as text (numbers as written, booleans lower-case); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        parts = [t for t in (text(v) for v in value) if t is not None]
        return "\n".join(parts)
    if isinstance(value, dict):  # structured values (rare in EventData): keep them readable
        import msgspec

        return msgspec.json.encode(value).decode()
    return str(value)


def integer(value: Any) -> int | None:
    """An integer from a record value: decimal or 0x-hex text, or a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        try:
            return int(str(value).strip())
        except ValueError:
            return None


def timestamp(value: str | None) -> str | None:
    """RFC 3339 UTC (microseconds) from a Windows SystemTime (up to 7 fraction digits) or any ISO
    8601 time; None when it is not one."""
    if not value:
        return None
    v = value.strip().replace(" ", "T", 1)
    if v.endswith(" UTC"):
        v = v[:-4]
    head, dot, rest = v.partition(".")
    if dot:  # datetime takes at most 6 fraction digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        v = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    ns = parse_rfc3339(v)
    return rfc3339(ns) if ns is not None else None


# -- ECS categorisation ---------------------------------------------------------------------------
# (category, type, action) per Sysmon event id and for the Security events most rules and
# analysts use; others are category "host" with no type.
_SYSMON: dict[int, tuple[str, str, str]] = {
    1: ("process", "start", "process-created"),
    2: ("file", "change", "file-creation-time-changed"),
    3: ("network", "connection", "network-connection"),
    4: ("configuration", "change", "sysmon-state-changed"),
    5: ("process", "end", "process-terminated"),
    6: ("driver", "start", "driver-loaded"),
    7: ("process", "change", "image-loaded"),
    8: ("process", "change", "remote-thread-created"),
    9: ("process", "access", "raw-access-read"),
    10: ("process", "access", "process-accessed"),
    11: ("file", "creation", "file-created"),
    12: ("registry", "change", "registry-object-added-or-deleted"),
    13: ("registry", "change", "registry-value-set"),
    14: ("registry", "change", "registry-object-renamed"),
    15: ("file", "creation", "file-stream-created"),
    16: ("configuration", "change", "sysmon-config-changed"),
    17: ("file", "creation", "pipe-created"),
    18: ("file", "access", "pipe-connected"),
    19: ("host", "creation", "wmi-filter"),
    20: ("host", "creation", "wmi-consumer"),
    21: ("host", "creation", "wmi-binding"),
    22: ("network", "protocol", "dns-query"),
    23: ("file", "deletion", "file-deleted"),
    24: ("host", "info", "clipboard-changed"),
    25: ("process", "change", "process-tampering"),
    26: ("file", "deletion", "file-deleted-detected"),
    27: ("file", "denied", "file-block-executable"),
    28: ("file", "denied", "file-block-shredding"),
    29: ("file", "creation", "file-executable-detected"),
}
_SECURITY: dict[int, tuple[str, str, str]] = {
    4624: ("authentication", "start", "logged-in"),
    4625: ("authentication", "start", "logon-failed"),
    4634: ("authentication", "end", "logged-out"),
    4647: ("authentication", "end", "logged-out"),
    4648: ("authentication", "start", "logged-in-explicit"),
    4672: ("iam", "admin", "logged-in-special"),
    4688: ("process", "start", "created-process"),
    4689: ("process", "end", "exited-process"),
    4697: ("configuration", "creation", "service-installed"),
    4698: ("configuration", "creation", "scheduled-task-created"),
    4699: ("configuration", "deletion", "scheduled-task-deleted"),
    4700: ("configuration", "change", "scheduled-task-enabled"),
    4701: ("configuration", "change", "scheduled-task-disabled"),
    4702: ("configuration", "change", "scheduled-task-updated"),
    4720: ("iam", "creation", "added-user-account"),
    4722: ("iam", "change", "enabled-user-account"),
    4724: ("iam", "change", "reset-password"),
    4725: ("iam", "change", "disabled-user-account"),
    4726: ("iam", "deletion", "deleted-user-account"),
    4728: ("iam", "change", "added-member-to-group"),
    4732: ("iam", "change", "added-member-to-group"),
    4756: ("iam", "change", "added-member-to-group"),
    4768: ("authentication", "start", "kerberos-authentication-ticket-requested"),
    4769: ("authentication", "start", "kerberos-service-ticket-requested"),
    4776: ("authentication", "start", "credential-validated"),
    5140: ("network", "access", "network-share-object-accessed"),
    5145: ("network", "access", "network-share-object-access-checked"),
    5156: ("network", "connection", "windows-firewall-connection-allowed"),
    1102: ("configuration", "deletion", "audit-log-cleared"),
}
_FAILURES = {4625, 4771, 4776}  # outcome failure when the status says so


def _hashes(value: str | None) -> Hash | None:
    """Sysmon `Hashes`: "SHA1=...,MD5=...,SHA256=...,IMPHASH=..." (or one bare hash)."""
    if not value:
        return None
    got: dict[str, str] = {}
    for part in value.split(","):
        name, eq, digest = part.partition("=")
        if eq and name.strip().lower() in ("md5", "sha1", "sha256", "sha512", "imphash"):
            got[name.strip().lower()] = digest.strip().lower()
    return Hash(**got) if got else None


def _pe(d: dict[str, str]) -> Pe | None:
    pe = Pe(original_file_name=d.get("OriginalFileName"), description=d.get("Description"),
            product=d.get("Product"), company=d.get("Company"),
            file_version=d.get("FileVersion"))  # fmt: skip
    return pe if pe != Pe() else None


def _name(path: str | None) -> str | None:
    return ntpath.basename(path) or None if path else None


def _domain_user(value: str | None) -> tuple[str | None, str | None]:
    """"DOMAIN\\user" → (domain, user)."""
    if not value:
        return None, None
    domain, sep, name = value.rpartition("\\")
    return (domain or None, name) if sep else (None, value)


def _file(path: str | None, hashes: Hash | None = None) -> File | None:
    if not path:
        return None
    name = ntpath.basename(path)
    ext = name.rpartition(".")[2] if "." in name else None
    return File(path=path, name=name or None, directory=ntpath.dirname(path) or None,
                extension=ext or None, hash=hashes)  # fmt: skip


_HIVES = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_USERS": "HKU", "HKEY_CURRENT_USER": "HKCU",
          "HKEY_CLASSES_ROOT": "HKCR", "HKEY_CURRENT_CONFIG": "HKCC"}  # fmt: skip


def _registry(path: str | None, details: str | None) -> Registry | None:
    if not path:
        return None
    hive, _, rest = path.partition("\\")
    hive = _HIVES.get(hive.upper(), hive)
    key, _, value = rest.rpartition("\\")
    data = RegistryData(strings=[details]) if details is not None else None
    return Registry(hive=hive or None, key=key or None, value=value or None, path=path, data=data)


def _pid(value: str | None) -> int | None:
    n = integer(value)
    return n if n is not None and n >= 0 else None


def _endpoint(ip: str | None, port: str | None, domain: str | None = None) -> Endpoint | None:
    ip = ip if ip and ip not in ("-", "") else None
    ep = Endpoint(ip=ip, port=_pid(port) if port and port not in ("-", "0") else None,
                  domain=domain if domain and domain != "-" else None)  # fmt: skip
    return ep if ep != Endpoint() else None


def to_event(rec: Record, source: str, n: int, module: str, original: str | None) -> Event:
    """The event for one record. `source`-`n` is its id (n: the record's place in its input)."""
    d = rec.data
    if any(" " in k for k in d):  # e.g. Defender's "Threat Name": Sigma says ThreatName
        d = rec.data = {k.replace(" ", ""): v for k, v in d.items()}
    eid = rec.event_id
    provider = rec.provider_name or ""
    sysmon = provider == SYSMON or (rec.channel or "").startswith("Microsoft-Windows-Sysmon")
    table = _SYSMON if sysmon else _SECURITY if provider == SECURITY else {}
    category, etype, action = table.get(eid or -1, ("host", None, None))
    outcome = None
    if eid in _FAILURES and provider == SECURITY:
        outcome = "failure" if eid == 4625 or d.get("Status", "0x0") not in ("0x0", "0") else "success"
    elif eid in (4624, 4648) and provider == SECURITY:
        outcome = "success"

    process = user = target = file = dll = registry = source_ep = dest_ep = network = None
    if sysmon:
        image = d.get("Image") or d.get("SourceImage")
        hashes = _hashes(d.get("Hashes"))
        if image or d.get("ProcessId"):
            parent = None
            if d.get("ParentImage") or d.get("ParentProcessId"):
                parent = ProcessParent(
                    pid=_pid(d.get("ParentProcessId")), entity_id=d.get("ParentProcessGuid"),
                    name=_name(d.get("ParentImage")), executable=d.get("ParentImage"),
                    command_line=d.get("ParentCommandLine"))  # fmt: skip
            process = Process(
                pid=_pid(d.get("ProcessId") or d.get("SourceProcessId")),
                entity_id=d.get("ProcessGuid") or d.get("SourceProcessGUID"),
                name=_name(image), executable=image, command_line=d.get("CommandLine"),
                working_directory=d.get("CurrentDirectory"),
                hash=hashes if eid == 1 else None, pe=_pe(d) if eid == 1 else None,
                parent=parent)  # fmt: skip
        domain, name = _domain_user(d.get("User") or d.get("SourceUser"))
        if name:
            user = User(name=name, domain=domain)
        if eid in (2, 11, 15, 23, 26, 27, 28, 29):
            file = _file(d.get("TargetFilename"), hashes if eid != 11 else None)
        elif eid == 6:
            file = _file(d.get("ImageLoaded"), hashes)
        elif eid == 7:
            loaded = d.get("ImageLoaded")
            dll = Dll(path=loaded, name=_name(loaded), hash=hashes, pe=_pe(d)) if loaded else None
        elif eid in (12, 13, 14):
            registry = _registry(d.get("TargetObject"), d.get("Details"))
        elif eid == 3:
            source_ep = _endpoint(d.get("SourceIp"), d.get("SourcePort"), d.get("SourceHostname"))
            dest_ep = _endpoint(d.get("DestinationIp"), d.get("DestinationPort"),
                                d.get("DestinationHostname"))  # fmt: skip
            network = Network(transport=(d.get("Protocol") or "").lower() or None)
        elif eid == 22:
            dest_ep = _endpoint(None, None, d.get("QueryName"))
    else:
        if d.get("SubjectUserName") or d.get("SubjectUserSid"):
            user = User(id=d.get("SubjectUserSid"), name=d.get("SubjectUserName"),
                        domain=d.get("SubjectDomainName"))  # fmt: skip
        if d.get("TargetUserName") or d.get("TargetUserSid"):
            target = UserTarget(id=d.get("TargetUserSid"), name=d.get("TargetUserName"),
                                domain=d.get("TargetDomainName"))  # fmt: skip
            if eid in (4624, 4625, 4634, 4648, 4768, 4769, 4776) or user is None:
                # logons: the account that logged on is the user (ECS), the subject the caller
                user = User(id=target.id, name=target.name, domain=target.domain)
                target = None
        if user is not None and target is not None:
            user = User(id=user.id, name=user.name, domain=user.domain, target=target)
        image = d.get("NewProcessName") or d.get("ProcessName") or d.get("Application")
        if image or d.get("NewProcessId"):
            parent_image = d.get("ParentProcessName")
            parent = None
            if eid == 4688:
                parent = ProcessParent(pid=_pid(d.get("ProcessId")), executable=parent_image,
                                       name=_name(parent_image))  # fmt: skip
            process = Process(pid=_pid(d.get("NewProcessId") or d.get("ProcessId")),
                              name=_name(image), executable=image,
                              command_line=d.get("CommandLine"), parent=parent)  # fmt: skip
        source_ep = _endpoint(d.get("IpAddress") or d.get("SourceAddress"),
                              d.get("IpPort") or d.get("SourcePort"),
                              d.get("WorkstationName"))  # fmt: skip
        dest_ep = _endpoint(d.get("DestAddress"), d.get("DestPort"))
        if d.get("ObjectName") and d.get("ObjectType") == "File":
            file = _file(d["ObjectName"])

    when = timestamp(rec.time) or "1970-01-01T00:00:00.000000Z"
    detail = (d.get("CommandLine") or d.get("TargetFilename") or d.get("TargetObject")
              or d.get("ImageLoaded") or d.get("QueryName") or d.get("ScriptBlockText")
              or d.get("TaskName") or d.get("ServiceName") or d.get("TargetUserName") or "")  # fmt: skip
    detail = detail.replace("\r", " ").replace("\n", " ")
    short = provider.replace("Microsoft-Windows-", "") or rec.channel or "windows"
    message = f"{short} {eid}" + (f" {action}" if action else "") + (f": {detail[:200]}" if detail else "")
    winlog = Winlog(
        channel=rec.channel, provider_name=rec.provider_name, provider_guid=rec.provider_guid,
        event_id=eid, record_id=rec.record_id, computer_name=rec.computer, version=rec.version,
        level=rec.level, task=rec.task, opcode=rec.opcode,
        keywords=[rec.keywords] if rec.keywords else None, activity_id=rec.activity_id,
        process=WinlogProcess(pid=rec.pid, thread_id=rec.thread_id)
        if rec.pid is not None or rec.thread_id is not None else None,
        user=WinlogUser(identifier=rec.user_sid) if rec.user_sid else None,
        event_data=d or None,
    )  # fmt: skip
    return Event(
        timestamp=when,
        event=EventMeta(id=f"{source}-{n}", kind="event", category=[category],
                        type=[etype] if etype else None, action=action, outcome=outcome,
                        code=str(eid) if eid is not None else None,
                        provider=rec.provider_name, module=module,
                        dataset=f"windows.{(rec.channel or 'unknown').lower()}",
                        original=original),  # fmt: skip
        message=message,
        source=source_ep, destination=dest_ep, network=network,
        host=Host(name=rec.computer) if rec.computer else None,
        user=user, process=process, file=file, dll=dll, registry=registry, winlog=winlog,
    )  # fmt: skip


# -- the shapes Windows events are exported in ----------------------------------------------------


def _attrs(node: Any) -> dict[str, Any]:
    return node.get("#attributes", {}) if isinstance(node, dict) else {}


def from_evtx_json(doc: dict[str, Any]) -> Record | None:
    """The `evtx` JSON shape ({"Event": {"System": ..., "EventData": ...}}), also what
    evtx_dump and SigmaHQ's regression data write. None when `doc` is not one."""
    event = doc.get("Event")
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        return None
    s = event["System"]
    provider = _attrs(s.get("Provider"))
    eid = s.get("EventID")
    if isinstance(eid, dict):  # <EventID Qualifiers="...">4</EventID>
        eid = eid.get("#text")
    rec = Record(
        event_id=integer(eid), provider_name=text(provider.get("Name")),
        provider_guid=text(provider.get("Guid")), channel=text(s.get("Channel")),
        computer=text(s.get("Computer")), time=text(_attrs(s.get("TimeCreated")).get("SystemTime")),
        record_id=integer(s.get("EventRecordID")), version=integer(s.get("Version")),
        level=text(s.get("Level")), task=text(s.get("Task")), opcode=text(s.get("Opcode")),
        keywords=text(s.get("Keywords")),
        activity_id=text(_attrs(s.get("Correlation")).get("ActivityID")),
        pid=integer(_attrs(s.get("Execution")).get("ProcessID")),
        thread_id=integer(_attrs(s.get("Execution")).get("ThreadID")),
        user_sid=text(_attrs(s.get("Security")).get("UserID")),
    )  # fmt: skip
    rec.data = _event_data(event.get("EventData")) or _event_data(event.get("UserData"))
    return rec


def _event_data(node: Any) -> dict[str, str]:
    """EventData / UserData as name → text. Unnamed <Data> elements (classic providers) become
    Data, Data1, ... ; UserData's single wrapper element is looked through."""
    out: dict[str, str] = {}
    if not isinstance(node, dict):
        if node is not None and text(node):
            out["Data"] = text(node) or ""
        return out
    items = {k: v for k, v in node.items() if k != "#attributes"}
    if len(items) == 1:
        (only_key, only), = items.items()
        if isinstance(only, dict) and only_key not in ("Data",):  # UserData wrapper
            items = {k: v for k, v in only.items() if k != "#attributes"}
    for key, value in items.items():
        if key == "Data" and isinstance(value, (list, dict)):
            values = value if isinstance(value, list) else [value]
            unnamed = []
            for v in values:
                name = _attrs(v).get("Name") if isinstance(v, dict) else None
                body = text(v.get("#text") if isinstance(v, dict) else v) or ""
                if name:
                    out[name] = body
                else:  # classic providers: values without names, joined as Sigma's `Data`
                    unnamed.append(body)
            if unnamed:
                out["Data"] = "\n".join(unnamed)
            continue
        if key == "Binary":
            out["Binary"] = text(value) or ""
            continue
        t = text(value)
        out[key] = "" if t is None else t
    return out


def record_key(rec: Record) -> str:
    """A short digest of a record's identity (for logs that carry no stable position)."""
    h = hashlib.blake2b(digest_size=6)
    h.update(f"{rec.computer}|{rec.channel}|{rec.record_id}|{rec.time}".encode())
    return h.hexdigest()
