"""SQL expressions over one row: its checksum and its key, per dialect.

The checksum tells whether a row changed; it is compared only within one
database, between rows of the same table. On PostgreSQL it is the 64-bit
hash of the row value (``hash_record_extended``, 16 hex digits), which costs a
fraction of an md5 of the row's text: the text form of numbers and
timestamps is what makes md5 slow on large moves. Values that the type
deems equal hash alike (``1.0`` and ``1.00`` as numeric). A table with a
column type that has no hash function (json, point, xml) falls back to an
md5 of the row's text form. SQLite has neither: there it is an md5 of each
value's ``quote()`` joined by commas, through a function registered on the
connection.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

SQLITE_MD5 = "guardian_md5"
UNDEFINED_FUNCTION = "42883"  # SQLSTATE of a type without a hash function


def prepare(conn: Connection) -> None:
    """Register the functions the expressions here need (SQLite only)."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    raw.create_function(SQLITE_MD5, 1, _md5, deterministic=True)


def _md5(text: str | None) -> str | None:
    if text is None:
        return None
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def hashable(conn: Connection, table: sa.Table) -> bool:
    """True when every column type of ``table`` has a hash function (PostgreSQL).

    Asked once per connection and table shape: a row of NULLs of the
    table's type is hashed inside a savepoint, which fails for a type
    without one.
    """
    if conn.dialect.name != "postgresql":
        return False
    shape = (table.schema, table.name, tuple(str(c.type) for c in table.columns))
    known: dict[Any, bool] = conn.info.setdefault("guardian_hashable", {})
    if shape in known:
        return known[shape]

    quote = conn.dialect.identifier_preparer.quote_identifier
    name = quote(table.name)
    if table.schema:
        name = f"{quote(table.schema)}.{name}"
    probe = f"SELECT hash_record_extended(t, 0) FROM (SELECT (NULL::{name}).*) AS t"
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(probe)
        known[shape] = True
    except DBAPIError as exc:
        # Only "no such function" answers the question; a timeout or a lost
        # connection must not switch the table to the other checksum.
        if getattr(exc.orig, "sqlstate", None) != UNDEFINED_FUNCTION:
            raise
        known[shape] = False
    return known[shape]


def checksum(
    dialect: str, values: Sequence[ColumnElement[Any]], *, hashed: bool = False
) -> ColumnElement[str]:
    """The checksum of the row whose values are ``values``, in column order.

    ``hashed`` (PostgreSQL, see :func:`hashable`) picks the row hash over
    the md5 of the row's text; the same table must always get the same.
    """
    if dialect == "postgresql":
        row = sa.func.row(*values)
        if hashed:
            digest = sa.func.to_hex(sa.func.hash_record_extended(row, 0))
            return sa.func.lpad(digest, 16, "0")
        return sa.func.md5(sa.cast(row, sa.Text))
    quoted = [sa.func.quote(v) for v in values]
    joined: ColumnElement[Any] = quoted[0]
    for part in quoted[1:]:
        joined = joined.op("||")(sa.literal(",")).op("||")(part)
    return getattr(sa.func, SQLITE_MD5)(joined)  # type: ignore[no-any-return]


def key_json(
    dialect: str, names: Sequence[str], values: Sequence[ColumnElement[Any]]
) -> ColumnElement[str]:
    """The row's key as JSON text: ``{"column": value, …}``."""
    pairs: list[Any] = []
    for name, value in zip(names, values, strict=True):
        pairs.extend([sa.literal(name, sa.Text), value])
    if dialect == "postgresql":
        return sa.cast(sa.func.json_build_object(*pairs), sa.Text)
    return sa.func.json_object(*pairs)
