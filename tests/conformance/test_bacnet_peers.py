"""BACnet/IP deeper fields against ICSNPP's Zeek logs (cisagov/icsnpp-bacnet btest baselines).

For each corpus capture that ships ``<capture>.zeek-baseline/*/``:

* ``bacnet.log``: one row per BACnet message — addresses, BVLC function, PDU type, service,
  invoke id, error / reject / abort code;
* ``bacnet_discovery.log``: Who-Is / I-Am / Who-Has / I-Have — device and object identifiers,
  Who-Is range, object names (ICSNPP prints vendor *names*; we keep the numeric vendor id, so the
  vendor column is not compared);
* ``bacnet_property.log``: every property access of ReadProperty(-Multiple), WriteProperty and
  ReadRange requests and acks — object, instance, property, array index; values are compared
  where both render them the same way (numbers, text, enumerations by number) and counted;
* ``bacnet_device_control.log``: ReinitializeDevice / DeviceCommunicationControl — state,
  duration, whether a password was sent (ICSNPP logs the password itself; we never keep it),
  result and error code.

The logs' timestamps are masked, so each comparison is a multiset agreement (peer rows found in
ours / peer rows), printed and required to be complete; values are reported, not required.
Run with ``-s`` to see the figures quoted in decode/bacnet/README.md.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from . import tshark as T

TRACES = T.CORPUS / "pcaps" / "cisagov__icsnpp-bacnet" / "testing" / "traces"
BASELINES = sorted(TRACES.glob("*.pcap.zeek-baseline/*")) if TRACES.is_dir() else []
_PDU = ("CONFIRMED_REQUEST", "UNCONFIRMED_REQUEST", "SIMPLE_ACK", "COMPLEX_ACK", "SEGMENT_ACK",
        "ERROR_PDU", "REJECT_PDU", "ABORT_PDU")  # fmt: skip


def _log(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    fields: list[str] = []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def _h(name: str | None) -> str:
    return "-" if name is None else name.replace("_", "-")


def _prop(name: str | None, pid: int | None) -> str:
    if pid is not None and name and name.startswith("unknown-"):
        return f"Vendor Specific ({pid})"
    return _h(name)


def _ends(ev: dict) -> tuple:
    return (ev["source"]["ip"], ev["source"]["port"], ev["destination"]["ip"], ev["destination"]["port"])


def _peer_ends(r: dict) -> tuple:
    return (r["source_h"], int(r["source_p"]), r["destination_h"], int(r["destination_p"]))


def _messages(capture: Path) -> list[dict]:
    return [e for e in T.run_decoder(capture) if e.get("ot", {}).get("bacnet")]


def message_rows(events: list[dict]) -> Counter:
    out: Counter = Counter()
    for ev in events:
        b = ev["ot"]["bacnet"]
        t = b.get("apdu_type")
        if t is None and b.get("network_message") is None:
            continue
        if t is None:
            pdu, service = "NPDU", b["network_message"]
        else:
            pdu = _PDU[t]
            service = {4: "-", 6: "reject", 7: "abort"}.get(t) or b.get("service_name") or "-"
        result = b.get("error_code_name") or b.get("reject_reason_name") or b.get("abort_reason_name")
        invoke = b.get("invoke_id")
        out[(*_ends(ev), b["bvlc_function_name"], pdu, service, "-" if invoke is None else str(invoke),
             _h(result))] += 1  # fmt: skip
    return out


def peer_message_rows(rows: list[dict]) -> Counter:
    return Counter((*_peer_ends(r), r["bvlc_function"].lower(), r["pdu_type"], r["pdu_service"],
                    r["invoke_id"], r["result_code"]) for r in rows)  # fmt: skip


def discovery_rows(events: list[dict]) -> Counter:
    out: Counter = Counter()
    for ev in events:
        b = ev["ot"]["bacnet"]
        if b.get("apdu_type") != 1 or b.get("service") not in (0, 1, 7, 8):
            continue
        s = b["service"]
        device = (_h(b.get("device_type_name")), str(b.get("device_instance", "-")))
        obj = (_h(b.get("object_type_name")), str(b.get("object_instance", "-")))
        if s == 0:  # ICSNPP puts the I-Am device in the object columns
            device = ("-", "-")
        rng = "-"
        if s in (7, 8):
            rng = "All" if b.get("low_limit") is None else f"{b['low_limit']}-{b['high_limit']}"
        name = b.get("object_name") or ("N/A" if s == 7 else "-")  # Who-Has by identifier
        out[(*_ends(ev), _h(b["service_name"]), *device, *obj, rng, name)] += 1
    return out


def peer_discovery_rows(rows: list[dict], ours: Counter) -> Counter:
    """ICSNPP logs "(empty)" for an object name in a character set other than UTF-8 (e.g.
    bacnet_segmented_data.pcap frame 1: ``75 09 01 03a4 89b7 9378 8251``, DBCS code page 932):
    such a row takes our name for the same message, the name being not comparable."""
    out: Counter = Counter()
    for r in rows:
        row = (*_peer_ends(r), r["pdu_service"], r["device_id_type"], r["device_id_number"],
               r["object_type"], r["instance_number"], r["range"], r["object_name"])  # fmt: skip
        if row[-1] == "(empty)":
            row = next((o for o in ours if o[:-1] == row[:-1] and not o[-1].isascii()), row)
        out[row] += 1
    return out


_PROPERTY_SERVICES = {(0, 12): "read-property-request", (3, 12): "read-property-ack",
                      (0, 14): "read-property-multiple-request", (3, 14): "read-property-multiple-ack",
                      (0, 15): "write-property", (0, 26): "read-range-request"}  # fmt: skip


def property_rows(events: list[dict]) -> tuple[Counter, dict]:
    """(rows without value, row → our values) of every property access."""
    out: Counter = Counter()
    values: dict = {}
    for ev in events:
        b = ev["ot"]["bacnet"]
        kind = _PROPERTY_SERVICES.get((b.get("apdu_type"), b.get("service")))
        if kind is None:
            continue
        accesses = b.get("properties") or [
            {"object_type_name": b.get("object_type_name"), "instance": b.get("object_instance"),
             "property_name": b.get("property_name"), "property_id": b.get("property_id"),
             "array_index": b.get("array_index"), "values": b.get("values")}]  # fmt: skip
        for a in accesses:
            if a.get("object_type_name") is None and a.get("property_name") is None:
                continue  # parameters not decoded
            row = (*_ends(ev), str(b.get("invoke_id", "-")), kind, _h(a.get("object_type_name")),
                   str(a.get("instance", "-")), _prop(a.get("property_name"), a.get("property_id")),
                   "-" if a.get("array_index") is None else str(a["array_index"]))  # fmt: skip
            vals = ["PropertyError"] if "error_class" in a else a.get("values")
            # ICSNPP logs one row per element of a list value
            for v in ([[x] for x in vals] if kind.endswith("ack") and vals and len(vals) > 1 else [vals]):
                out[row] += 1
                values.setdefault(row, []).append(v)
    return out, values


def peer_property_rows(rows: list[dict]) -> tuple[Counter, dict]:
    out: Counter = Counter()
    values: dict = {}
    for r in rows:
        if r["pdu_service"].startswith("ERROR"):
            continue
        prop = _PEER_PROPERTY.get(r["property"], r["property"])
        index = r["array_index"]
        if r["pdu_service"] == "read-range-request" and index == "0":
            # ICSNPP logs index 0 for a ReadRange without one (bacnet_error_reject_abort.pcap
            # frame 23: 0c 05000002 19 83 3e 21 01 31 0a 3f — object, property, then [3]
            # by-position; no [2] array index)
            index = "-"
        row = (*_peer_ends(r), r["invoke_id"], r["pdu_service"], r["object_type"],
               r["instance_number"], prop, index)  # fmt: skip
        out[row] += 1
        values.setdefault(row, []).append(r["value"])
    return out, values


_DATE = re.compile(r"^(?:(\d+)/(\d+)/(\d{4})|(\d{4})-(\d+)-(\d+))$")
_TIME = re.compile(r"^(\d+):(\d+):(\d+)\.(\d+)$")
# ICSNPP's spelling of two standard property names (135-2020 Clause 21: daylight-savings-status,
# number-of-APDU-retries is number-of-apdu-retries in lower case like every other name)
_PEER_PROPERTY = {"daylights-savings-status": "daylight-savings-status",
                  "number-of-APDU-retries": "number-of-apdu-retries"}  # fmt: skip


def _token(value: str | None, peer: bool) -> str | None:
    """A value in a form both sides share, or None when it is not comparable (the peer's masked
    timestamps, empty values)."""
    if value is None or value in ("-", "(empty)") or "XXXX" in value:
        return None
    if peer and value and set(value) <= {"T", "F"}:  # bit string, unused bits not trimmed
        return "bits:" + value.replace("T", "1").replace("F", "0").rstrip("0")
    if not peer and value and set(value) <= {"0", "1"} and len(value) > 1:
        return "bits:" + value.rstrip("0")
    try:
        return f"{float(value):.6g}"
    except ValueError:
        pass
    if m := _DATE.match(value):  # peer m/d/yyyy, ours yyyy-mm-dd
        y, mo, d = (m.group(3), m.group(1), m.group(2)) if peer else m.groups()[3:6]
        return f"date:{int(y)}-{int(mo)}-{int(d)}"
    if m := _TIME.match(value):  # peer h:m:s.h, ours hh:mm:ss.hh
        return "time:" + ":".join(str(int(x)) for x in m.groups())
    if peer and ": " in value:  # object identifier "binary-input: 304"
        return value.replace(": ", ",")
    if not peer and "," in value and value.split(",", 1)[1].isdigit():
        return value.replace("_", "-")
    return value


def _is_name(token: str) -> bool:
    return any(c.isalpha() for c in token) and not token.startswith("bits:") and "," not in token


def _values_agree(ours: list, peer: list[str]) -> tuple[int, int]:
    """(comparable peer values, of which found in ours) for one property row, as multisets.
    ICSNPP prints enumerated values by name where we keep the number: such a value is not
    comparable when ours is a number."""
    mine = Counter(t for vals in ours for v in (vals or ()) if (t := _token(v, False)) is not None)
    ours_numeric = bool(mine) and not any(_is_name(t) for t in mine)
    theirs = Counter(t for v in peer if (t := _token(v, True)) is not None
                     and not (ours_numeric and _is_name(t)))  # fmt: skip
    return sum(theirs.values()), sum((theirs & mine).values())


def control_rows(events: list[dict]) -> Counter:
    out: Counter = Counter()
    for ev in events:
        b = ev["ot"]["bacnet"]
        if b.get("service") not in (17, 20) or b.get("apdu_type") not in (0, 2, 5):
            continue
        if b["apdu_type"] == 0:
            state = b.get("reinitialize_state_name") or b.get("enable_disable_name")
            row = (_h(state), str(b.get("duration_minutes", "-")),
                   "present" if b.get("password_present") else "absent", "-", "-")  # fmt: skip
        else:
            row = ("-", "-", "-", "SUCCESS" if b["apdu_type"] == 2 else "ERROR", _h(b.get("error_code_name")))
        out[(*_ends(ev), str(b["invoke_id"]), b["service_name"], *row)] += 1
    return out


def peer_control_rows(rows: list[dict]) -> Counter:
    out: Counter = Counter()
    for r in rows:
        # Zeek: "-" unset, "(empty)" an empty string (a password of zero characters was sent)
        password = "-" if r["result"] != "-" else ("absent" if r["password"] == "-" else "present")
        out[(*_peer_ends(r), r["invoke_id"], r["pdu_service"], r["device_state"], r["time_duration"],
             password, r["result"], r["result_code"])] += 1  # fmt: skip
    return out


def _agreement(name: str, peer: Counter, ours: Counter, problems: list[str]) -> tuple[int, int]:
    matched, total = sum((peer & ours).values()), sum(peer.values())
    print(f"  {name}: {matched}/{total} peer rows found in ours")
    if matched < total:
        missing = list((peer - ours).elements())[:3]
        extra = list((ours - peer).elements())[:3]
        problems.append(f"{name}: peer rows not in ours {missing}; ours not in peer {extra}")
    return matched, total


@pytest.mark.corpus
@pytest.mark.skipif(not BASELINES, reason="no ICSNPP BACnet baselines in the corpus")
def test_icsnpp_logs() -> None:
    problems: list[str] = []
    totals: Counter = Counter()
    for base in BASELINES:
        capture = TRACES / base.parent.name.removesuffix(".zeek-baseline")
        events = _messages(capture)
        print(capture.name)
        m, t = _agreement("bacnet.log", peer_message_rows(_log(base / "bacnet.log")), message_rows(events), problems)
        totals["messages"] += m
        totals["messages_total"] += t
        ours = discovery_rows(events)
        m, t = _agreement("bacnet_discovery.log", peer_discovery_rows(_log(base / "bacnet_discovery.log"), ours),
                          ours, problems)  # fmt: skip
        totals["discovery"] += m
        totals["discovery_total"] += t
        peer_rows, peer_values = peer_property_rows(_log(base / "bacnet_property.log"))
        our_rows, our_values = property_rows(events)
        m, t = _agreement("bacnet_property.log", peer_rows, our_rows, problems)
        totals["properties"] += m
        totals["properties_total"] += t
        for row, pvals in peer_values.items():
            n, agree = _values_agree(our_values.get(row, []), pvals)
            totals["values_compared"] += n
            totals["values_agree"] += agree
        m, t = _agreement("bacnet_device_control.log", peer_control_rows(_log(base / "bacnet_device_control.log")),
                          control_rows(events), problems)  # fmt: skip
        totals["control"] += m
        totals["control_total"] += t
    print(f"ICSNPP BACnet: messages {totals['messages']}/{totals['messages_total']}, discovery "
          f"{totals['discovery']}/{totals['discovery_total']}, property accesses "
          f"{totals['properties']}/{totals['properties_total']}, device control "
          f"{totals['control']}/{totals['control_total']}; values compared {totals['values_compared']}, "
          f"agree {totals['values_agree']}")
    assert totals["messages_total"] > 0
    assert not problems, "\n".join(problems)



def _value_disagreements(limit: int = 30) -> None:  # pragma: no cover - a debugging aid
    for base in BASELINES:
        capture = TRACES / base.parent.name.removesuffix(".zeek-baseline")
        _, peer_values = peer_property_rows(_log(base / "bacnet_property.log"))
        _, our_values = property_rows(_messages(capture))
        for row, pvals in peer_values.items():
            n, agree = _values_agree(our_values.get(row, []), pvals)
            if agree < n and limit:
                limit -= 1
                print(row[5:], our_values.get(row), pvals[:6])
