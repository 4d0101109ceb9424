"""Sigma evaluation semantics (one rule per behaviour), the log-source index, and loading real rule sets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sigma.rule import SigmaRule

from watchfloor.detect.rules import RuleIndex, event_logsource, load
from watchfloor.detect.sigma import CompileError, View, compile_rule

SHARED_SIGMA = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "sigma"


def rule(detection: str, logsource: str = "product: test") -> SigmaRule:
    text = f"title: t\nlogsource:\n  {logsource}\ndetection:\n{textwrap.indent(textwrap.dedent(detection), '  ')}"
    return SigmaRule.from_yaml(text)


def hits(detection: str, *events: dict) -> list[bool]:
    pred, _ = compile_rule(rule(detection))
    return [pred(View(e)) for e in events]


def test_plain_strings_are_case_insensitive_and_whole_value() -> None:
    d = "sel:\n  Image: 'C:\\Windows\\cmd.exe'\ncondition: sel"
    assert hits(d, {"Image": "c:\\windows\\CMD.EXE"}, {"Image": "C:\\Windows\\cmd.exe.bak"}, {}) == [True, False, False]


def test_cased_modifier() -> None:
    d = "sel:\n  a|cased: Abc\ncondition: sel"
    assert hits(d, {"a": "Abc"}, {"a": "abc"}) == [True, False]


@pytest.mark.parametrize(("modifier", "value", "yes", "no"), [
    ("contains", "enc", "powershell -EnC x", "powershell -e x"),
    ("startswith", "power", "PowerShell.exe", "xpowershell"),
    ("endswith", ".exe", "a.EXE", "a.exe.txt"),
])
def test_string_modifiers(modifier: str, value: str, yes: str, no: str) -> None:
    d = f"sel:\n  f|{modifier}: '{value}'\ncondition: sel"
    assert hits(d, {"f": yes}, {"f": no}) == [True, False]


def test_wildcards_and_escapes() -> None:
    d = "sel:\n  f: 'a?c*z'\ncondition: sel"
    assert hits(d, {"f": "abcxyz"}, {"f": "acz"}, {"f": "ABCZ"}) == [True, False, True]
    escaped = "sel:\n  f: 'a\\*b'\ncondition: sel"
    assert hits(escaped, {"f": "a*b"}, {"f": "axb"}) == [True, False]


def test_value_lists_are_or_and_all_makes_them_and() -> None:
    anyof = "sel:\n  f|contains: [x, y]\ncondition: sel"
    allof = "sel:\n  f|contains|all: [x, y]\ncondition: sel"
    assert hits(anyof, {"f": "x"}, {"f": "q"}) == [True, False]
    assert hits(allof, {"f": "x"}, {"f": "yx"}) == [False, True]


def test_list_valued_fields_match_on_any_element_and_nested_paths() -> None:
    d = "sel:\n  ot.anomalies: stream_gap\n  source.port: 502\ncondition: sel"
    ev = {"ot": {"anomalies": ["truncated", "stream_gap"]}, "source": {"port": 502}}
    assert hits(d, ev, {"ot": {"anomalies": ["truncated"]}, "source": {"port": 502}}) == [True, False]


def test_flat_dotted_keys_win_over_paths() -> None:
    d = "sel:\n  id.orig_h: 10.0.0.1\ncondition: sel"
    assert hits(d, {"id.orig_h": "10.0.0.1"}, {"id": {"orig_h": "10.0.0.1"}}) == [True, True]


def test_numbers_and_comparisons() -> None:
    d = "sel:\n  EventID: 4624\ncondition: sel"
    assert hits(d, {"EventID": 4624}, {"EventID": "4624"}, {"EventID": 4625}) == [True, True, False]
    cmp = "sel:\n  n|gt: 10\n  m|lte: 2\ncondition: sel"
    assert hits(cmp, {"n": 11, "m": 2}, {"n": "12", "m": 1}, {"n": 10, "m": 1}, {"n": "x", "m": 1}) == [
        True, True, False, False]


def test_regex_with_flags() -> None:
    d = "sel:\n  f|re: '^ab+c$'\ncondition: sel"
    assert hits(d, {"f": "abbc"}, {"f": "ABC"}) == [True, False]
    i = "sel:\n  f|re|i: '^ab+c$'\ncondition: sel"
    assert hits(i, {"f": "ABC"}) == [True]


def test_cidr() -> None:
    d = "sel:\n  ip|cidr: [10.0.0.0/8, 'fd00::/8']\ncondition: sel"
    assert hits(d, {"ip": "10.9.8.7"}, {"ip": "fd00::1"}, {"ip": "192.168.1.1"}, {"ip": "not an ip"}) == [
        True, True, False, False]


def test_exists_and_null() -> None:
    ex = "sel:\n  f|exists: true\ncondition: sel"
    assert hits(ex, {"f": ""}, {"g": 1}) == [True, False]
    nx = "sel:\n  f|exists: false\ncondition: sel"
    assert hits(nx, {"f": 1}, {}) == [False, True]
    null = "sel:\n  f: null\ncondition: sel"
    assert hits(null, {}, {"f": ""}, {"f": "x"}) == [True, True, False]


def test_fieldref() -> None:
    d = "sel:\n  a|fieldref: b\ncondition: sel"
    assert hits(d, {"a": "X", "b": "x"}, {"a": "x", "b": "y"}, {"a": "x"}) == [True, False, False]


def test_base64offset_and_windash() -> None:
    import base64
    d = "sel:\n  c|base64offset|contains: 'http://'\ncondition: sel"
    for pad in ("", "a", "ab"):
        encoded = base64.b64encode((pad + "GET http://evil").encode()).decode()
        assert hits(d, {"c": f"x {encoded} y"}) == [True], pad
    assert hits(d, {"c": base64.b64encode(b"ftp://x").decode()}) == [False]
    w = "sel:\n  c|windash|contains: ' -enc '\ncondition: sel"
    assert hits(w, {"c": "ps /enc x"}, {"c": "ps -enc x"}, {"c": "ps enc x"}) == [True, True, False]


def test_keywords_search_every_string() -> None:
    d = "keywords:\n  - 'mimikatz'\ncondition: keywords"
    assert hits(d, {"a": {"b": ["x", "run Mimikatz now"]}}, {"a": "nothing"}) == [True, False]


def test_conditions() -> None:
    d = """
    sel_a: {a: 1}
    sel_b: {b: 1}
    filter: {c: 1}
    condition: (1 of sel_*) and not filter
    """
    assert hits(d, {"a": 1}, {"b": 1, "c": 1}, {"c": 1}) == [True, False, False]
    allof = "s1: {a: 1}\ns2: {b: 1}\ncondition: all of s*"
    assert hits(allof, {"a": 1, "b": 1}, {"a": 1}) == [True, False]
    them = "s1: {a: 1}\ns2: {b: 1}\ncondition: 1 of them"
    assert hits(them, {"b": 1}, {}) == [True, False]


def test_unresolved_placeholder_is_a_compile_error() -> None:
    with pytest.raises(CompileError, match="placeholder"):
        compile_rule(rule("sel:\n  u|expand: '%admins%'\ncondition: sel"))


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text))


def test_load_reports_bad_files_and_continues(tmp_path: Path) -> None:
    _write(tmp_path, "good.yml", """\
        title: Modbus write
        id: 5b4a8f1e-1111-4c7e-9a55-000000000001
        level: high
        tags: [attack.t0836]
        logsource: {product: ot, service: modbus}
        detection:
          sel: {ot.action.operation: write}
          condition: sel
        """)
    _write(tmp_path, "broken.yml", "title: [unclosed\n")
    _write(tmp_path, "bare.yml", "just a string\n")
    _write(tmp_path, "nocond.yml", "title: x\nlogsource: {product: ot}\ndetection:\n  sel: {a: 1}\n")
    _write(tmp_path, "placeholder.yml",
           "title: p\nlogsource: {product: ot}\ndetection:\n  sel: {u|expand: '%x%'}\n  condition: sel\n")
    loaded = load([tmp_path])
    rules, failures = loaded.rules, loaded.failures
    assert [r.title for r in rules] == ["Modbus write"]
    assert rules[0].level == "high" and rules[0].tags == ("attack.t0836",)
    assert sorted(Path(f.path).name for f in failures) == ["bare.yml", "broken.yml", "nocond.yml", "placeholder.yml"]
    assert all(f.reason for f in failures)


def test_logsource_index(tmp_path: Path) -> None:
    for name, ls in (("modbus", "{product: ot, service: modbus}"), ("dnp3", "{product: ot, service: dnp3}"),
                     ("neutral", "{product: ot, service: action}"), ("any_ot", "{product: ot}"),
                     ("windows", "{product: windows, category: process_creation}")):
        _write(tmp_path, f"{name}.yml",
               f"title: {name}\nlogsource: {ls}\ndetection:\n  sel: {{ot.action.operation: write}}\n  condition: sel\n")
    loaded = load([tmp_path])
    rules, failures = loaded.rules, loaded.failures
    assert not failures
    index = RuleIndex(rules)
    event = {"ot": {"protocol": "modbus", "action": {"operation": "write"}}}
    matched = sorted(r.title for r in index.match(event, *event_logsource("modbus")))
    assert matched == ["any_ot", "modbus", "neutral"]
    read = {"ot": {"protocol": "modbus", "action": {"operation": "read"}}}
    assert index.match(read, *event_logsource("modbus")) == []


@pytest.mark.corpus
@pytest.mark.skipif(not SHARED_SIGMA.is_dir(), reason=f"{SHARED_SIGMA} not found (../shared is absent)")
def test_sigmahq_rules_load_and_every_failure_has_a_reason() -> None:
    files = sum(1 for f in SHARED_SIGMA.rglob("*.yml"))
    loaded = load([SHARED_SIGMA])
    rules, failures = loaded.rules, loaded.failures
    assert len(rules) + len(failures) >= files  # every file is accounted for (a file may hold several rules)
    assert all(f.reason and f.path.endswith(".yml") for f in failures)
    # The only rules we cannot evaluate are those whose values are site placeholders (%...%).
    unexpected = [f for f in failures if "placeholder" not in f.reason]
    assert not unexpected, "\n".join(map(str, unexpected[:20]))


def test_cli_validate_and_list(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watchfloor.cli import main

    _write(tmp_path, "ok.yml", "title: ok\nid: 0c6e4d8e-6c5b-4a1e-9b0e-2f0a7d1c0001\nlevel: low\nlogsource: {product: ot, service: modbus}\n"
                               "detection:\n  sel: {a: 1}\n  condition: sel\n")
    runner = CliRunner()
    good = runner.invoke(main, ["rules", "validate", str(tmp_path / "ok.yml")])
    assert good.exit_code == 0 and "1 rule(s) and 0 correlation(s) ready, 0 failed" in good.output
    listed = runner.invoke(main, ["rules", "list", str(tmp_path), "--format", "jsonl"])
    assert listed.exit_code == 0 and '"logsource":{"category":null,"product":"ot","service":"modbus"}' in listed.output
    _write(tmp_path, "bad.yml", "title: bad\n")
    bad = runner.invoke(main, ["rules", "validate", str(tmp_path)])
    assert bad.exit_code == 1 and "bad.yml: " in bad.output and "1 rule(s) and 0 correlation(s) ready, 1 failed" in bad.output


def test_events_match_as_objects_and_as_json_alike() -> None:
    import msgspec

    from watchfloor.schema import Endpoint, Event, EventMeta, Modbus, Ot

    ev = Event(timestamp="2024-01-01T00:00:00Z", event=EventMeta(id="x", kind="event", category=["network"]),
               source=Endpoint(ip="10.0.0.5", port=40000),
               ot=Ot(protocol="modbus", role="request", anomalies=["truncated"],
                     modbus=Modbus(transaction_id=1, unit_id=1, function_code=8, function="diagnostics",
                                   subfunction=4)))
    as_json = msgspec.to_builtins(ev)
    for field in ("@timestamp", "ot.modbus.subfunction", "ot.anomalies", "source.ip", "event.category",
                  "ot.modbus.exception_code", "nope", "ot.nope.deeper"):
        assert View(ev).values(field) == View(as_json).values(field), field
    assert set(View(ev).strings()) == set(View(as_json).strings())


def test_equality_prefilter_never_hides_a_match(tmp_path: Path) -> None:
    """The index skips rules whose necessary equalities an event lacks; it must agree with
    evaluating every rule, for every way a value can be written."""
    detections = [
        "sel: {n: 8}\ncondition: sel",
        "sel: {n: [8, 9], s: abc}\ncondition: sel",
        "sel: {s: ABC}\nf: {n: 9}\ncondition: sel and not f",
        "sel: {s|contains: b}\ncondition: sel",
        "a: {n: 1.5}\nb: {s: x}\ncondition: a or b",
        "sel: {s|cased: abc}\ncondition: sel",
        "sel: {n: 8}\ncondition: sel or 1 of them",
    ]
    for i, d in enumerate(detections):
        _write(tmp_path, f"r{i}.yml", f"title: r{i}\nlogsource: {{product: test}}\ndetection:\n"
                                      + textwrap.indent(d, "  ") + "\n")
    loaded = load([tmp_path])
    rules, failures = loaded.rules, loaded.failures
    assert not failures and len(rules) == len(detections)
    assert any(r.requires for r in rules)
    index = RuleIndex(rules)
    values_n = [8, 8.0, "8", " 8", "0x8", 9, "9", 1.5, "1.5", True, None, "eight", [7, 8]]
    values_s = ["abc", "ABC", "aBc", " abc", "x", "X", 5, None, ["q", "abc"]]
    for n in values_n:
        for sv in values_s:
            event = {k: v for k, v in (("n", n), ("s", sv)) if v is not None}
            view = View(event)
            brute = [r.title for r in rules if r.predicate(view)]
            assert [r.title for r in index.match(event, (), "test", ())] == brute, event


def test_zeek_icsnpp_rules_run_on_our_events_through_the_pipeline(tmp_path: Path) -> None:
    """A rule written for CISA ICSNPP's modbus.log matches the same traffic decoded by us."""
    import json
    import subprocess
    import sys

    _write(tmp_path, "zeek.yml", """\
        title: ICSNPP Modbus diagnostics from the engineering host
        id: 2e5d7a51-8f6b-4b8e-9c3e-6d1f0a2b0001
        logsource: {product: zeek, service: modbus}
        detection:
          sel: {func: DIAGNOSTICS, unit: 1, id.orig_h: 192.168.10.10}
          condition: sel
        level: medium
        """)
    capture = Path(__file__).parent / "captures" / "modbus_all_functions.pcap"
    cmd = [sys.executable, "-m", "watchfloor", "rules", "test", str(tmp_path), str(capture), "--format", "jsonl"]
    plain = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    mapped = subprocess.run([*cmd, "--pipeline", "zeek"], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0 and mapped.returncode == 0, mapped.stderr
    assert plain.stdout == ""  # without the mapping the Zeek field names meet nothing
    alerts = [json.loads(x) for x in mapped.stdout.splitlines()]
    assert alerts and all(a["ot"]["modbus"]["function_code"] == 8 and a["ot"]["role"] == "request"
                          and a["source"]["ip"] == "192.168.10.10" for a in alerts)
