"""AWS CloudTrail: the log files CloudTrail delivers to S3 (`{"Records": [...]}`, gzip), CloudTrail
Lake / CloudWatch exports and shippers' JSON lines (one record per line, e.g. OTRF's datasets).

ECS mapping (as Elastic's AWS integration does): `event.action` = eventName, `event.provider` =
eventSource, `event.outcome` from errorCode, `cloud.*` from the region and account,
`user.*` from userIdentity, `source.ip` (or `source.domain` when an AWS service made the call),
`user_agent.original`; the whole record is `event.original`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..schema import Event
from ..schema.events import (
    Cloud,
    CloudAccount,
    CloudService,
    Endpoint,
    EventMeta,
    User,
    UserAgent,
)
from . import Corrupt, Format
from .jsonio import first_records, records
from .windows import text, timestamp

_CATEGORY = {"signin.amazonaws.com": "authentication", "sts.amazonaws.com": "authentication",
             "iam.amazonaws.com": "iam", "sso.amazonaws.com": "iam"}  # fmt: skip
_READS = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Scan", "Query", "Select")


def is_cloudtrail(doc: dict[str, Any]) -> bool:
    return "eventSource" in doc and "eventName" in doc and ("eventTime" in doc or "@timestamp" in doc)


def sniff(head: bytes, name: str) -> bool:
    recs = first_records(head)
    return bool(recs) and sum(is_cloudtrail(r) for r in recs) * 2 > len(recs)


def _ip(value: str | None) -> bool:
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True


def to_event(doc: dict[str, Any], event_id: str, original: str) -> Event:
    source = text(doc.get("eventSource")) or ""
    name = text(doc.get("eventName")) or ""
    error = text(doc.get("errorCode"))
    ident = doc.get("userIdentity") if isinstance(doc.get("userIdentity"), dict) else {}
    session = ident.get("sessionContext") if isinstance(ident.get("sessionContext"), dict) else {}
    issuer = session.get("sessionIssuer") if isinstance(session.get("sessionIssuer"), dict) else {}
    arn = text(ident.get("arn"))
    user_name = text(ident.get("userName")) or text(issuer.get("userName"))
    if user_name is None and arn:
        user_name = arn.rpartition("/")[2] or None
    if name == "ConsoleLogin":
        response = doc.get("responseElements") if isinstance(doc.get("responseElements"), dict) else {}
        outcome = "failure" if (error or text(response.get("ConsoleLogin")) == "Failure") else "success"
    else:
        outcome = "failure" if error else "success"
    ip = text(doc.get("sourceIPAddress"))
    category = _CATEGORY.get(source, "api" if source else "host")
    etype = "access" if name.startswith(_READS) else "change"
    if category == "authentication":
        etype = "start"
    region, account = text(doc.get("awsRegion")), text(doc.get("recipientAccountId") or ident.get("accountId"))
    message = f"{source} {name}" + (f" by {user_name}" if user_name else "")
    if error:
        message += f" failed: {error}" + (f" ({text(doc.get('errorMessage'))})" if doc.get("errorMessage") else "")
    return Event(
        timestamp=timestamp(text(doc.get("eventTime") or doc.get("@timestamp")))
        or "1970-01-01T00:00:00.000000Z",
        event=EventMeta(id=event_id, kind="event", category=[category], type=[etype], action=name or None,
                        outcome=outcome, code=text(doc.get("eventType")), provider=source or None,
                        module="cloudtrail", dataset="aws.cloudtrail", original=original),  # fmt: skip
        message=message,
        source=Endpoint(ip=ip) if _ip(ip) else Endpoint(domain=ip) if ip else None,
        user=User(id=text(ident.get("principalId")), name=user_name,
                  roles=[text(issuer.get("arn")) or ""] if issuer.get("arn") else None)
        if ident else None,
        user_agent=UserAgent(original=text(doc.get("userAgent"))) if doc.get("userAgent") else None,
        cloud=Cloud(provider="aws", region=region, account=CloudAccount(id=account) if account else None,
                    service=CloudService(name=source) if source else None),  # fmt: skip
    )  # fmt: skip


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    n = 0
    for item in records(stream):
        if isinstance(item, Corrupt):
            yield item
            continue
        position, original, doc = item
        n += 1
        if not is_cloudtrail(doc):
            yield Corrupt(position, "not a CloudTrail record (no eventSource/eventName/eventTime)")
            continue
        yield to_event(doc, f"{source}-{n}", original.decode("utf-8", "replace"))


FORMAT = Format("cloudtrail", sniff, read)
