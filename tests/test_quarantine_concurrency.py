"""PostgreSQL: concurrent movers, a concurrent writer, a connection lost mid-move."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from guardian.errors import QuarantineError
from guardian.quarantine.move import execute_move, plan_move
from guardian.targets import Target
from tests.quarantine_support import OPEN, suite

pytestmark = pytest.mark.postgres

CHECK = suite(
    """
checks:
  - name: positive
    table: items
    kind: range
    column: qty
    min: 0
    on_violation: quarantine
"""
).checks[0]


def _fill(conn: psycopg.Connection, rows: int) -> None:
    conn.execute("create table items (id integer primary key, qty integer)")
    conn.execute(
        "insert into items select g, case when g %% 4 = 0 then -g else g end "
        "from generate_series(1, %s) g",
        (rows,),
    )


def _move(url: str) -> int:
    target = Target.from_url(url)
    try:
        plan = plan_move(target, "s", CHECK, config=OPEN)
        return execute_move(target, plan, config=OPEN).moved
    finally:
        target.dispose()


def _places(conn: psycopg.Connection) -> list[int]:
    source = [r[0] for r in conn.execute("select id from items")]
    held = [
        r[0]
        for r in conn.execute(
            "select id from guardian_quarantine.public__items "
            "where guardian_status = 'held'"
        )
    ]
    return sorted(source + held)


def test_two_movers_put_each_row_in_quarantine_once(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    _fill(pg_conn, 4000)
    _move(pg_url)  # creates the quarantine table, so both racers only move
    pg_conn.execute("update items set qty = -qty where id % 5 = 0 and qty > 0")

    with ThreadPoolExecutor(2) as pool:
        moved = list(pool.map(_move, [pg_url, pg_url]))

    assert sum(moved) == 800 - 200  # ids divisible by 5 but not by 4
    assert _places(pg_conn) == list(range(1, 4001))


def test_concurrent_writer_loses_and_duplicates_nothing(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    _fill(pg_conn, 2000)
    stop = threading.Event()
    inserted: list[int] = []

    def writer() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            next_id = 10_000
            while not stop.is_set():
                conn.execute(
                    "update items set qty = -qty where id in "
                    "(select id from items order by random() limit 20)"
                )
                conn.execute("insert into items values (%s, %s)", (next_id, -next_id))
                inserted.append(next_id)
                next_id += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(6):
            _move(pg_url)
    finally:
        stop.set()
        thread.join()

    assert _places(pg_conn) == sorted([*range(1, 2001), *inserted])


def test_connection_lost_mid_move_rolls_back(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    _fill(pg_conn, 100)
    target = Target.from_url(pg_url)
    plan = plan_move(target, "s", CHECK, config=OPEN)
    blocker = psycopg.connect(pg_url)
    blocker.execute("select * from items where id = 4 for update")
    errors: list[Exception] = []

    def mover() -> None:
        try:
            execute_move(target, plan, config=OPEN)
        except QuarantineError as exc:
            errors.append(exc)

    thread = threading.Thread(target=mover)
    thread.start()
    pid = _waiting_backend(pg_conn)
    pg_conn.execute("select pg_terminate_backend(%s)", (pid,))
    thread.join()
    blocker.rollback()
    blocker.close()

    assert len(errors) == 1
    assert "connection lost" in errors[0].message
    assert "nothing was moved" in errors[0].message
    assert pg_conn.execute("select count(*) from items").fetchone() == (100,)
    held = "select count(*) from guardian_quarantine.public__items"
    assert pg_conn.execute(held).fetchone() == (0,)

    plan = plan_move(target, "s", CHECK, config=OPEN)
    assert execute_move(target, plan, config=OPEN).moved == 25
    target.dispose()


def _waiting_backend(conn: psycopg.Connection) -> int:
    """The pid of guardian's backend once it waits for the blocked row."""
    for _ in range(400):
        row = conn.execute(
            "select pid from pg_stat_activity where application_name = 'guardian' "
            "and wait_event_type = 'Lock'"
        ).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.01)
    raise AssertionError("the move never waited for the locked row")
