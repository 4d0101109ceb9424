"""DNP3 deeper fields against the peers' decoded output that ships with the corpus.

* opendnp3 3.0 conformance harness (``dump.pcap.opendnp3-conformance/log.html``): every APDU it
  decoded (sent and received) as function code, object group/variation and point indexes.
* ICSNPP (``dnp3_example.pcap.zeek-baseline/basic/dnp3_control.log``): every CROB as function,
  point index, trip/close code, operation, count, on/off time.
* Zeek ``dnp3.log`` (Zeek btests and ICSNPP): request/reply function names and IIN per pair.

Each comparison is a multiset agreement (peer items found in ours / peer items), printed, and
required to be complete: a disagreement is a bug on one side and must be looked at.
Run with ``-s`` to see the figures quoted in the decoder README.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

import pytest

from . import tshark as T

PCAPS = T.CORPUS / "pcaps"
OPENDNP3 = sorted((PCAPS / "ITI__ICS-Security-Tools/pcaps/dnp3/opendnp3-3/conformance").glob(
    "*/dump.pcap")) if PCAPS.is_dir() else []
ICSNPP = PCAPS / "cisagov__icsnpp-dnp3/testing/traces/dnp3_example.pcap"
ZEEK_LOGS = sorted(PCAPS.glob("**/*.pcap.zeek-baseline/**/dnp3.log")) if PCAPS.is_dir() else []

_FUNC = re.compile(r"^(\w+)\(0x([0-9A-Fa-f]{2})\) fir: \d")
_HEADER = re.compile(r"^g(\d+)v(\d+),")
_POINT = re.compile(r"^\[(\d+)\] - ")
_VALUE = re.compile(r"^(?!fir:|master:|step:)[a-z]+: ")
_TIME = re.compile(r"^\d\d:\d\d:\d\d\.\d+$")


def _messages(capture: Path) -> list[dict]:
    out = []
    for ev in T.run_decoder(capture):
        d = ev.get("ot", {}).get("dnp3")
        if d and d.get("function_code") is not None:
            out.append(ev)
    return out


def _agreement(name: str, peer: Counter, ours: Counter) -> tuple[int, int]:
    matched = sum((peer & ours).values())
    total = sum(peer.values())
    print(f"{name}: {matched}/{total} peer items found in ours")
    return matched, total


# -- opendnp3 -----------------------------------------------------------------------------------
def opendnp3_items(log: Path) -> Counter:
    """(function code, ((group, variation, indexes), ...)) per APDU the harness decoded."""
    text = html.unescape(re.sub(r"<[^>]+>", "\n", log.read_text(encoding="utf-8", errors="replace")))
    items: Counter = Counter()
    cur: list | None = None

    def flush() -> None:
        if cur is not None:
            items[(cur[0], tuple((g, v, tuple(i)) for g, v, i in cur[1]))] += 1

    for ln in (ln.strip() for ln in text.splitlines()):
        if not ln or _TIME.match(ln):
            continue
        m, h, p = _FUNC.match(ln), _HEADER.match(ln), _POINT.match(ln)
        if m:
            flush()
            cur = [int(m.group(2), 16), []]
        elif h and cur is not None:
            cur[1].append((int(h.group(1)), int(h.group(2)), []))
        elif p and cur is not None and cur[1]:
            cur[1][-1][2].append(int(p.group(1)))
        elif cur is not None and _VALUE.match(ln):  # an object's value line, e.g. "time: ..."
            continue
        else:  # anything else (a layer trace, a step, a procedure's expectation "- ...") ends it
            flush()
            cur = None
    flush()
    return items


def _indexes(o: dict) -> tuple[int, ...]:
    """The point indexes an object header names: its range, its index column or its points'."""
    if o.get("qualifier") in (0x00, 0x01, 0x02) and o["group"] != 0:
        start, stop = o["range_start"], o["range_stop"]
        return tuple(range(start, stop + 1)) if stop - start < 4096 else ()
    if o.get("indexes") is not None:
        return tuple(o["indexes"])
    return tuple(p["index"] for p in o.get("points") or () if "index" in p)


def our_opendnp3_items(messages: list[dict]) -> Counter:
    items: Counter = Counter()
    for ev in messages:
        d = ev["ot"]["dnp3"]
        objs = tuple((o["group"], o["variation"], _indexes(o)) for o in d.get("objects") or ())
        items[(d["function_code"], objs)] += 1
    return items


@pytest.mark.tshark
@pytest.mark.skipif(not OPENDNP3, reason="shared corpus absent")
def test_opendnp3_conformance_logs_agree() -> None:
    total_m = total_n = 0
    failures = []
    for cap in OPENDNP3:
        log = cap.parent / "dump.pcap.opendnp3-conformance" / "log.html"
        if not log.is_file():
            continue
        peer = opendnp3_items(log)
        ours = our_opendnp3_items(_messages(cap))
        m, n = _agreement(cap.parent.name, peer, ours)
        total_m, total_n = total_m + m, total_n + n
        if m != n:
            failures.append(f"{cap.parent.name}: missing from ours {dict(peer - ours)}")
    print(f"opendnp3 total: {total_m}/{total_n} APDUs agree on function, objects and indexes "
          f"({len(OPENDNP3)} procedures)")
    assert total_n > 0
    assert not failures, "\n".join(failures[:20])


# -- ICSNPP control blocks ----------------------------------------------------------------------
_TRIP = {"close": "Close", "trip": "Trip", "": "Nul"}
_OPS = {"pulse_on": "Pulse On", "pulse_off": "Pulse Off", "latch_on": "Latch On",
        "latch_off": "Latch Off", "nul": "Nul"}  # fmt: skip


def _zeek_rows(log: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for ln in log.read_text(encoding="utf-8").splitlines():
        if ln.startswith("#fields"):
            fields = ln.split("\t")[1:]
        elif not ln.startswith("#") and fields:
            rows.append(dict(zip(fields, ln.split("\t"))))
    return rows


@pytest.mark.tshark
@pytest.mark.skipif(not ICSNPP.is_file(), reason="shared corpus absent")
def test_icsnpp_control_blocks_agree() -> None:
    log = ICSNPP.parent / "dnp3_example.pcap.zeek-baseline" / "basic" / "dnp3_control.log"
    peer: Counter = Counter()
    for r in _zeek_rows(log):
        if r["block_type"] == "Control Relay Output Block":
            peer[(r["function_code"], int(r["index_number"]), r["trip_control_code"],
                  r["operation_type"], r["clear_bit"], int(r["execute_count"]), int(r["on_time"]),
                  int(r["off_time"]))] += 1  # fmt: skip
    ours: Counter = Counter()
    for ev in _messages(ICSNPP):
        d = ev["ot"]["dnp3"]
        for o in d.get("objects") or ():
            if o["group"] != 12 or o["variation"] != 1:
                continue
            for p in o.get("points") or ():
                code = p["control_code"]
                tc = {1: "close", 2: "trip"}.get(code >> 6, "")
                op = {0: "nul", 1: "pulse_on", 2: "pulse_off", 3: "latch_on", 4: "latch_off"}.get(
                    code & 0x0F, "?")
                ours[(d["function"].upper(), p["index"], _TRIP[tc], _OPS.get(op, op),
                      "T" if code & 0x20 else "F", p["count"], p["on_time_ms"],
                      p["off_time_ms"])] += 1  # fmt: skip
    m, n = _agreement("ICSNPP dnp3_control.log CROBs", peer, ours)
    assert n > 0 and m == n, f"missing from ours: {dict(list((peer - ours).items())[:10])}"


# -- Zeek dnp3.log ------------------------------------------------------------------------------
_ZEEK_NAMES = {"IMMED_FREEZE": 7, "IMMED_FREEZE_NR": 8, "INITIALIZE_APPL": 16, "START_APPL": 17,
               "STOP_APPL": 18, "SAVE_CONFIG": 19, "AUTHENTICATE_REQ": 32,
               "AUTHENTICATE_REQ_NR": 33, "AUTHENTICATE_RESP": 131}  # fmt: skip


def _zeek_code(name: str) -> int | str:
    from watchfloor.decode.dnp3.constants import FUNCTIONS

    by_name = {f.name.upper(): code for code, f in FUNCTIONS.items()}
    return _ZEEK_NAMES.get(name, by_name.get(name, name))


@pytest.mark.tshark
@pytest.mark.skipif(not ZEEK_LOGS, reason="shared corpus absent")
def test_zeek_request_reply_and_iin_agree() -> None:
    total_m = total_n = 0
    failures = []
    for log in ZEEK_LOGS:
        cap = Path(str(log).split(".zeek-baseline")[0])
        if not cap.is_file():
            continue
        # Zeek pairs a reply with the last request whatever its sequence number, so the pairs
        # themselves are not compared: requests by function, replies by function and IIN.
        peer: Counter = Counter()
        for r in _zeek_rows(log):
            if r["fc_request"] != "-":
                peer[("request", _zeek_code(r["fc_request"]), None)] += 1
            if r["fc_reply"] != "-":
                peer[("reply", _zeek_code(r["fc_reply"]), int(r["iin"]))] += 1
        ours: Counter = Counter()
        for ev in _messages(cap):
            d = ev["ot"]["dnp3"]
            if d["function_code"] >= 128:
                ours[("reply", d["function_code"], d.get("iin"))] += 1
            else:
                ours[("request", d["function_code"], None)] += 1
        m, n = _agreement(f"{cap.name} ({log.parent.name})", peer, ours)
        total_m, total_n = total_m + m, total_n + n
        if m != n:
            failures.append(f"{cap.name}: missing from ours {dict(peer - ours)}; "
                            f"ours only {dict(ours - peer)}")  # fmt: skip
    print(f"Zeek dnp3.log total: {total_m}/{total_n} request/reply/IIN rows agree")
    assert total_n > 0
    assert not failures, "\n".join(failures[:20])
