"""IT naming protocols (DHCP, DNS, NetBIOS-NS, mDNS, LLMNR): decoded fields equal Wireshark's on
the same frames (our captures and the shared corpus), random bytes fail only as the contract
allows, a non-standard port works, and the inventory learns host names from them."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conformance import tshark as T
from watchfloor.decode import WireError
from watchfloor.decode.dhcp.probe import probe as dhcp_probe
from watchfloor.decode.dhcp.wire import parse as dhcp_parse
from watchfloor.decode.dns.probe import probe as dns_probe
from watchfloor.decode.dns.wire import netbios_name, parse as dns_parse
from watchfloor.testing import ethernet, ipv4, udp, write_pcap

T0 = 1_767_250_800_000_000_000
CLIENT_MAC, SERVER_MAC = "00:1b:1b:aa:bb:01", "02:00:00:00:00:fe"


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"


def dns_message(tid: int, flags: int, questions: list[tuple[str, int]],
                answers: list[tuple[str, int, bytes]] = (), additional: list[tuple[str, int, bytes]] = ()) -> bytes:  # type: ignore[assignment]  # fmt: skip
    out = struct.pack("!HHHHHH", tid, flags, len(questions), len(answers), 0, len(additional))
    for name, qtype in questions:
        out += dns_name(name) + struct.pack("!HH", qtype, 1)
    for name, rtype, rdata in (*answers, *additional):
        out += (dns_name(name) if not name.startswith("\xc0") else b"\xc0\x0c") + struct.pack("!HHIH", rtype, 1, 120, len(rdata)) + rdata
    return out


def nb_encode(name: str, suffix: int) -> str:
    raw = name.upper().ljust(15).encode()[:15] + bytes([suffix])
    return "".join(chr(65 + (b >> 4)) + chr(65 + (b & 15)) for b in raw)


def dhcp_message(op: int, xid: int, mtype: int, *, yiaddr: str = "0.0.0.0", options: bytes = b"") -> bytes:
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, 6, 0, xid, 0, 0x8000, bytes(4),
                        bytes(int(x) for x in yiaddr.split(".")), bytes(4), bytes(4),
                        bytes.fromhex(CLIENT_MAC.replace(":", "")) + bytes(10), bytes(64), bytes(128))  # fmt: skip
    return fixed + b"\x63\x82\x53\x63" + bytes([53, 1, mtype]) + options + b"\xff"


def frame(src: str, dst: str, sport: int, dport: int, payload: bytes, smac: str, dmac: str) -> bytes:
    return ethernet(ipv4(src, dst, 17, udp(src, dst, sport, dport, payload)), src=smac, dst=dmac)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PLC (Siemens MAC) boots: DHCP, then announces itself over NetBIOS, mDNS and LLMNR; the
    HMI resolves it by DNS, forward and reverse; a DNS server on port 5300 answers too."""
    bcast = "ff:ff:ff:ff:ff:ff"
    host = bytes([12, 5]) + b"plc-7"
    req = bytes([50, 4, 10, 20, 2, 7]) + host + bytes([60, 8]) + b"SIMATIC1" + bytes([55, 3, 1, 3, 6])
    ack = (bytes([54, 4, 10, 20, 2, 1, 51, 4, 0, 0, 0, 1, 81, 14, 0, 0, 0]) + b"plc-7.plant"
           + bytes([6, 4, 10, 20, 2, 1]))
    packets = [
        frame("0.0.0.0", "255.255.255.255", 68, 67, dhcp_message(1, 0x1234, 1, options=host), CLIENT_MAC, bcast),
        frame("10.20.2.1", "255.255.255.255", 67, 68, dhcp_message(2, 0x1234, 2, yiaddr="10.20.2.7"), SERVER_MAC, bcast),
        frame("0.0.0.0", "255.255.255.255", 68, 67, dhcp_message(1, 0x1234, 3, options=req), CLIENT_MAC, bcast),
        frame("10.20.2.1", "255.255.255.255", 67, 68, dhcp_message(2, 0x1234, 5, yiaddr="10.20.2.7", options=ack), SERVER_MAC, bcast),
        # NetBIOS name registration: the name and its owner's address in the additional record
        frame("10.20.2.7", "10.20.2.255", 137, 137, dns_message(0x0101, 0x2910, [(nb_encode("PLC7", 0x00), 32)], [],
              [("\xc0", 32, b"\x00\x00" + bytes([10, 20, 2, 7]))]), CLIENT_MAC, bcast),
        frame("10.20.2.7", "224.0.0.251", 5353, 5353, dns_message(0, 0x8400, [], [("plc-7.local", 1, bytes([10, 20, 2, 7]))]),
              CLIENT_MAC, "01:00:5e:00:00:fb"),
        frame("10.20.1.10", "224.0.0.252", 50000, 5355, dns_message(0x77, 0x0000, [("plc-7", 1)]), "02:00:00:00:01:0a", "01:00:5e:00:00:fc"),
        frame("10.20.2.7", "10.20.1.10", 5355, 50000, dns_message(0x77, 0x8000, [("plc-7", 1)], [("\xc0", 1, bytes([10, 20, 2, 7]))]),
              CLIENT_MAC, "02:00:00:00:01:0a"),
        frame("10.20.1.10", "10.20.1.53", 40000, 53, dns_message(0x4242, 0x0100, [("plc-7.plant.example", 1)]), "02:00:00:00:01:0a", SERVER_MAC),
        frame("10.20.1.53", "10.20.1.10", 53, 40000, dns_message(0x4242, 0x8180, [("plc-7.plant.example", 1)],
              [("\xc0", 1, bytes([10, 20, 2, 7])), ("\xc0", 1, bytes([93, 184, 216, 34]))]), SERVER_MAC, "02:00:00:00:01:0a"),
        frame("10.20.1.10", "10.20.1.53", 40001, 5300, dns_message(0x4243, 0x0100, [("7.2.20.10.in-addr.arpa", 12)]), "02:00:00:00:01:0a", SERVER_MAC),
        frame("10.20.1.53", "10.20.1.10", 5300, 40001, dns_message(0x4243, 0x8180, [("7.2.20.10.in-addr.arpa", 12)],
              [("\xc0", 12, dns_name("plc-7.plant.example"))]), SERVER_MAC, "02:00:00:00:01:0a"),
        frame("10.20.1.10", "10.20.1.53", 40002, 53, dns_message(0x4244, 0x0100, [("nothere.example", 1)]), "02:00:00:00:01:0a", SERVER_MAC),
        frame("10.20.1.53", "10.20.1.10", 53, 40002, dns_message(0x4244, 0x8183, [("nothere.example", 1)]), SERVER_MAC, "02:00:00:00:01:0a"),
    ]
    path = tmp_path_factory.mktemp("naming") / "naming.pcap"
    write_pcap(path, ((T0 + i * 1_000_000, p) for i, p in enumerate(packets)))
    return path


def decode(path: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "watchfloor", "decode", str(path), "--all", "--workers", "1"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_decoded_fields(capture: Path) -> None:
    events = decode(capture)
    msgs = [e for e in events if e["event"]["kind"] == "event" and e["event"]["action"] != "flow"]
    actions = [e["event"]["action"] for e in msgs]
    assert actions == ["dhcp_discover", "dhcp_offer", "dhcp_request", "dhcp_ack", "nbns_query",
                       "mdns_answer", "llmnr_query", "llmnr_answer", "dns_query", "dns_answer",
                       "dns_query", "dns_answer", "dns_query", "dns_answer"]  # fmt: skip
    req, ack = msgs[2]["dhcp"], msgs[3]["dhcp"]
    assert (req["hostname"], req["requested_ip"], req["vendor_class"], req["parameters"]) == ("plc-7", "10.20.2.7", "SIMATIC1", [1, 3, 6])
    assert (ack["assigned_ip"], ack["server_id"], ack["lease_time"], ack["fqdn"], ack["dns_servers"]) == (
        "10.20.2.7", "10.20.2.1", 1, "plc-7.plant", ["10.20.2.1"])
    assert msgs[4]["dns"]["question"] == {"name": "PLC7<00>", "type": "NB", "class": "IN"}
    answer = msgs[9]["dns"]
    assert answer["resolved_ip"] == ["10.20.2.7", "93.184.216.34"] and answer["response_code"] == "NOERROR"
    assert answer["header_flags"] == ["RD", "RA"]
    assert msgs[11]["dns"]["answers"] == [{"data": "plc-7.plant.example", "type": "PTR", "ttl": 120, "name": "7.2.20.10.in-addr.arpa"}]
    assert msgs[13]["dns"]["response_code"] == "NXDOMAIN" and msgs[13]["event"]["outcome"] == "failure"
    names = {(e["event"]["action"], e["asset"].get("ip"), e["asset"].get("name")) for e in events if e["event"]["kind"] == "asset"}
    assert ("dhcp_request", "10.20.2.7", "plc-7") in names and ("dhcp_ack", "10.20.2.7", "plc-7.plant") in names
    assert ("nbns_name", "10.20.2.7", "PLC7") in names and ("mdns_name", "10.20.2.7", "plc-7.local") in names
    assert ("dns_name", "10.20.2.7", "plc-7.plant.example") in names  # the PTR answer on port 5300
    flows = {e["network"]["protocol"] for e in events if e["event"]["action"] == "flow"}
    assert flows == {"dhcp", "nbns", "mdns", "llmnr", "dns"}


def test_inventory_host_names(capture: Path, tmp_path: Path) -> None:
    db = tmp_path / "n.duckdb"
    for args in (["ingest", str(capture), "--db", str(db), "--workers", "1", "--no-detect"],):
        assert subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True, timeout=300).returncode == 0
    rows = {r["ip"]: r for r in map(json.loads, subprocess.run(
        [sys.executable, "-m", "watchfloor", "assets", "--db", str(db), "--format", "jsonl"],
        capture_output=True, text=True, timeout=300).stdout.splitlines())}  # fmt: skip
    plc = rows["10.20.2.7"]
    assert plc["name"] in ("plc-7", "plc-7.plant") and plc["mac"] == CLIENT_MAC
    assert {"plc-7", "plc-7.plant", "PLC7", "plc-7.local", "plc-7.plant.example"} <= set(plc["hostnames"])
    assert "Siemens" in plc["vendor"]  # from the MAC's OUI
    assert "93.184.216.34" not in rows  # a DNS answer does not make an internet host an asset


# -- Wireshark on the same frames ------------------------------------------------------------
CONTRACT = {  # our field paths and Wireshark's, per protocol
    "dhcp": (("dhcp.transaction_id", "dhcp.message_type", "dhcp.client_mac", "dhcp.hostname"),
             ("dhcp.id", "dhcp.option.dhcp", "dhcp.hw.mac_addr", "dhcp.option.hostname")),
    "dns": (("dns.id", "dns.type", "dns.question.name"), ("dns.id", "dns.flags.response", "dns.qry.name")),
    "nbns": (("dns.id", "dns.type"), ("nbns.id", "nbns.flags.response")),
}  # fmt: skip
PROTO = {"dhcp": "dhcp", "dns": "dns", "mdns": "dns", "llmnr": "dns", "nbns": "nbns"}


def _ours(events: list[dict]) -> dict[str, dict[int, tuple]]:
    out: dict[str, dict[int, tuple]] = {}
    for e in events:
        proto = e.get("network", {}).get("protocol")
        if e["event"]["kind"] != "event" or e["event"]["action"] in ("flow", "anomaly") or proto not in PROTO:
            continue
        fields = CONTRACT[PROTO[proto]][0]
        rec = tuple(T.get_path(e, f) for f in fields)
        rec = tuple({"query": 0, "answer": 1}.get(v, v) if isinstance(v, str) and f == "dns.type" else v
                    for f, v in zip(fields, rec))  # fmt: skip
        out.setdefault(PROTO[proto], {})[e["pcap"]["frame"]] = rec
    return out


def _norm(v: object) -> object:
    if v is None or v == "":
        return None
    s = str(v)
    if s in ("True", "true"):
        return 1
    if s in ("False", "false"):
        return 0
    if s.startswith("0x"):
        return int(s, 16)
    return int(s) if s.isdigit() else s.lower()


def conforms(path: Path, options: list[str] = ()) -> int:  # type: ignore[assignment]
    ours = _ours(decode(path))
    compared = 0
    for proto, frames in ours.items():
        theirs = T.tshark_fields(path, CONTRACT[proto][1], options=options)
        for frame, rec in frames.items():
            assert frame in theirs, f"{path.name} frame {frame}: Wireshark has no {proto} there"
            want = tuple(_norm(v[0]) if v else None for v in theirs[frame])
            got = tuple(_norm(v) for v in rec)
            assert got == want, f"{path.name} frame {frame} {proto}: ours {got}, Wireshark {want}"
            compared += 1
    return compared


needs_tshark = pytest.mark.skipif(T.tshark_path() is None, reason="tshark not installed")


@needs_tshark
@pytest.mark.tshark
def test_conformance_on_our_capture(capture: Path) -> None:
    assert conforms(capture, ["-d", "udp.port==5300,dns"]) == 14


CORPUS = [
    "ITI__ICS-Security-Tools/pcaps/openics/EIP-IPAddressChangeAttempt.pcap",  # DHCP, NetBIOS-NS
    "ITI__ICS-Security-Tools/pcaps/openics/EIP-FirmwareChange.pcap",  # DHCP
    "cisagov__icsnpp-opcua-binary/pcaps/open62541_client-server_mainloop.pcap",  # DNS
    "cisagov__icsnpp-profinet-io-cm/testing/traces/profinet_io_cm_mixed_1.pcap",  # LLMNR, NBNS, DHCP
]


@needs_tshark
@pytest.mark.tshark
@pytest.mark.corpus
@pytest.mark.parametrize("rel", CORPUS)
def test_conformance_on_the_corpus(rel: str) -> None:
    path = T.CORPUS / "pcaps" / rel
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared is absent)")
    assert conforms(path) > 0


# -- contract ---------------------------------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_fail_only_as_the_contract_allows(data: bytes) -> None:
    for parse in (dns_parse, dhcp_parse):
        try:
            parse(data)
        except WireError:
            pass
    dns_probe(data, False), dns_probe(data, True), dhcp_probe(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 30), st.binary(min_size=1, max_size=8))
def test_mutated_messages_fail_only_as_the_contract_allows(pos: int, junk: bytes) -> None:
    good = dns_message(1, 0x8180, [("a.example", 1)], [("\xc0", 1, bytes(4))])
    for bad in (good[:pos] + junk + good[pos + len(junk):], good[:pos]):
        try:
            dns_parse(bad)
        except WireError:
            pass


def test_compression_loops_and_netbios_names() -> None:
    loop = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(WireError):
        dns_parse(loop)
    assert netbios_name(nb_encode("WORKGROUP", 0x1D)) == ("WORKGROUP", 0x1D)
    assert netbios_name("not-netbios") is None
