"""Syslog (RFC 5424, RFC 3164, plain /var/log lines) and CEF → ECS events; corrupt lines are
reported and the rest read; random bytes never raise."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.telemetry import FORMATS
from watchfloor.telemetry.syslog import FORMAT as SYSLOG
from watchfloor.telemetry.syslog import NotSyslog, extension, parse

from ._telemetry import read_all

NOW = time.mktime((2024, 5, 2, 0, 0, 0, 0, 0, 0)) - time.timezone  # 2024-05-02T00:00:00Z


def test_rfc5424_with_structured_data() -> None:
    ev = parse(b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 4321 ID47 '
               b'[exampleSDID@32473 iut="3" eventSource="Appli\\"cation"][examplePriority@32473 class="high"] '
               b'\xef\xbb\xbfAn application event', "s", 7, NOW)  # fmt: skip
    sl = ev.log.syslog
    assert ev.timestamp == "2003-10-11T22:14:15.003000Z" and ev.event.id == "s-7"
    assert (sl.priority, sl.facility.name, sl.severity.name, sl.version) == (165, "local4", "notice", "1")
    assert (sl.hostname, sl.appname, sl.procid, sl.msgid) == ("mymachine.example.com", "evntslog", "4321", "ID47")
    assert sl.structured_data == ['exampleSDID@32473 iut=3 eventSource=Appli"cation',
                                  "examplePriority@32473 class=high"]  # fmt: skip
    assert ev.message == "An application event" and ev.host.hostname == "mymachine.example.com"
    assert ev.process.name == "evntslog" and ev.process.pid == 4321
    assert ev.event.original.startswith("<165>1 2003") and ev.log.level == "notice"


def test_rfc3164_year_is_the_one_not_in_the_future() -> None:
    ev = parse(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick", "s", 1, NOW)
    assert ev.timestamp == "2023-10-11T22:14:15.000000Z"  # October 2024 would be in the future
    assert ev.log.syslog.severity.name == "critical" and ev.event.severity == 5
    assert ev.process.name == "su" and ev.host.hostname == "mymachine"
    ev = parse(b"Apr 30 08:00:01 eng-ws-01 sshd[1234]: Accepted password for operator", "s", 2, NOW)
    assert ev.timestamp == "2024-04-30T08:00:01.000000Z" and ev.log.syslog.priority is None
    assert (ev.process.name, ev.process.pid, ev.message) == ("sshd", 1234, "Accepted password for operator")


def test_cef_header_escapes_and_extension_mapping() -> None:
    ev = parse(b"<134>May  1 08:00:00 fw01 CEF:0|Security|threat\\|manager|1.0|100|worm stopped|10|"
               b"src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=445 proto=TCP suser=j\\=doe "
               b"msg=Detected a threat. No action needed cs1Label=rule cs1=r 1 act=blocked "
               b"request=http://x.example/a?b=c fileHash=d41d8cd98f00b204e9800998ecf8427e fname=a.exe "
               b"rt=1714550400123", "s", 1, NOW)  # fmt: skip
    assert ev.observer.vendor == "Security" and ev.observer.product == "threat|manager"
    assert ev.event.code == "100" and ev.event.severity == 5 and ev.event.action == "blocked"
    assert ev.timestamp == "2024-05-01T08:00:00.123000Z" and ev.event.module == "cef"
    assert (ev.source.ip, ev.source.port, ev.destination.ip, ev.destination.port) == ("10.0.0.1", 1232, "2.1.2.2", 445)
    assert ev.network.transport == "tcp" and ev.user.name == "j=doe"
    assert ev.message == "Detected a threat. No action needed" and ev.url.original == "http://x.example/a?b=c"
    assert ev.file.name == "a.exe" and ev.file.hash.md5 == "d41d8cd98f00b204e9800998ecf8427e"
    assert ev.cef.extensions == ["cs1Label=rule", "cs1=r 1"] and ev.host.hostname == "fw01"
    assert extension(r"a=1 b=x\=y c=two words") == [("a", "1"), ("b", "x=y"), ("c", "two words")]


def test_file_reader_sniff_and_corrupt_lines() -> None:
    assert SYSLOG in FORMATS
    data = (b"<13>1 2024-05-01T08:00:00Z h a - - - one\n"
            b"<999>bad priority\n"
            b"just some words\n"
            b"<13>1 notatime h a - - - two\n"
            b"\n"
            b"<14>May  1 08:00:00 h b: three\n")  # fmt: skip
    assert SYSLOG.sniff(data, "messages")
    assert not SYSLOG.sniff(b'{"event_type":"alert"}', "eve.json")
    events, bad = read_all(SYSLOG, data, "f")
    assert [e.message for e in events] == ["one", "three"]
    assert [b.position for b in bad] == ["line 2", "line 3", "line 4"]
    rng = random.Random(5)
    for _ in range(100):
        broken = bytearray(data)
        for _ in range(8):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        read_all(SYSLOG, bytes(broken))


@pytest.mark.parametrize("bad", [b"", b"   ", b"<200>x", b"<13>1 2024", b"CEF:0|a|b"])
def test_not_syslog(bad: bytes) -> None:
    with pytest.raises(NotSyslog):
        parse(bad, "s", 1, NOW)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_random_bytes_never_raise_anything_but_notsyslog(data: bytes) -> None:
    SYSLOG.sniff(data, "x")
    read_all(SYSLOG, data)
    for prefix in (b"<13>1 ", b"<13>", b"CEF:0|", b"<13>May  1 08:00:00 h CEF:0|"):
        try:
            parse(prefix + data, "s", 1, NOW)
        except NotSyslog:
            pass
