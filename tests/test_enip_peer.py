"""EtherNet/IP deeper fields against peer decoders: the ICSNPP (cisagov/icsnpp-enip) Zeek
baselines shipped next to two corpus captures (``*.zeek-baseline/*/{enip,cip,cip_identity,
cip_io}.log``). The logs carry no ``#fields`` header, so columns are taken by position (the
icsnpp-enip log layouts: the 11 connection columns, then the record's own fields).

Compared, as multisets (Zeek logs a connection's records in its own order):
  enip.log         command, length, session handle, status, sender context -- every message;
  cip.log          direction, service code, general status, and on requests class and instance
                   -- every CIP service, the nested ones of Multiple Service Packets included;
  cip_identity.log vendor, device type, product code, revision, status, serial, name, state;
  cip_io.log       per connection id: packets and the first sequence number.
and Suricata's suricata-verify eve checks that concern decoded fields (identity, MSP requests).
"""
from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests.conformance import tshark as T

TRACES = T.CORPUS / "pcaps" / "cisagov__icsnpp-enip" / "tests" / "traces"
CASES = {
    "enip_cip_example.pcap": "basic",
    "set_attribute_single_service_cip.pcapng": "set_attr_single_service",
}


def _rows(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.split("\t") for line in log.read_text().splitlines()
            if line and not line.startswith("#")]


def _int(text: str) -> int | None:
    return None if text in ("-", "") else int(text, 0)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    cap = TRACES / request.param
    if not cap.exists():
        pytest.skip(f"{cap} not in the corpus")
    base = TRACES / f"{request.param}.zeek-baseline" / CASES[request.param]
    return cap, base, T.run_decoder(cap) + _assets(cap)


def _assets(cap: Path) -> list[dict]:
    import json
    import subprocess

    out = subprocess.run([*T.decoder_command(), "decode", "--all", str(cap), "--format", "jsonl"],
                         capture_output=True, check=True).stdout.decode()
    return [e for e in map(json.loads, out.splitlines()) if e["event"]["kind"] == "asset"]


def _messages(events: list[dict]) -> list[dict]:
    return [e for e in events if T.get_path(e, "ot.enip.command") is not None]


def test_enip_log(case) -> None:
    _, base, events = case
    zeek = collections.Counter(
        (_int(r[11]), _int(r[13]), _int(r[14]), r[15], _int(r[16]))  # cmd, len, session, status,
        for r in _rows(base / "enip.log"))  # sender context (all zero in these captures)
    status_names = {"Success": 0}
    zeek = collections.Counter({(c, n, s, status_names.get(st, st), x): k
                                for (c, n, s, st, x), k in zeek.items()})
    ours = collections.Counter(
        (e["ot"]["enip"]["command"], e["ot"]["enip"]["length"], e["ot"]["enip"]["session_handle"],
         e["ot"]["enip"]["status"], int(e["ot"]["enip"]["sender_context"], 16))
        for e in _messages(events))
    assert zeek, "no enip.log rows"
    assert ours == zeek


def test_cip_log(case) -> None:
    _, base, events = case
    zeek = collections.Counter()
    for r in _rows(base / "cip.log"):
        request = r[12] == "request"
        key = (r[12], _int(r[13]), _int(r[15]))
        if request:
            key += (_int(r[19]), _int(r[21]))
        zeek[key] += 1
    ours = collections.Counter()
    for e in _messages(events):
        cip = e["ot"].get("cip")
        if cip is None:
            continue
        role = e["ot"]["role"]
        for s in [cip, *(cip.get("nested") or ())]:
            key = (role, s["service"], s.get("status"))
            if role == "request":
                key += (s.get("class_id"), s.get("instance_id"))
            ours[key] += 1
    assert zeek, "no cip.log rows"
    assert ours == zeek


def test_cip_identity_log(case) -> None:
    _, base, events = case
    rows = _rows(base / "cip_identity.log")
    if not rows:
        pytest.skip("no identity in this capture")
    zeek = sorted((_int(r[14]), _int(r[16]), _int(r[18]), tuple(map(int, r[19].split("."))),
                   _int(r[20]), _int(r[21]), r[22], _int(r[23])) for r in rows)
    ours = []
    for e in _messages(events):
        for i in e["ot"]["enip"].get("identities") or ():
            ours.append((i["vendor_id"], i["device_type"], i["product_code"],
                         tuple(map(int, i["revision"].split("."))), i["device_status"],
                         int(i["serial_number"], 16), i["product_name"], i.get("state")))
    assert sorted(ours) == zeek
    assets = [e["asset"] for e in events if e["event"]["kind"] == "asset"]
    assert {(a["product"], a["serial"]) for a in assets} == {(z[6], f"0x{z[5]:08x}") for z in zeek}


def test_cip_io_log(case) -> None:
    _, base, events = case
    rows = _rows(base / "cip_io.log")
    if not rows:
        pytest.skip("no I/O in this capture")
    packets, first = collections.Counter(), {}
    for r in rows:
        conn, seq = _int(r[11]), int(r[12])
        packets[conn] += 1
        first.setdefault(conn, seq)
    ours_packets, ours_first = collections.Counter(), {}
    for e in events:
        io = T.get_path(e, "ot.enip.io")
        if io:
            ours_packets[io["connection_id"]] += io["packets"]
            ours_first.setdefault(io["connection_id"], io["first_sequence"])
    assert ours_packets == packets
    assert ours_first == first


# -- Suricata (suricata-verify expected eve checks shipped next to two corpus captures) ----------
SURICATA = T.CORPUS / "pcaps" / "OISF__suricata-verify" / "tests" / "enip-alert" / "enip_test1.pcap"


def test_suricata_identity_check() -> None:
    """enip-log-identity: one ListIdentity exchange, success, identity revision 4.3, product
    1756-ENBT/A, vendor Rockwell Automation/Allen-Bradley; enip-stats-udp: one TCP flow."""
    if not SURICATA.exists():
        pytest.skip(f"{SURICATA} not in the corpus")
    events = _messages(T.run_decoder(SURICATA))
    replies = [e for e in events if e["ot"]["role"] == "response"
               and e["ot"]["enip"]["command_name"] == "list_identity"]
    assert len(replies) == 1 and replies[0]["ot"]["enip"]["status_name"] == "success"
    ident, = replies[0]["ot"]["enip"]["identities"]
    assert tuple(map(int, ident["revision"].split("."))) == (4, 3)
    assert (ident["product_name"], ident["vendor"]) == ("1756-ENBT/A", "Rockwell Automation/Allen-Bradley")
    assert {(e["network"]["transport"], e["network"]["community_id"]) for e in events} == {
        ("tcp", events[0]["network"]["community_id"])}


def test_suricata_multiple_service_packet_check() -> None:
    """enip-frames: 41 Multiple Service Packet requests to class 2 (Message Router) instance 1."""
    cap = TRACES / "enip_cip_example.pcap"
    if not cap.exists():
        pytest.skip(f"{cap} not in the corpus")
    msp = [e for e in _messages(T.run_decoder(cap)) if e["ot"]["role"] == "request"
           and e["ot"].get("cip", {}).get("service_name") == "multiple_service_packet"]
    assert len(msp) == 41
    assert {(e["ot"]["cip"]["class_id"], e["ot"]["cip"]["instance_id"], e["ot"]["cip"]["class_name"])
            for e in msp} == {(2, 1, "message_router")}
