"""Baseline with real protocol stacks on loopback (root, tcpdump on lo): every deviation type.

A small plant on 127.0.0.0/8, its servers threads of this process:
* two pyModbusTCP servers, PLC (127.0.0.10) and PLC2 (127.0.0.11). The HMI (127.0.0.2, pymodbus
  client) polls PLC every 0.1 s (holding registers 0–9, coils 0–7) and writes a setpoint
  (holding register 20: 100, 105 … 120) every fourth poll; the engineering station (127.0.0.3)
  polls PLC2's input registers every other one;
* a python-snap7 S7 server, PLC3 (127.0.0.12): SCADA (127.0.0.1, snap7 client) reads bytes 0–7
  of data block 1 each poll and writes a setpoint byte (20: 40, 45, 50) every fourth.
That session is learned. Each test then captures an abnormal session and checks its alerts (rule,
message with the evidence, endpoints, protocol, the event it is about), then a further normal
session (HMI and SCADA polling), which must raise nothing.

Two kinds of captures are re-timed (real bytes, real timing within each piece) so that the file
runs in seconds instead of a day:
* the learning capture: message rates are judged only after five 10 s windows of learning
  (`Rate.windows >= 5`), so the 4 s capture is cut between poll cycles into five slices and the
  earlier slices are moved back by whole 10 s windows (as if the pollers had paused between them);
* off_hours: hours count only once the baseline spans a day, so captured sessions are shifted by
  whole hours (a second learning day, a night, a third day).

The first test runs the shared traffic scripts instead (pyModbusTCP session learned, pymodbus
session monitored): each new function must be named.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watchfloor.baseline.model import RATE_BUCKET_NS
from watchfloor.capture.files import read_packets
from watchfloor.schema.time import rfc3339
from watchfloor.testing import write_pcap

from .conformance import corpus as C
from .test_baseline import alerts, ingest, run

STACKS = {"normal": ("modbus_pymodbustcp.py", 15031), "abnormal": ("modbus_pymodbus.py", 15032)}


@pytest.mark.stack
@pytest.mark.tshark
def test_real_stack_session_learned_then_deviations_explained(tmp_path: Path) -> None:
    reason = C.stack_skip_reason("pymodbus, pyModbusTCP")
    if reason:
        pytest.skip(reason)
    got = C.run_stacks(STACKS, tmp_path, 4)
    normal, _, info = got["normal"]
    abnormal, _, info2 = got["abnormal"]
    assert normal is not None, info
    assert abnormal is not None, info2
    db = tmp_path / "live.duckdb"
    ingest(db, normal)
    shown = run("baseline", "learn", "--db", str(db))
    assert "1 edges" in shown  # 127.0.0.1 → 127.0.0.1 over modbus
    learned = json.loads(run("baseline", "show", "--db", str(db), "--format", "jsonl"))
    functions = set(learned["edges"][0]["functions"])
    assert {"read_coils", "read_holding_registers"} <= functions
    ingest(db, abnormal)
    found = alerts(db)
    new = {a["message"].split(" with ")[1].split(" ")[0] for a in found
           if a["rule"]["id"] == "baseline.new_function"}  # fmt: skip
    assert new and not new & functions
    assert {"read_write_multiple_registers", "mask_write_register"} & new, new
    for a in found:
        assert a["source"]["ip"] == "127.0.0.1" and a["ot"]["protocol"] == "modbus"
        assert "during" in a["message"] and a["related"]["events"]


# -- the plant -------------------------------------------------------------------------------
HMI, ENG, ROGUE, PLC, PLC2 = "127.0.0.2", "127.0.0.3", "127.0.0.66", "127.0.0.10", "127.0.0.11"
SCADA, PLC3 = "127.0.0.1", "127.0.0.12"  # snap7's client cannot bind: Linux gives it 127.0.0.1
PERIOD = 0.1  # the poll, s
LEARN_CYCLES = 40  # 39 intervals per polled block: a cadence needs 20 (`Cadence.regular`)
NORMAL_CYCLES = 7  # a later normal session: enough intervals for the cadence check to judge
REGISTERS = [500 + i for i in range(10)]
COILS = [True, False, True, True, False, False, True, False]
DB1 = bytes([12, 34, 56, 78, 90, 11, 22, 33])  # PLC3's data block 1, bytes 0–7
HOUR = 3600 * 1_000_000_000


def setpoint(k: int) -> int:
    """What the HMI writes to holding register 20 in poll cycle k (every fourth)."""
    return 100 + 5 * (k // 4 % 5)


def s7_setpoint(k: int) -> int:
    """What SCADA writes to byte 20 of PLC3's data block 1 in poll cycle k (every fourth)."""
    return 40 + 5 * (k // 4 % 3)


def ok(response):  # type: ignore[no-untyped-def]
    assert not response.isError(), response
    return response


class Plant:
    """The servers (threads of this process) and factories of their clients."""

    def __init__(self) -> None:
        from pyModbusTCP.server import DataBank, ModbusServer
        from snap7.server import Server
        from snap7.type import SrvArea

        self.port = free_port()
        self.bpf = f"tcp port {self.port}"
        self.bank = DataBank()
        self.bank.set_holding_registers(0, REGISTERS)
        self.bank.set_coils(0, COILS)
        bank2 = DataBank()
        bank2.set_input_registers(0, [7, 8, 9, 10])
        self.modbus = [ModbusServer(PLC, self.port, no_block=True, data_bank=self.bank),
                       ModbusServer(PLC2, self.port, no_block=True, data_bank=bank2)]  # fmt: skip
        for m in self.modbus:
            m.start()
        self.s7 = Server(log=False)
        self.db1 = bytearray(DB1.ljust(128, b"\0"))
        self.s7.register_area(SrvArea.DB, 1, self.db1)
        self.s7.start_to(PLC3, self.port)
        self.learn_pcap = Path()
        self.learned = Path()
        self.baseline: dict = {}

    def stop(self) -> None:
        for m in self.modbus:
            m.stop()
        self.s7.stop()

    def client(self, source: str, server: str = PLC):  # type: ignore[no-untyped-def]
        from pymodbus.client import ModbusTcpClient

        c = ModbusTcpClient(server, port=self.port, source_address=(source, 0), timeout=3, retries=0)
        assert c.connect(), f"{source} cannot connect to {server}:{self.port}"
        return c

    def scada(self):  # type: ignore[no-untyped-def]
        from snap7.client import Client

        c = Client()
        c.connect(PLC3, 0, 1, self.port)
        return c


def free_port() -> int:
    """A TCP port free on the three PLC addresses (other runs of these tests may be using theirs)."""
    for _ in range(100):
        with socket.socket() as a, socket.socket() as b, socket.socket() as c:
            a.bind((PLC, 0))
            port = a.getsockname()[1]
            try:
                b.bind((PLC2, port))
                c.bind((PLC3, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no TCP port free on the loopback PLC addresses")


def poll(cycles: int, period: float = PERIOD, hmi=None, eng=None, scada=None,  # type: ignore[no-untyped-def]
         writes: bool = True) -> None:  # fmt: skip
    """The pollers' cycle on an absolute schedule (a late cycle does not shift the next ones):
    the HMI reads and writes its setpoint, the engineering station reads every other cycle,
    SCADA reads a data block and writes its setpoint byte."""
    t0 = time.monotonic()
    for k in range(cycles):
        delay = t0 + k * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if hmi is not None:
            assert ok(hmi.read_holding_registers(0, count=10)).registers == REGISTERS
            ok(hmi.read_coils(0, count=8))
            if writes and k % 4 == 3:
                ok(hmi.write_register(20, setpoint(k)))
        if eng is not None and k % 2 == 0:
            ok(eng.read_input_registers(0, count=4))
        if scada is not None:
            assert bytes(scada.db_read(1, 0, len(DB1))) == DB1
            if writes and k % 4 == 1:
                scada.db_write(1, 20, bytearray([s7_setpoint(k)]))


def session(plant: Plant, source: str, act: Callable, server: str = PLC) -> None:  # type: ignore[type-arg]
    c = plant.client(source, server)
    try:
        act(c)
    finally:
        c.close()


def normal(plant: Plant) -> None:
    """A normal session: the HMI and SCADA poll (each on a new connection)."""
    hmi, scada = plant.client(HMI), plant.scada()
    try:
        poll(NORMAL_CYCLES, hmi=hmi, scada=scada)
    finally:
        hmi.close()
        scada.disconnect()


# -- captures: split and re-timed ------------------------------------------------------------
def rewrite(src: Path, dst: Path, since: int = 0, until: int = 1 << 62,
            shift: Callable[[int], int] = lambda ts: 0) -> Path:  # fmt: skip
    """The packets of `src` captured in [since, until), each moved by `shift(ts)` ns."""
    packets = [(ts, data, orig) for _, ts, _, data, orig in read_packets(src) if since <= ts < until]
    assert packets, f"{src}: nothing captured between {since} and {until}"
    linktype = next(read_packets(src))[2]
    write_pcap(dst, ((ts + shift(ts), data, orig) for ts, data, orig in packets), linktype=linktype,
               nanosecond=True)  # fmt: skip
    return dst


def spread(src: Path, dst: Path, slices: int, idle: float) -> Path:
    """Cut the capture into `slices` pieces at idle moments (`idle` s without a packet: between
    poll cycles) and move each earlier piece back by whole rate windows, so that every piece lies
    in a rate window of its own (10 s of silence separate them)."""
    times = [ts for _, ts, _, _, _ in read_packets(src)]
    step = (times[-1] - times[0]) / slices
    gaps = [t for t, prev in zip(times[1:], times) if t - prev >= idle * 1e9]
    cuts = [min((t for t in gaps if t >= times[0] + k * step), default=times[-1]) for k in range(1, slices)]

    def shift(ts: int) -> int:
        later = sum(ts >= c for c in cuts)  # this piece's index
        return -(slices - 1 - later) * RATE_BUCKET_NS

    return rewrite(src, dst, shift=shift)


def hours_of_day(pcap: Path) -> set[int]:
    """The UTC hours of the day in which `pcap` has packets."""
    return {ts // HOUR % 24 for _, ts, _, _, _ in read_packets(pcap)}


def shift_into(src: Path, dst: Path, at_least: int, hours: set[int]) -> Path:
    """`src` moved by the smallest whole number of hours ≥ `at_least` that puts every packet in
    one of the `hours` of the day."""
    seen = hours_of_day(src)
    n = next((n for n in range(at_least, at_least + 24) if {(h + n) % 24 for h in seen} <= hours), None)
    assert n is not None, f"{src} spans the hours {seen}: no shift puts it within {hours}"
    return rewrite(src, dst, shift=lambda ts: n * HOUR)


# -- the learned plant -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    reason = C.stack_skip_reason("pymodbus, pyModbusTCP, snap7", scripts=False)
    if reason:
        pytest.skip(reason)
    p = Plant()
    try:
        d = tmp_path_factory.mktemp("plant")
        with C.capture(d / "learn-raw.pcap", p.bpf) as raw:
            hmi, eng, scada = p.client(HMI), p.client(ENG, PLC2), p.scada()
            poll(LEARN_CYCLES, hmi=hmi, eng=eng, scada=scada)
            hmi.close()
            eng.close()
            scada.disconnect()
        p.learn_pcap = spread(raw, d / "learn.pcap", 5, PERIOD / 2)
        p.learned = d / "learned.duckdb"
        ingest(p.learned, p.learn_pcap)
        assert "3 edges" in run("baseline", "learn", "--db", str(p.learned))
        shown = json.loads(run("baseline", "show", "--db", str(p.learned), "--format", "jsonl"))
        p.baseline = shown
        hmi_edge = edge(shown, HMI)
        # The cadence test needs the poll learned as regular: say so if this machine was too busy.
        assert any(k.startswith("read_coils") for k in hmi_edge["cadence"]), hmi_edge["cadence"]
        assert hmi_edge["connection"] == "persistent (1 session(s))"
        yield p
    finally:
        p.stop()


def edge(shown: dict, initiator: str) -> dict:
    (e,) = [e for e in shown["edges"] if e["initiator"] == initiator]
    return e


@pytest.fixture
def db(plant: Plant, tmp_path: Path) -> Path:
    copy = tmp_path / "site.duckdb"
    copy.write_bytes(plant.learned.read_bytes())
    return copy


def events_between(db: Path, since: int, until: int) -> dict[str, dict]:
    out = run("events", "--db", str(db), "--format", "jsonl", "--kind", "event",
              "--since", rfc3339(since), "--until", rfc3339(until))  # fmt: skip
    docs = (json.loads(line) for line in out.splitlines() if line.startswith("{"))
    return {d["event"]["id"]: d for d in docs}


def observe(plant: Plant, tmp: Path, db: Path, abnormal: Callable[[], None]) -> list[dict]:
    """Capture `abnormal`, then a normal session; ingest each. Returns the abnormal session's
    alerts (each about one of its events), after asserting that the normal session raised none."""
    with C.capture(tmp / "both.pcap", plant.bpf) as both:
        start = time.time_ns()
        abnormal()
        time.sleep(0.1)  # its connections are closed
        mark = time.time_ns()
        normal(plant)
    ingest(db, rewrite(both, tmp / "abnormal.pcap", until=mark))
    found = alerts(db)
    events = events_between(db, start, mark)
    for a in found:
        (about,) = a["related"]["events"]
        assert about in events, f"{a['rule']['id']} is about {about}, not an event of the session"
        ev = events[about]
        assert (a["source"]["ip"], a["destination"]["ip"]) == (ev["source"]["ip"], ev["destination"]["ip"])
        assert a["ot"]["protocol"] == ev["ot"]["protocol"]
    ingest(db, rewrite(both, tmp / "normal.pcap", since=mark))
    seen = {a["event"]["id"] for a in found}
    later = [a["message"] for a in alerts(db) if a["event"]["id"] not in seen]
    assert later == [], later
    return found


def of(found: list[dict], kind: str, source: str, destination: str, protocol: str = "modbus") -> list[dict]:
    """The alerts of one type; every alert of the session must be of that type."""
    assert {a["rule"]["id"] for a in found} == {f"baseline.{kind}"}, [a["message"] for a in found]
    for a in found:
        assert (a["source"]["ip"], a["destination"]["ip"]) == (source, destination), a["message"]
        assert a["ot"]["protocol"] == protocol
    return found


def span(plant: Plant) -> str:
    return f"during {plant.baseline['span']} of baseline"


# -- one test per deviation type -------------------------------------------------------------
@pytest.mark.stack
def test_new_asset(plant: Plant, db: Path, tmp_path: Path) -> None:
    def rogue(c) -> None:  # type: ignore[no-untyped-def]
        for _ in range(2):
            ok(c.read_holding_registers(0, count=10))

    found = observe(plant, tmp_path, db, lambda: session(plant, ROGUE, rogue))
    (a,) = of(found, "new_asset", ROGUE, PLC)
    assert f"{ROGUE} was never seen {span(plant)}" in a["message"]
    assert f"first seen as initiator of modbus read_holding_registers ({ROGUE} → {PLC})" in a["message"]


@pytest.mark.stack
def test_new_edge(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The engineering station, known for polling PLC2, reads PLC."""
    found = observe(plant, tmp_path, db,
                    lambda: session(plant, ENG, lambda c: ok(c.read_holding_registers(0, count=10))))
    (a,) = of(found, "new_edge", ENG, PLC)
    assert f"{ENG} read {PLC} over modbus (read_holding_registers, holding registers 0–9 on unit 1)" \
        in a["message"]  # fmt: skip
    assert f"{span(plant)} {ENG} never talked modbus to {PLC}" in a["message"]


@pytest.mark.stack
def test_new_function(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI reads and writes registers in one request (FC 23), which it never did."""
    def rw(c) -> None:  # type: ignore[no-untyped-def]
        ok(c.readwrite_registers(read_address=0, read_count=10, write_address=20, values=[110]))

    found = observe(plant, tmp_path, db, lambda: session(plant, HMI, rw))
    (a,) = of(found, "new_function", HMI, PLC)
    learned = ", ".join(edge(plant.baseline, HMI)["functions"])
    assert "read_write_multiple_registers" not in learned
    assert f"of {PLC} with read_write_multiple_registers (modbus)" in a["message"]
    assert f"{span(plant)} this edge only used {learned}" in a["message"]


@pytest.mark.stack
def test_new_address(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI writes a register it never wrote (its learned write is the setpoint, 20)."""
    found = observe(plant, tmp_path, db,
                    lambda: session(plant, HMI, lambda c: ok(c.write_register(400, 1))))
    (a,) = of(found, "new_address", HMI, PLC)
    assert f"{HMI} wrote holding register 400 on unit 1 of {PLC} (write_single_register)" in a["message"]
    assert f"{span(plant)} this edge only used write_single_register on 20" in a["message"]
    assert a["event"]["severity"] == 4


@pytest.mark.stack
def test_value(plant: Plant, db: Path, tmp_path: Path) -> None:
    """A setpoint the HMI never wrote (one alert: the PLC's echo of the write is not a second
    finding), and a register the PLC reports outside what it ever reported (changed in the
    server's data bank, restored after)."""
    def abnormal() -> None:
        session(plant, HMI, lambda c: ok(c.write_register(20, 60000)))
        plant.bank.set_holding_registers(3, [9999])
        try:
            session(plant, HMI, lambda c: ok(c.read_holding_registers(0, count=10)))
        finally:
            plant.bank.set_holding_registers(3, REGISTERS[3:4])

    found = observe(plant, tmp_path, db, abnormal)
    assert {a["rule"]["id"] for a in found} == {"baseline.value"}, [a["message"] for a in found]
    written = [a for a in found if a["source"]["ip"] == HMI]
    reported = [a for a in found if a["source"]["ip"] == PLC]
    assert len(written) == 1 and len(reported) == 1, [a["message"] for a in found]
    # the HMI repeats a few setpoints, so the point is judged by the values it was written
    states = "/".join(map(str, sorted({setpoint(k) for k in range(3, LEARN_CYCLES, 4)})))
    assert (f"Value written by {HMI}: holding register 20 on unit 1 of {PLC} is 60000; "
            f"{span(plant)} it was only {states}") in written[0]["message"]  # fmt: skip
    assert written[0]["destination"]["ip"] == PLC and written[0]["event"]["severity"] == 4
    assert (f"Value reported by {PLC}: holding register 3 on unit 1 of {PLC} is 9999; "
            f"{span(plant)} it stayed within {REGISTERS[3]}–{REGISTERS[3]}") in reported[0]["message"]
    assert reported[0]["destination"]["ip"] == HMI


@pytest.mark.stack
def test_cadence(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI polls ten times as fast (without its setpoint writes)."""
    found = observe(plant, tmp_path, db,
                    lambda: session(plant, HMI, lambda c: poll(10, PERIOD / 10, hmi=c, writes=False)))
    cadence = [a for a in found if a["rule"]["id"] == "baseline.cadence"]
    # a burst this short may also pass the rate limit; nothing else may deviate
    assert {a["rule"]["id"] for a in found} <= {"baseline.cadence", "baseline.rate"}
    assert len(cadence) == 2, [a["message"] for a in found]  # one per polled block
    learned = edge(plant.baseline, HMI)["cadence"]
    blocks = ("coils 0–7", "holding registers 0–9")
    for a, block in zip(sorted(cadence, key=lambda a: a["message"]), blocks):
        assert (a["source"]["ip"], a["destination"]["ip"]) == (HMI, PLC)
        m = re.search(r"\) sped up: every ([\d.]+) s over the last (\d+) requests; during .* of baseline "
                      r"every ([\d.]+) s", a["message"])  # fmt: skip
        assert m and f"Polling of {block} on unit 1 of {PLC} by {HMI}" in a["message"], a["message"]
        assert float(m[1]) < PERIOD / 2 and float(m[3]) == pytest.approx(PERIOD, rel=0.2)
        assert any(v.startswith(f"every {m[3]} s") for v in learned.values()), learned


@pytest.mark.stack
def test_cadence_slowed_down(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI polls four times as slowly (without its setpoint writes)."""
    found = observe(plant, tmp_path, db,
                    lambda: session(plant, HMI, lambda c: poll(8, PERIOD * 4, hmi=c, writes=False)))
    cadence = of(found, "cadence", HMI, PLC)
    assert len(cadence) == 2, [a["message"] for a in found]  # one per polled block
    for a, block in zip(sorted(cadence, key=lambda a: a["message"]), ("coils 0–7", "holding registers 0–9")):
        m = re.search(r"\) slowed down: every ([\d.]+) s over the last (\d+) requests; during .* of "
                      r"baseline every ([\d.]+) s", a["message"])  # fmt: skip
        assert m and f"Polling of {block} on unit 1 of {PLC} by {HMI}" in a["message"], a["message"]
        assert float(m[1]) > PERIOD * 2 and float(m[3]) == pytest.approx(PERIOD, rel=0.2)
        assert a["threat"]["technique"]["id"] == ["T0815"]


@pytest.mark.stack
def test_cadence_stopped(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI stops reading but goes on writing its setpoint as usual, for longer than the stop
    limit (10 s for a 0.1 s poll). Two cycles of reads first: few enough messages that no 10 s
    window holds more than the learned rate allows."""
    def reads_stop(c) -> None:  # type: ignore[no-untyped-def]
        poll(2, hmi=c)
        t0 = time.monotonic()
        for k in range(2, 2 + round(11.5 / PERIOD)):
            time.sleep(max(0.0, t0 + (k - 2) * PERIOD - time.monotonic()))
            if k % 4 == 3:
                ok(c.write_register(20, setpoint(k)))

    found = observe(plant, tmp_path, db, lambda: session(plant, HMI, reads_stop))
    stopped = of(found, "cadence", HMI, PLC)
    blocks = {"coils 0–7", "holding registers 0–9"}
    assert len(stopped) == len(blocks), [a["message"] for a in found]
    for a in stopped:
        m = re.search(r"Polling of (.+) on unit 1 of .* stopped: no request for (\d+) s since ", a["message"])
        assert m and m[1] in blocks and 10 <= int(m[2]) <= 12, a["message"]
        blocks.discard(m[1])
        assert a["threat"]["technique"]["id"] == ["T0815"]
    assert not blocks


@pytest.mark.stack
def test_rate(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI floods the PLC with its usual setpoint write (same register, a learned value)."""
    def flood(c) -> None:  # type: ignore[no-untyped-def]
        for _ in range(150):
            ok(c.write_register(20, setpoint(0)))

    found = observe(plant, tmp_path, db, lambda: session(plant, HMI, flood))
    (a,) = of(found, "rate", HMI, PLC)
    rate = edge(plant.baseline, HMI)["rate_per_10s"]
    m = re.search(rf"{HMI} → {PLC} \(modbus\) exceeded (\d+) messages in 10 s; {span(plant)} the "
                  rf"median was ([\d.]+) and the maximum ([\d.]+) per 10 s", a["message"])  # fmt: skip
    assert m, a["message"]
    assert (float(m[2]), float(m[3])) == (rate["median"], rate["max"])
    assert int(m[1]) >= 2 * rate["max"]


@pytest.mark.stack
def test_connection(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The HMI keeps its cadence but opens a connection per poll (12 of them; one read each, so
    that they stay under the learned message rate)."""
    def per_request() -> None:
        t0 = time.monotonic()
        for k in range(12):
            time.sleep(max(0.0, t0 + k * PERIOD - time.monotonic()))
            session(plant, HMI, lambda c: ok(c.read_holding_registers(0, count=10)))

    found = observe(plant, tmp_path, db, per_request)
    (a,) = of(found, "connection", HMI, PLC)
    assert f"{HMI} opened 11 new connections to {PLC} (modbus) within the hour" in a["message"]
    assert f"{span(plant)} it kept 1 persistent session(s)" in a["message"]


@pytest.mark.stack
def test_off_hours(plant: Plant, tmp_path: Path) -> None:
    """Learned: the plant's session (day 1), a normal session a day later (day 2), so hours of
    the day count, and the engineering station polling alone at night (the sensor watched that
    hour). Then a normal session shifted into that night hour, and one shifted into a learned hour
    two days later. Shifts are whole hours of real captures."""
    with C.capture(tmp_path / "days.pcap", plant.bpf) as days:
        marks = []
        for _ in range(3):
            normal(plant)
            time.sleep(0.1)
            marks.append(time.time_ns())
        session(plant, ENG, lambda c: poll(NORMAL_CYCLES, eng=c), PLC2)
    day2, night, day3, alone = (rewrite(days, tmp_path / f"{n}.raw.pcap", since, until)
                                for n, since, until in zip(("day2", "night", "day3", "alone"), [0, *marks],
                                                           [*marks, 1 << 62]))  # fmt: skip
    day_hours = hours_of_day(plant.learn_pcap) | hours_of_day(day2)
    watched = shift_into(alone, tmp_path / "alone.pcap", 12, set(range(24)) - day_hours)
    db = tmp_path / "days.duckdb"
    ingest(db, plant.learn_pcap, rewrite(day2, tmp_path / "day2.pcap", shift=lambda ts: 24 * HOUR), watched)
    run("baseline", "learn", "--db", str(db))
    shown = json.loads(run("baseline", "show", "--db", str(db), "--format", "jsonl"))
    learned = set(edge(shown, HMI)["active_hours"]) & set(edge(shown, SCADA)["active_hours"])
    before = {a["event"]["id"] for a in alerts(db)}
    ingest(db, shift_into(night, tmp_path / "night.pcap", 36, hours_of_day(watched)))
    found = [a for a in alerts(db) if a["event"]["id"] not in before]
    assert {a["rule"]["id"] for a in found} == {"baseline.off_hours"}, [a["message"] for a in found]
    said = set()
    for a in found:  # one per edge and hour
        init, resp, proto = (HMI, PLC, "modbus") if a["source"]["ip"] == HMI else (SCADA, PLC3, "s7comm")
        assert (a["source"]["ip"], a["destination"]["ip"], a["ot"]["protocol"]) == (init, resp, proto)
        assert a["related"]["events"]
        m = re.search(rf"{init} → {resp} \({proto}, \w+\) active at (\d\d):00 UTC; during "
                      rf"{shown['span']} of baseline this edge was never active in that hour, "
                      rf"while other traffic was", a["message"])  # fmt: skip
        assert m, a["message"]
        said.add((init, int(m[1])))
    hours = hours_of_day(tmp_path / "night.pcap")
    assert said == {(ip, h) for ip in (HMI, SCADA) for h in hours} and len(said) == len(found)
    seen = {a["event"]["id"] for a in alerts(db)}
    ingest(db, shift_into(day3, tmp_path / "day3.pcap", 48, learned))
    assert [a["message"] for a in alerts(db) if a["event"]["id"] not in seen] == []


@pytest.mark.stack
def test_s7comm_value_new_address_and_new_function(plant: Plant, db: Path, tmp_path: Path) -> None:
    """The same judgement over another protocol (python-snap7 client and server, S7comm): SCADA
    writes its setpoint byte with a value it never wrote, then a byte beside the one it writes,
    then lists the PLC's blocks (reconnaissance it never did)."""
    def abnormal() -> None:
        c = plant.scada()
        try:
            c.db_write(1, 20, bytearray([250]))
            c.db_write(1, 100, bytearray([1]))
            c.list_blocks()
        finally:
            c.disconnect()

    found = observe(plant, tmp_path, db, abnormal)
    by = {a["rule"]["id"].removeprefix("baseline."): a for a in found}
    assert sorted(by) == ["new_address", "new_function", "value"] and len(found) == 3, \
        [a["message"] for a in found]  # fmt: skip
    for a in found:
        assert (a["source"]["ip"], a["destination"]["ip"], a["ot"]["protocol"]) == (SCADA, PLC3, "s7comm")
    states = "/".join(map(str, sorted({s7_setpoint(k) for k in range(1, LEARN_CYCLES, 4)})))
    assert (f"Value written by {SCADA}: DB 1 byte 20 of {PLC3} is 250; {span(plant)} it "
            f"was only {states}") in by["value"]["message"]  # fmt: skip
    assert (f"{SCADA} wrote DB 1 byte 100 of {PLC3} (write_var); {span(plant)} this "
            f"edge only used write_var on 20") in by["new_address"]["message"]  # fmt: skip
    learned = ", ".join(edge(plant.baseline, SCADA)["functions"])
    assert (f"{SCADA} probed block on rack 0 slot 1 of {PLC3} with list_blocks (s7comm); {span(plant)} "
            f"this edge only used {learned}") in by["new_function"]["message"]  # fmt: skip
    assert [by[k]["event"]["severity"] for k in ("value", "new_address", "new_function")] == [4, 4, 3]
