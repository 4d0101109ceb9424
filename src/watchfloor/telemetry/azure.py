"""Microsoft cloud audit logs: Azure Activity, Entra ID (Azure AD) sign-in and audit logs.

Both export forms are read: diagnostic settings (storage account / Event Hub: `{"records": [...]}`
or JSON lines; `time`, `category`, `operationName`, `properties`) and the REST / Microsoft Graph
form (`{"value": [...]}`; Activity: `eventTimestamp`, `operationName.value`; sign-ins:
`createdDateTime`, `userPrincipalName`; audit: `activityDateTime`, `activityDisplayName`).

ECS: sign-ins are `authentication` with `event.outcome` from the error code (0 = success),
`user.*`, `source.ip` and `source.geo`, `user_agent`; audit entries are `iam` (or
`configuration`) with the initiator as `user` and the first target as `user.target`; Activity
entries are `configuration` with the caller as `user`, `cloud.account.id` the subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from ..schema import Event
from ..schema.events import (
    Cloud,
    CloudAccount,
    CloudService,
    Endpoint,
    EventMeta,
    Geo,
    User,
    UserAgent,
    UserTarget,
)
from . import Corrupt, Format
from .jsonio import first_records, records
from .windows import text, timestamp

EPOCH = "1970-01-01T00:00:00.000000Z"


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def kind(doc: dict[str, Any]) -> str | None:
    """signin, audit, activity or None."""
    category = doc.get("category")
    cat = (text(_d(category).get("value")) if isinstance(category, dict) else text(category)) or ""
    c = cat.lower()
    if c in ("signinlogs", "noninteractiveusersigninlogs", "serviceprincipalsigninlogs",
             "managedidentitysigninlogs"):  # fmt: skip
        return "signin"
    if c == "auditlogs" or ("activityDisplayName" in doc and "activityDateTime" in doc):
        return "audit"
    if "createdDateTime" in doc and ("userPrincipalName" in doc or "appDisplayName" in doc):
        return "signin"
    if ("resourceId" in doc or "resourceUri" in doc) and "operationName" in doc and (
            "time" in doc or "eventTimestamp" in doc):  # fmt: skip
        return "activity"
    return None


def sniff(head: bytes, name: str) -> bool:
    recs = first_records(head)
    return bool(recs) and sum(kind(r) is not None for r in recs) * 2 > len(recs)


def _geo(location: dict[str, Any]) -> Geo | None:
    g = Geo(country_iso_code=text(location.get("countryOrRegion")), region_name=text(location.get("state")),
            city_name=text(location.get("city")))  # fmt: skip
    return g if g != Geo() else None


def _signin(doc: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    status = _d(p.get("status"))
    code = status.get("errorCode", doc.get("resultType"))
    ok = str(code) in ("0", "None", "") if code is not None else None
    upn = text(p.get("userPrincipalName"))
    ip = text(p.get("ipAddress") or doc.get("callerIpAddress"))
    app = text(p.get("appDisplayName"))
    reason = text(status.get("failureReason") or doc.get("resultDescription"))
    message = f"sign-in {'succeeded' if ok else 'failed'}: {upn or '?'}" + (f" to {app}" if app else "") + (
        f" from {ip}" if ip else "") + (f" ({reason})" if not ok and reason else "")  # fmt: skip
    return dict(
        time=p.get("createdDateTime") or doc.get("time"), category="authentication", type="start",
        action="sign-in", outcome=None if ok is None else "success" if ok else "failure",
        code=text(code), message=message,
        source=Endpoint(ip=ip, geo=_geo(_d(p.get("location")))) if ip else None,
        user=User(id=text(p.get("userId")), name=upn, full_name=text(p.get("userDisplayName")),
                  email=upn if upn and "@" in upn else None),  # fmt: skip
        user_agent=text(p.get("userAgent")), service=app,
        account=text(p.get("tenantId") or doc.get("tenantId")), dataset="azure.signinlogs",
    )  # fmt: skip


def _audit(doc: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    initiated = _d(p.get("initiatedBy"))
    by_user, by_app = _d(initiated.get("user")), _d(initiated.get("app"))
    targets = [t for t in p.get("targetResources") or [] if isinstance(t, dict)]
    first = targets[0] if targets else {}
    name = text(p.get("activityDisplayName") or doc.get("operationName"))
    result = (text(p.get("result") or doc.get("resultType")) or "").lower()
    actor = text(by_user.get("userPrincipalName")) or text(by_app.get("displayName"))
    target = text(first.get("userPrincipalName") or first.get("displayName"))
    category = text(p.get("category")) or ""
    return dict(
        time=p.get("activityDateTime") or doc.get("time"),
        category="iam" if category in ("UserManagement", "GroupManagement", "RoleManagement",
                                       "ApplicationManagement", "Policy", "") else "configuration",
        type="change", action=name, code=text(p.get("operationType")),
        outcome="success" if result == "success" else "failure" if result in ("failure", "timeout") else None,
        message=f"{name}" + (f" by {actor}" if actor else "") + (f" on {target}" if target else ""),
        source=Endpoint(ip=text(by_user.get("ipAddress"))) if by_user.get("ipAddress") else None,
        user=User(id=text(by_user.get("id") or by_app.get("servicePrincipalId")), name=actor,
                  target=UserTarget(id=text(first.get("id")), name=target) if target else None),
        service=text(p.get("loggedByService")), account=text(doc.get("tenantId")),
        dataset="azure.auditlogs",
    )  # fmt: skip


def _activity(doc: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    op = doc.get("operationName")
    name = text(_d(op).get("value")) if isinstance(op, dict) else text(op)
    status = doc.get("status")
    result = (text(_d(status).get("value")) if isinstance(status, dict) else text(doc.get("resultType"))) or ""
    identity = _d(doc.get("identity"))
    claims = _d(identity.get("claims"))
    caller = text(doc.get("caller") or claims.get("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
                  or claims.get("name"))  # fmt: skip
    ip = text(doc.get("callerIpAddress") or _d(doc.get("httpRequest")).get("clientIpAddress"))
    resource = text(doc.get("resourceId") or doc.get("resourceUri")) or ""
    parts = resource.split("/")
    subscription = text(doc.get("subscriptionId")) or (parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else None)
    provider = next((parts[i + 1] for i, x in enumerate(parts[:-1]) if x.lower() == "providers"), None)
    r = result.lower()
    return dict(
        time=doc.get("time") or doc.get("eventTimestamp"), category="configuration",
        type="deletion" if name and name.lower().endswith("/delete") else "change", action=name,
        outcome="success" if r in ("success", "succeeded") else "failure" if r in ("failure", "failed") else None,
        code=text(doc.get("resultSignature")),
        message=f"{name} {result}".strip() + (f" by {caller}" if caller else "") + (f" on {resource}" if resource else ""),
        source=Endpoint(ip=ip) if ip else None,
        user=User(name=caller, email=caller if caller and "@" in caller else None) if caller else None,
        service=provider, account=subscription, dataset="azure.activitylogs",
    )  # fmt: skip


def to_event(doc: dict[str, Any], event_id: str, original: str) -> Event | None:
    k = kind(doc)
    if k is None:
        return None
    p = _d(doc.get("properties")) or doc  # Graph records hold the properties at the top level
    f = _signin(doc, p) if k == "signin" else _audit(doc, p) if k == "audit" else _activity(doc, p)
    return Event(
        timestamp=timestamp(text(f["time"])) or EPOCH,
        event=EventMeta(id=event_id, kind="event", category=[f["category"]], type=[f["type"]],
                        action=f["action"], outcome=f["outcome"], code=f["code"],
                        provider="azure", module="azure", dataset=f["dataset"], original=original),  # fmt: skip
        message=f["message"], source=f["source"], user=f["user"],
        user_agent=UserAgent(original=f["user_agent"]) if f.get("user_agent") else None,
        cloud=Cloud(provider="azure", account=CloudAccount(id=f["account"]) if f["account"] else None,
                    service=CloudService(name=f["service"]) if f["service"] else None),  # fmt: skip
    )  # fmt: skip


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    n = 0
    for item in records(stream):
        if isinstance(item, Corrupt):
            yield item
            continue
        position, original, doc = item
        n += 1
        ev = to_event(doc, f"{source}-{n}", original.decode("utf-8", "replace"))
        if ev is None:
            yield Corrupt(position, "not an Azure Activity / Entra ID sign-in or audit record")
        else:
            yield ev


FORMAT = Format("azure", sniff, read)
