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
    """Every foreign key, in any table of any schema, pointing at ``table``.

    A referencing table in another schema is reflected with its schema, so
    that PostgreSQL never cascades a delete (or sets a column to NULL) in a
    table the move did not see.
    """
    metadata = sa.MetaData()
    found: list[Reference] = []
    for key in _foreign_keys(conn, table):
        child = sa.Table(key.name, metadata, schema=key.schema, autoload_with=conn)
        found.append(Reference(child, key.columns, key.parent_columns))
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


@dataclass(frozen=True)
class _ForeignKey:
    schema: str | None
    name: str
    columns: tuple[str, ...]
    parent_columns: tuple[str, ...]


def _foreign_keys(conn: Connection, table: sa.Table) -> list[_ForeignKey]:
    """The foreign keys onto ``table``, each with its table's schema and name.

    PostgreSQL answers from pg_constraint, across every schema, leaving out
    the clones of a partitioned table's key on each partition (their
    ``conparentid`` names the key they copy): the partitioned table's key
    covers the partitions' rows, and walking a clone too would count them
    twice. SQLite has no such catalog (nor other schemas a key could come
    from), so every table of the schema is asked.
    """
    if conn.dialect.name != "postgresql":
        return _sqlite_foreign_keys(conn, table)
    quote = conn.dialect.identifier_preparer.quote_identifier
    name = quote(table.name)
    if table.schema:
        name = f"{quote(table.schema)}.{name}"
    query = sa.text(
        "SELECT n.nspname, c.relname, "
        "ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY "
        "AS u(num, pos) JOIN pg_attribute a ON a.attrelid = k.conrelid "
        "AND a.attnum = u.num ORDER BY u.pos), "
        "ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY "
        "AS u(num, pos) JOIN pg_attribute a ON a.attrelid = k.confrelid "
        "AND a.attnum = u.num ORDER BY u.pos), "
        "p.nspname "
        "FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_class pc ON pc.oid = k.confrelid "
        "JOIN pg_namespace p ON p.oid = pc.relnamespace "
        "WHERE k.contype = 'f' AND k.confrelid = to_regclass(:name) "
        "AND k.conparentid = 0 "
        "ORDER BY n.nspname, c.relname, k.conname"
    )
    found = []
    for schema, relname, columns, parent_columns, parent_schema in conn.execute(
        query, {"name": name}
    ):
        # A child in the parent's own schema is named the way the parent is
        # (unqualified when the suite named the parent so), as reports show it.
        same = schema == parent_schema
        found.append(
            _ForeignKey(
                table.schema if same else str(schema),
                str(relname),
                tuple(str(c) for c in columns),
                tuple(str(c) for c in parent_columns),
            )
        )
    return found


def _sqlite_foreign_keys(conn: Connection, table: sa.Table) -> list[_ForeignKey]:
    inspector = sa.inspect(conn)
    schema = table.schema
    found = []
    for name in inspector.get_table_names(schema=schema):
        for fk in inspector.get_foreign_keys(name, schema=schema):
            if fk["referred_table"] != table.name:
                continue
            if (fk.get("referred_schema") or schema) != schema:
                continue
            found.append(
                _ForeignKey(
                    schema,
                    name,
                    tuple(fk["constrained_columns"]),
                    tuple(fk["referred_columns"]),
                )
            )
    return found
