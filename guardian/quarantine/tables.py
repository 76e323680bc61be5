"""The quarantine schema: one quarantine table per source table, and a registry.

A quarantine table has the source table's columns with the same types, all
nullable and without constraints (a held row must fit even if it breaks
them), followed by guardian's own columns, all named ``guardian_*``.
Quarantine ids come from one counter per target, so an id names one held
row across every quarantine table. A move takes a block of ids under a
lock on the counter's row: cheaper per row than a sequence, and it makes
concurrent moves on one target take turns.

PostgreSQL: the schema (``guardian_quarantine`` by default) holds the
tables ``<source schema>__<source table>``, the registry ``guardian_tables``,
the batches ``guardian_batches`` (one row per move: suite, check, run,
reason, time, mode) and the counter ``guardian_ids``; PUBLIC gets no
privilege, the configured read roles get USAGE and SELECT. SQLite has no
schemas: quarantine tables are ``<schema>__<source table>`` in the same
file (so a move stays one transaction), with ``<schema>_tables``,
``<schema>_batches`` and ``<schema>_ids`` beside them.

The registry says which source each quarantine table holds; it is read,
never the table's name, to map one to the other. A source whose natural
name is taken by another source (``"a__b".c`` and ``a."b__c"``), or too
long, gets the name cut short plus a hash of its schema and name. When a
source column's type changes (integer widened to bigint), its quarantine
table's column follows before the next move.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.checks.reflect import display_name
from guardian.errors import QuarantineError
from guardian.quarantine.spec import QuarantineConfig

# Statuses of a row in a quarantine table.
HELD = "held"  # moved out of the source, waiting
HELD_IN_PLACE = "held_in_place"  # referenced by other rows: copied, not moved
COPIED = "copied"  # copy mode: the row stayed, this is a flagged copy
RELEASED = "released"
DISMISSED = "dismissed"  # a copy let go: its row never left the table
PURGED = "purged"
WAITING = (HELD, HELD_IN_PLACE, COPIED)

PG_NAME_LIMIT = 63


def meta_columns(dialect: str = "sqlite") -> list[sa.Column[object]]:
    """guardian's columns of every quarantine table, in table order.

    What is the same for every row of one move (the suite, check, run,
    reason, time and mode) is kept once, in the batches table, and each row
    names its batch: narrower rows make a large move write less.

    On PostgreSQL the id is not a primary key but carries a block-range
    (BRIN) index: ids only grow, so that index finds an id almost as fast,
    and a move of many rows does not pay for a B-tree entry per row. Ids
    are unique all the same: they are taken under the lock of the counter.
    """
    text, big, moment = sa.Text(), sa.BigInteger(), sa.DateTime(timezone=True)
    keyed = dialect != "postgresql"
    return [
        sa.Column(
            "guardian_id",
            big,
            primary_key=keyed,
            nullable=False,
            autoincrement=False,
        ),
        sa.Column("guardian_batch", big, nullable=False),
        sa.Column("guardian_status", text, nullable=False),
        sa.Column("guardian_key", text),
        sa.Column("guardian_checksum", text, nullable=False),
        sa.Column("guardian_dependent_of", big),
        sa.Column("guardian_held_by", text),
        sa.Column("guardian_changed_at", moment),
    ]


META_NAMES = tuple(c.name for c in meta_columns())

# The batch's fields as read_entries labels them next to a row's columns.
BATCH_LABELS = (
    "guardian_batch_name",
    "guardian_suite",
    "guardian_check",
    "guardian_run_id",
    "guardian_reason",
    "guardian_at",
    "guardian_mode",
)
RESERVED = META_NAMES + BATCH_LABELS


@dataclass(frozen=True)
class Place:
    """Where a target's quarantine lives: the schema name and the dialect."""

    dialect: str
    schema: str = "guardian_quarantine"

    @classmethod
    def of(cls, dialect: str, config: QuarantineConfig | None = None) -> Place:
        """The place for a dialect and the ``quarantine:`` configuration."""
        return cls(dialect, (config or QuarantineConfig()).schema_name)

    @property
    def db_schema(self) -> str | None:
        """The database schema of quarantine tables, None on SQLite."""
        return self.schema if self.dialect == "postgresql" else None

    def table_name(self, source: sa.Table, schema: str | None = None) -> str:
        """The natural name of ``source``'s quarantine table.

        ``schema`` is the schema the source table is in (see
        :func:`source_schema`), when the source was named without one. Two
        sources can share a natural name (``"a__b".c`` and ``a."b__c"``),
        and a long one does not fit PostgreSQL's limit: the name actually
        used comes from :func:`quarantine_name`.
        """
        if self.dialect == "postgresql":
            return f"{source.schema or schema or 'public'}__{source.name}"
        return f"{self.schema}__{source.name}"

    def registry(self, metadata: sa.MetaData) -> sa.Table:
        """The registry table: which source table each quarantine table holds."""
        name = "guardian_tables" if self.db_schema else f"{self.schema}_tables"
        existing = metadata.tables.get(
            f"{self.db_schema}.{name}" if self.db_schema else name
        )
        if existing is not None:
            return existing
        return sa.Table(
            name,
            metadata,
            sa.Column("quarantine_table", sa.Text, primary_key=True),
            sa.Column("source_schema", sa.Text),
            sa.Column("source_table", sa.Text, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            schema=self.db_schema,
        )

    def batches(self, metadata: sa.MetaData) -> sa.Table:
        """The batches table: one row per move, shared by the rows it took."""
        name = "guardian_batches" if self.db_schema else f"{self.schema}_batches"
        existing = metadata.tables.get(
            f"{self.db_schema}.{name}" if self.db_schema else name
        )
        if existing is not None:
            return existing
        text, moment = sa.Text(), sa.DateTime(timezone=True)
        return sa.Table(
            name,
            metadata,
            sa.Column("batch_id", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("batch", text, nullable=False, unique=True),
            sa.Column("suite", text),
            sa.Column("check_name", text),
            sa.Column("run_id", sa.BigInteger),
            sa.Column("reason", text),
            sa.Column("at", moment, nullable=False),
            sa.Column("mode", text, nullable=False),
            schema=self.db_schema,
        )

    def id_table(self, metadata: sa.MetaData) -> sa.Table:
        """The one-row table holding the next quarantine id."""
        name = "guardian_ids" if self.db_schema else f"{self.schema}_ids"
        key = f"{self.db_schema}.{name}" if self.db_schema else name
        existing = metadata.tables.get(key)
        if existing is not None:
            return existing
        return sa.Table(
            name, metadata, sa.Column("next_id", sa.BigInteger), schema=self.db_schema
        )


@dataclass(frozen=True)
class Registered:
    """A quarantine table and the source table it holds rows of."""

    quarantine_table: str
    source_schema: str | None
    source_table: str

    @property
    def source_display(self) -> str:
        """The source table as a suite names it."""
        if self.source_schema:
            return f"{self.source_schema}.{self.source_table}"
        return self.source_table


def quarantine_name(
    conn: Connection, place: Place, source: sa.Table, schema: str | None
) -> tuple[str, bool]:
    """The quarantine table of ``source`` and whether the registry has it.

    The registry is the one truth of which source a quarantine table holds:
    a source it knows keeps its table. A new source gets the natural name
    when that is free and fits, else the natural name cut short plus a hash
    of the source's schema and name, so that no two sources share a table.
    """
    known = registered(conn, place)
    for entry in known:
        if entry.source_table == source.name and _same_schema(
            conn, entry.source_schema, entry.source_table, schema
        ):
            return entry.quarantine_table, True

    natural = place.table_name(source, schema)
    taken = {entry.quarantine_table for entry in known}
    fits = place.dialect != "postgresql" or len(natural.encode()) <= PG_NAME_LIMIT
    exists = sa.inspect(conn).has_table(natural, schema=place.db_schema)
    if fits and natural not in taken and not exists:
        return natural, False
    digest = hashlib.sha256(f"{schema or ''}\0{source.name}".encode()).hexdigest()
    suffix = f"__{digest[:10]}"
    head = natural.encode()[: PG_NAME_LIMIT - len(suffix)].decode("utf-8", "ignore")
    return head + suffix, False


def _same_schema(
    conn: Connection, recorded: str | None, table: str, schema: str | None
) -> bool:
    """Whether a registry row's source schema is ``schema``.

    The registry keeps the schema as the suite named it: none means the
    schema the search path finds the table in.
    """
    if recorded is None and conn.dialect.name == "postgresql":
        quote = conn.dialect.identifier_preparer.quote_identifier
        found = conn.execute(
            sa.text(
                "SELECT n.nspname FROM pg_class AS c "
                "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                "WHERE c.oid = to_regclass(:name)"
            ),
            {"name": quote(table)},
        ).scalar()
        return found is not None and str(found) == schema
    return recorded == schema


def ensure_place(conn: Connection, place: Place, roles: Sequence[str]) -> None:
    """Create the schema, registry and id source if missing.

    Takes the lock that makes two guardians creating them take turns (an
    advisory lock on PostgreSQL, the write lock on SQLite) and leaves the
    transaction open, for the caller to create its table under the same
    lock and commit.
    """
    metadata = sa.MetaData()
    _serialize_ddl(conn, place)
    if place.dialect == "postgresql":
        quoted = _quote(conn, place.schema)
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {quoted} FROM PUBLIC")
        for role in roles:
            conn.exec_driver_sql(
                f"GRANT USAGE ON SCHEMA {quoted} TO {_quote(conn, role)}"
            )
    ids = place.id_table(metadata)
    if not sa.inspect(conn).has_table(ids.name, schema=place.db_schema):
        ids.create(conn)
        conn.execute(sa.insert(ids).values(next_id=1))
    place.registry(metadata).create(conn, checkfirst=True)
    place.batches(metadata).create(conn, checkfirst=True)


def ensure_table(
    conn: Connection, place: Place, source: sa.Table, roles: Sequence[str]
) -> sa.Table:
    """The quarantine table of ``source``: created on first use, then kept in step.

    Columns the source gained since are added (NULL for rows already held).
    Commits its own transaction, before any row moves.
    """
    schema = source_schema(conn, source)
    clash = [c.name for c in source.columns if c.name in RESERVED]
    if clash:
        raise QuarantineError(
            f"table {display_name(source)} has columns named like guardian's own "
            f"quarantine columns: {', '.join(clash)}; cannot quarantine its rows"
        )
    name, known = quarantine_name(conn, place, source, schema)
    ready = _ready(conn, place, name, source, schema) if known else None
    if ready is not None:
        if _grant_missing(conn, place, name, roles):
            conn.commit()
        return ready

    ensure_place(conn, place, roles)
    # Under the lock now: another guardian may have registered it meanwhile.
    name, known = quarantine_name(conn, place, source, schema)
    if known:
        _add_missing_columns(conn, place, name, source)
        _follow_types(conn, place, name, source, schema)
    else:
        _create(conn, place, name, source)
    _grant_missing(conn, place, name, roles)
    conn.commit()
    return reflect_quarantine(conn, place, name)


def _ready(
    conn: Connection, place: Place, name: str, source: sa.Table, schema: str | None
) -> sa.Table | None:
    """The quarantine table when it has every column, with its type; else None.

    One catalog query instead of a full reflection: this runs before every
    move, so it must cost next to nothing.
    """
    inspector = sa.inspect(conn)
    if not inspector.has_table(name, schema=place.db_schema):
        return None
    found = inspector.get_columns(name, schema=place.db_schema)
    names = {c["name"] for c in found}
    if not names.issuperset(c.name for c in source.columns):
        return None
    if _changed_types(conn, place, name, source, schema):
        return None
    columns = [sa.Column(c["name"], c["type"]) for c in found]
    return sa.Table(name, sa.MetaData(), *columns, schema=place.db_schema)


def reflect_quarantine(conn: Connection, place: Place, name: str) -> sa.Table:
    """The quarantine table ``name`` as it is now."""
    return sa.Table(name, sa.MetaData(), schema=place.db_schema, autoload_with=conn)


def registered(conn: Connection, place: Place) -> list[Registered]:
    """Every quarantine table of the target; none before the first quarantine."""
    registry = place.registry(sa.MetaData())
    if not sa.inspect(conn).has_table(registry.name, schema=place.db_schema):
        return []
    rows = conn.execute(
        sa.select(
            registry.c.quarantine_table,
            registry.c.source_schema,
            registry.c.source_table,
        ).order_by(registry.c.quarantine_table)
    )
    return [Registered(*row) for row in rows]


def data_columns(quarantine: sa.Table) -> list[sa.Column[object]]:
    """The columns of a quarantine table that hold the source row's values."""
    return [c for c in quarantine.columns if c.name not in META_NAMES]


def source_schema(conn: Connection, table: sa.Table) -> str | None:
    """The schema ``table`` is in: its own, or where the search path finds it.

    SQLite has no schemas: None there.
    """
    if table.schema or conn.dialect.name != "postgresql":
        return table.schema
    quote = conn.dialect.identifier_preparer.quote_identifier
    found = conn.execute(
        sa.text(
            "SELECT n.nspname FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(:name)"
        ),
        {"name": quote(table.name)},
    ).scalar()
    return None if found is None else str(found)


def _create(conn: Connection, place: Place, name: str, source: sa.Table) -> None:
    metadata = sa.MetaData()
    columns = [sa.Column(c.name, c.type, nullable=True) for c in source.columns]
    meta = meta_columns(place.dialect)
    table = sa.Table(name, metadata, *columns, *meta, schema=place.db_schema)
    table.create(conn)
    qualified = f"{_quote(conn, place.schema)}.{_quote(conn, name)}"
    if place.dialect == "postgresql":
        conn.exec_driver_sql(f"CREATE INDEX ON {qualified} USING brin (guardian_id)")
        conn.exec_driver_sql(f"REVOKE ALL ON TABLE {qualified} FROM PUBLIC")
    else:
        # SQLite deletes a moved batch by its keys in quarantine; PostgreSQL
        # moves in one statement and never looks a batch up on the hot path.
        sa.Index(f"{name}_batch", table.c.guardian_batch).create(conn)
    registry = place.registry(metadata)
    conn.execute(
        sa.insert(registry).values(
            quarantine_table=name,
            # As the suite names it: release resolves the name the same way.
            source_schema=source.schema,
            source_table=source.name,
            created_at=dt.datetime.now(dt.UTC),
        )
    )


def _grant_missing(
    conn: Connection, place: Place, name: str, roles: Sequence[str]
) -> bool:
    """Grant read access to the roles that lack it; True when one was granted.

    Runs on every use, so that a role added to ``read_roles`` later gets
    access to the tables made before. Asking first keeps the common case to
    one read: a GRANT rewrites the catalog row even when nothing changes.
    """
    if place.dialect != "postgresql" or not roles:
        return False
    schema, table = _quote(conn, place.schema), _quote(conn, name)
    batches = f"{schema}.{_quote(conn, place.batches(sa.MetaData()).name)}"
    lacking = conn.execute(
        sa.text(
            "SELECT r FROM unnest(CAST(:roles AS text[])) AS r "
            "WHERE NOT has_schema_privilege(r, :schema, 'USAGE') "
            "OR NOT has_table_privilege(r, :table, 'SELECT') "
            "OR NOT has_table_privilege(r, :batches, 'SELECT')"
        ),
        {
            "roles": list(roles),
            "schema": place.schema,
            "table": f"{schema}.{table}",
            "batches": batches,
        },
    ).scalars()
    granted = False
    for role in lacking:
        grantee = _quote(conn, role)
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {grantee}")
        conn.exec_driver_sql(
            f"GRANT SELECT ON TABLE {schema}.{table}, {batches} TO {grantee}"
        )
        granted = True
    return granted


def _add_missing_columns(
    conn: Connection, place: Place, name: str, source: sa.Table
) -> None:
    existing = {
        c["name"] for c in sa.inspect(conn).get_columns(name, schema=place.db_schema)
    }
    prefix = f"{_quote(conn, place.schema)}." if place.db_schema else ""
    for col in source.columns:
        if col.name in existing:
            continue
        kind = col.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(
            f"ALTER TABLE {prefix}{_quote(conn, name)} "
            f"ADD COLUMN {_quote(conn, col.name)} {kind}"
        )


def _changed_types(
    conn: Connection, place: Place, name: str, source: sa.Table, schema: str | None
) -> dict[str, str]:
    """Source columns whose type the quarantine table does not have: name → type.

    PostgreSQL only (SQLite stores any value in any column). The catalog's
    own spelling of each type is compared, so equal types always match.
    """
    if place.dialect != "postgresql":
        return {}
    held = _pg_types(conn, place.schema, name)
    now = _pg_types(conn, schema or "public", source.name)
    return {
        column: kind
        for column, kind in now.items()
        if column in held and held[column] != kind
    }


def _pg_types(conn: Connection, schema: str, table: str) -> dict[str, str]:
    rows = conn.execute(
        sa.text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relname = :table "
            "AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"schema": schema, "table": table},
    )
    return {str(column): str(kind) for column, kind in rows}


def _follow_types(
    conn: Connection,
    place: Place,
    name: str,
    source: sa.Table,
    schema: str | None,
) -> None:
    """Give the quarantine table's columns the source's types, where they changed.

    A widened source column (integer to bigint) would otherwise refuse
    every later move of a value the old type cannot hold.
    """
    changed = _changed_types(conn, place, name, source, schema)
    qualified = f"{_quote(conn, place.schema)}.{_quote(conn, name)}"
    for column, kind in changed.items():
        quoted = _quote(conn, column)
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(
                    f"ALTER TABLE {qualified} ALTER COLUMN {quoted} "
                    f"TYPE {kind} USING {quoted}::{kind}"
                )
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise QuarantineError(
                f"column {column} of {display_name(source)} is now {kind}, and "
                f"its quarantine table {place.schema}.{name} cannot follow "
                f"({reason}); nothing was moved",
                hint="release or purge the rows held in it, or change its type by hand",
            ) from None


def _serialize_ddl(conn: Connection, place: Place) -> None:
    """Two guardians creating the same quarantine table wait for each other."""
    if place.dialect != "postgresql":
        # SQLite: the database's write lock, taken before anything is read,
        # so that the second guardian sees what the first one created.
        conn.commit()
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    conn.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(place.schema)))
    )


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)
