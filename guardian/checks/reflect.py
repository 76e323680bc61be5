"""The target's tables as SQLAlchemy sees them, reflected once per run.

Checks name tables and columns exactly as the catalog spells them. When a
name is wrong, the message says which one and suggests the closest real
name, because a typo in a suite is by far the most common mistake.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Inspector
from sqlalchemy.exc import NoSuchTableError

from guardian.checks.names import quote_part, split_table_name
from guardian.errors import SuiteError


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` was most likely meant to be, if any is close."""
    candidates = list(known)
    same_case = [k for k in candidates if k.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def suggestion(name: str, known: Iterable[str], prefix: str = "") -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
    close = closest(name, known)
    return f" (did you mean '{prefix}{close}'?)" if close else ""


def column(table: sa.Table, name: str) -> sa.Column[object]:
    """The column ``name`` of ``table``; SuiteError with a suggestion if absent."""
    found = table.c.get(name)
    if found is None:
        raise SuiteError(
            f"column {name!r} not found in table {display_name(table)}"
            + suggestion(name, table.c.keys())
        )
    return found


def columns(table: sa.Table, names: Iterable[str]) -> list[sa.Column[object]]:
    """Every named column of ``table``, in the order given."""
    return [column(table, name) for name in names]


def display_name(table: sa.Table) -> str:
    """``schema.table`` or ``table``, quoted only where a dot makes it ambiguous."""
    if table.schema:
        return f"{quote_part(table.schema)}.{quote_part(table.name)}"
    return quote_part(table.name)


class Catalog:
    """Reflected tables of one target, cached by name for the length of a run.

    Reflection happens on the connection given to :meth:`load`, up front, so
    that worker threads only read the cache. Missing tables are remembered
    with their message and raised again each time they are asked for.

    With ``light`` true only what the check engine reads is reflected: the
    columns with their types, and the primary key. That is a fraction of a
    full reflection's catalog queries (no foreign keys, indexes, constraints
    or comments), which matters because it happens on every run.
    """

    def __init__(self, *, light: bool = False) -> None:
        # Keyed by (schema, table) so that two spellings of one name, such as
        # '"s"."t"' and 's.t', share one entry as they share one table.
        self._tables: dict[tuple[str, ...], sa.Table] = {}
        self._missing: dict[tuple[str, ...], str] = {}
        self._metadata = sa.MetaData()
        self._lock = threading.Lock()
        self._light = light

    def load(self, conn: Connection, names: Iterable[str]) -> None:
        """Reflect every table in ``names`` not seen before."""
        inspector = sa.inspect(conn) if self._light else None
        for name in names:
            key = tuple(split_table_name(name))
            with self._lock:
                known = key in self._tables or key in self._missing
            if not known:
                self._reflect(conn, inspector, name)

    def table(self, name: str) -> sa.Table:
        """The reflected table ``name``; SuiteError if it does not exist."""
        key = tuple(split_table_name(name))
        with self._lock:
            if key in self._missing:
                raise SuiteError(self._missing[key])
            if key not in self._tables:
                raise SuiteError(f"table {name!r} was not reflected")
            return self._tables[key]

    def _reflect(
        self, conn: Connection, inspector: Inspector | None, name: str
    ) -> None:
        parts = split_table_name(name)
        schema, table_name = (None, parts[0]) if len(parts) == 1 else parts
        missing = _missing_sqlite_schema(conn, schema, name)
        table = None
        if missing is None:
            try:
                table = self._table(conn, inspector, schema, table_name)
            except NoSuchTableError:
                missing = _missing_table_message(conn, schema, table_name, name)
        key = tuple(parts)
        with self._lock:
            if table is None:
                self._missing[key] = missing or f"table {name!r} does not exist"
            else:
                self._tables[key] = table

    def _table(
        self,
        conn: Connection,
        inspector: Inspector | None,
        schema: str | None,
        name: str,
    ) -> sa.Table:
        if inspector is None:
            return sa.Table(name, self._metadata, schema=schema, autoload_with=conn)
        found = inspector.get_columns(name, schema=schema)
        primary = inspector.get_pk_constraint(name, schema=schema)
        keys = set(primary.get("constrained_columns") or [])
        columns = [
            sa.Column(c["name"], c["type"], primary_key=c["name"] in keys)
            for c in found
        ]
        return sa.Table(name, self._metadata, *columns, schema=schema)


def _missing_sqlite_schema(
    conn: Connection, schema: str | None, written: str
) -> str | None:
    """Why a SQLite table's schema cannot be read, or None when it can.

    SQLite reads a schema as the name of an attached database and fails the
    whole statement ("unknown database") when there is none; that is a
    problem of the check, not of the connection.
    """
    if schema is None or conn.dialect.name != "sqlite":
        return None
    attached = [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]
    if schema in attached or schema == "temp":
        return None
    return (
        f"schema {schema!r} of table {written!r} does not exist (a SQLite "
        "database has only main, temp and attached databases)"
        + suggestion(schema, attached)
    )


def _missing_table_message(
    conn: Connection, schema: str | None, table_name: str, written: str
) -> str:
    inspector = sa.inspect(conn)
    if schema is not None and schema not in inspector.get_schema_names():
        return f"schema {schema!r} of table {written!r} does not exist" + suggestion(
            schema, inspector.get_schema_names()
        )
    known = [
        *inspector.get_table_names(schema=schema),
        *inspector.get_view_names(schema=schema),
    ]
    if conn.dialect.name == "postgresql":
        known.extend(inspector.get_materialized_view_names(schema=schema))
    prefix = f"{quote_part(schema)}." if schema is not None else ""
    return f"table {written!r} does not exist" + suggestion(table_name, known, prefix)
