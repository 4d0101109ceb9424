"""Baseline tables of the DuckDB store: versions, the deviations they raised, monitoring state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


# -- behavioural baseline ------------------------------------------------------------------------
_BASELINE_DDL = (
    """CREATE TABLE IF NOT EXISTS baselines (
        version BIGINT PRIMARY KEY, site VARCHAR, status VARCHAR, parent BIGINT, note VARCHAR,
        created_at TIMESTAMPTZ DEFAULT now(), model VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS baseline_deviations (
        alert_id VARCHAR PRIMARY KEY, version BIGINT, site VARCHAR, type VARCHAR, key VARCHAR,
        detail VARCHAR, approved_in BIGINT)""",
    """CREATE TABLE IF NOT EXISTS baseline_state (site VARCHAR PRIMARY KEY, version BIGINT,
        state VARCHAR)""",
)

CHUNK = 500_000  # rows sorted at a time by behaviour_rows

#: The event fields the baseline reads, in `baseline.model.Row` order.
_ROW_SQL = """SELECT epoch_ns("@timestamp"), event.id, event.action, ot.role, ot.protocol,
    coalesce(source.ip, source.mac), source.port, coalesce(destination.ip, destination.mac),
    destination.port, ot.action.operation,
    ot.action.target.unit, ot.action.target.station, ot.action.target.object,
    ot.action.address.start, ot.action.address."end", ot.action."values"
    """
_ROW_FROM = """FROM {common} WHERE event.kind = 'event' AND ot.protocol IS NOT NULL
    AND coalesce(event.action, '') != 'anomaly'"""


class _BaselineTables:
    """Baseline versions, the deviations they raised and monitoring state: small tables next to
    the events (mixed into DuckDBStore)."""

    con: Any
    _common: str  # the relation holding every event without the per-protocol detail

    def _baseline_tables(self) -> None:
        for ddl in _BASELINE_DDL:
            self.con.execute(ddl)

    def behaviour_rows(self, *, source: str | None = None, since: str | None = None,
                       until: str | None = None, batch: int = 8192) -> Iterator[tuple]:  # fmt: skip
        """Decoded OT messages, oldest first, as `baseline.model.Row` tuples."""
        self._drain()  # type: ignore[attr-defined]
        sql, args = _ROW_FROM.format(common=self._common), []
        for clause, value in (("starts_with(event.id, ?)", f"{source}-" if source else None),
                              ('"@timestamp" >= CAST(? AS TIMESTAMPTZ)', since),
                              ('"@timestamp" <= CAST(? AS TIMESTAMPTZ)', until)):  # fmt: skip
            if value is not None:
                sql += f" AND {clause}"
                args.append(value)
        cur = self.con.cursor()
        # Sorting everything at once would hold the whole result: sort slices of time holding
        # about CHUNK rows each instead (rows spread evenly over time; a burst makes a slice larger).
        lo, hi, n = cur.execute('SELECT epoch_ns(min("@timestamp")), epoch_ns(max("@timestamp")), '
                                f"count(*) {sql}", args).fetchone()  # fmt: skip
        sql = _ROW_SQL + sql
        if not n:
            return
        slices = max(1, -(-n // CHUNK))
        step = max((hi - lo) // slices + 1, 1)
        order = ' ORDER BY "@timestamp", pcap.file, pcap.frame'
        for start in range(lo, hi + 1, step):
            cur.execute(sql + ' AND epoch_ns("@timestamp") >= ? AND epoch_ns("@timestamp") < ?'
                        + order, [*args, start, start + step])  # fmt: skip
            while rows := cur.fetchmany(batch):
                yield from rows
        cur.close()

    def next_baseline_version(self) -> int:
        self._drain()  # type: ignore[attr-defined]
        return int(self.con.execute("SELECT coalesce(max(version), 0) + 1 FROM baselines").fetchone()[0])

    def put_baseline(self, site: str, model: bytes, *, status: str, parent: int | None,
                     note: str | None, version: int | None = None) -> int:  # fmt: skip
        """Store a baseline version (the next number unless given); `active` deactivates the
        site's previous active version. Returns the version."""
        self._drain()  # type: ignore[attr-defined]
        if version is None:
            version = self.next_baseline_version()
        if status == "active":
            self.con.execute("UPDATE baselines SET status = 'superseded' WHERE site = ? AND "
                             "status = 'active'", [site])  # fmt: skip
        self.con.execute("INSERT INTO baselines (version, site, status, parent, note, model) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         [version, site, status, parent, note, model.decode()])  # fmt: skip
        return int(version)

    def set_baseline_status(self, version: int, status: str) -> None:
        self._drain()  # type: ignore[attr-defined]
        if status == "active":
            self.con.execute("UPDATE baselines SET status = 'superseded' WHERE status = 'active' "
                             "AND site = (SELECT site FROM baselines WHERE version = ?)", [version])
        self.con.execute("UPDATE baselines SET status = ? WHERE version = ?", [status, version])

    def baseline_versions(self) -> list[dict[str, Any]]:
        self._drain()  # type: ignore[attr-defined]
        cur = self.con.execute(
            "SELECT version, site, status, parent, note, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ') "
            "FROM baselines ORDER BY version")  # fmt: skip
        return [dict(zip(("version", "site", "status", "parent", "note", "created"), r))
                for r in cur.fetchall()]  # fmt: skip

    def baseline_model(self, version: int | None = None, site: str | None = None) -> tuple[int, str, bytes] | None:
        """(version, status, model JSON) of a version, or of the site's active version."""
        self._drain()  # type: ignore[attr-defined]
        if version is not None:
            row = self.con.execute("SELECT version, status, model FROM baselines WHERE version = ?",
                                   [version]).fetchone()  # fmt: skip
        else:
            row = self.con.execute("SELECT version, status, model FROM baselines WHERE status = "
                                   "'active' AND (? IS NULL OR site = ?) ORDER BY version DESC "
                                   "LIMIT 1", [site, site]).fetchone()  # fmt: skip
        return (int(row[0]), row[1], row[2].encode()) if row else None

    def active_baselines(self) -> list[tuple[int, str, bytes]]:
        self._drain()  # type: ignore[attr-defined]
        rows = self.con.execute("SELECT version, site, model FROM baselines WHERE status = 'active' "
                                "ORDER BY version").fetchall()  # fmt: skip
        return [(int(v), s, m.encode()) for v, s, m in rows]

    def put_deviations(self, rows: list[tuple[str, int, str, str, str, str]]) -> None:
        """(alert id, version, site, type, key, detail JSON) of raised deviations."""
        if rows:
            self._drain()  # type: ignore[attr-defined]
            self.con.executemany("INSERT OR REPLACE INTO baseline_deviations (alert_id, version, "
                                 "site, type, key, detail) VALUES (?, ?, ?, ?, ?, ?)", rows)  # fmt: skip

    def deviation(self, alert_id: str) -> dict[str, Any] | None:
        self._drain()  # type: ignore[attr-defined]
        row = self.con.execute("SELECT alert_id, version, site, type, key, detail, approved_in "
                               "FROM baseline_deviations WHERE alert_id = ?", [alert_id]).fetchone()  # fmt: skip
        keys = ("alert_id", "version", "site", "type", "key", "detail", "approved_in")
        return dict(zip(keys, row)) if row else None

    def mark_approved(self, alert_id: str, version: int) -> None:
        self.con.execute("UPDATE baseline_deviations SET approved_in = ? WHERE alert_id = ?",
                         [version, alert_id])  # fmt: skip

    def monitor_state(self, site: str) -> bytes | None:
        self._drain()  # type: ignore[attr-defined]
        row = self.con.execute("SELECT state FROM baseline_state WHERE site = ?", [site]).fetchone()
        return row[0].encode() if row else None

    def put_monitor_state(self, site: str, version: int, state: bytes) -> None:
        self._drain()  # type: ignore[attr-defined]
        self.con.execute("INSERT OR REPLACE INTO baseline_state VALUES (?, ?, ?)",
                         [site, version, state.decode()])  # fmt: skip
