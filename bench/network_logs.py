#!/usr/bin/env python3
"""Throughput of the network log readers and of `watchfloor listen`.

    .venv/bin/python bench/network_logs.py [--lines 100000] [--messages 50000]

Readers: records/s of each reader on generated logs (Zeek conn TSV, Zeek conn JSON, Suricata EVE
flow+dns+alert, syslog RFC 5424, CEF), against the rate at which the same lines are merely split
and JSON-decoded with msgspec (the floor any reader pays), printed as a ratio.
Listener: messages/s from one TCP sender into the DuckDB store (everything committed, detection
off), and a UDP burst at the default queue: accepted and dropped. Figures, not tests.
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec

from watchfloor.listen import Listener
from watchfloor.store import open_store
from watchfloor.telemetry import Corrupt, suricata, syslog, zeek


def zeek_tsv(n: int) -> bytes:
    head = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
            "orig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\tresp_pkts\n"
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t"
            "string\tstring\tcount\tcount\n")  # fmt: skip
    rows = (f"{1714550400 + i / 1000:.6f}\tC{i:x}\t10.0.{i % 250}.5\t{40000 + i % 20000}\t10.1.0.{i % 7}\t502"
            f"\ttcp\tmodbus\t0.5\t{i % 900}\t{i % 1200}\tSF\tShADadFf\t10\t8\n" for i in range(n))  # fmt: skip
    return (head + "".join(rows)).encode()


def zeek_json(n: int) -> bytes:
    return b"".join(msgspec.json.encode({
        "ts": 1714550400 + i / 1000, "uid": f"C{i:x}", "id.orig_h": f"10.0.{i % 250}.5",
        "id.orig_p": 40000 + i % 20000, "id.resp_h": "10.1.0.1", "id.resp_p": 502, "proto": "tcp",
        "service": "modbus", "duration": 0.5, "orig_bytes": i % 900, "resp_bytes": i % 1200,
        "conn_state": "SF", "history": "ShADadFf", "orig_pkts": 10, "resp_pkts": 8}) + b"\n"
        for i in range(n))  # fmt: skip


def eve(n: int) -> bytes:
    base = {"src_ip": "10.0.0.5", "src_port": 50000, "dest_ip": "10.1.0.1", "proto": "UDP", "flow_id": 1}
    kinds = [
        {"event_type": "dns", "dest_port": 53, "dns": {"version": 2, "type": "answer", "id": 1,
                                                       "rrname": "a.example", "rrtype": "A", "rcode": "NOERROR",
                                                       "answers": [{"rrname": "a.example", "rrtype": "A",
                                                                    "ttl": 60, "rdata": "192.0.2.1"}]}},
        {"event_type": "flow", "dest_port": 502, "flow": {"pkts_toserver": 5, "pkts_toclient": 5,
                                                          "bytes_toserver": 300, "bytes_toclient": 320,
                                                          "start": "2024-05-01T08:00:00.000000+0000",
                                                          "end": "2024-05-01T08:00:01.000000+0000",
                                                          "state": "closed", "reason": "timeout"}},
        {"event_type": "alert", "dest_port": 80, "alert": {"action": "allowed", "gid": 1, "signature_id": 2000001,
                                                           "rev": 1, "signature": "ET TEST", "severity": 2,
                                                           "category": "Misc activity"}},
    ]  # fmt: skip
    return b"".join(msgspec.json.encode({"timestamp": f"2024-05-01T08:00:{i % 60:02d}.000000+0000", **base,
                                         **kinds[i % 3]}) + b"\n" for i in range(n))  # fmt: skip


def rfc5424(n: int) -> bytes:
    return b"".join(b'<134>1 2024-05-01T08:00:00.123Z plc-gw app 42 ID1 [meta@1 k="v"] message %d\n' % i
                    for i in range(n))  # fmt: skip


def cef(n: int) -> bytes:
    return b"".join(b"<134>May  1 08:00:00 fw01 CEF:0|Vendor|FW|1.0|100|blocked|7|src=10.0.0.%d "
                    b"dst=10.1.0.1 spt=5%04d dpt=502 proto=TCP act=blocked msg=denied by policy\n"
                    % (i % 250, i % 10000) for i in range(n))  # fmt: skip


def floor_rate(data: bytes, as_json: bool) -> float:
    dec = msgspec.json.Decoder()
    start = time.perf_counter()
    for line in io.BytesIO(data):
        if as_json:
            dec.decode(line)
        else:
            line.split(b"\t")
    return data.count(b"\n") / (time.perf_counter() - start)


def reader_rate(fmt, data: bytes) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    n = bad = 0
    for item in fmt.read(io.BytesIO(data), "conn.log"):  # JSON without _path: the name says conn
        if isinstance(item, Corrupt):
            bad += 1
        else:
            n += 1
    return n / (time.perf_counter() - start), bad


def bench_readers(lines: int) -> None:
    print(f"readers ({lines:,} records each; floor = split/JSON-decode the same lines)")
    print(f"{'input':<20} {'records/s':>12} {'floor/s':>12} {'ratio':>7}")
    for name, fmt, data, as_json in (
        ("zeek conn TSV", zeek.FORMAT, zeek_tsv(lines), False),
        ("zeek conn JSON", zeek.FORMAT, zeek_json(lines), True),
        ("suricata EVE", suricata.FORMAT, eve(lines), True),
        ("syslog RFC 5424", syslog.FORMAT, rfc5424(lines), False),
        ("CEF over syslog", syslog.FORMAT, cef(lines), False),
    ):
        rate, bad = reader_rate(fmt, data)
        floor = floor_rate(data, as_json)
        print(f"{name:<20} {rate:>12,.0f} {floor:>12,.0f} {rate / floor:>7.3f}" + (f"  ({bad} corrupt!)" if bad else ""))


def bench_listener(messages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "l.duckdb")
        listener = Listener(["tcp://127.0.0.1:0", "udp://127.0.0.1:0"], store, stats_interval=3600,
                            log=lambda s: None)  # fmt: skip
        ports = {a.split("://")[0]: int(a.rsplit(":", 1)[1]) for a in listener.bind()}
        t = threading.Thread(target=listener.run, kwargs={"install_signals": False}, daemon=True)
        t.start()
        payload = rfc5424(messages)
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", ports["tcp"])) as c:
            c.sendall(payload)
        while listener.counters.stored < messages:
            time.sleep(0.01)
        tcp_rate = messages / (time.perf_counter() - start)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        lines = payload.splitlines()
        start = time.perf_counter()
        for line in lines:
            u.sendto(line, ("127.0.0.1", ports["udp"]))
        sent_s = time.perf_counter() - start
        time.sleep(1.0)
        listener.stop.set()
        t.join()
        c_ = listener.counters
        store.close()
    print(f"\nlistener (detection off, {messages:,} RFC 5424 messages)")
    print(f"TCP, one sender, all committed: {tcp_rate:,.0f} messages/s")
    print(f"UDP burst at {len(lines) / sent_s:,.0f} datagrams/s, queue {listener.queue.maxsize:,}: "
          f"accepted {c_.received - messages:,}, dropped {c_.dropped:,} (all accepted stored: "
          f"{c_.stored == c_.received})")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=50_000)
    args = ap.parse_args()
    bench_readers(args.lines)
    bench_listener(args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
