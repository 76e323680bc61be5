"""The hand-written SQL that guardian's check runs are compared with.

Three ways to answer the suite's question without guardian, each over one
psycopg connection in autocommit mode:

- :meth:`HandWritten.one_scan`: every predicate as ``count(*) FILTER (WHERE
  …)`` in a single query, then the keys of each failing check: the floor;
- :meth:`HandWritten.separate`: one count query per check, then the keys of
  each failing check;
- :meth:`HandWritten.bare_count`: ``SELECT count(*)``, what the scan alone
  costs.

Counts come back as ``{check name: violating rows}``, the row count check
as 0 or 1 like guardian's, so that every case can be compared.
"""

from __future__ import annotations

from types import TracebackType

import psycopg

from bench.orders import CHECKS, KEY, SAMPLE_SIZE, TABLE, BenchCheck

Counts = dict[str, int]


def one_scan_sql() -> str:
    """The floor's single query: the row count and every predicate's count."""
    columns = [f"count(*) AS {_row_count_check().name}"]
    columns += [
        f"count(*) FILTER (WHERE {c.violation}) AS {c.name}"
        for c in CHECKS
        if c.violation is not None
    ]
    return f"SELECT {', '.join(columns)}\nFROM {TABLE}"


def count_sql(check: BenchCheck) -> str:
    """One check's own count query."""
    if check.violation is None:
        return f"SELECT count(*) FROM {TABLE}"
    return f"SELECT count(*) FROM {TABLE} WHERE {check.violation}"


def keys_sql(check: BenchCheck) -> str:
    """The sample of keys of one failing check, as many as guardian keeps."""
    return (
        f"SELECT {KEY} FROM {TABLE} WHERE {check.violation} "
        f"ORDER BY {KEY} LIMIT {SAMPLE_SIZE}"
    )


def _row_count_check() -> BenchCheck:
    (check,) = [c for c in CHECKS if c.violation is None]
    return check


def _row_count_violated(rows: int) -> int:
    return 0 if rows >= 1 else 1


class HandWritten:
    """A connection that runs the hand-written queries."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)

    def one_scan(self) -> Counts:
        """The floor: one scan for all counts, then keys for failing checks."""
        row = self._conn.execute(one_scan_sql()).fetchone()
        assert row is not None
        counts = dict(zip([c.name for c in _ordered()], row, strict=True))
        counts[_row_count_check().name] = _row_count_violated(
            counts[_row_count_check().name]
        )

        self._fetch_keys(counts)
        return counts

    def separate(self) -> Counts:
        """One query per check, then keys for the failing ones."""
        counts: Counts = {}
        for check in CHECKS:
            row = self._conn.execute(count_sql(check)).fetchone()
            assert row is not None
            value = int(row[0])
            counts[check.name] = (
                _row_count_violated(value) if check.violation is None else value
            )

        self._fetch_keys(counts)
        return counts

    def bare_count(self) -> int:
        """``SELECT count(*)`` of the table."""
        row = self._conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        assert row is not None
        return int(row[0])

    def _fetch_keys(self, counts: Counts) -> None:
        for check in CHECKS:
            if check.violation is not None and counts[check.name] > 0:
                keys = self._conn.execute(keys_sql(check)).fetchall()
                assert len(keys) == min(SAMPLE_SIZE, counts[check.name])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> HandWritten:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _ordered() -> list[BenchCheck]:
    """Checks in the column order of :func:`one_scan_sql`."""
    return [_row_count_check()] + [c for c in CHECKS if c.violation is not None]
