"""Write the small deterministic S7comm / S7comm-plus captures in tests/captures/s7comm/ and their
SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/s7comm/make.py
Everything comes from watchfloor.testing; the same code always writes the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import s7comm as s7

HERE = Path(__file__).resolve().parent
Record = tuple[int, bytes]


class Capture:
    """Records of one capture, with notes on its notable frames."""

    def __init__(self, name: str, summary: str) -> None:
        self.name, self.summary = name, summary
        self.records: list[Record] = []
        self.notes: list[str] = []

    def add(self, records: list[Record], note: str | None = None) -> None:
        first = len(self.records) + 1
        self.records += records
        if note and records:
            last = len(self.records)
            span = f"frame {first}" if first == last else f"frames {first}-{last}"
            self.notes.append(f"{span}: {note}")


def _conv(port: int = 102) -> TcpConversation:
    return TcpConversation(s7.S7_CLIENT, s7.S7_SERVER._replace(port=port))


def _exchange(c: Capture, conv: TcpConversation, request: bytes, response: bytes,
              note: str) -> None:  # fmt: skip
    c.add(conv.client_send(s7.tpkt_dt(request)) + conv.server_send(s7.tpkt_dt(response)), note)


def engineering() -> Capture:
    c = Capture("s7comm_engineering.pcap", "Port 102, handshake, COTP CR/CC (called TSAP rack 0 "
                "slot 2), an engineering session (setup, SZL 0x0011/0x001C identity, read/write "
                "var incl. an item error, request download, delete block, PLC stop, cold start, "
                "read clock), FIN.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    c.add(s7.engineering_session(conv, rack=0, slot=2), "COTP CR/CC, then 11 S7 exchanges")
    c.add(conv.fin(), "FIN")
    return c


def port_10102() -> Capture:
    c = Capture("s7comm_port_10102.pcap", "Server on tcp/10102, no handshake: roles from the "
                "PDUs (job/ack-data, userdata request/response).")
    conv = _conv(10102)
    _exchange(c, conv, s7.setup_communication(0), s7.setup_communication(0, response=True), "setup")
    _exchange(c, conv, s7.szl_request(1, 0x0424), s7.szl_response(1, 0x0424, 0, []), "SZL 0x0424")
    _exchange(c, conv, s7.write_var(2, [(s7.Item("Q", 0, "BIT", bit=3), b"\x01")]),
              s7.write_var_response(2, [0xFF]), "write output Q0.3")
    return c


def segmented() -> Capture:
    c = Capture("s7comm_segmented.pcap", "Port 102: a TPKT split over TCP segments, an S7 PDU "
                "split over two COTP DTs (reported at the second), two PDUs in one segment.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    c.add(conv.client_send(s7.tpkt_dt(s7.setup_communication(0)), segment_sizes=[3, 10]),
          "setup communication in three TCP segments (reported at the last)")
    c.add(conv.server_send(s7.tpkt_dt(s7.setup_communication(0, response=True))), "setup answer")
    items = [s7.Item("DB", 2 * i, "WORD", 1, db=5) for i in range(12)]
    c.add(conv.client_send(s7.tpkt_dt(s7.read_var(1, items), segment=80)),
          "read var of 12 items in two COTP DTs within one TCP segment")
    big = s7.read_var_response(1, [bytes((i, i)) for i in range(12)])
    c.add(conv.server_send(s7.tpkt_dt(big, segment=40), segment_sizes=[30, 30]),
          "its answer in two COTP DTs over three TCP segments")
    both = s7.tpkt_dt(s7.read_var(2, [s7.Item("M", 0)])) + s7.tpkt_dt(s7.read_var(3, [s7.Item("I", 0)]))
    c.add(conv.client_send(both), "two read var jobs in one segment")
    c.add(conv.server_send(s7.tpkt_dt(s7.read_var_response(2, [b"\x01"]))
                           + s7.tpkt_dt(s7.read_var_response(3, [b"\x02"]))), "both answers")
    return c


def gap() -> Capture:
    c = Capture("s7comm_gap.pcap", "Port 102: bytes of the client's stream never captured "
                "(a whole job); decoding resumes at the next TPKT.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    _exchange(c, conv, s7.setup_communication(0), s7.setup_communication(0, response=True), "setup")
    conv.skip_bytes(s7.tpkt_dt(s7.read_var(1, [s7.Item("M", 0)])))
    c.add(conv.server_send(s7.tpkt_dt(s7.read_var_response(1, [b"\x05"]))),
          "answer to a job the capture lost (request_not_captured)")
    _exchange(c, conv, s7.read_var(2, [s7.Item("M", 1)]), s7.read_var_response(2, [b"\x06"]),
              "decoding continues")
    return c


def midstream() -> Capture:
    c = Capture("s7comm_midstream.pcap", "Port 102, the capture starts inside a read var job: "
                "its tail is skipped, later PDUs decode.")
    conv = _conv()
    job = s7.tpkt_dt(s7.read_var(7, [s7.Item("DB", 0, "REAL", 1, db=3)]))
    conv.skip_bytes(job[:12])
    c.add(conv.client_send(job[12:]), "the tail of a job (not S7: ignored)")
    c.add(conv.server_send(s7.tpkt_dt(s7.read_var_response(7, [b"\x42\x28\x00\x00"]))),
          "its answer")
    _exchange(c, conv, s7.read_var(8, [s7.Item("DB", 0, "REAL", 1, db=3)]),
              s7.read_var_response(8, [b"\x42\x2a\x00\x00"]), "a whole exchange")
    return c


def edge_cases() -> Capture:
    c = Capture("s7comm_edge.pcap", "Port 102: a mode-transition push (CPU to STOP), a cyclic "
                "data push, an Ack with error class 0x85, an unknown job function (0x42), an "
                "Ack-Data with error class 0x81, a block list, a password, an upload.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    _exchange(c, conv, s7.setup_communication(0), s7.setup_communication(0, response=True), "setup")
    c.add(conv.server_send(s7.tpkt_dt(s7.userdata(0, 0, 0, 0, payload=b""))),
          "mode transition push: STOP (no subfunction in Wireshark)")
    c.add(conv.server_send(s7.tpkt_dt(s7.userdata(0, 0, 2, 1, payload=b"\x00\x01\x02\x03"))),
          "cyclic data push")
    c.add(conv.client_send(s7.tpkt_dt(s7.header(1, 9, b"\x42\x00")))
          + conv.server_send(s7.tpkt_dt(s7.header(2, 9, error=(0x85, 0x00)))),
          "unknown function 0x42, answered by an Ack with error class 0x85")
    c.add(conv.client_send(s7.tpkt_dt(s7.read_var(10, [s7.Item("DB", 0, db=1)])))
          + conv.server_send(s7.tpkt_dt(s7.header(3, 10, b"\x04\x00", error=(0x81, 0x04)))),
          "read var answered with error class 0x81")
    _exchange(c, conv, s7.userdata(11, 4, 3, 1), s7.userdata(11, 8, 3, 1, seq=1,
              payload=bytes.fromhex("3038000130410003")), "list blocks: 1 OB, 3 DB")  # fmt: skip
    _exchange(c, conv, s7.userdata(12, 4, 5, 1, payload=bytes(8)), s7.userdata(12, 8, 5, 1, seq=1),
              "PLC password")
    name = s7.filename("08", 1, "A")
    _exchange(c, conv, s7.transfer(0x1D, 13, name), s7.transfer(0x1D, 13, response=True, upload_id=7),
              "start upload of OB1")
    _exchange(c, conv, s7.transfer(0x1E, 14, upload_id=7),
              s7.transfer(0x1E, 14, response=True, data=b"\x00\x04\x00\xfb\x01\x02\x03\x04"),
              "upload")
    _exchange(c, conv, s7.transfer(0x1F, 15, upload_id=7), s7.transfer(0x1F, 15, response=True),
              "end upload")
    c.add(conv.fin(), "FIN")
    return c


def plus() -> Capture:
    c = Capture("s7comm_plus.pcap", "Port 102: S7comm-plus V1 create object, V3 (integrity "
                "digest) get multi variables, a V2 message fragmented over two frames (reported "
                "at the second), a keep-alive. tshark 4.0 has no S7comm-plus dissector.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    _exchange(c, conv, s7.plus(1, 0x31, 0x04CA, 1), s7.plus(1, 0x32, 0x04CA, 1), "V1 create object")
    _exchange(c, conv, s7.plus(3, 0x31, 0x054C, 2), s7.plus(3, 0x32, 0x054C, 2),
              "V3 get multi variables")
    whole = s7.plus(2, 0x31, 0x0542, 3, body=bytes(range(256)) * 2)
    first = b"\x72\x02" + (300).to_bytes(2, "big") + whole[4:304]
    rest = whole[304:-4]
    second = b"\x72\x02" + len(rest).to_bytes(2, "big") + rest + whole[-4:]
    c.add(conv.client_send(s7.tpkt_dt(first)) + conv.client_send(s7.tpkt_dt(second)),
          "V2 set multi variables in two frames")
    c.add(conv.server_send(s7.tpkt_dt(s7.plus(2, 0x32, 0x0542, 3))), "its answer")
    c.add(conv.client_send(s7.tpkt_dt(b"\x72\xfe\x00\x00")), "keep-alive")
    return c


CAPTURES: list[Callable[[], Capture]] = [engineering, port_10102, segmented, gap, midstream,
                                         edge_cases, plus]  # fmt: skip


def main(directory: Path = HERE) -> None:
    sections = []
    for make in CAPTURES:
        c = make()
        path = directory / c.name
        write_pcap(path, c.records)
        data = path.read_bytes()
        assert len(data) < 50_000, f"{c.name} is {len(data)} bytes"
        notes = "\n".join(f"- {n}" for n in c.notes)
        sections.append(f"### `{c.name}`\n\n{c.summary}\n\n{len(c.records)} packets, {len(data)} "
                        f"bytes, SHA-256 `{hashlib.sha256(data).hexdigest()}`\n\n{notes}\n")
    (directory / "SOURCE.md").write_text(
        "# S7comm test captures\n\nEvery capture here was generated by `make.py` (run "
        "`.venv/bin/python tests/captures/s7comm/make.py` from the repository root) with the "
        "synthetic builders of `watchfloor.testing.s7comm`; no real traffic is included. The "
        "output is deterministic: the hashes below change only when the script or the kit "
        "changes. Frame numbers are 1-based, as Wireshark shows them.\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
