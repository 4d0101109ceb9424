"""OPC UA deeper fields against ICSNPP's decoded output that ships with the corpus.

ICSNPP OPC UA Binary (Zeek) btest baselines (``*.pcap.zeek-baseline/*/opcua_binary*.log``) for
three captures (a data gap, no handshake, a non-standard port). The baselines carry no
``#fields`` header, so columns are read by position (1-based: in ``opcua_binary.log`` 7 is the
message type; in the per-service logs 7 = is_orig, 8-11 the endpoints, 12 on the log's own
fields, in the order of ICSNPP's ``scripts/*-types.zeek``). Compared:

* ``opcua_binary.log``: per request/response row, the message type and the request and response
  service ids (the ``identifier`` before ``...Request`` / ``...Response``);
* ``opensecure_channel``: request type, security mode, requested lifetime; the response's
  channel id, token id, revised lifetime;
* ``create_session``: the client's application URI, product URI, name, type, the endpoint URL,
  session name and requested timeout;
* ``activate_session``: identity token type, policy id, user name;
* ``get_endpoints_description``: endpoint URL, server application URI, product URI, name,
  security mode and policy, transport profile, security level;
* ``read_nodes_to_read`` / ``write``: node id and attribute id of every operation;
* ``browse_description``: node id and direction of every node browsed;
* ``create_subscription``: requested and revised publishing interval, subscription id;
* ``status_code_detail`` (source ResponseHeader): every service result.

Each comparison is a multiset agreement (peer items found in ours / peer items), printed, and
required to be complete. Run with ``-s`` to see the figures quoted in the decoder README.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from . import tshark as T

TRACES = T.CORPUS / "pcaps/cisagov__icsnpp-opcua-binary/tests/traces"
CAPTURES = sorted(TRACES.glob("*.pcap")) if TRACES.is_dir() else []
_MODES = {"1": "none", "2": "sign", "3": "sign_and_encrypt"}
_DIRECTIONS = {"FWD": 0, "INV": 1, "BOTH": 2}
_APP_TYPES = {"0": "server", "1": "client", "2": "client_and_server", "3": "discovery_server"}


def _log(capture: Path, name: str) -> list[list[str | None]]:
    """Rows of one ICSNPP log, fields from column 7 (is_orig) on; ``-`` is None."""
    logs = list(capture.parent.glob(f"{capture.name}.zeek-baseline/*/opcua_binary{name}.log"))
    rows = []
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                rows.append([None if c == "-" else c for c in line.split("\t")[6:]])
    return rows


def _node(enc_ns_num_str_guid: list) -> str | None:
    _, ns, num, s, guid = enc_ns_num_str_guid[:5]
    prefix = f"ns={ns};" if ns not in (None, "0") else ""
    if num is not None:
        return f"{prefix}i={num}"
    if s is not None:
        return f"{prefix}s={s}"
    if guid is not None:
        return f"{prefix}g={guid}"
    return None


def _ours(capture: Path) -> list[dict]:
    return [e for e in T.run_decoder(capture) if T.get_path(e, "ot.opcua") is not None]


def _agree(name: str, peer: Counter, ours: Counter) -> None:
    matched = exact = sum((peer & ours).values())
    # a peer item with a side missing (None: ICSNPP lost a response in a gap) matches an item of
    # ours that agrees on every field the peer has
    rest = ours - peer
    for item, n in (peer - ours).items():
        for cand in list(rest):
            if rest[cand] and len(cand) == len(item) and \
                    all(p is None or p == c for p, c in zip(item, cand)):  # fmt: skip
                take = min(n, rest[cand])
                matched, n = matched + take, n - take
                rest[cand] -= take
            if not n:
                break
    total = sum(peer.values())
    partial = f" ({matched - exact} on the fields ICSNPP has)" if matched > exact else ""
    print(f"{name}: {matched}/{total} ICSNPP items found in ours{partial}")
    assert matched == total, f"{name}: ICSNPP items missing from ours: {peer - ours}"


def _by_role(events: list[dict], action: str | None = None, role: str = "request") -> list[dict]:
    return [e["ot"]["opcua"] for e in events if e["ot"].get("role") == role
            and (action is None or e["event"]["action"] == action)]


@pytest.mark.corpus
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_icsnpp_opcua_binary(capture: Path) -> None:
    events = _ours(capture)
    checked = 0

    # opcua_binary.log: message type, request / response service ids per row
    peer: Counter = Counter()
    for row in _log(capture, ""):
        req = next((row[i - 1] for i, c in enumerate(row) if c and c.endswith("Request") and i), None)
        resp = next((row[i - 1] for i, c in enumerate(row) if c and c.endswith("Response") and i), None)
        peer[(row[0], int(req) if req else None, int(resp) if resp else None)] += 1
    ours: Counter = Counter()
    pending: dict = {}
    for e in events:
        o, role = e["ot"]["opcua"], e["ot"].get("role")
        if o["message_type"] in ("HEL", "ACK", "ERR"):
            ours[(o["message_type"], None, None)] += 1
        if o.get("service_id") is None:
            continue
        key = (e["source"]["port"], e["destination"]["port"], o["request_id"])
        if role == "request":
            pending[(key[1], key[0], key[2])] = o
            if o["message_type"] == "CLO":
                ours[("CLO", o["service_id"], None)] += 1
        elif role == "response":
            req = pending.pop(key, None)
            ours[(o["message_type"], req and req["service_id"], o["service_id"])] += 1
    if peer:
        _agree(f"{capture.name} opcua_binary (type, request, response service)", peer, ours)
        checked += 1

    rows = _log(capture, "_opensecure_channel")
    if rows:
        peer = Counter()
        for r in rows:
            if r[0] == "T":
                peer[("req", {"0": "issue", "1": "renew"}[r[6]], _MODES[r[7]], int(r[9]))] += 1
            else:
                peer[("resp", int(r[11]), int(r[12]), int(r[14]))] += 1
        ours = Counter()
        for o in _by_role(events, "open_secure_channel"):
            ours[("req", o.get("request_type"), o.get("security_mode"), o.get("requested_lifetime"))] += 1
        for o in _by_role(events, "open_secure_channel", "response"):
            ours[("resp", o.get("secure_channel_id"), o.get("security_token_id"), o.get("revised_lifetime"))] += 1
        _agree(f"{capture.name} opensecure_channel", peer, ours)
        checked += 1

    rows = [r for r in _log(capture, "_create_session") if r[0] == "T"]
    if rows:
        peer = Counter((r[5], r[6], r[9], _APP_TYPES[r[10]], r[14], r[15], float(r[19]))
                       for r in rows)  # fmt: skip
        ours = Counter()
        for o in _by_role(events, "create_session"):
            app = (o.get("applications") or [{}])[0]
            ours[(app.get("application_uri"), app.get("product_uri"), app.get("application_name"),
                  app.get("application_type"), o.get("endpoint_url"), o.get("session_name"),
                  o.get("session_timeout"))] += 1  # fmt: skip
        _agree(f"{capture.name} create_session", peer, ours)
        checked += 1

    rows = [r for r in _log(capture, "_activate_session") if r[0] == "T"]
    if rows:
        kinds = {"AnonymousIdentityToken": "anonymous", "UserNameIdentityToken": "username",
                 "X509IdentityToken": "certificate", "IssuedIdentityToken": "issued_token"}
        peer = Counter()
        for r in rows:
            i = next(i for i, c in enumerate(r) if c in kinds)
            peer[(kinds[r[i]], r[i + 2], r[i + 3] if r[i] == "UserNameIdentityToken" else None)] += 1
        ours = Counter((o.get("identity_token"), o.get("policy_id"), o.get("user_name"))
                       for o in _by_role(events, "activate_session"))  # fmt: skip
        _agree(f"{capture.name} activate_session", peer, ours)
        checked += 1

    rows = _log(capture, "_get_endpoints_description")
    if rows:
        peer = Counter((r[5], r[6], r[7], r[10], _APP_TYPES[r[11]], _MODES[r[-4]], r[-3], r[-2],
                        int(r[-1])) for r in rows)  # fmt: skip
        ours = Counter()
        for o in _by_role(events, "get_endpoints", "response"):
            for ep in o.get("endpoints") or ():
                app = (o.get("applications") or [{}])[0]
                ours[(ep["endpoint_url"], app.get("application_uri"), app.get("product_uri"),
                      app.get("application_name"), app.get("application_type"), ep["security_mode"],
                      ep["security_policy"], ep["transport_profile"], ep["security_level"])] += 1  # fmt: skip
        _agree(f"{capture.name} get_endpoints_description", peer, ours)
        checked += 1

    for log, action in (("_read_nodes_to_read", "read"), ("_write", "write")):
        rows = [r for r in _log(capture, log) if r[0] == "T"]
        if rows:
            peer = Counter((_node(r[5:10]), int(r[11])) for r in rows)
            ours = Counter((n["node_id"], n.get("attribute_id")) for o in _by_role(events, action)
                           for n in o.get("nodes") or ())  # fmt: skip
            _agree(f"{capture.name} {action} nodes", peer, ours)
            checked += 1

    rows = [r for r in _log(capture, "_browse_description") if r[0] == "T"]
    if rows:
        peer = Counter((_node(r[5:10]), _DIRECTIONS[r[11]]) for r in rows)
        ours = Counter((n["node_id"], n.get("browse_direction")) for o in _by_role(events, "browse")
                       for n in o.get("nodes") or ())  # fmt: skip
        _agree(f"{capture.name} browse nodes", peer, ours)
        checked += 1

    rows = _log(capture, "_create_subscription")
    if rows:
        peer = Counter()
        for r in rows:
            if r[0] == "T":
                peer[("req", float(r[5]))] += 1
            else:
                peer[("resp", int(r[11]), float(r[12]))] += 1
        ours = Counter(("req", o.get("publishing_interval")) for o in _by_role(events, "create_subscription"))
        ours += Counter(("resp", o.get("subscription_id"), o.get("publishing_interval"))
                        for o in _by_role(events, "create_subscription", "response"))  # fmt: skip
        _agree(f"{capture.name} create_subscription", peer, ours)
        checked += 1

    rows = [r for r in _log(capture, "_status_code_detail") if r[6] == "ResponseHeader"]
    if rows:
        peer = Counter(int(r[8], 16) for r in rows)
        ours = Counter(o["status_code"] for o in _by_role(events, None, "response")
                       if o.get("status_code") is not None and o["message_type"] != "ERR")  # fmt: skip
        _agree(f"{capture.name} service results", peer, ours)
        checked += 1
    assert checked, f"{capture.name}: no ICSNPP log compared"
