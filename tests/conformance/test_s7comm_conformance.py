"""S7comm conformance with Wireshark (DESIGN.md §3.2), and S7comm-plus against ICSNPP.

For every capture: ``watchfloor decode CAPTURE --format jsonl`` and tshark must agree, frame by
frame, on ``ot.s7comm.rosctr / function_code / userdata_group / userdata_subfunction`` vs
``s7comm.header.rosctr / s7comm.param.func / s7comm.param.userdata.funcgroup /
s7comm.param.userdata.subfunc`` (jobs have no group, userdata no function: those fields are
absent on both sides). COTP-segmented PDUs are reported at the frame that completes them.

Captures:
  (a) the S7comm captures of ``../shared/corpus`` (SOURCES.md table 1: tshark found ``s7comm``,
      or the S7comm-plus note: tshark 4.0 has no S7comm-plus dissector, so there Wireshark and we
      must agree that no S7comm message is present), ``generated/s7comm_*.pcap`` and the
      labelled QUT S7comm data set;
  (b) captures made now with python-snap7 (server and client) on loopback;
  (c) the project's own ``tests/captures/s7comm/*.pcap``.
S7comm-plus (0x72) has no dissector in tshark 4.0; its oracle is the ICSNPP ``s7comm_plus.log``
shipped with the cisagov captures (compared below: version, opcode, function per message).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from . import corpus as C
from . import tshark as T

SPEC = T.PROTOCOLS["s7comm"]
HAVE_TSHARK = T.tshark_path() is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed (Debian package 'tshark')")
STACK_SECONDS = 3
ICSNPP = T.CORPUS / "pcaps" / "cisagov__icsnpp-s7comm" / "tests" / "traces"


def _plus_only_captures() -> list:
    """SOURCES.md rows whose protocol note says S7comm-plus but tshark found no s7comm."""
    if not (T.CORPUS / "SOURCES.md").is_file():
        return []
    out = []
    for line in (T.CORPUS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 5 and "+S7COMM-PLUS(" in line and " s7comm " not in f" {cells[5]} ":
            out.append(pytest.param(T.CORPUS / cells[0], id=C.capture_id(T.CORPUS / cells[0])))
    return out


def _check(capture: Path, label: str | None = None, ports: set[int] | None = None,
           events: list | None = None) -> T.Comparison:
    return C.conforms(capture, "s7comm", label=label, ports=ports, events=events)


@pytest.fixture(scope="session")
def zip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zips")


# -- (a) corpus -----------------------------------------------------------------------------
@pytest.mark.tshark
@pytest.mark.corpus
@needs_tshark
@pytest.mark.parametrize("capture", [
    *C.corpus_params({"s7comm"}, generated="s7comm_*.pcap", labeled=("qut_s7comm",)),
    *_plus_only_captures()])
def test_corpus(capture: Path, zip_dir: Path) -> None:
    for cap in C.resolve_capture(capture, zip_dir):
        label = f"{capture.as_posix()}/{cap.name}" if cap != capture else None
        _check(cap, label=label)


# -- (c) the project's own captures -----------------------------------------------------------
@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("capture", C.project_params("s7comm/*.pcap*"))
def test_project_captures(capture: Path) -> None:
    _check(capture)


# -- (b) live stacks --------------------------------------------------------------------------
STACKS = {"python-snap7": ("s7comm_snap7.py", 10102)}


@pytest.fixture(scope="session")
def stack_captures(tmp_path_factory) -> C.StackResults:
    reason = C.stack_skip_reason("snap7")
    if reason:
        pytest.skip(reason)
    return C.run_stacks(STACKS, tmp_path_factory.mktemp("stacks"), STACK_SECONDS)


@pytest.mark.tshark
@pytest.mark.stack
def test_live_stacks(stack_captures) -> None:
    failures = []
    for stack in STACKS:
        pcap, port, info = stack_captures[stack]
        try:
            assert pcap is not None, f"{stack} capture failed: {info}"
            events = T.run_decoder(pcap)
            cmp = _check(pcap, ports={port}, events=events)
            assert sum(map(len, cmp.theirs.values())) > 20, "the stack produced too little S7comm"
            derived = T.server_ports(events, SPEC)
            assert port in derived, f"{stack}: server port {port} not found: {sorted(derived)}"
        except AssertionError as e:
            failures.append(f"{stack}: {e}")
    assert not failures, "\n\n".join(failures)


# -- S7comm-plus against ICSNPP ---------------------------------------------------------------
def _zeek_log(path: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


@pytest.mark.corpus
def test_s7comm_plus_matches_icsnpp() -> None:
    """Every S7comm-plus message ICSNPP logs, we decode with the same version, opcode and
    function, in the same order per direction."""
    cap = ICSNPP / "s7comm_plus.pcap"
    log = ICSNPP / "s7comm_plus.pcap.zeek-baseline" / "s7comm_plus" / "s7comm_plus.log"
    if not log.is_file():
        pytest.skip("ICSNPP baseline not in ../shared")
    theirs = [(r["source_p"], int(r["version"]), int(r["opcode"], 16),
               None if r["function_code"] == "-" else int(r["function_code"], 16))
              for r in _zeek_log(log)]  # fmt: skip
    ours = [(str(e["source"]["port"]), p["version"], p.get("opcode"), p.get("function_code"))
            for e in T.run_decoder(cap) if (p := e.get("ot", {}).get("s7comm_plus"))]
    assert theirs, "empty ICSNPP log"
    # per direction, in stream order (Zeek time stamps are masked in the baseline)
    for port in {t[0] for t in theirs}:
        t = [x for x in theirs if x[0] == port]
        o = [x for x in ours if x[0] == port]
        assert o == t, json.dumps({"port": port, "ours": o[:10], "icsnpp": t[:10]})


# -- S7comm deeper fields against ICSNPP --------------------------------------------------------
def _swap16(v: int) -> int:
    """ICSNPP logs the PDU reference little-endian (Wireshark and we read it big-endian)."""
    return ((v & 0xFF) << 8) | (v >> 8)


_UD_TYPE = {"push": 0, "request": 4, "response": 8}


def _icsnpp_view(events: list[dict]) -> dict[tuple[str, int], dict]:
    """Our S7comm messages by (is_orig, ICSNPP's PDU reference), as ICSNPP would log them."""
    out: dict[tuple[str, int], dict] = {}
    for e in events:
        s = e.get("ot", {}).get("s7comm")
        if not s:
            continue
        orig = "F" if e["source"]["port"] in (102, 10102) else "T"
        if "function_code" in s:
            fc = f"0x{s['function_code']:02x}"
            sub = s.get("pi_service", "-") if s["function_code"] == 0x28 and s["rosctr"] == 1 else "-"
        elif "userdata_group" in s:
            fc = f"0x{(_UD_TYPE[s['userdata_type']] << 4) | s['userdata_group']:02x}"
            sub = f"0x{s['userdata_subfunction']:02x}"
        else:
            fc = sub = "-"
        out.setdefault((orig, _swap16(s["pdu_reference"])), {**s, "_fc": fc, "_sub": sub})
    return out


ICSNPP_S7 = ["snap7", "s7ident", "s7comm_plus"]


@pytest.mark.corpus
@pytest.mark.parametrize("name", ICSNPP_S7)
def test_s7comm_deeper_fields_match_icsnpp(name: str) -> None:
    """Every message ICSNPP's s7comm.log (and read_szl / upload_download / known_devices logs)
    records is decoded with the same ROSCTR, function, subfunction (PI service for PLC control),
    header error code, SZL id/index/return code, upload/download fields and identity."""
    base = ICSNPP / f"{name}.pcap.zeek-baseline" / name
    if not (base / "s7comm.log").is_file():
        pytest.skip("ICSNPP baseline not in ../shared")
    all_events = [json.loads(line) for line in subprocess.run(
        [*T.decoder_command(), "decode", str(ICSNPP / f"{name}.pcap"), "--format", "jsonl", "--all"],
        capture_output=True, check=True).stdout.decode().splitlines()]  # fmt: skip
    events = [e for e in all_events if e["event"]["kind"] == "event"]
    ours = _icsnpp_view(events)
    compared = mismatched = 0
    problems = []
    for r in _zeek_log(base / "s7comm.log"):
        key = (r["is_orig"], int(r["pdu_reference"]))
        o = ours.get(key)
        want = (int(r["rosctr_code"]), r["function_code"], r["subfunction_code"],
                None if r["error_code"] == "-" else int(r["error_code"], 16))
        got = None if o is None else (o["rosctr"], o["_fc"], o["_sub"],
                                      None if r["error_code"] == "-" else o.get("error_code", 0))
        compared += 1
        if got != want:
            mismatched += 1
            problems.append(f"s7comm.log {key}: ICSNPP {want}, ours {got}")
    if (base / "s7comm_read_szl.log").is_file():
        for r in _zeek_log(base / "s7comm_read_szl.log"):
            o = ours.get((r["is_orig"], int(r["pdu_reference"])), {})
            want = (int(r["szl_id"], 16), int(r["szl_index"], 16), int(r["return_code"], 16))
            got = (o.get("szl_id"), o.get("szl_index"), o.get("return_code"))
            compared += 1
            if got != want:
                mismatched += 1
                problems.append(f"read_szl {r['is_orig']} {r['pdu_reference']}: {want} vs {got}")
    if (base / "s7comm_upload_download.log").is_file():
        for r in _zeek_log(base / "s7comm_upload_download.log"):
            o = ours.get((r["is_orig"], int(r["pdu_reference"])), {})
            want = {"function_status": r["function_status"], "upload_id": r["session_id"],
                    "block_length": r["blocklength"], "filename": r["filename"],
                    "block_number": r["block_number"]}  # fmt: skip
            got = {"function_status": f"0x{o['function_status']:02x}" if "function_status" in o else "-",
                   "upload_id": str(o["upload_id"]) if "upload_id" in o and r["session_id"] != "-" else "-",
                   "block_length": str(o.get("block_length", "-")),
                   "filename": o.get("filename", "-") if r["rosctr"] == "Job-Request" else "-",
                   "block_number": f"{o['block_number']:05d}" if "block_number" in o and r["rosctr"] == "Job-Request" else "-"}  # fmt: skip
            compared += 1
            if got != want:
                mismatched += 1
                problems.append(f"upload_download {r['is_orig']} {r['pdu_reference']}: {want} vs {got}")
    if (base / "s7comm_known_devices.log").is_file():
        assets = [e["asset"] for e in all_events if e["event"]["kind"] == "asset"]
        for r in _zeek_log(base / "s7comm_known_devices.log"):
            compared += 1
            want = (r["automation_system_name"], r["module_name"], r["module_serial"])
            if not any((a.get("name"), a.get("product"), a.get("serial")) == want for a in assets):
                mismatched += 1
                problems.append(f"known_devices {want} not among our assets {assets}")
    print(f"ICSNPP {name}: {compared} records compared, {mismatched} differ")
    assert compared and not problems, "\n".join(problems[:20])


# -- harness ------------------------------------------------------------------------------------
@pytest.mark.tshark
@needs_tshark
def test_harness_reads_ragged_s7_fields() -> None:
    """Jobs carry s7comm.param.func, userdata carry funcgroup/subfunc: the occurrence counts of a
    frame differ, so the harness reads those frames from PDML (with -J: the fields are nested
    below s7comm.header / s7comm.param, which -j would hide)."""
    cap = T.REPO / "tests" / "captures" / "s7comm" / "s7comm_engineering.pcap"
    got = T.wireshark_records(cap, SPEC)
    assert got[6] == [(1, 0xF0, None, None)]  # setup communication job
    assert got[8] == [(7, None, 4, 1)]  # userdata request: CPU functions / read SZL
    assert got[27] == [(7, None, 7, 1)]  # userdata response: time functions / read clock
