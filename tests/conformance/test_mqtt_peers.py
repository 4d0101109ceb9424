"""MQTT deeper fields against Suricata's expected eve records (OISF/suricata-verify).

Each MQTT capture of suricata-verify ships ``<capture>.suricata-expected.json``: filters over
Suricata's eve records (``mqtt.<packet type>.<field>: value``, count >= 1). For every such filter
and every packet type it names, one of our events of that type must carry all the values it
states that we decode. Keys we deliberately do not keep (the password, payload bytes, 5.0 will
properties, Suricata's own truncation bookkeeping) are counted as not compared.

Fixed-header QoS/retain/DUP of packets other than PUBLISH are the flags the type must carry
(3.1.1 §2.2.2): they are compared through the absence of our ``invalid_flags`` anomaly.
Run with ``-s`` to see the figures quoted in decode/mqtt/README.md.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from watchfloor.decode.mqtt.constants import PACKET_TYPES, REQUIRED_FLAGS

from . import tshark as T

PCAPS = T.CORPUS / "pcaps"
EXPECTED = sorted(p for p in PCAPS.glob("OISF__suricata-verify/tests/*/*.suricata-expected.json")
                  if "mqtt" in p.parent.name) if PCAPS.is_dir() else []  # fmt: skip
_TYPES = {p.name: t for t, p in PACKET_TYPES.items()}
NOT_KEPT = ("password", "message", "truncated", "skipped_length", "will.message", "will.properties.")
_PLAIN = {"protocol_string": "protocol_name", "protocol_version": "protocol_level",
          "flags.username": "username_present", "flags.password": "password_present",
          "flags.clean_session": "clean_session", "client_id": "client_id", "username": "username",
          "session_present": "session_present", "return_code": "reason_code",
          "message_id": "packet_id", "topic": "topic", "reason_code": "reason_code",
          "reason_codes": "reason_codes", "qos_granted": "reason_codes",
          "will.topic": "will_topic"}  # fmt: skip


def _ours(ev: dict, ptype: int, key: str) -> Any:
    """Our value for Suricata's `key` on an event of type `ptype`; KeyError when not decoded."""
    m = ev["ot"]["mqtt"]
    if key in ("qos", "retain", "dup"):
        if ptype == 3:
            return m.get(key)
        if "invalid_flags" in (ev["ot"].get("anomalies") or ()):
            return None
        flags = REQUIRED_FLAGS[ptype]
        return {"qos": (flags >> 1) & 3, "retain": bool(flags & 1), "dup": bool(flags & 8)}[key]
    if key in _PLAIN:
        return m.get(_PLAIN[key])
    if key == "flags.will":
        return m.get("will_topic") is not None
    if key == "flags.will_retain":
        return bool(m.get("will_retain"))
    if key == "topics":
        if ptype == 8:
            return [{"topic": t, "qos": q} for t, q in zip(m["topic_filters"], m["requested_qos"])]
        return m.get("topic_filters")
    if key.startswith("properties."):
        name = key.split(".", 1)[1]
        pairs = dict(p.split("=", 1) for p in m.get("user_properties") or ())
        if name in pairs:
            return pairs[name]
        return name if name in (m.get("properties") or ()) else None
    raise KeyError(key)


def _expected(key: str, value: Any) -> Any:
    """Suricata's value in the form `_ours` gives (a property's presence for those we do not keep)."""
    if key.startswith("properties.") and not key.startswith("properties.userprop"):
        return key.split(".", 1)[1]
    return value


_CUT = re.compile(r"^(.*)\[truncated (\d+) additional bytes\]$", re.S)


def _same(ours: Any, want: Any) -> bool:
    """Equal, where Suricata's log limit cut a string short ("...[truncated N additional bytes]")."""
    if isinstance(want, str) and isinstance(ours, str) and (cut := _CUT.match(want)):
        head, more = cut.group(1), int(cut.group(2))
        return ours.startswith(head) and len(ours.encode()) == len(head.encode()) + more
    if isinstance(want, list) and isinstance(ours, list):
        return len(ours) == len(want) and all(_same(o, w) for o, w in zip(ours, want))
    if isinstance(want, dict) and isinstance(ours, dict):
        return ours.keys() == want.keys() and all(_same(ours[k], w) for k, w in want.items())
    return ours == want


def compare(expected: Path) -> tuple[int, int, int, list[str]]:
    """(keys compared, keys agreeing, keys not compared, disagreements) for one capture."""
    pcap = expected.with_name(expected.name.removesuffix(".suricata-expected.json"))
    events = [e for e in T.run_decoder(pcap) if e.get("ot", {}).get("mqtt")]
    compared = agreed = skipped = 0
    bad: list[str] = []
    for test in json.loads(expected.read_text())["tests"]:
        for check in test["checks"]:
            f = check.get("filter") or {}
            if not f.get("count"):
                continue
            by_type: dict[str, dict[str, Any]] = {}
            for key, value in f.get("match", {}).items():
                if key.startswith("mqtt."):
                    ptype, field = key[5:].split(".", 1)
                    by_type.setdefault(ptype, {})[field] = value
            for name, fields in by_type.items():
                ptype = _TYPES[name]
                want = {k: _expected(k, v) for k, v in fields.items() if not k.startswith(NOT_KEPT)}
                skipped += len(fields) - len(want)
                cands = [e for e in events if e["ot"]["mqtt"]["message_type"] == ptype]
                best = max((sum(_same(_ours(e, ptype, k), v) or _suricata_wrong(e, k, v)
                                for k, v in want.items()) for e in cands), default=0)  # fmt: skip
                compared += len(want)
                agreed += best
                if best < len(want):
                    bad.append(f"{pcap.parent.name}: {name} {want}")
    return compared, agreed, skipped, bad


PEER_WRONG: list[str] = []


def _suricata_wrong(ev: dict, key: str, value: Any) -> bool:
    """Suricata 7 reports reason code 0 for a 5.0 DISCONNECT of remaining length 1, whatever the
    reason byte (its parse_disconnect returns Some(0) when no properties follow). The byte is on
    the wire: ``e0 01 04`` is 0x04 "disconnect with will message" (5.0 §3.14.2.1)."""
    m = ev["ot"]["mqtt"]
    wrong = (key == "reason_code" and m["message_type"] == 14 and value == 0
             and m.get("reason_code") and "properties" not in m)  # fmt: skip
    if wrong:
        PEER_WRONG.append(f"{ev['pcap']['file']} frame {ev['pcap']['frame']}")
    return bool(wrong)


@pytest.mark.corpus
@pytest.mark.skipif(not EXPECTED, reason="no suricata-verify MQTT captures in the corpus")
def test_suricata_expectations() -> None:
    totals = [0, 0, 0]
    problems: list[str] = []
    for exp in EXPECTED:
        c, a, s, bad = compare(exp)
        totals = [totals[0] + c, totals[1] + a, totals[2] + s]
        problems += bad
    wrong = len(set(PEER_WRONG))
    print(f"suricata-verify MQTT: {len(EXPECTED)} captures, {totals[0]} expected values compared, "
          f"{totals[1]} agree (of which {wrong} where Suricata is wrong, see _suricata_wrong); "
          f"{totals[2]} not compared (not kept)")
    assert totals[0] > 0
    assert not problems, "\n".join(problems[:20])
