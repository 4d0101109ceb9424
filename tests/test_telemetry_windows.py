"""Windows readers (EVTX, XML, JSON) on real samples from ../shared/corpus/labeled and on
damaged copies of them; SigmaHQ's Windows rules on the events they produce."""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
from pathlib import Path

import evtx as peer
import msgspec
import pytest

from watchfloor.detect.alerts import Detector
from watchfloor.detect.rules import load
from watchfloor.detect.windows import logsource, pipeline
from watchfloor.schema import Event
from watchfloor.telemetry import Corrupt, evtx, winjson, winxml
from watchfloor.telemetry.sources import CAPTURE, ReadStats, expand, identify, read_events

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
LABELED = SHARED / "labeled"
REGRESSION = LABELED / "sigma_regression" / "regression_data"
OTRF = LABELED / "otrf_security_datasets" / "datasets" / "atomic"
SIGMA = SHARED / "sigma" / "rules" / "windows"

pytestmark = pytest.mark.corpus


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not in the corpus")
    return path


def _evtx_files() -> list[Path]:
    return sorted(_need(LABELED).rglob("*.evtx"))


def _split(items: list) -> tuple[list[Event], list[Corrupt]]:
    return [i for i in items if isinstance(i, Event)], [i for i in items if isinstance(i, Corrupt)]


def test_evtx_reader_reads_every_record_the_evtx_package_does() -> None:
    files = _evtx_files()
    assert len(files) > 100
    total = 0
    for f in files:
        with open(f, "rb") as s:
            events, corrupt = _split(list(evtx.read(s, "t")))
        assert not corrupt, (f, corrupt)
        assert len(events) == sum(1 for _ in peer.PyEvtxParser(str(f)).records()), f
        total += len(events)
        for e in events:  # every event fits the schema and round-trips
            assert msgspec.json.decode(msgspec.json.encode(e), type=Event) == e
            assert e.winlog is not None and e.winlog.event_id is not None and e.event.original
    assert total > 1000


def test_sysmon_process_creation_is_mapped_to_ecs() -> None:
    sample = _need(REGRESSION / "rules/windows/process_creation")
    f = next(sample.rglob("*.evtx"))
    with open(f, "rb") as s:
        events, _ = _split(list(evtx.read(s, "t")))
    starts = [e for e in events if e.winlog and e.winlog.event_id == 1]
    assert starts
    e = starts[0]
    d = e.winlog.event_data
    assert e.event.category == ["process"] and e.event.type == ["start"] and e.event.code == "1"
    assert e.process.executable == d["Image"] and e.process.command_line == d["CommandLine"]
    assert e.process.parent.executable == d["ParentImage"]
    assert e.process.name == d["Image"].rsplit("\\", 1)[-1]
    assert e.host.name == e.winlog.computer_name
    assert logsource(e.winlog) == (("process_creation",), "windows", ("sysmon",))


def _first_chunked(minimum: int = 3) -> tuple[bytes, int]:
    for f in _evtx_files():
        data = f.read_bytes()
        n = sum(1 for _ in peer.PyEvtxParser(str(f)).records())
        if n >= minimum and len(data) == 4096 + 65536:
            return data, n
    pytest.skip("no single-chunk EVTX sample with enough records")


def test_truncated_evtx_reports_the_chunk_and_the_records_lost() -> None:
    data, n = _first_chunked()
    events, corrupt = _split(list(evtx.read(io.BytesIO(data[: 4096 + 30000]), "t")))
    assert not events
    assert len(corrupt) == 1 and corrupt[0].position == "chunk 0 at offset 4096"
    assert f"{n} record(s) lost" in corrupt[0].reason
    _, corrupt = _split(list(evtx.read(io.BytesIO(data[:100]), "t")))
    assert corrupt and corrupt[0].position == "offset 0"


def test_damage_costs_only_the_chunk_it_is_in() -> None:
    data, n = _first_chunked()
    header, chunk = data[:4096], data[4096:]
    h = bytearray(header)
    struct.pack_into("<H", h, 42, 3)  # three chunks: good, bad signature, good
    bad = b"XXXXXXXX" + chunk[8:]
    events, corrupt = _split(list(evtx.read(io.BytesIO(bytes(h) + chunk + bad + chunk), "t")))
    assert len(events) == 2 * n
    assert [c.position for c in corrupt] == ["chunk 1 at offset 69632"]
    # ids stay unique and ordered by position in the input
    assert len({e.event.id for e in events}) == len(events)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_bit_flipped_evtx_never_crashes_and_accounts_for_records(seed: int) -> None:
    data, n = _first_chunked()
    b = bytearray(data)
    rnd = random.Random(seed)
    for _ in range(300):
        b[rnd.randrange(4096 + 512, len(b))] ^= 1 << rnd.randrange(8)
    events, corrupt = _split(list(evtx.read(io.BytesIO(bytes(b)), "t")))
    assert len(events) <= n
    if len(events) < n:
        assert corrupt, "records went missing without a Corrupt report"


def test_json_and_xml_exports_give_the_same_events_as_evtx() -> None:
    folder = _need(REGRESSION / "rules/windows")
    checked = 0
    for f in sorted(folder.rglob("*.evtx"))[:25]:
        with open(f, "rb") as s:
            from_evtx, _ = _split(list(evtx.read(s, "t")))
        json_file = f.with_suffix(".json")
        assert winjson.sniff(json_file.read_bytes()[:65536], json_file.name)
        with open(json_file, "rb") as s:
            from_json, corrupt = _split(list(winjson.read(s, "t")))
        assert not corrupt
        xml = "<Events>" + "".join(
            r["data"].split("?>", 1)[1] for r in peer.PyEvtxParser(str(f)).records()) + "</Events>"
        assert winxml.sniff(xml.encode()[:65536], "x.xml")
        from_xml, corrupt = _split(list(winxml.read(io.BytesIO(xml.encode()), "t")))
        assert not corrupt
        # the JSON file holds the rule's matching events: each is one of the EVTX's
        # (SigmaHQ's JSON copies have trailing blanks of values trimmed: compared without them)
        by_record = {e.winlog.record_id: e for e in from_evtx}
        for j in from_json:
            e = by_record[j.winlog.record_id]
            assert (strip(j.winlog.event_data), j.user, j.timestamp, j.event.category) == (
                strip(e.winlog.event_data), e.user, e.timestamp, e.event.category)
        assert len(from_json) >= 1

        assert [(x.winlog.record_id, lf(x.winlog.event_data), x.registry, x.file, x.timestamp)
                for x in from_xml] == [
            (e.winlog.record_id, lf(e.winlog.event_data), e.registry, e.file, e.timestamp)
            for e in from_evtx]
        checked += 1
    assert checked


def strip(d: dict | None) -> dict | None:
    return {k: v.rstrip() for k, v in d.items()} if d else d


def lf(d: dict | None) -> dict | None:
    """XML parsing turns CR LF into LF (XML 1.0, end-of-line handling)."""
    return {k: v.replace("\r\n", "\n") for k, v in d.items()} if d else d


def _otrf_json() -> tuple[str, bytes]:
    z = _need(OTRF / "windows/discovery/host/empire_shell_net_localgroup_administrators.zip")
    with zipfile.ZipFile(z) as zf:
        name = zf.namelist()[0]
        return name, zf.read(name)


def test_otrf_nxlog_json_from_a_zip() -> None:
    z = _need(OTRF / "windows/discovery/host/empire_shell_net_localgroup_administrators.zip")
    problems: list[tuple[str, str]] = []
    inputs = expand([z], lambda *a: problems.append(a))
    inp = next(inputs)  # valid until the next input is asked for
    fmt = identify(inp)
    assert fmt is not CAPTURE and fmt.name == "windows-json"
    rs = ReadStats()
    events = [e for b in read_events(inp, fmt, rs) for e in b]
    _, data = _otrf_json()
    assert rs.corrupt == 0 and len(events) == data.count(b"\n") == rs.events
    net = [e for e in events if e.process and e.process.name == "net.exe" and e.winlog.event_id == 1]
    assert net and "localgroup" in net[0].process.command_line.lower()
    assert net[0].process.pe.original_file_name == "net.exe"
    assert all(k not in net[0].winlog.event_data for k in ("EventReceivedTime", "SourceModuleName"))


def test_damaged_json_lines_are_counted_with_their_line() -> None:
    _, data = _otrf_json()
    lines = data.split(b"\n")
    lines[10] = lines[10][: len(lines[10]) // 2]  # cut record
    lines[20] = b"\x00\xff garbage"
    damaged = b"\n".join(lines[:-50]) + b"\n" + lines[-50][:30]  # file cut mid-record
    events, corrupt = _split(list(winjson.read(io.BytesIO(damaged), "t")))
    assert [c.position for c in corrupt][:2] == ["line 11", "line 21"]
    assert len(corrupt) == 3
    assert len(events) == len(lines) - 50 - 2  # every whole record but the two damaged


def test_gzip_copy_and_damaged_gzip(tmp_path: Path) -> None:
    _, data = _otrf_json()
    gz = tmp_path / "sysmon.json.gz"
    gz.write_bytes(gzip.compress(data))
    inputs = expand([gz], lambda *a: None)
    inp = next(inputs)
    rs = ReadStats()
    n = sum(len(b) for b in read_events(inp, identify(inp), rs))
    assert n == data.count(b"\n") and rs.corrupt == 0
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    inputs = expand([cut], lambda *a: None)
    inp = next(inputs)
    rs = ReadStats()
    n = sum(len(b) for b in read_events(inp, identify(inp), rs))
    assert 0 < n < data.count(b"\n") and rs.corrupt >= 1


SECURITY_4688 = """<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
<System><Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}"/>
<EventID>4688</EventID><Version>2</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode>
<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime="2024-03-05T10:11:12.1234567Z"/>
<EventRecordID>90211</EventRecordID><Correlation/><Execution ProcessID="4" ThreadID="7412"/>
<Channel>Security</Channel><Computer>EWS01.plant.local</Computer><Security/></System>
<EventData><Data Name="SubjectUserSid">S-1-5-21-1-2-3-1104</Data><Data Name="SubjectUserName">operator</Data>
<Data Name="SubjectDomainName">PLANT</Data><Data Name="SubjectLogonId">0x3e7</Data>
<Data Name="NewProcessId">0x1a2c</Data><Data Name="NewProcessName">C:\\Windows\\System32\\cmdkey.exe</Data>
<Data Name="TokenElevationType">%%1936</Data><Data Name="ProcessId">0x12f0</Data>
<Data Name="CommandLine">cmdkey /list</Data><Data Name="TargetUserSid">S-1-0-0</Data>
<Data Name="TargetUserName">-</Data><Data Name="TargetDomainName">-</Data><Data Name="TargetLogonId">0x0</Data>
<Data Name="ParentProcessName">C:\\Windows\\System32\\cmd.exe</Data>
<Data Name="MandatoryLabel">S-1-16-12288</Data></EventData></Event></Events>"""


def test_security_4688_runs_sysmon_process_creation_rules() -> None:
    rule = _need(SIGMA / "process_creation/proc_creation_win_cmdkey_recon.yml")
    events, corrupt = _split(list(winxml.read(io.BytesIO(SECURITY_4688.encode()), "t")))
    assert not corrupt and len(events) == 1
    e = events[0]
    assert e.timestamp == "2024-03-05T10:11:12.123456Z"
    assert e.process.executable.endswith("cmdkey.exe") and e.process.pid == 0x1A2C
    assert e.process.parent.pid == 0x12F0 and e.user.name == "operator"
    ruleset = load([rule], pipeline())
    assert not ruleset.failures
    alerts = Detector(ruleset.rules)(events)
    assert len(alerts) == 1 and alerts[0].rule.id == "07f8bdc2-c9b3-472a-9817-5a670b872f53"
    assert alerts[0].process == e.process and alerts[0].host.name == "EWS01.plant.local"
    # the same event without the tell-tale switch does not fire
    quiet = SECURITY_4688.replace("cmdkey /list", "cmdkey /add:x")
    assert not Detector(ruleset.rules)(
        [x for x in winxml.read(io.BytesIO(quiet.encode()), "t") if isinstance(x, Event)])


def test_damaged_xml_keeps_the_events_before_the_damage() -> None:
    two = SECURITY_4688.replace("</Event></Events>", "</Event>" + SECURITY_4688[8:])
    two = two.replace("</Events></Events>", "</Events>")
    cut = two[: len(two) - 200]
    events, corrupt = _split(list(winxml.read(io.BytesIO(cut.encode()), "t")))
    assert len(events) == 1 and len(corrupt) == 1 and corrupt[0].position.startswith("event 2")
