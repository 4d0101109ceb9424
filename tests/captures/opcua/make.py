"""Write the small deterministic OPC UA captures in tests/captures/opcua/ and their SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/opcua/make.py
Every capture is built with the public test kit (watchfloor.testing), nothing else.
"""

from __future__ import annotations

from pathlib import Path

from watchfloor.testing import opcua as k, write_pcap
from watchfloor.testing.modbus import Endpoint

HERE = Path(__file__).resolve().parent
CAPTURES: dict[str, str] = {}
CERT = bytes(range(48)) * 4  # stands in for a DER certificate: only its SHA-1 is reported
APP = k.application("urn:plant:line1:plc", "urn:vendor:ua-sdk:plc", "Line 1 PLC")


def _save(name: str, records: list, what: str) -> None:
    write_pcap(HERE / name, records)
    CAPTURES[name] = what


def session() -> None:
    """Every decoded service on TCP 4840, SecurityPolicy None, a username token in the clear."""
    u = k.UaConversation()
    r = u.open("opc.tcp://plc:4840/ua")
    h = u.next_handle()
    ep = k.endpoint("opc.tcp://plc:4840/ua", APP, CERT, 1, k.POLICY_NONE, (0, 1))
    r += u.exchange(k.get_endpoints_request(h, "opc.tcp://plc:4840/ua"),
                    k.get_endpoints_response(h, [ep]))  # fmt: skip
    h = u.next_handle()
    client_app = k.application("urn:scada:hmi", "urn:vendor:hmi", "HMI", 1)
    r += u.exchange(k.create_session_request(h, client_app, "opc.tcp://plc:4840/ua", "hmi-1"),
                    k.create_session_response(h, 1001, CERT, [ep]))  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.activate_session_request(h, "username", "operator", b"s3cret"),
                    k.simple_response(k.ACTIVATE_SESSION_RESP, h) + b"\x00" * 8)  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.read_request(h, [(1, 2, 13), (2, 2, 13), ("Boiler.Temp", 3, 13)]),
                    k.read_response(h, [k.data_value(k.DOUBLE, 71.5), k.data_value(k.BOOLEAN, True),
                                        k.data_value(status=0x80340000)]))  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.write_request(h, [(3, 2, k.INT32, 80), (4, 2, k.BOOLEAN, False)]),
                    k.simple_response(k.WRITE_RESP, h, codes=[0, 0x803B0000]))  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.call_request(h, (1, 2), (6, 2), [k.variant(k.INT64, 3),
                                                       k.variant(k.STRING, "fast")]),
                    k.call_response(h, 0, [k.variant(k.INT64, 6)]))  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.browse_request(h, 85), k.simple_response(k.BROWSE_RESP, h) +
                    b"\x00\x00\x00\x00" * 2)  # no results, no diagnostics  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.add_nodes_request(h, 85, "Backdoor", "Backdoor"),
                    k.simple_response(k.ADD_NODES_RESP, h) + b"\x00\x00\x00\x00" * 2)  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.delete_nodes_request(h, "Boiler"),
                    k.simple_response(k.DELETE_NODES_RESP, h, codes=[0x806D0000]))  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.create_subscription_request(h, 500.0),
                    k.create_subscription_response(h, 9, 500.0))  # fmt: skip
    h = u.next_handle()
    r += u.exchange(k.read_request(h, [(99, 5, 13)]), k.service_fault(h, 0x80270000))
    r += u.close()
    _save("opcua_session.pcap", r, "TCP 4840, SecurityPolicy None: HEL/ACK/OPN, GetEndpoints "
          "(server description + certificate → asset), CreateSession, ActivateSession with a "
          "username token in the clear (anomalies), Read (one bad node), Write (one rejected), "
          "Call with arguments, Browse, AddNodes, DeleteNodes (rejected), CreateSubscription, a "
          "ServiceFault, CLO")


def chunks_and_segments() -> None:
    """Non-standard port 48010: chunked messages, an abort chunk, PDUs split and packed."""
    u = k.UaConversation(server=Endpoint("192.168.20.20", 48010, "02:00:00:14:00:14"))
    r = u.open("opc.tcp://plc:48010")
    h = u.next_handle()
    nodes = [(i, 2, 13) for i in range(1, 80)]
    r += u.exchange(k.read_request(h, nodes),
                    k.read_response(h, [k.data_value(k.DOUBLE, i / 4) for i in range(1, 80)]),
                    chunk_size=256)  # fmt: skip
    # a request split inside its 8-byte header, then byte by byte for a while
    h = u.next_handle()
    u.rid += 1
    req = u.encode(True, k.read_request(h, [(1, 2, 13)]), u.rid)
    r += u.conv.client_send(req, segment_sizes=[3, 2, 1, 1, 1, 9, 20])
    r += u.msg(False, k.read_response(h, [k.data_value(k.INT32, 5)]), u.rid)
    # two requests in one segment, their responses in one segment
    h1, h2 = u.next_handle(), u.next_handle()
    rid1, rid2 = u.rid + 1, u.rid + 2
    u.rid += 2
    r += u.conv.client_send(u.encode(True, k.read_request(h1, [(1, 2, 13)]), rid1) +
                            u.encode(True, k.write_request(h2, [(3, 2, k.INT32, 1)]), rid2))  # fmt: skip
    r += u.conv.server_send(u.encode(False, k.read_response(h1, [k.data_value(k.INT32, 1)]), rid1) +
                            u.encode(False, k.simple_response(k.WRITE_RESP, h2, codes=[0]), rid2))  # fmt: skip
    # the client aborts a chunked request
    h = u.next_handle()
    u.rid += 1
    body = k.write_request(h, [(i, 2, k.DOUBLE, 1.0) for i in range(40)])
    data = k.secure(b"MSG", u.channel, u.token, u._seq(True), u.rid, body[:200], b"C") + \
        k.secure(b"MSG", u.channel, u.token, u._seq(True), u.rid,
                 k.u32(0x80B80000) + k.string("request too large"), b"A")  # fmt: skip
    r += u.conv.client_send(data)
    r += u.close()
    _save("opcua_port_48010_chunks.pcap", r, "TCP 48010 (non-standard): a Read whose request "
          "and response are sent in 256-byte chunks (C…C F), a request split inside its header "
          "and across 7 segments, two requests in one segment and their responses in one, a "
          "chunked Write aborted by the client (A chunk, BadRequestTooLarge)")


def gap_and_midstream() -> None:
    u = k.UaConversation()
    r = u.open()
    h = u.next_handle()
    r += u.exchange(k.read_request(h, [(1, 2, 13)]), k.read_response(h, [k.data_value(k.INT32, 1)]))
    h = u.next_handle()
    u.rid += 1
    r += u.conv.skip_bytes(u.encode(True, k.write_request(h, [(3, 2, k.INT32, 7)]), u.rid))
    r += u.msg(False, k.simple_response(k.WRITE_RESP, h, codes=[0]), u.rid)
    h = u.next_handle()
    r += u.exchange(k.read_request(h, [(2, 2, 13)]), k.read_response(h, [k.data_value(k.INT32, 2)]))
    r += u.conv.fin(True) + u.conv.fin(False)
    _save("opcua_gap.pcap", r, "TCP 4840: a Write request lost by the capture (stream gap), its "
          "response (request_not_captured), then Read resumes")
    m = k.UaConversation(client=Endpoint("192.168.20.11", 50001, "02:00:00:14:00:0b"))
    m.channel, m.token, m.seq, m.rid = 3, 2, [500, 700], 300
    r = []
    h = 900
    # starts mid-way through a response: its tail, then whole messages
    tail = m.encode(False, k.read_response(h, [k.data_value(k.INT32, 0)]), 300)
    r += m.conv.server_send(tail[10:])
    for i in range(3):
        h += 1
        r += m.exchange(k.read_request(h, [(i, 2, 13)]), k.read_response(h, [k.data_value(k.INT32, i)]))
    _save("opcua_midstream.pcap", r, "TCP 4840 picked up mid-stream: no handshake, the first "
          "segment is the tail of a response, then three Read exchanges")


def secured() -> None:
    """Basic256Sha256: one channel in Sign mode (bodies visible), one in SignAndEncrypt."""
    for mode, name in ((2, "sign"), (3, "encrypt")):
        u = k.UaConversation(client=Endpoint("192.168.20.12", 50100 + mode, "02:00:00:14:00:0c"))
        c = u.conv
        r = c.handshake() + c.client_send(k.hello("opc.tcp://plc:4840")) + c.server_send(k.acknowledge())
        opaque = bytes((0xA7 + i * 13) & 0xFF for i in range(256))
        r += c.client_send(k.opn(0, 1, 1, opaque, policy=k.POLICY_BASIC256SHA256, cert=CERT,
                                 thumbprint=bytes(20)))  # fmt: skip
        r += c.server_send(k.opn(5, 1, 1, opaque[::-1], policy=k.POLICY_BASIC256SHA256,
                                 cert=CERT[::-1], thumbprint=bytes(range(20))))  # fmt: skip
        u.channel, u.token, u.seq, u.rid = 5, 1, [2, 2], 1
        sig = bytes(32)
        if mode == 2:
            h = u.next_handle()
            r += u.exchange(k.activate_session_request(h, "username", "engineer", b"enc",
                                                       "http://www.w3.org/2001/04/xmlenc#rsa-oaep") + sig,
                            k.simple_response(k.ACTIVATE_SESSION_RESP, h) + b"\x00" * 8 + sig)  # fmt: skip
            h = u.next_handle()
            r += u.exchange(k.write_request(h, [(3, 2, k.INT32, 5)]) + sig,
                            k.simple_response(k.WRITE_RESP, h, codes=[0]) + sig)  # fmt: skip
        else:
            for i in range(3):
                # ciphertext whose first byte is no NodeId encoding (0x00-0x05), so that Wireshark,
                # which parses it as a type id, finds none either
                r += u.exchange(b"\xc3" + opaque[i * 7 :] + opaque[: i * 7],
                                b"\xd9" + opaque[::-1][i:] + opaque[:i])  # fmt: skip
        r += c.fin(True) + c.fin(False)
        what = ("signed-only MSGs (ActivateSession with a username token over a channel that "
                "is not encrypted: anomaly), Write") if mode == 2 else \
            "encrypted MSGs (only headers reported)"  # fmt: skip
        _save(f"opcua_{name}.pcap", r, "TCP 4840, Basic256Sha256: OPN with certificates (bodies "
              f"encrypted), then {what}")


def errors() -> None:
    u = k.UaConversation(client=Endpoint("192.168.20.13", 50200, "02:00:00:14:00:0d"))
    c = u.conv
    r = c.handshake() + c.client_send(k.hello("opc.tcp://plc:4840/wrong"))
    r += c.server_send(k.error(0x80840000, "Endpoint URL is not valid"))
    r += c.fin(False) + c.fin(True)
    _save("opcua_error.pcap", r, "TCP 4840: a Hello for an unknown endpoint answered by ERR "
          "(BadTcpEndpointUrlInvalid)")


def main() -> None:
    session()
    chunks_and_segments()
    gap_and_midstream()
    secured()
    errors()
    lines = ["# OPC UA project captures", "",
             "Written by `tests/captures/opcua/make.py` (run `.venv/bin/python "
             "tests/captures/opcua/make.py` from the repository root) with the public test kit "
             "`watchfloor.testing.opcua`; deterministic, no third-party bytes. Compared with tshark "
             "by `tests/conformance/test_opcua_conformance.py::test_project_captures`.", "",
             "| capture | content |", "|---|---|"]  # fmt: skip
    lines += [f"| `{n}` | {w} |" for n, w in CAPTURES.items()]
    (HERE / "SOURCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
