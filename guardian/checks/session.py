"""Read-only sessions on a target: how guardian reads without disturbing it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.targets import Target


@contextmanager
def read_only(conn: Connection, target: Target) -> Iterator[None]:
    """A read-only transaction with the target's timeouts, always rolled back.

    PostgreSQL: REPEATABLE READ so that counts and samples agree, with
    statement_timeout, lock_timeout and the time zone set local to the
    transaction. SQLite: query_only for the connection, restored afterwards,
    and an explicit BEGIN so that every read of the block sees one snapshot.
    """
    if target.dialect == "postgresql":
        _begin_postgresql(conn, target)
        try:
            yield
        finally:
            conn.rollback()
        return

    conn.exec_driver_sql("PRAGMA query_only = ON")
    try:
        conn.exec_driver_sql("BEGIN")
        yield
    finally:
        conn.rollback()
        conn.exec_driver_sql("PRAGMA query_only = OFF")
        conn.commit()


def _begin_postgresql(conn: Connection, target: Target) -> None:
    options = target.options
    # Must be the first statement of the transaction, which SQLAlchemy has
    # only just begun: the connection is fresh or was rolled back.
    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    settings = {
        "statement_timeout": _millis(options.statement_timeout.total_seconds()),
        "lock_timeout": _millis(options.lock_timeout.total_seconds()),
        # Naive timestamps compared with aware bounds are read in this zone.
        "TimeZone": options.timezone,
    }
    calls = [sa.func.set_config(name, value, True) for name, value in settings.items()]
    conn.execute(sa.select(*calls))


def _millis(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))
