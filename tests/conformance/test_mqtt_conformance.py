"""MQTT conformance with Wireshark (DESIGN.md §3.2).

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.mqtt.message_type`` vs ``mqtt.msgtype`` (one record per control packet, several
packets in one segment zipped in stream order).

Captures:
  (a) the MQTT captures of ``../shared/corpus`` (SOURCES.md, tshark column ``mqtt``) and
      ``../shared/corpus/generated/mqtt_*.pcap``;
  (b) a capture made now with Debian's mosquitto broker and paho-mqtt clients on loopback
      (``../shared/tools/traffic/mqtt_paho_mosquitto.py``; root + tcpdump + mosquitto);
  (c) the project's own ``tests/captures/mqtt/*.pcap``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["mqtt"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4


def _check(capture: Path, ports: set[int] | None = None, events: list | None = None) -> T.Comparison:
    cmp = C.conforms(capture, "mqtt", ports=ports, events=events)
    n_ours, n_theirs = cmp.counts()
    assert n_ours == n_theirs
    return cmp


@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"mqtt"}, generated="mqtt_*.pcap"))
def test_corpus(capture: Path) -> None:
    _check(capture)


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("mqtt/*.pcap"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


STACKS = {
    # mosquitto broker, paho-mqtt clients (v5 subscriber, v3.1.1 publisher, a dropped client)
    "mosquitto-paho": ("mqtt_paho_mosquitto.py", 18830),
}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("paho.mqtt")
    if reason:
        pytest.skip(reason)
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto broker not installed (Debian package 'mosquitto')")
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("mqtt-stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            _check(pcap, ports={port}, events=events)
            assert port in T.server_ports(events, SPEC), f"{stack}: server port {port} not found"
            kinds = {T.get_path(e, "event.action") for e in events}
            want = {"connect", "connack", "subscribe", "suback", "publish", "puback", "pubrec",
                    "pubrel", "pubcomp", "pingreq", "pingresp", "unsubscribe", "unsuback",
                    "disconnect"}  # fmt: skip
            assert want <= kinds, want - kinds
            versions = {T.get_path(e, "ot.mqtt.protocol_version") for e in events} - {None}
            assert versions == {"3.1.1", "5.0"}, versions
            assert not any(T.get_path(e, "ot.anomalies") for e in events
                           if T.get_path(e, "ot.protocol") == "mqtt"), "anomalies on a clean session"
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)
