"""Rows that hold others in place: foreign keys pointing at a table."""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.checks.reflect import display_name


@dataclass(frozen=True)
class Reference:
    """A foreign key of ``child`` (``columns``) onto ``parent``'s ``parent_columns``."""

    child: sa.Table
    columns: tuple[str, ...]
    parent_columns: tuple[str, ...]
    parent: sa.Table | None = None

    @property
    def label(self) -> str:
        """``child(columns)`` for reports."""
        return f"{display_name(self.child)}({', '.join(self.columns)})"

    def matches(self, parent: sa.FromClause) -> sa.ColumnElement[bool]:
        """Child rows referencing the row of ``parent`` in the enclosing query."""
        return sa.and_(
            *(
                self.child.c[c] == parent.c[p]
                for c, p in zip(self.columns, self.parent_columns, strict=True)
            )
        )


def references_to(conn: Connection, table: sa.Table) -> list[Reference]:
    """Every foreign key, in any table of the table's schema, pointing at it."""
    inspector = sa.inspect(conn)
    schema = table.schema
    found: list[Reference] = []
    metadata = sa.MetaData()
    for name in _candidates(conn, table):
        for fk in inspector.get_foreign_keys(name, schema=schema):
            if fk["referred_table"] != table.name:
                continue
            if (fk.get("referred_schema") or schema) != schema:
                continue
            child = sa.Table(name, metadata, schema=schema, autoload_with=conn)
            found.append(
                Reference(
                    child,
                    tuple(fk["constrained_columns"]),
                    tuple(fk["referred_columns"]),
                )
            )
    return found


def reference_tree(conn: Connection, table: sa.Table) -> list[Reference]:
    """Every foreign key on the way down from ``table``: children, grandchildren…

    Breadth first, each table visited once, so a table that references
    itself (or a cycle of tables) ends the walk instead of looping.
    """
    seen = {table_key(table)}
    waiting = [table]
    found: list[Reference] = []
    while waiting:
        parent = waiting.pop(0)
        for ref in references_to(conn, parent):
            found.append(replace(ref, parent=parent))
            key = table_key(ref.child)
            if key not in seen:
                seen.add(key)
                waiting.append(ref.child)
    return found


def table_key(table: sa.Table) -> tuple[str | None, str]:
    """A table's identity across reflections: schema and name."""
    return (table.schema, table.name)


def _candidates(conn: Connection, table: sa.Table) -> list[str]:
    """Names of the tables of the schema that may reference ``table``.

    PostgreSQL answers from pg_constraint in one query; SQLite has no such
    catalog, so every table there is a candidate.
    """
    if conn.dialect.name != "postgresql":
        return list(sa.inspect(conn).get_table_names(schema=table.schema))
    quote = conn.dialect.identifier_preparer.quote_identifier
    name = quote(table.name)
    if table.schema:
        name = f"{quote(table.schema)}.{name}"
    query = sa.text(
        "SELECT DISTINCT c.relname FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE k.contype = 'f' AND k.confrelid = to_regclass(:name)"
    )
    return [str(n) for n in conn.execute(query, {"name": name}).scalars()]
