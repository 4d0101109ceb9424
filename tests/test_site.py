"""The site model: the documented example loads and answers lookups; broken files are refused with
every problem named at its line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from watchfloor.site import SiteError, SiteModel, load_site, parse_site

EXAMPLE = Path(__file__).parent.parent / "examples" / "site.yaml"


@pytest.fixture(scope="module")
def model() -> SiteModel:
    return load_site(EXAMPLE)


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(SiteError) as info:
        parse_site(text, "plant.yaml")
    assert str(info.value).startswith("plant.yaml:")
    return [(p.line, p.message) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# -- lookups ----------------------------------------------------------------------------------
def test_no_site_file_means_nothing_declared() -> None:
    for empty in (SiteModel(), parse_site(""), parse_site("# only a comment\n"),
                  parse_site("version: 1\nsites: []\n")):  # fmt: skip
        assert not empty
        assert empty.asset(ip="10.0.0.1") is None and empty.zone_of("10.0.0.1") is None
        assert empty.in_maintenance("2026-01-01T00:00:00Z", ip="10.0.0.1") is None
        assert empty.schedule_for("2026-01-01T00:00:00Z", "10.0.0.1", "10.0.0.2") is None
        assert empty.conduit_allows(None, None, "modbus")


def test_asset_by_ip_mac_and_name(model: SiteModel) -> None:
    plc = model.asset(ip="10.0.1.5")
    assert plc is not None and plc.name == "PLC-3" and plc.criticality == 5 and plc.safety
    assert model.asset(mac="00-1B-1B-00-00-01") is plc  # any MAC spelling
    assert model.asset(mac="001b.1b00.0001") is plc
    assert model.asset(name="plc-3") is plc  # names match case-insensitively
    assert model.asset(ip="10.0.1.6") is None and model.asset(ip="not-an-ip") is None
    assert model.site_of(plc) is model.sites[0]
    hist = model.asset(name="HIST-1")
    assert hist is not None and not hist.safety and hist.role == "historian"


def test_zone_of_declared_then_subnet(model: SiteModel) -> None:
    assert model.zone_of("10.0.1.200").id == "cell-1"  # type: ignore[union-attr]
    assert model.zone_of("10.0.1.5").purdue_level == 1  # type: ignore[union-attr]
    assert model.zone_of("10.9.0.7").purdue_level == 3.5  # type: ignore[union-attr]
    assert model.zone_of("192.168.7.7") is None and model.zone_of(None) is None
    # an asset's declared zone wins where no subnet covers its address
    m = parse_site("sites:\n  - zones: [{id: field}]\n    assets: [{name: RTU, ips: [172.16.0.9], zone: field}]\n")
    assert m.zone_of("172.16.0.9").id == "field"  # type: ignore[union-attr]
    assert m.zone_of("172.16.0.10") is None


def test_most_specific_subnet_wins_across_sites() -> None:
    m = parse_site("""
sites:
  - id: a
    zones: [{id: wide, subnets: [10.0.0.0/8]}]
  - id: b
    zones: [{id: narrow, subnets: [10.1.2.0/24]}, {id: v6, subnets: ["fd00::/64"]}]
""")
    assert m.zone_of("10.1.2.3").id == "narrow"  # type: ignore[union-attr]
    assert m.zone_of("10.1.3.3").id == "wide"  # type: ignore[union-attr]
    assert m.zone_of("fd00::1").id == "v6"  # type: ignore[union-attr]


def test_absolute_maintenance_window_scoped_to_an_asset(model: SiteModel) -> None:
    inside, after = "2026-12-01T07:00:00Z", "2026-12-01T18:00:00Z"  # end is exclusive
    window = model.in_maintenance(inside, ip="10.0.1.5")
    assert window is not None and window.name == "Q4 shutdown"
    assert model.in_maintenance(inside, asset="PLC-3") is window
    assert model.in_maintenance(datetime(2026, 12, 1, 7, tzinfo=UTC), asset=model.asset(name="PLC-3")) is window
    assert model.in_maintenance(after, ip="10.0.1.5") is None
    assert model.in_maintenance(inside, ip="10.0.3.20") is None  # another asset, another zone


def test_weekly_window_runs_past_midnight_in_site_local_time(model: SiteModel) -> None:
    # Sat 28 Nov 2026 22:00 to Sun 04:00, Europe/London (GMT in November), for zone cell-1
    assert model.in_maintenance("2026-11-28T21:59:59Z", ip="10.0.1.77") is None
    assert model.in_maintenance("2026-11-28T22:00:00Z", ip="10.0.1.77") is not None
    assert model.in_maintenance("2026-11-29T03:59:00Z", ip="10.0.1.77") is not None
    assert model.in_maintenance("2026-11-29T04:00:00Z", ip="10.0.1.77") is None
    assert model.in_maintenance("2026-11-28T23:00:00Z", ip="10.0.3.77") is None  # zone ops
    # British Summer Time: Sat 27 Jun 2026 22:00 BST is 21:00 UTC
    assert model.in_maintenance("2026-06-27T21:30:00Z", ip="10.0.1.77") is not None
    assert model.in_maintenance("2026-06-27T21:30:00+00:00", ip="10.0.1.77") is not None
    assert model.in_maintenance(datetime(2026, 6, 27, 23, 30, tzinfo=timezone(timedelta(hours=2))),
                                ip="10.0.1.77") is not None  # fmt: skip
    assert model.in_maintenance("2026-06-27T20:59:00Z", ip="10.0.1.77") is None


def test_whole_site_window_and_absolute_times_local_to_the_site() -> None:
    m = parse_site("""
sites:
  - timezone: America/New_York
    zones: [{id: z, subnets: [10.0.0.0/24]}]
    maintenance_windows:
      - {name: turnaround, start: "2026-03-01T08:00", end: "2026-03-01T10:00"}
""")
    assert m.in_maintenance("2026-03-01T13:30:00Z", ip="10.0.0.4") is not None  # 08:30 EST
    assert m.in_maintenance("2026-03-01T13:30:00Z") is not None  # whole site, no address given
    assert m.in_maintenance("2026-03-01T08:30:00Z", ip="10.0.0.4") is None
    with pytest.raises(ValueError):
        m.in_maintenance("yesterday", ip="10.0.0.4")


def test_schedule_for_matches_source_destination_protocol_and_time(model: SiteModel) -> None:
    hit = model.schedule_for("2026-11-25T02:10:00Z", "10.0.3.20", "10.9.0.7", "smb")
    assert hit is not None and hit.name == "nightly historian export"
    assert model.schedule_for("2026-11-25T02:10:00Z", "10.0.3.20", "10.9.0.7") is hit
    assert model.schedule_for("2026-11-25T02:10:00Z", "10.0.3.20", "10.9.0.7", "SMB") is hit
    assert model.schedule_for("2026-11-25T02:10:00Z", "10.0.3.20", "10.9.0.7", "ftp") is None
    assert model.schedule_for("2026-11-25T02:10:00Z", "10.0.3.21", "10.9.0.7", "smb") is None
    assert model.schedule_for("2026-11-25T02:10:00Z", "10.9.0.7", "10.0.3.20", "smb") is None
    assert model.schedule_for("2026-11-25T02:31:00Z", "10.0.3.20", "10.9.0.7", "smb") is None


def test_schedule_endpoints_by_zone_and_subnet() -> None:
    m = parse_site("""
sites:
  - zones: [{id: ops, subnets: [10.3.0.0/24]}]
    schedules:
      - {name: backup, source: ops, destination: [10.8.0.0/16, 10.9.9.9]}
""")
    for dst in ("10.8.4.4", "10.9.9.9"):
        assert m.schedule_for("2026-01-01T00:00:00Z", "10.3.0.7", dst) is not None  # no weekly: any time
    assert m.schedule_for("2026-01-01T00:00:00Z", "10.3.0.7", "10.9.9.8") is None
    assert m.schedule_for("2026-01-01T00:00:00Z", "10.4.0.7", "10.9.9.9") is None


def test_conduits(model: SiteModel) -> None:
    assert model.conduit_allows("ops", "cell-1", "modbus")
    assert model.conduit_allows(model.zone("ops"), model.zone("cell-1"), "S7COMM")
    assert not model.conduit_allows("ops", "cell-1", "dnp3")
    assert not model.conduit_allows("cell-1", "ops", "modbus")  # the responder never initiates
    assert model.conduit_allows("cell-1", "cell-1", "dnp3")  # inside a zone: not a conduit question
    assert not model.conduit_allows(None, "cell-1", "modbus")  # an undeclared address into a zone
    assert model.conduit_allows(None, None, "modbus")
    # a site without `conduits` declares no policy; an empty list allows nothing between zones
    free = parse_site("sites: [{zones: [{id: a}, {id: b}]}]")
    assert free.conduit_allows("a", "b", "modbus") and free.conduit_allows(None, "b", "x")
    closed = parse_site("sites: [{zones: [{id: a}, {id: b}], conduits: []}]")
    assert not closed.conduit_allows("a", "b", "modbus")
    both = parse_site("sites: [{zones: [{id: a}, {id: b}], conduits: [{from: a, to: b, bidirectional: true}]}]")
    assert both.conduit_allows("b", "a", "anything") and both.conduit_allows("a", "b", None)


# -- broken files -----------------------------------------------------------------------------
def test_bad_yaml_names_the_line() -> None:
    text = "sites:\n  - id: a\n    zones: [{id: b}\n  - id: c\n"
    [(line, msg)] = problems(text)
    assert msg.startswith("not valid YAML") and line in (3, 4)
    [(line, msg)] = problems("sites:\n  - id: a\n\tname: tab\n")
    assert line == 3 and "YAML" in msg


def test_wrong_types_and_unknown_keys_each_at_their_line() -> None:
    text = """version: 1
sites:
  - id: plant
    zones:
      - id: cell
        purdue_level: high
        subnets: 10.0.1.0/24
    assets:
      - name: PLC
        criticality: 9
        role: plc
        colour: red
    conduits:
      - {from: cell}
"""
    found = problems(text)
    assert [line for line, _ in found] == [6, 7, 10, 11, 12, 14]
    msgs = dict(found)
    assert "str" in msgs[6] and "array" in msgs[7] and "<= 5" in msgs[10]
    assert "controller" in msgs[11]  # the allowed roles are listed
    assert "unknown key 'colour'" in msgs[12] and "criticality" in msgs[12]
    assert "missing required field `to`" in msgs[14]


def test_duplicate_keys_are_refused() -> None:
    [(line, msg)] = problems("sites:\n  - id: a\n    id: b\n")
    assert line == 3 and "duplicate key 'id'" in msg


def test_unknown_references_name_their_line() -> None:
    text = """sites:
  - zones: [{id: cell-1}, {id: ops}]
    assets:
      - {name: PLC-3, zone: cell-9}
    conduits:
      - {from: ops, to: cell-2}
    maintenance_windows:
      - {name: w, weekly: {from: "01:00", to: "02:00"}, assets: [PLC-4], zones: [nope]}
    schedules:
      - {name: s, source: HIST-1, destination: ops}
"""
    found = problems(text)
    assert [line for line, _ in found] == [4, 6, 8, 8, 10]
    assert "unknown zone 'cell-9'" in found[0][1] and "cell-1, ops" in found[0][1]
    assert "unknown zone 'cell-2'" in found[1][1]
    assert "unknown asset 'PLC-4'" in found[2][1] and "unknown zone 'nope'" in found[3][1]
    assert "'HIST-1' is not an asset name" in found[4][1]


def test_overlapping_subnets_and_bad_addresses() -> None:
    text = """sites:
  - zones:
      - id: a
        subnets: [10.0.0.0/16]
      - id: b
        subnets:
          - 10.0.5.0/24
          - 10.1.0.7/24
          - 10.2.0.0/33
        vlans: [5000]
        purdue_level: 6
    assets:
      - {name: X, ips: [10.0.9.1, 10.0.0.300], macs: [zz, "00:1B:1B:00:00:01"], zone: b}
      - {name: X, ips: [10.0.9.1], macs: [00-1b-1b-00-00-01]}
"""
    found = problems(text)
    by_line: dict[int, list[str]] = {}
    for line, msg in found:
        by_line.setdefault(line, []).append(msg)
    assert "overlaps 10.0.0.0/16 of zone 'a' (line 4)" in by_line[7][0]
    assert "did you mean 10.1.0.0/24" in by_line[8][0]
    assert "not a subnet" in by_line[9][0]
    assert "VLAN" in by_line[10][0] and "Purdue level 6" in by_line[11][0]
    assert any("'a'" in m and "declares zone 'b'" in m for m in by_line[13])  # 10.0.9.1 is in a
    assert any("not an IP address: '10.0.0.300'" in m for m in by_line[13])
    assert any("not a MAC address: 'zz'" in m for m in by_line[13])
    assert any("duplicate asset name" in m for m in by_line[14])
    assert any("also declared for asset 'X'" in m for m in by_line[14] if "IP" in m)
    assert any("MAC 00:1b:1b:00:00:01 is also declared" in m for m in by_line[14])


def test_bad_times() -> None:
    text = """sites:
  - timezone: Mars/Olympus
    maintenance_windows:
      - {name: a, start: "2026-13-01T00:00:00Z", end: "2026-12-01T00:00:00Z"}
      - {name: b, start: "2026-12-02T00:00:00Z", end: "2026-12-01T00:00:00Z"}
      - {name: c, weekly: {days: [sat, caturday], from: 22:00, to: "25:00"}}
      - {name: d, weekly: {days: [sun], from: "08:00", to: "08:00"}}
      - {name: e}
      - {name: f, start: "2026-12-02T00:00:00Z", end: "2026-12-03T00:00:00Z", weekly: {from: "01:00", to: "02:00"}}
"""
    found = problems(text)
    lines = [line for line, _ in found]
    msgs = " | ".join(m for _, m in found)
    assert lines == [2, 4, 5, 6, 6, 7, 8, 9]
    assert "unknown time zone 'Mars/Olympus'" in msgs and "not a time: '2026-13-01" in msgs
    assert "is not after start" in msgs and "not a day: 'caturday'" in msgs
    assert "not a time of day: '25:00'" in msgs and "same time" in msgs
    assert "needs `start` and `end`" in msgs and "not both" in msgs


def test_unquoted_times_and_macs_stay_text() -> None:
    """YAML 1.1 reads 22:00 as the number 1320 and 2026-12-01T06:00:00Z as a datetime; both are
    taken as written."""
    m = parse_site("""sites:
  - timezone: UTC
    assets: [{name: P, macs: [00:1b:1b:00:00:01, 10:20:30:40:50:59]}]
    maintenance_windows:
      - {name: w, weekly: {days: [Saturday], from: 22:00, to: 24:00}}
      - {name: a, start: 2026-12-01T06:00:00Z, end: 2026-12-01T07:00:00Z}
""")
    assert m.asset(mac="10:20:30:40:50:59") is not None
    assert m.in_maintenance("2026-11-28T23:59:59Z").name == "w"  # type: ignore[union-attr]
    assert m.in_maintenance("2026-12-01T06:30:00Z").name == "a"  # type: ignore[union-attr]


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="cannot read"):
        load_site(tmp_path / "missing.yaml")
    [(line, msg)] = problems("- just\n- a list\n")
    assert line == 1 and "mapping" in msg
    [(line, msg)] = problems("version: 2\n")
    assert line == 1 and "unsupported version 2" in msg


# -- the command ------------------------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_site_validate_command(tmp_path: Path) -> None:
    ok = run("site", "validate", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "plant-a [Europe/London]: 3 zone(s), 2 asset(s), 1 conduit(s)" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites:\n  - zones:\n      - id: a\n        purdue_level: 9\n")
    out = run("site", "validate", str(bad))
    assert out.returncode == 1
    assert out.stdout.startswith(f"{bad}:4:23: sites[0].zones[0].purdue_level: Purdue level 9")
    assert "1 problem(s)" in out.stderr
