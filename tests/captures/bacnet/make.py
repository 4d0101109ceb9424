"""Write the small deterministic BACnet/IP captures in tests/captures/bacnet/ and their SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/bacnet/make.py
Everything comes from watchfloor.testing; the same code always writes the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from watchfloor.testing import write_pcap
from watchfloor.testing import bacnet as b
from watchfloor.testing.modbus import Endpoint

HERE = Path(__file__).resolve().parent
T0 = 1_700_000_000_000_000_000
CLIENT, DEVICE, BCAST = b.BACNET_CLIENT, b.BACNET_DEVICE, b.BROADCAST
BBMD = Endpoint("10.0.9.1", 47808, "02:00:00:00:09:01")
FOREIGN = Endpoint("192.168.50.7", 47808, "02:00:00:00:50:07")
GLOBAL = Endpoint("255.255.255.255", 47808, "ff:ff:ff:ff:ff:ff")
AI, AO, BO, DEV, FILE = 0, 1, 4, 8, 10
PV, OBJECT_NAME, VENDOR_NAME, MODEL_NAME = 85, 77, 121, 70


class Capture:
    def __init__(self, name: str, summary: str) -> None:
        self.name, self.summary = name, summary
        self.records: list[tuple[int, bytes]] = []
        self.notes: list[str] = []

    def add(self, src: Endpoint, dst: Endpoint, payload: bytes, note: str | None = None) -> None:
        ts = T0 + len(self.records) * 10_000_000
        self.records.append(b.datagram(src, dst, payload, ts))
        if note:
            self.notes.append(f"frame {len(self.records)}: {note}")


def discovery() -> Capture:
    c = Capture("bacnet_discovery.pcap", "Who-Is broadcasts (global and subnet), I-Am answers "
                "(direct, routed from network 5, forwarded by a BBMD), Who-Has/I-Have, router "
                "discovery, time synchronization.")
    c.add(CLIENT, GLOBAL, b.broadcast(b.who_is()), "Who-Is to 255.255.255.255")
    c.add(DEVICE, BCAST, b.broadcast(b.i_am(1201, 260, 1476, 0)), "I-Am device 1201, vendor 260, broadcast")
    c.add(CLIENT, BCAST, b.broadcast(b.who_is(1000, 1999)), "Who-Is 1000-1999 to the subnet broadcast")
    c.add(DEVICE, CLIENT, b.unicast(b.i_am(1201, 260, 1476, 0)), "I-Am unicast answer")
    c.add(BBMD, BCAST, b.forwarded(b.bip("10.0.20.5"), b.i_am(2001, 8, 480, 3)),
          "I-Am forwarded by a BBMD from 10.0.20.5")
    c.add(DEVICE, BCAST, b.broadcast(b.i_am(5001, 5, 206, 3), snet=5, sadr=b"\x11"),
          "I-Am of device 5001 on MS/TP network 5 (MAC 0x11), routed")
    c.add(CLIENT, BCAST, b.broadcast(b.who_has_name("AHU-1 SAT")), "Who-Has by name")
    c.add(DEVICE, BCAST, b.broadcast(b.i_have(1201, AI, 3, "AHU-1 SAT")), "I-Have")
    c.add(CLIENT, BCAST, b.broadcast(b"", network_message=0), "Who-Is-Router-To-Network")
    c.add(BBMD, BCAST, b.broadcast(b"\x00\x05\x00\x06", network_message=1), "I-Am-Router-To-Network 5, 6")
    c.add(CLIENT, BCAST, b.broadcast(b.unconfirmed(6, b.app_date(2024, 3, 1) + b.app_time(12, 0, 0))),
          "TimeSynchronization")
    return c


def operations() -> Capture:
    c = Capture("bacnet_operations.pcap", "A workstation and a controller: ReadProperty, "
                "ReadPropertyMultiple (one property unknown), WriteProperty at priority 8, "
                "WritePropertyMultiple, SubscribeCOV + ConfirmedCOVNotification, cancellation, "
                "Error, Reject, Abort.")
    u = b.unicast
    c.add(CLIENT, DEVICE, u(b.confirmed(1, 12, b.property_ref(DEV, 1201, VENDOR_NAME)), expecting_reply=True),
          "ReadProperty device vendor-name")
    c.add(DEVICE, CLIENT, u(b.complex_ack(1, 12, b.read_property_ack_params(DEV, 1201, VENDOR_NAME,
                                                                            b.app_string("Acme Controls")))),
          "ReadProperty-ACK")
    c.add(CLIENT, DEVICE, u(b.confirmed(2, 14, b.rpm_params([(AI, 3, [PV, OBJECT_NAME, 9999])])), expecting_reply=True),
          "ReadPropertyMultiple")
    c.add(DEVICE, CLIENT, u(b.complex_ack(2, 14, b.rpm_ack_params(
        [(AI, 3, [(PV, b.app_real(21.5)), (OBJECT_NAME, b.app_string("AHU-1 SAT")), (9999, (2, 32))])]))),
        "ReadPropertyMultiple-ACK with an unknown-property error")
    c.add(CLIENT, DEVICE, u(b.confirmed(3, 15, b.write_property_params(AO, 1, PV, b.app_real(55.0), 8)),
                            expecting_reply=True), "WriteProperty AO1 = 55.0 @8")
    c.add(DEVICE, CLIENT, u(b.simple_ack(3, 15)), "SimpleACK")
    c.add(CLIENT, DEVICE, u(b.confirmed(4, 16, b.wpm_params([(BO, 2, [(PV, b.app_enum(1), 8)])])),
                            expecting_reply=True), "WritePropertyMultiple BO2 = active @8")
    c.add(DEVICE, CLIENT, u(b.simple_ack(4, 16)), "SimpleACK")
    c.add(CLIENT, DEVICE, u(b.confirmed(5, 5, b.subscribe_cov_params(7, AI, 3)), expecting_reply=True),
          "SubscribeCOV, confirmed, 300 s")
    c.add(DEVICE, CLIENT, u(b.simple_ack(5, 5)), "SimpleACK")
    c.add(DEVICE, CLIENT, u(b.confirmed(9, 1, b.cov_notification_params(7, 1201, AI, 3, [(PV, b.app_real(22.0)),
                                                                                        (111, b"\x82\x04\x00")])),
                            expecting_reply=True), "ConfirmedCOVNotification (device → workstation)")
    c.add(CLIENT, DEVICE, u(b.simple_ack(9, 1)), "SimpleACK")
    c.add(CLIENT, DEVICE, u(b.confirmed(6, 5, b.subscribe_cov_params(7, AI, 3, None, None)), expecting_reply=True),
          "SubscribeCOV cancellation")
    c.add(DEVICE, CLIENT, u(b.simple_ack(6, 5)), "SimpleACK")
    c.add(CLIENT, DEVICE, u(b.confirmed(7, 15, b.write_property_params(AI, 99, PV, b.app_real(1.0))),
                            expecting_reply=True), "WriteProperty to an unknown object")
    c.add(DEVICE, CLIENT, u(b.error(7, 15, 1, 31)), "Error object / unknown-object")
    c.add(CLIENT, DEVICE, u(b.confirmed(8, 31, b""), expecting_reply=True), "confirmed service 31, not supported")
    c.add(DEVICE, CLIENT, u(b.reject(8, 9)), "Reject unrecognized-service")
    c.add(CLIENT, DEVICE, u(b.confirmed(10, 29, b""), expecting_reply=True), "GetEventInformation")
    c.add(DEVICE, CLIENT, u(b.abort(10, 4)), "Abort segmentation-not-supported (server)")
    return c


def control() -> Capture:
    c = Capture("bacnet_control_port_47809.pcap", "Engineering actions on udp/47809: "
                "DeviceCommunicationControl with a password, ReinitializeDevice (warm start), "
                "AtomicReadFile / AtomicWriteFile, CreateObject / DeleteObject, a segmented "
                "ComplexACK with its SegmentACKs, one unanswered request.")
    cl, dv = CLIENT._replace(port=47809), DEVICE._replace(port=47809)
    u = b.unicast
    c.add(cl, dv, u(b.confirmed(20, 17, b.dcc_params(1, 30, "s3cret")), expecting_reply=True),
          "DeviceCommunicationControl disable 30 min, password (not kept)")
    c.add(dv, cl, u(b.simple_ack(20, 17)), "SimpleACK")
    c.add(cl, dv, u(b.confirmed(21, 20, b.reinitialize_params(1, "s3cret")), expecting_reply=True),
          "ReinitializeDevice warmstart, password")
    c.add(dv, cl, u(b.error(21, 20, 5, 26)), "Error services / password-failure")
    c.add(cl, dv, u(b.confirmed(22, 6, b.atomic_read_file_params(1, 0, 512)), expecting_reply=True),
          "AtomicReadFile file 1, 512 octets from 0")
    c.add(dv, cl, u(b.complex_ack(22, 6, b.atomic_read_file_ack_params(True, 0, bytes(range(64))))),
          "AtomicReadFile-ACK, 64 octets, end of file")
    c.add(cl, dv, u(b.confirmed(23, 7, b.atomic_write_file_params(1, 0, b"PROGRAM" * 8)), expecting_reply=True),
          "AtomicWriteFile 56 octets")
    c.add(dv, cl, u(b.complex_ack(23, 7, b.ctx_signed(0, 0))), "AtomicWriteFile-ACK")
    c.add(cl, dv, u(b.confirmed(24, 10, b.create_object_params(AI, None, [(OBJECT_NAME, b.app_string("new"))])),
                    expecting_reply=True), "CreateObject analog-input with an initial name")
    c.add(dv, cl, u(b.complex_ack(24, 10, b.app_oid(AI, 17))), "CreateObject-ACK analog-input 17")
    c.add(cl, dv, u(b.confirmed(25, 11, b.app_oid(AI, 17)), expecting_reply=True), "DeleteObject")
    c.add(dv, cl, u(b.simple_ack(25, 11)), "SimpleACK")
    c.add(cl, dv, u(b.confirmed(26, 12, b.property_ref(DEV, 1201, 76)), expecting_reply=True),
          "ReadProperty object-list")
    body = b.read_property_ack_params(DEV, 1201, 76, b"".join(b.app_oid(AI, i) for i in range(60)))
    parts = [body[:120], body[120:240], body[240:]]
    for seq, part in enumerate(parts):
        more = seq < len(parts) - 1
        c.add(dv, cl, u(b.complex_ack(26, 12, part, seq=seq, more=more, window=2),
                        expecting_reply=more), f"ComplexACK segment {seq}")
        if seq != 0:
            c.add(cl, dv, u(b.segment_ack(26, seq, 2)), "SegmentACK")
    c.add(cl, dv, u(b.confirmed(27, 12, b.property_ref(DEV, 1201, MODEL_NAME)), expecting_reply=True),
          "ReadProperty never answered")
    return c


def bbmd() -> Capture:
    c = Capture("bacnet_bbmd.pcap", "A foreign device registers with a BBMD, reads its tables, "
                "distributes a broadcast; BVLC-Result NAK; a datagram whose BVLC length disagrees "
                "with its size; a truncated BVLL.")
    c.add(FOREIGN, BBMD, b.bvll(0x05, b"\x00\x3c"), "Register-Foreign-Device TTL 60 s")
    c.add(BBMD, FOREIGN, b.bvll(0x00, b"\x00\x00"), "BVLC-Result success")
    c.add(FOREIGN, BBMD, b.bvll(0x02), "Read-Broadcast-Distribution-Table")
    c.add(BBMD, FOREIGN, b.bvll(0x03, b.bip("10.0.9.1") + b"\xff\xff\xff\xff" + b.bip("10.0.20.1") + b"\xff\xff\xff\xff"),
          "Read-BDT-Ack, two entries")
    c.add(FOREIGN, BBMD, b.bvll(0x06), "Read-Foreign-Device-Table")
    c.add(BBMD, FOREIGN, b.bvll(0x07, b.bip("192.168.50.7") + b"\x00\x3c\x00\x5a"), "Read-FDT-Ack")
    c.add(FOREIGN, BBMD, b.bvll(0x09, b.npdu(b.who_is())), "Distribute-Broadcast-To-Network (Who-Is)")
    c.add(FOREIGN, BBMD, b.bvll(0x08, b.bip("192.168.50.8")), "Delete-FDT-Entry")
    c.add(BBMD, FOREIGN, b.bvll(0x00, b"\x00\x50"), "BVLC-Result delete-FDT-entry NAK")
    c.add(FOREIGN, BBMD, b.bvll(0x0A, b.npdu(b.who_is()), length=40), "BVLC length 40, datagram 10")
    c.add(FOREIGN, BBMD, b.bvll(0x0A, b.npdu(b.confirmed(1, 12, b.property_ref(DEV, 1, 77))))[:9],
          "Original-Unicast-NPDU cut inside the APDU header")
    return c


CAPTURES = (discovery, operations, control, bbmd)


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
        "# BACnet/IP test captures\n\nEvery capture here was generated by `make.py` (run "
        "`.venv/bin/python tests/captures/bacnet/make.py` from the repository root) with the "
        "synthetic builders of `watchfloor.testing.bacnet`; no real traffic is included. The "
        "output is deterministic: the hashes below change only when the script or the kit "
        "changes. Frame numbers are 1-based, as Wireshark shows them.\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
