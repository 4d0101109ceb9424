"""IEC 61850 GOOSE and Sampled Values conformance with Wireshark (DESIGN.md §3.2), and with the
Zeek GOOSE / SV logs shipped next to the corpus captures.

GOOSE, frame by frame: ``ot.goose.gocb_ref / st_num / sq_num`` vs ``goose.gocbRef / goose.stNum /
goose.sqNum`` on (a) every corpus capture tshark finds GOOSE in and ``generated/goose_*.pcap``,
(b) a capture made now by the libiec61850 GOOSE publisher (pyiec61850-ng) on loopback, (c) the
project's ``tests/captures/goose/*.pcap``.

SV is summarised per stream (svID), not reported per frame, so its contract field is compared per
stream: for every svID Wireshark shows, our summary must count the same ASDUs and frames, start and
end at the same frames, and report the same first/last smpCnt and the same smpCnt gaps, as
computed from Wireshark's ``sv.svID`` / ``sv.smpCnt`` of every frame.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 4
GOOSE_TRACES = T.CORPUS / "pcaps" / "haolipeng__icsnpp-iec61850-goose" / "testing" / "Traces"
SV_TRACE = T.CORPUS / "pcaps" / "DINA-community__icsnpp-iec61850-sv" / "testing" / "Traces" / "SV_Normal_Traffic.pcap"
PROJECT = T.REPO / "tests" / "captures" / "goose"


# -- GOOSE frame by frame ---------------------------------------------------------------------
@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", C.corpus_params({"goose"}, generated="goose_*.pcap"))
def test_goose_corpus(capture: Path) -> None:
    C.conforms(capture, "goose")


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("goose/goose_*.pcap"))
def test_goose_project_captures(capture: Path) -> None:
    C.conforms(capture, "goose")


STACKS = {"libiec61850-goose": ("goose_pyiec61850.py", 0x1000)}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("pyiec61850.goose")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_goose_live_stack(stack_captures) -> None:
    pcap, _, info = stack_captures["libiec61850-goose"]
    assert pcap is not None, f"GOOSE capture failed: {info}"
    events = T.run_decoder(pcap)
    cmp = C.conforms(pcap, "goose", events=events)
    assert sum(map(len, cmp.theirs.values())) > 5, "the publisher produced too little GOOSE"
    st = [e["ot"]["goose"]["st_num"] for e in events if "goose" in e.get("ot", {})]
    assert st == sorted(st) and st[-1] > st[0], "the publisher's state changes are not seen"
    assert not [e for e in events if "goose" in e.get("ot", {}) and e["ot"].get("anomalies")], \
        "a well-behaved publisher raised anomalies"


# -- GOOSE against Zeek (haolipeng/icsnpp-iec61850-goose) ----------------------------------------
def _zeek(path: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def _epoch(rfc: str | None) -> str | None:
    if rfc is None:
        return None
    return f"{datetime.fromisoformat(rfc.replace('Z', '+00:00')).timestamp():.6f}"


_ZEEK_GOOSE = {  # zeek column → our value (from the event)
    "src_mac": lambda e: e["source"]["mac"], "dst_mac": lambda e: e["destination"]["mac"],
    "appid": lambda e: hex(e["ot"]["goose"]["appid"]), "length": lambda e: str(e["ot"]["goose"]["length"]),
    "gocb_ref": lambda e: e["ot"]["goose"].get("gocb_ref"),
    "time_allowed_to_live": lambda e: _s(e["ot"]["goose"].get("time_allowed_to_live")),
    "dataset": lambda e: e["ot"]["goose"].get("dat_set"), "go_id": lambda e: e["ot"]["goose"].get("go_id"),
    "timestamp": lambda e: _epoch(e["ot"]["goose"].get("t")),
    "timestamp_quality": lambda e: _h(e["ot"]["goose"].get("time_quality")),
    "st_num": lambda e: _s(e["ot"]["goose"].get("st_num")), "sq_num": lambda e: _s(e["ot"]["goose"].get("sq_num")),
    "simulation": lambda e: _b(e["ot"]["goose"].get("test")), "conf_rev": lambda e: _s(e["ot"]["goose"].get("conf_rev")),
    "nds_com": lambda e: _b(e["ot"]["goose"].get("nds_com")),
    "num_dat_set_entries": lambda e: _s(e["ot"]["goose"].get("num_dat_set_entries")),
}  # fmt: skip
_HEADER = ("src_mac", "dst_mac", "appid", "length")


def _s(v: object) -> str | None:
    return None if v is None else str(v)


def _h(v: int | None) -> str | None:
    return None if v is None else hex(v)


def _b(v: bool | None) -> str | None:
    return None if v is None else "T" if v else "F"


def _goose_logs() -> list:
    return [pytest.param(p, id=p.parent.name) for p in sorted(GOOSE_TRACES.glob("*.zeek-baseline/*/goose.log"))] or [
        pytest.param(None, marks=pytest.mark.skip(reason="ICSNPP GOOSE baselines not in ../shared"))]


@pytest.mark.corpus
@pytest.mark.parametrize("log", _goose_logs())
def test_goose_matches_zeek(log: Path) -> None:
    """Every GOOSE message the Zeek ICSNPP plugin logs, we decode with the same header and PDU
    fields. Where Zeek reports a parse failure we carry an anomaly; the fields Zeek still shows
    must agree (Zeek writes 0 for a missing number: we leave it absent)."""
    cap = log.parent.parent.parent / log.parent.parent.name.removesuffix(".zeek-baseline")
    events = [e for e in T.run_decoder(cap) if "goose" in e.get("ot", {})]
    rows = _zeek(log)
    assert len(rows) == len(events), f"Zeek logs {len(rows)} messages, we decode {len(events)}"
    problems = []
    compared = 0
    for n, (row, ev) in enumerate(zip(rows, events), 1):
        status = row["parse_status"]
        if status != "ok":
            assert ev["ot"].get("anomalies"), f"message {n}: Zeek says {status}/{row['parse_error']}, we no anomaly"
        for col, ours in _ZEEK_GOOSE.items():
            z = row[col]
            if status == "failed" and col not in _HEADER:
                continue
            o = ours(ev)
            if z in ("(empty)", "-") or (status != "ok" and z == "0" and o is None):
                z = None
            compared += 1
            if z != o:
                problems.append(f"message {n} {col}: Zeek {z!r}, ours {o!r}")
    print(f"Zeek {log.parent.name}: {len(rows)} messages, {compared} fields compared, {len(problems)} differ")
    assert not problems, "\n".join(problems[:20])


# -- SV per stream ------------------------------------------------------------------------------
def _sv_streams_from_wireshark(capture: Path) -> dict[str, dict]:
    raw = T.tshark_fields(capture, ["sv.svID", "sv.smpCnt"], list(T.BASE_OPTIONS), "sv")
    out: dict[str, dict] = {}
    for frame, (ids, cnts) in sorted(raw.items()):
        seen: set[str] = set()
        for sv_id, cnt in zip(ids, cnts):
            s = out.setdefault(sv_id, {"asdus": 0, "packets": 0, "first_frame": frame, "cnts": []})
            s["asdus"] += 1
            s["packets"] += sv_id not in seen
            seen.add(sv_id)
            s["last_frame"] = frame
            s["cnts"].append(int(cnt))
    for s in out.values():
        cnts = s.pop("cnts")
        gaps = lost = ooo = 0
        for a, b in zip(cnts, cnts[1:]):
            if b > a + 1:
                gaps, lost = gaps + 1, lost + b - a - 1
            elif b <= a and b != 0:
                ooo += 1
        s.update(first_smp_cnt=cnts[0], last_smp_cnt=cnts[-1], smp_cnt_gaps=gaps, samples_lost=lost, out_of_order=ooo)
    return out


def _sv_captures() -> list:
    caps = [pytest.param(p, id=C.capture_id(p)) for p in C.corpus_captures({"sv"})] if (T.CORPUS / "SOURCES.md").is_file() else []
    return caps + [pytest.param(p, id=f"project/{p.name}") for p in sorted(PROJECT.glob("sv_*.pcap"))]


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", _sv_captures())
def test_sv_streams_match_wireshark(capture: Path) -> None:
    theirs = _sv_streams_from_wireshark(capture)
    events = [e for e in T.run_decoder(capture) if "sv" in e.get("ot", {})]
    ours = {}
    for e in events:
        sv = e["ot"]["sv"]
        assert sv["sv_id"] not in ours, "one summary per stream (the capture is shorter than a minute)"
        ours[sv["sv_id"]] = {k: sv.get(k, 0) for k in ("asdus", "packets", "first_frame", "last_frame",
                                                       "first_smp_cnt", "last_smp_cnt", "smp_cnt_gaps",
                                                       "samples_lost", "out_of_order")}  # fmt: skip
    assert theirs, "Wireshark found no SV"
    assert ours == theirs, json.dumps({"ours": ours, "wireshark": theirs}, indent=1)


@pytest.mark.corpus
def test_sv_matches_zeek() -> None:
    """The DINA ICSNPP SV log: one row per ASDU (svID, APPID, smpCnt): our stream summary must
    count the same ASDUs per svID with the same APPID and first/last smpCnt."""
    log = SV_TRACE.parent / f"{SV_TRACE.name}.zeek-baseline" / "test-SV_Normal_Traffic" / "sv.log"
    if not log.is_file():
        pytest.skip("ICSNPP SV baseline not in ../shared")
    rows = _zeek(log)
    events = [e["ot"]["sv"] for e in T.run_decoder(SV_TRACE) if "sv" in e.get("ot", {})]
    for sv_id in {r["sv_id"] for r in rows}:
        mine = [r for r in rows if r["sv_id"] == sv_id]
        ours = [e for e in events if e["sv_id"] == sv_id]
        assert len(ours) == 1
        o = ours[0]
        assert (o["asdus"], o["appid"], o["first_smp_cnt"], o["last_smp_cnt"]) == (
            len(mine), int(mine[0]["appid"]), int(mine[0]["smpCnt"]), int(mine[-1]["smpCnt"]))
