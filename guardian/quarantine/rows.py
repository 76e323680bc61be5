"""SQL expressions over one row: its checksum and its key, per dialect.

The checksum is an md5 of a canonical text of the row's values in column
order: PostgreSQL's text form of the row value there, SQLite's ``quote()``
of each value joined by commas here (through a function registered on the
connection, as SQLite has no md5). It tells whether a held row was changed
in quarantine; it is compared only within one database.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

SQLITE_MD5 = "guardian_md5"


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


def checksum(dialect: str, values: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    """The checksum of the row whose values are ``values``, in column order."""
    if dialect == "postgresql":
        row = sa.func.row(*values)
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
