"""Peer agreement: OT events imported from Zeek / CISA ICSNPP logs against our decoders' events on
the capture the logs were made from.

Each side is reduced to a multiset of message keys — (role, sender, receiver, protocol code) — and
compared: `matched` counts keys both sides hold (with multiplicity); agreement = matched ÷ the
larger side. Times are not compared: the upstream test baselines had them replaced by a
placeholder (`REDACTED_TS`), which is read here as time 0.

How each log is keyed follows what one of its rows is:
- modbus with `pdu_type` (ICSNPP), s7comm, s7comm_plus, enip: one row per PDU, both roles.
- modbus without `pdu_type` (Zeek's own), dnp3: one row per request, written with its reply (and
  one per reply that answers no request, e.g. unsolicited): compared with our requests and our
  responses that answer no request.
- A log that holds one role only (ct-samples' Plant1 modbus.log: responses) is compared on it.
- cip: one row per service, nested services of a Multiple Service Packet included: compared with
  our CIP services, nested ones included.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..schema import Event
from ..sensor import Sensor, decode_file
from ..telemetry import Corrupt, zeek

LOGS = ("modbus", "dnp3", "s7comm", "s7comm_plus", "enip", "cip")
Key = tuple


@dataclass
class Agreement:
    capture: str
    log: str
    logged: int
    decoded: int
    matched: int
    corrupt: int

    @property
    def ratio(self) -> float:
        return self.matched / max(self.logged, self.decoded, 1)


def _ends(ev: Event) -> tuple:
    s, d = ev.source, ev.destination
    return (s.ip if s else None, s.port if s else None, d.ip if d else None, d.port if d else None)


def _keys(ev: Event, log: str, paired: bool) -> Iterator[Key]:
    ot = ev.ot
    if ot is None:
        return
    role, ends = ot.role, _ends(ev)
    if log == "modbus" and ot.modbus is not None:
        if paired and role == "response":
            return
        yield role, ends, ot.modbus.function_code
    elif log == "dnp3" and ot.dnp3 is not None and ot.dnp3.function_code is not None:
        if paired and role == "response" and ot.dnp3.request_frame is not None:
            return
        if paired and role == "response" and (ot.dnp3.function_code or 0) < 129:
            return
        yield role, ends, ot.dnp3.function_code
    elif log == "s7comm" and ot.s7comm is not None:
        s = ot.s7comm
        code = (s.userdata_group, s.userdata_subfunction) if s.rosctr == 7 else s.function_code
        yield role, ends, s.rosctr, code
    elif log == "s7comm_plus" and ot.s7comm_plus is not None:
        yield role, ends, ot.s7comm_plus.opcode, ot.s7comm_plus.function_code
    elif log == "enip" and ot.enip is not None and ot.enip.command is not None:
        yield role, ends, ot.enip.command
    elif log == "cip" and ot.cip is not None:
        yield role, ends, ot.cip.service
        for n in ot.cip.nested or ():
            yield role, ends, n.service


# What ICSNPP's test baselines write instead of each row's time.
REDACTED_TS = b"X" * 10 + b"." + b"X" * 6


def imported(path: Path) -> tuple[list[Event], int]:
    data = path.read_bytes().replace(REDACTED_TS, b"0.000000")
    events, corrupt = [], 0
    for ev in zeek.read(io.BytesIO(data), str(path)):
        if isinstance(ev, Corrupt):
            corrupt += 1
        else:
            events.append(ev)
    return events, corrupt


def decoded(capture: Path) -> list[Event]:
    return [ev for batch in decode_file(capture, Sensor(messages_only=True)) for ev in batch]


def compare(capture: Path, logs: Path, ours: list[Event] | None = None) -> list[Agreement]:
    """One row per OT log in the folder `logs` made from `capture`."""
    out = []
    for log in LOGS:
        path = logs / f"{log}.log"
        if not path.exists():
            continue
        theirs, corrupt = imported(path)
        if ours is None:
            ours = decoded(capture)
        # Zeek's own modbus.log has no pdu_type (nor tid): one row per transaction
        paired = log == "dnp3" or (log == "modbus" and all(
            ev.ot is not None and ev.ot.modbus is not None and ev.ot.modbus.transaction_id is None
            for ev in theirs))  # fmt: skip
        a = Counter(k for ev in theirs for k in _keys(ev, log, paired))
        roles = {k[0] for k in a}  # a log of one role only (e.g. responses) is compared on that role
        b = Counter(k for ev in ours for k in _keys(ev, log, paired) if k[0] in roles)
        matched = sum((a & b).values())
        out.append(Agreement(str(capture), log, sum(a.values()), sum(b.values()), matched, corrupt))
    return out


def corpus_pairs(root: Path) -> Iterable[tuple[Path, Path]]:
    """(capture, folder of its Zeek logs) for every capture of the corpus that ships OT logs."""
    for logs in sorted({p.parent for log in LOGS for p in root.rglob(f"{log}.log")}):
        for anc in (logs, *logs.parents):
            name = anc.name
            for suffix in (".zeek-baseline", ".zeek-logs"):
                if name.endswith(suffix):
                    capture = anc.with_name(name[: -len(suffix)])
                    if capture.exists():
                        yield capture, logs
                    break
            else:
                continue
            break


def table(rows: list[Agreement], root: Path) -> str:
    lines = ["| capture | log | log rows | our messages | matched | agreement |",
             "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        cap = str(Path(r.capture).relative_to(root)) if Path(r.capture).is_relative_to(root) else r.capture
        lines.append(f"| {cap} | {r.log} | {r.logged} | {r.decoded} | {r.matched} | {r.ratio:.1%} |")
    return "\n".join(lines)
