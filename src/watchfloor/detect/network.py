"""SigmaHQ's network rules on events read from Zeek and Suricata logs, unchanged.

Two halves, as for Windows (`windows.py`):

- `logsource(...)`: an event imported from a Zeek log is product `zeek` with the log as its service
  (`dns`, `http`, `ssl`, `conn`, ...), as SigmaHQ's Zeek rules expect; any event with `dns.*` is
  also Sigma category `dns`, and any with `http.*` category `proxy` (SigmaHQ's web-proxy
  taxonomy: the request a client made), whichever tool logged it.
- `pipeline()` (pySigma): the rules' field names — Zeek's own (`query`, `uri`, `user_agent`,
  `id.orig_h`, ...) and the taxonomy's (`query`, `c-uri`, `cs-method`, `c-useragent`, ...) —
  address the ECS fields the readers fill.
"""

from __future__ import annotations

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

FieldMap = dict[str | None, str | list[str]]

CONNECTION: FieldMap = {
    "id.orig_h": "source.ip", "id.orig_p": "source.port", "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port", "uid": "zeek.uid", "proto": "network.transport",
    "community_id": "network.community_id",
}  # fmt: skip

#: Zeek log → its fields' ECS names (those the readers fill).
ZEEK: dict[str, FieldMap] = {
    "dns": {"query": "dns.question.name", "qtype_name": "dns.question.type",
            "qclass_name": "dns.question.class", "rcode_name": "dns.response_code",
            "answers": "dns.answers.data", "TTLs": "dns.answers.ttl", "trans_id": "dns.id"},
    "http": {"method": "http.request.method", "host": "url.domain", "uri": "url.original",
             "referrer": "http.request.referrer", "user_agent": "user_agent.original",
             "status_code": "http.response.status_code", "version": "http.version",
             "request_body_len": "http.request.body.bytes",
             "response_body_len": "http.response.body.bytes",
             "resp_mime_types": "http.response.mime_type", "orig_mime_types": "http.request.mime_type"},
    "ssl": {"server_name": "tls.client.server_name", "cipher": "tls.cipher", "curve": "tls.curve",
            "ja3": "tls.client.ja3", "ja3s": "tls.server.ja3s", "subject": "tls.server.subject",
            "issuer": "tls.server.issuer", "established": "tls.established", "resumed": "tls.resumed",
            "next_protocol": "tls.next_protocol"},
    "conn": {"service": "network.protocol", "conn_state": "zeek.conn_state", "history": "zeek.history",
             "orig_bytes": "source.bytes", "resp_bytes": "destination.bytes",
             "orig_pkts": "source.packets", "resp_pkts": "destination.packets"},
    "files": {"filename": "file.name", "md5": "file.hash.md5", "sha1": "file.hash.sha1",
              "sha256": "file.hash.sha256", "total_bytes": "file.size", "fuid": "zeek.fuid"},
    "notice": {"note": "zeek.notice", "msg": "message", "src": "source.ip", "dst": "destination.ip",
               "p": "destination.port"},
    "weird": {"name": "event.action"},
    "dhcp": {"mac": "source.mac", "host_name": "source.domain", "client_addr": "source.ip",
             "assigned_addr": "source.ip", "server_addr": "destination.ip"},
}  # fmt: skip

#: SigmaHQ taxonomy categories → ECS.
CATEGORIES: dict[str, FieldMap] = {
    "dns": {"query": "dns.question.name", "answer": "dns.answers.data", "record_type": "dns.question.type",
            "src_ip": "source.ip", "dst_ip": "destination.ip"},
    "proxy": {"c-uri": "url.original", "c-uri-query": "url.query", "c-uri-stem": "url.path", "c-uri-extension": "url.extension",
              "c-useragent": "user_agent.original", "cs-method": "http.request.method",
              "cs-host": "url.domain", "r-dns": "url.domain", "cs-referrer": "http.request.referrer",
              "sc-status": "http.response.status_code", "c-ip": "source.ip", "dst_ip": "destination.ip",
              "cs-bytes": "http.request.body.bytes", "sc-bytes": "http.response.body.bytes"},
}  # fmt: skip


def logsource(zeek_log: str | None, has_dns: bool, has_http: bool) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """(Sigma categories, product, services) the network facts of an event add."""
    cats = (("dns",) if has_dns else ()) + (("proxy",) if has_http else ())
    if zeek_log:
        return cats, "zeek", (zeek_log,)
    return cats, None, ()


def pipeline() -> ProcessingPipeline:
    items = []
    for service, fields in ZEEK.items():
        items.append(ProcessingItem(
            FieldMappingTransformation({**CONNECTION, **fields}), identifier=f"zeek_{service}_ecs",
            rule_conditions=[LogsourceCondition(product="zeek", service=service)]))  # fmt: skip
    for category, fields in CATEGORIES.items():
        items.append(ProcessingItem(
            FieldMappingTransformation(fields), identifier=f"category_{category}_ecs",
            rule_conditions=[LogsourceCondition(category=category)]))  # fmt: skip
    return ProcessingPipeline(name="SigmaHQ network rules → Watchfloor network events", priority=20,
                              items=items)  # fmt: skip
