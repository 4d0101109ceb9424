#!/usr/bin/env python3
"""Print the peer-agreement table: OT events imported from the Zeek / CISA ICSNPP logs of the
shared corpus against our decoders' events on the same captures (see
src/watchfloor/testing/zeek_peer.py for the method).

    .venv/bin/python scripts/zeek_agreement.py [CORPUS_PCAPS_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from watchfloor.testing.zeek_peer import compare, corpus_pairs, table


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pcaps"
    if not root.is_dir():
        print(f"{root}: no such folder (the shared corpus is needed)", file=sys.stderr)
        return 2
    rows = [r for capture, logs in corpus_pairs(root) for r in compare(capture, logs)]
    print(table(rows, root))
    logged, matched = sum(r.logged for r in rows), sum(r.matched for r in rows)
    decoded = sum(r.decoded for r in rows)
    print(f"\nall: {matched:,} of {logged:,} log rows matched by our {decoded:,} messages "
          f"({matched / max(logged, 1):.1%} of the log rows, {matched / max(logged, decoded, 1):.1%} agreement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
