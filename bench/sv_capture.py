#!/usr/bin/env python3
"""A deterministic Sampled Values capture for `bench/protocols.py --source sv=PATH`.

    python bench/sv_capture.py [--out bench/out/sv_9-2le.pcap] [--seconds 1.0]

The traffic tools of `../shared/tools/traffic` have no SV publisher, so this capture is built with
the project's own kit (`watchfloor.testing.goose.sv_asdu` / `sv_frame`): two merging units in the
IEC 61850-9-2LE profile, each 4000 frames/s (80 samples per 50 Hz cycle) of one ASDU with 8
channels (4 currents in mA, 4 voltages in 10 mV, sinusoidal, so every frame's values differ),
smpCnt wrapping at 4000, smpSynch global, on VLAN 4, interleaved in time order.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from watchfloor.testing import write_pcap
from watchfloor.testing import goose as g

RATE = 4000  # samples/s: 9-2LE, 80 samples per cycle at 50 Hz
T0 = 1_700_000_000 * 10**9
UNITS = (("MU01", 0x4000, "02:00:00:61:85:11", "01:0c:cd:04:00:01", 400.0, 6350.0),
         ("MU02", 0x4001, "02:00:00:61:85:12", "01:0c:cd:04:00:02", 250.0, 6350.0))


def records(seconds: float) -> list[tuple[int, bytes]]:
    out = []
    for k, (sv_id, appid, src, dst, amps, volts) in enumerate(UNITS):
        for n in range(int(seconds * RATE)):
            phase = 2 * math.pi * 50 * n / RATE
            cur = [round(amps * 1000 * math.sin(phase - p * 2 * math.pi / 3)) for p in range(3)]
            vol = [round(volts * 100 * math.sin(phase - p * 2 * math.pi / 3)) for p in range(3)]
            values = [*cur, sum(cur), *vol, sum(vol)]  # phases A, B, C and neutral
            asdu = g.sv_asdu(sv_id, n % RATE, dat_set=f"{sv_id}LD/LLN0$PhsMeas1", values=values)
            frame = g.sv_frame([asdu], appid=appid, src=src, dst=dst, vlans=(4,))
            out.append((T0 + n * 10**9 // RATE + k * 7_000, frame))  # the units are not in phase
    return sorted(out, key=lambda r: r[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "out" / "sv_9-2le.pcap")
    ap.add_argument("--seconds", type=float, default=1.0, help="publishing time per merging unit")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = write_pcap(args.out, records(args.seconds), nanosecond=True)
    print(f"{args.out}: {n:,} frames")


if __name__ == "__main__":
    main()
