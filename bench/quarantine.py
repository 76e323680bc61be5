"""The quarantine benchmark: move violating rows out of a large table.

guardian's move (plan, then execute: one data-modifying statement with
checksums and keys) is timed against one hand-written transaction, an
``INSERT … SELECT`` into a copy table followed by a ``DELETE``, on the same
table in the same run. Before every timed move the rows are put back and
the table vacuumed and checkpointed, untimed, so each move starts from the
same data and the same WAL state. Both
cases must move exactly the violating rows, or no figure is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from bench.common import (
    BenchError,
    Machine,
    Options,
    Timings,
    bench_database_url,
    machine_facts,
    machine_markdown,
    markdown_table,
    measure,
    milliseconds,
    today,
)
from guardian.checks.suite import load_suite_text
from guardian.quarantine.move import execute_move, plan_move
from guardian.quarantine.spec import QuarantineConfig
from guardian.targets import Target

Log = Callable[[str], None]

TABLE = "bench_moves"
HAND_TABLE = "bench_moves_hand"
QUARANTINE = 'guardian_quarantine."public__bench_moves"'
ONE_IN = 20  # one row in ONE_IN violates the check
GOAL = 1.5

GUARDIAN = "guardian"
HAND = "hand_written"

SUITE = f"""
checks:
  - name: amount_positive
    table: {TABLE}
    kind: range
    column: amount
    min: 0
    on_violation: quarantine
"""
HAND_SQL = (
    f"INSERT INTO {HAND_TABLE} SELECT * FROM {TABLE} WHERE amount < 0; "
    f"DELETE FROM {TABLE} WHERE amount < 0"
)


@dataclass
class Outcome:
    """The figures of one run of the benchmark."""

    options: Options
    machine: Machine
    violating: int
    timings: dict[str, Timings]

    @property
    def ratio(self) -> float:
        """guardian's median divided by the hand-written transaction's."""
        return self.timings[GUARDIAN].median / self.timings[HAND].median


def section_name(rows: int) -> str:
    """The marker name of the section; one section per table size."""
    return f"quarantine-{rows}"


def run(options: Options, log: Log) -> Outcome:
    """Build the table, then time both moves, interleaved."""
    url = bench_database_url(options.server_url, options.database)
    log(f"building {TABLE} with {options.rows:,} rows")
    with psycopg.connect(url, autocommit=True) as conn:
        _build(conn, options.rows)
        violating = _count(conn, f"SELECT count(*) FROM {TABLE} WHERE amount < 0")
    target = Target.from_url(url, "bench")
    config = QuarantineConfig(max_rows=10**9, max_share=1.0)
    check = load_suite_text(SUITE, "bench.yml").checks[0]

    def guardian_case() -> float:
        with psycopg.connect(url, autocommit=True) as conn:
            _restore(conn)
        start = time.perf_counter()
        plan = plan_move(target, "bench", check, violations=violating, config=config)
        moved = execute_move(target, plan, config=config).moved
        seconds = time.perf_counter() - start
        _expect(moved, violating, GUARDIAN)
        return seconds

    def hand_case() -> float:
        with psycopg.connect(url, autocommit=True) as conn:
            _restore(conn)
        with psycopg.connect(url) as conn:
            start = time.perf_counter()
            cursor = conn.execute(HAND_SQL)
            conn.commit()
            seconds = time.perf_counter() - start
            moved = cursor.rowcount
        _expect(moved, violating, HAND)
        return seconds

    try:
        guardian_case()  # creates the quarantine table once, outside the rounds
        timings = measure(
            {GUARDIAN: guardian_case, HAND: hand_case},
            repeats=options.repeats,
            warmups=options.warmups,
            progress=log,
        )
    finally:
        target.dispose()
    return Outcome(options, machine_facts(url), violating, timings)


def _build(conn: psycopg.Connection, rows: int) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}, {HAND_TABLE}")
    conn.execute("DROP SCHEMA IF EXISTS guardian_quarantine CASCADE")
    conn.execute(
        f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, customer_id integer, "
        "amount numeric(12, 2), status text, note text, created_at timestamptz)"
    )
    conn.execute(
        f"INSERT INTO {TABLE} SELECT g, g %% 50000, "
        f"CASE WHEN g %% {ONE_IN} = 0 THEN -1 - g %% 7 ELSE (g %% 9973) / 10.0 END, "
        "(ARRAY['paid', 'shipped', 'pending'])[1 + g %% 3], md5(g::text), "
        "timestamptz '2024-01-01' + g * interval '1 second' "
        "FROM generate_series(1, %s) g",
        (rows,),
    )
    conn.execute(f"CREATE TABLE {HAND_TABLE} (LIKE {TABLE})")
    conn.execute(f"VACUUM ANALYZE {TABLE}")
    # A checkpoint falling inside one case's timing and not the other's is
    # the largest source of noise here; start every case from a fresh one.
    conn.execute("CHECKPOINT")


def _restore(conn: psycopg.Connection) -> None:
    """Put moved rows back, vacuum and checkpoint: each timed move starts alike."""
    columns = "id, customer_id, amount, status, note, created_at"
    exists = conn.execute("SELECT to_regclass(%s)", (QUARANTINE,)).fetchone()
    if exists and exists[0] is not None:
        conn.execute(
            f"INSERT INTO {TABLE} SELECT {columns} FROM {QUARANTINE} "
            "WHERE guardian_status = 'held'"
        )
        conn.execute(f"TRUNCATE {QUARANTINE}")
    conn.execute(f"INSERT INTO {TABLE} SELECT * FROM {HAND_TABLE}")
    conn.execute(f"TRUNCATE {HAND_TABLE}")
    conn.execute(f"VACUUM ANALYZE {TABLE}")
    # A checkpoint falling inside one case's timing and not the other's is
    # the largest source of noise here; start every case from a fresh one.
    conn.execute("CHECKPOINT")


def _count(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _expect(moved: int, violating: int, case: str) -> None:
    if moved != violating:
        raise BenchError(f"{case} moved {moved} rows, not the {violating} violating")


def render(outcome: Outcome) -> str:
    """The section of BENCHMARKS.md."""
    options = outcome.options
    rows = [
        [label, milliseconds(t.median), f"{milliseconds(t.low)}-{milliseconds(t.high)}"]
        for label, t in (
            ("guardian: plan + move", outcome.timings[GUARDIAN]),
            ("hand-written INSERT … SELECT + DELETE", outcome.timings[HAND]),
        )
    ]
    verdict = "met" if outcome.ratio <= GOAL else "missed"
    return "\n\n".join(
        [
            f"## Quarantine: move {outcome.violating:,} of {options.rows:,} rows",
            f"Measured {today()} with `{options.command}`: {options.warmups} "
            f"warm-up round, then {options.repeats} rounds, each case once per "
            "round in a rotating order; the moved rows are put back and the "
            "table vacuumed and checkpointed before every move, untimed. Times in "
            "milliseconds: "
            "median and range.",
            machine_markdown(outcome.machine),
            markdown_table(["case", "median", "range"], rows),
            f"guardian ÷ hand-written: **{outcome.ratio:.2f} times** (goal: at "
            f"most {GOAL} times, {verdict}).",
            "guardian's move is `plan_move` (reflection, foreign keys pointing "
            "at the table, the table's size for the budget) and `execute_move`: "
            "a check that the table did not change, then one statement "
            "`WITH moved AS (DELETE … RETURNING *) INSERT INTO quarantine "
            "SELECT …, hash of the row, json key FROM moved`, in one "
            "transaction. What makes it cheap: the checksum is "
            "`hash_record_extended` of the row, not an md5 of its text "
            "(printing numbers and timestamps as text is slow); the quarantine "
            "id has a block-range index, not a B-tree entry per row; and the "
            "fields every row of a move shares (suite, check, run, reason, "
            "time, mode) are written once, to `guardian_batches`, so each "
            "quarantine row carries only a batch id, which cuts the WAL the "
            "insert writes by a third. "
            "The hand-written case is `" + HAND_SQL + "` in one transaction, "
            "into a table without guardian's columns.",
        ]
    )
