"""Write the small deterministic IEC 61850 MMS captures in tests/captures/mms/ and their SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/mms/make.py
Everything comes from watchfloor.testing; the same code always writes the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import mms as m

HERE = Path(__file__).resolve().parent
Record = tuple[int, bytes]
LD = "IED1PROT"


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
    return TcpConversation(m.MMS_CLIENT, m.MMS_SERVER._replace(port=port))


def _exchange(c: Capture, conv: TcpConversation, request: bytes, response: bytes, note: str) -> None:
    c.add(conv.client_send(m.mms_dt(request)) + conv.server_send(m.mms_dt(response)), note)


def _associate(c: Capture, conv: TcpConversation) -> None:
    c.add(conv.client_send(m.cotp_cr()) + conv.server_send(m.cotp_cc()), "COTP CR/CC (TSAP 0001)")
    c.add(conv.client_send(m.tpkt_dt(m.connect_request())) + conv.server_send(m.tpkt_dt(m.connect_accept())),
          "session CONNECT/ACCEPT, presentation CP/CPA, ACSE AARQ/AARE, MMS initiate")


def session() -> Capture:
    c = Capture("mms_session.pcap", "Port 102, handshake, association, an engineering session: "
                "Identify, GetNameList, GetVariableAccessAttributes, Read (value, structure, "
                "failure), Write to an Oper structure (control) and to a setting (config), a "
                "confirmed error, an InformationReport, file services, a reject, conclude, "
                "release, FIN.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    _associate(c, conv)
    _exchange(c, conv, m.confirmed_request(1, m.identify()),
              m.confirmed_response(1, m.identify_result("Acme Relays", "PR-7", "4.2.1")),
              "Identify (asset observation)")
    _exchange(c, conv, m.confirmed_request(2, m.get_name_list(9)),
              m.confirmed_response(2, m.name_list([LD])), "GetNameList of domains")
    _exchange(c, conv, m.confirmed_request(3, m.get_name_list(0, LD)),
              m.confirmed_response(3, m.name_list(["LLN0", "XCBR1", "XCBR1$CO$Pos$Oper"], True)),
              "GetNameList of variables, more follows")
    _exchange(c, conv, m.confirmed_request(4, m.get_variable_access_attributes(m.domain_name(LD, "XCBR1$ST$Pos"))),
              m.confirmed_response(4, m.ctx(6, m.ctx(0, b"\x00", False) + m.ctx(2, m.ctx(2, b"")))),
              "GetVariableAccessAttributes")
    _exchange(c, conv, m.confirmed_request(5, m.read([m.domain_name(LD, "MMXU1$MX$TotW$mag$f"),
                                                      m.domain_name(LD, "XCBR1$ST$Pos$stVal"),
                                                      m.domain_name(LD, "XCBR9$ST$Pos$stVal")])),
              m.confirmed_response(5, m.read_result([m.float32(1234.5), m.bitstring("10"), m.failure(10)])),
              "Read of three variables: a float, a Dbpos bit string, object-non-existent")
    _exchange(c, conv, m.confirmed_request(6, m.write([m.domain_name(LD, "XCBR1$CO$Pos$Oper")],
                                                      [m.oper(m.boolean(True), 7)])),
              m.confirmed_response(6, m.write_result([None])), "Write to XCBR1$CO$Pos$Oper (control: close)")
    _exchange(c, conv, m.confirmed_request(7, m.write([m.domain_name(LD, "PTOC1$SP$StrVal$setMag$f")],
                                                      [m.float32(2.5)])),
              m.confirmed_response(7, m.write_result([3])), "Write to a setting (config), access denied")
    _exchange(c, conv, m.confirmed_request(8, m.read_list(m.domain_name(LD, "LLN0$Meas"))),
              m.confirmed_error(8, 2, 1), "Read of a data set: confirmed error (definition, object undefined)")
    c.add(conv.server_send(m.mms_dt(m.information_report("RPT", [m.visible("urcb01"), m.bitstring("0111100000"),
                                                                 m.unsigned_data(3), m.float32(1250.0)]))),
          "InformationReport (unsolicited)")
    _exchange(c, conv, m.confirmed_request(9, m.file_open("COMTRADE/fault1.cfg")),
              m.confirmed_response(9, m.file_open_result(1, 2048)), "FileOpen")
    _exchange(c, conv, m.confirmed_request(10, m.file_delete("COMTRADE/fault1.cfg")),
              m.confirmed_response(10, m.file_delete_result()), "FileDelete")
    c.add(conv.client_send(m.mms_dt(m.confirmed_request(11, m.ctx(4, b"\x30\x00"))))
          + conv.server_send(m.mms_dt(m.reject(11, 1, 4))), "a read the server rejects")
    _exchange(c, conv, m.conclude_request(), m.conclude_response(), "Conclude")
    c.add(conv.client_send(m.tpkt_dt(m.release_request())) + conv.server_send(m.tpkt_dt(m.release_response())),
          "session FINISH/DISCONNECT with ACSE RLRQ/RLRE")
    c.add(conv.fin(), "FIN")
    return c


def port_10102() -> Capture:
    c = Capture("mms_port_10102.pcap", "Server on tcp/10102 with handshake and association: "
                "MMS found by its bytes, not its port.")
    conv = _conv(10102)
    c.add(conv.handshake(), "TCP handshake")
    _associate(c, conv)
    for i in range(1, 4):
        _exchange(c, conv, m.confirmed_request(i, m.read([m.domain_name(LD, "MMXU1$MX$TotW$mag$f")])),
                  m.confirmed_response(i, m.read_result([m.float32(1000.0 + i)])), f"read {i}")
    return c


def segmented() -> Capture:
    c = Capture("mms_segmented.pcap", "Port 102: a TPKT split over TCP segments, an MMS PDU "
                "split over two COTP DTs (reported at the second), two PDUs in one segment.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    _associate(c, conv)
    c.add(conv.client_send(m.mms_dt(m.confirmed_request(1, m.get_name_list(9))), segment_sizes=[5, 9]),
          "GetNameList in three TCP segments (reported at the last)")
    c.add(conv.server_send(m.mms_dt(m.confirmed_response(1, m.name_list([f"LD{i:02d}" for i in range(40)])),
                                    segment=120)),
          "its response in two COTP DTs within one TCP segment")
    both = m.mms_dt(m.confirmed_request(2, m.read([m.domain_name(LD, "A$ST$x")]))) + \
        m.mms_dt(m.confirmed_request(3, m.read([m.domain_name(LD, "B$ST$y")])))  # fmt: skip
    c.add(conv.client_send(both), "two read requests in one TCP segment")
    c.add(conv.server_send(m.mms_dt(m.confirmed_response(2, m.read_result([m.boolean(True)])))
                           + m.mms_dt(m.confirmed_response(3, m.read_result([m.int_data(-5)])))),
          "both responses in one segment")
    return c


def gap() -> Capture:
    c = Capture("mms_gap.pcap", "Port 102: a request lost to the capture (bytes skipped), then "
                "its response and more traffic; the decoder resynchronises on the next TPKT.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    _associate(c, conv)
    conv.skip_bytes(m.mms_dt(m.confirmed_request(1, m.read([m.domain_name(LD, "LLN0$ST$Mod$stVal")]))))
    c.add(conv.server_send(m.mms_dt(m.confirmed_response(1, m.read_result([m.int_data(1)])))),
          "the response to a request the capture lost")
    _exchange(c, conv, m.confirmed_request(2, m.read([m.domain_name(LD, "LLN0$ST$Mod$stVal")])),
              m.confirmed_response(2, m.read_result([m.int_data(1)])), "the next exchange decodes")
    return c


def midstream() -> Capture:
    c = Capture("mms_midstream.pcap", "Port 102, no handshake and no association seen: the "
                "capture starts inside an established MMS association (also the second TPKT of "
                "a segment whose first is cut).")
    conv = _conv()
    tail = m.mms_dt(m.confirmed_request(1, m.read([m.domain_name(LD, "X$ST$a")])))[9:]
    c.add(conv.client_send(tail + m.mms_dt(m.confirmed_request(2, m.read([m.domain_name(LD, "X$ST$b")])))),
          "the end of a TPKT, then a whole read request")
    c.add(conv.server_send(m.mms_dt(m.confirmed_response(2, m.read_result([m.boolean(False)])))), "its response")
    _exchange(c, conv, m.confirmed_request(3, m.write([m.domain_name(LD, "CSWI1$CO$Pos$Oper")], [m.oper(m.boolean(False), 2)])),
              m.confirmed_response(3, m.write_result([None])), "control: open")
    return c


CAPTURES = (session, port_10102, segmented, gap, midstream)


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
        "# MMS test captures\n\nEvery capture here was generated by `make.py` (run "
        "`.venv/bin/python tests/captures/mms/make.py` from the repository root) with the "
        "synthetic builders of `watchfloor.testing.mms`; no real traffic is included. The "
        "output is deterministic: the hashes below change only when the script or the kit "
        "changes. Frame numbers are 1-based, as Wireshark shows them.\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
