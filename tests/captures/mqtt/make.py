"""Write the small deterministic MQTT captures in tests/captures/mqtt/ and their SOURCE.md.

Run from the repository root: .venv/bin/python tests/captures/mqtt/make.py
Everything comes from watchfloor.testing; the same code always writes the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import mqtt as m

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


def _conv(port: int = 1883, client_port: int = 50100) -> TcpConversation:
    return TcpConversation(m.MQTT_CLIENT._replace(port=client_port), m.MQTT_BROKER._replace(port=port))


def v311() -> Capture:
    c = Capture("mqtt_v311.pcap", "Port 1883, MQTT 3.1.1: CONNECT with user name, password and a "
                "Last Will, SUBSCRIBE/SUBACK (one filter refused), PUBLISH at QoS 0/1/2 with their "
                "acknowledgements, retained, UNSUBSCRIBE, PING, DISCONNECT, FIN.")
    conv = _conv()
    c.add(conv.handshake(), "TCP handshake")
    c.add(conv.client_send(m.connect("rtu-17", username="scada", password=b"not-kept",
                                     will=("plant/rtu-17/state", b"offline", 1, True))), "CONNECT")
    c.add(conv.server_send(m.connack(0)), "CONNACK accepted")
    c.add(conv.client_send(m.subscribe(1, [("plant/#", 1), ("$SYS/#", 2)])), "SUBSCRIBE")
    c.add(conv.server_send(m.suback(1, [1, 0x80])), "SUBACK: $SYS refused")
    c.add(conv.client_send(m.publish("plant/rtu-17/status", b"online", retain=True)), "retained QoS 0")
    c.add(conv.client_send(m.publish("plant/rtu-17/kw", b"51.2", qos=1, packet_id=2)), "QoS 1")
    c.add(conv.server_send(m.ack(4, 2)), "PUBACK")
    c.add(conv.client_send(m.publish("plant/rtu-17/breaker", b"open", qos=2, packet_id=3)), "QoS 2")
    c.add(conv.server_send(m.ack(5, 3)) + conv.client_send(m.ack(6, 3)) + conv.server_send(m.ack(7, 3)),
          "PUBREC, PUBREL, PUBCOMP")
    c.add(conv.server_send(m.publish("plant/hmi/setpoint", b"55", qos=1, packet_id=9, dup=True)),
          "broker → client PUBLISH, DUP")
    c.add(conv.client_send(m.ack(4, 9)), "client's PUBACK")
    c.add(conv.client_send(m.unsubscribe(4, ["plant/#"])) + conv.server_send(m.unsuback(4)),
          "UNSUBSCRIBE / UNSUBACK")
    c.add(conv.client_send(m.PINGREQ) + conv.server_send(m.PINGRESP), "PINGREQ / PINGRESP")
    c.add(conv.client_send(m.disconnect()), "DISCONNECT")
    c.add(conv.fin(), "FIN")
    return c


def v5() -> Capture:
    c = Capture("mqtt_v5_port_18830.pcap", "MQTT 5.0 on tcp/18830: properties, topic aliases, "
                "reason codes, enhanced authentication (AUTH), server DISCONNECT with a reason.")
    conv = _conv(18830)
    alias = m.props(m.prop(0x23, 1, 2))
    c.add(conv.handshake(), "TCP handshake")
    c.add(conv.client_send(m.connect("hmi-5", version=5, properties=m.props(
        m.prop(0x11, 300, 4), m.prop(0x15, "SCRAM-SHA-1"), m.prop(0x26, ("site", "north"))))),
        "CONNECT with session expiry, authentication method, user property")
    c.add(conv.server_send(m.auth(0x18, m.props(m.prop(0x15, "SCRAM-SHA-1")))), "AUTH continue")
    c.add(conv.client_send(m.auth(0x18, m.props(m.prop(0x15, "SCRAM-SHA-1")))), "AUTH")
    c.add(conv.server_send(m.connack(0, properties=m.props(m.prop(0x22, 10, 2), m.prop(0x12, "auto-1")))),
          "CONNACK with topic alias maximum")
    c.add(conv.client_send(m.subscribe(1, [("plant/+/kw", 0x25)], properties=b"\x00")), "SUBSCRIBE")
    c.add(conv.server_send(m.suback(1, [1], properties=b"\x00")), "SUBACK")
    c.add(conv.client_send(m.publish("plant/a/kw", b"1", qos=1, packet_id=2, properties=alias)),
          "PUBLISH setting topic alias 1")
    c.add(conv.server_send(m.ack(4, 2, 0x10, b"\x00")), "PUBACK no matching subscribers")
    c.add(conv.client_send(m.publish("", b"2", qos=1, packet_id=3, properties=alias)),
          "PUBLISH by alias only")
    c.add(conv.server_send(m.ack(4, 3)), "PUBACK (short form)")
    c.add(conv.client_send(m.unsubscribe(4, ["plant/+/kw", "x"], properties=b"\x00")), "UNSUBSCRIBE")
    c.add(conv.server_send(m.unsuback(4, [0, 0x11], properties=b"\x00")), "UNSUBACK")
    c.add(conv.server_send(m.disconnect(0x8B, m.props(m.prop(0x1F, "maintenance")))),
          "server DISCONNECT: server shutting down")
    c.add(conv.fin(False), "FIN")
    return c


def segmented() -> Capture:
    c = Capture("mqtt_segmented.pcap", "Port 1883: a 3000-byte PUBLISH split over five segments, "
                "three packets in one segment, CONNACK and PUBACK in one segment.")
    conv = _conv(client_port=50101)
    c.add(conv.handshake(), "TCP handshake")
    c.add(conv.client_send(m.connect("seg") + m.publish("a", b"1") + m.publish("b", b"2")),
          "CONNECT + 2 PUBLISH in one segment")
    c.add(conv.client_send(m.publish("plant/blob", bytes(3000), qos=1, packet_id=11),
                           segment_sizes=[1, 2, 1000, 1000, 1000]), "one PUBLISH over 5 segments")
    c.add(conv.server_send(m.connack(0) + m.ack(4, 11)), "CONNACK + PUBACK in one segment")
    return c


def gap() -> Capture:
    c = Capture("mqtt_gap.pcap", "Port 1883: 58 bytes of the client's stream are missing (a "
                "PUBLISH); decoding resumes at the next packet.")
    conv = _conv(client_port=50102)
    c.add(conv.handshake(), "TCP handshake")
    c.add(conv.client_send(m.connect("g")) + conv.server_send(m.connack(0)), "CONNECT / CONNACK")
    c.add(conv.skip_bytes(m.publish("lost", b"x" * 50)), None)
    c.add(conv.client_send(m.publish("after/gap", b"y", qos=1, packet_id=5)), "PUBLISH after the hole")
    c.add(conv.server_send(m.ack(4, 5)), "PUBACK")
    return c


def midstream() -> Capture:
    c = Capture("mqtt_midstream_17501.pcap", "A connection already open on tcp/17501 (no handshake, "
                "no CONNECT): keep-alives, then publishes both ways.")
    conv = _conv(17501, 50103)
    c.add(conv.client_send(m.PINGREQ) + conv.server_send(m.PINGRESP), "PINGREQ / PINGRESP")
    c.add(conv.server_send(m.publish("bus/17/cmd", b'{"go":1}', qos=1, packet_id=4)), "PUBLISH")
    c.add(conv.client_send(m.ack(4, 4)), "PUBACK")
    c.add(conv.client_send(m.publish("bus/17/info", b'{"v":24.1}')), "PUBLISH")
    return c


CAPTURES = (v311, v5, segmented, gap, midstream)


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
        "# MQTT test captures\n\nEvery capture here was generated by `make.py` (run "
        "`.venv/bin/python tests/captures/mqtt/make.py` from the repository root) with the "
        "synthetic builders of `watchfloor.testing.mqtt`; no real traffic is included. The "
        "output is deterministic: the hashes below change only when the script or the kit "
        "changes. Frame numbers are 1-based, as Wireshark shows them.\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
