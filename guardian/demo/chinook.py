"""Chinook, the sample music store shipped with guardian, in its two editions.

The SQLite edition is a ready database file with PascalCase names; the
PostgreSQL edition is an SQL script with snake_case names. Both hold the
same rows: 412 invoices, 2,240 invoice lines, 3,503 tracks. The files are
found with importlib.resources, so they work from a wheel as well as from a
source checkout.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

from guardian.errors import TargetError, UsageError
from guardian.targets import mask_url

Edition = Literal["sqlite", "postgresql"]
Connection = psycopg.Connection[TupleRow]

CHINOOK_VERSION = "1.4.5"
INVOICES = 412
INVOICE_LINES = 2240
TRACKS = 3503

# The comment the demo leaves on a PostgreSQL database it loaded, so that a
# later run recognises the database as its own and may load it again.
DEMO_MARKER = f"guardian demo: Chinook {CHINOOK_VERSION}"

_SQLITE_FILE = "chinook.sqlite"
_POSTGRESQL_FILE = "chinook_postgresql.sql"

# Lines of the PostgreSQL script that act on the server rather than on the
# database the demo was given: it would drop and create its own database
# and connect to it with a psql meta-command.
_SERVER_LEVEL_PREFIXES = ("DROP DATABASE", "CREATE DATABASE", "\\c ")

# The schema that the demo's quarantine step fills (guardian's default).
QUARANTINE_SCHEMA = "guardian_quarantine"

# Databases every server has for its own use; tools connect to them freely,
# so the demo keeps out of them even when they are empty.
_SYSTEM_DATABASES = ("postgres", "template0", "template1")


@dataclass(frozen=True)
class EditionNames:
    """Table and column names that differ between the two editions."""

    invoice: str
    invoice_id: str
    total: str
    invoice_line: str
    invoice_line_id: str
    track: str
    track_id: str
    milliseconds: str
    customer: str
    customer_id: str
    email: str
    suite_file: str
    suite_name: str


NAMES: dict[Edition, EditionNames] = {
    "sqlite": EditionNames(
        invoice="Invoice",
        invoice_id="InvoiceId",
        total="Total",
        invoice_line="InvoiceLine",
        invoice_line_id="InvoiceLineId",
        track="Track",
        track_id="TrackId",
        milliseconds="Milliseconds",
        customer="Customer",
        customer_id="CustomerId",
        email="Email",
        suite_file="chinook.yml",
        suite_name="chinook",
    ),
    "postgresql": EditionNames(
        invoice="invoice",
        invoice_id="invoice_id",
        total="total",
        invoice_line="invoice_line",
        invoice_line_id="invoice_line_id",
        track="track",
        track_id="track_id",
        milliseconds="milliseconds",
        customer="customer",
        customer_id="customer_id",
        email="email",
        suite_file="chinook_postgresql.yml",
        suite_name="chinook_postgresql",
    ),
}

# Every table of the PostgreSQL edition, children before parents so that a
# reload can drop them in this order.
POSTGRESQL_TABLES = (
    "playlist_track",
    "playlist",
    "invoice_line",
    "invoice",
    "customer",
    "employee",
    "track",
    "album",
    "artist",
    "genre",
    "media_type",
)


@dataclass(frozen=True)
class PostgresLoad:
    """What loading the PostgreSQL edition did."""

    database: str
    reloaded: bool
    invoices: int


def data_file(name: str) -> Traversable:
    """A file shipped in the demo's data folder."""
    return resources.files("guardian.demo") / "data" / name


def suite_file(edition: Edition) -> Traversable:
    """The shipped suite for ``edition``."""
    return resources.files("guardian.suites") / NAMES[edition].suite_file


def suite_schema_file() -> Traversable | None:
    """The JSON Schema of the suite format, when the package carries one."""
    schema = resources.files("guardian.suites") / "suite.schema.json"
    return schema if schema.is_file() else None


def copy_sqlite(destination: Path) -> Path:
    """Copy the SQLite edition to ``destination``, replacing any file there."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with (
        data_file(_SQLITE_FILE).open("rb") as source,
        destination.open("wb") as target,
    ):
        shutil.copyfileobj(source, target)
    return destination


def postgresql_script() -> str:
    """The PostgreSQL edition's script without its server-level lines."""
    text = data_file(_POSTGRESQL_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    kept = [line for line in lines if not line.startswith(_SERVER_LEVEL_PREFIXES)]
    return "\n".join(kept) + "\n"


def load_postgresql(conn: Connection) -> PostgresLoad:
    """Load the PostgreSQL edition into the database ``conn`` is connected to.

    The database must be empty, or one this function loaded before (it
    carries :data:`DEMO_MARKER` as its comment); then the Chinook tables and
    the quarantine the demo made are dropped and loaded again. Anything else
    is refused, so no user data is ever dropped. All of it happens in one
    transaction.
    """
    database = _current_database(conn)
    if database in _SYSTEM_DATABASES:
        raise UsageError(
            f"the demo does not load Chinook into the {database} database, which "
            "the server keeps for itself",
            hint="create one for it, e.g. createdb guardian_demo, and pass its URL",
        )
    reloaded = _database_comment(conn) == DEMO_MARKER
    ours = set(POSTGRESQL_TABLES) | _quarantine_tables(conn) if reloaded else set()
    others = _user_tables(conn) - ours
    if others:
        raise _not_empty(database, sorted(others))

    with conn.transaction():
        if reloaded:
            _drop_quarantine(conn)
            _drop_chinook_tables(conn)
        conn.execute(postgresql_script().encode("utf-8"))
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(database), sql.Literal(DEMO_MARKER)
            )
        )

    invoices = _count(conn, "invoice")
    return PostgresLoad(database=database, reloaded=reloaded, invoices=invoices)


def count_sqlite_invoices(path: Path) -> int:
    """How many invoices the SQLite edition at ``path`` holds."""
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT count(*) FROM Invoice").fetchone()
    conn.close()
    return int(row[0])


def _current_database(conn: Connection) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def _database_comment(conn: Connection) -> str | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname = current_database()"
    ).fetchone()
    return None if row is None else row[0]


def _user_tables(conn: Connection) -> set[str]:
    """Names of every relation outside the system schemas, schema-qualified
    unless they live in ``public``."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%'"
    ).fetchall()
    return {name if schema == "public" else f"{schema}.{name}" for schema, name in rows}


def _quarantine_tables(conn: Connection) -> set[str]:
    """The tables of the demo's quarantine schema, named as _user_tables names them."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
        (QUARANTINE_SCHEMA,),
    ).fetchall()
    return {f"{QUARANTINE_SCHEMA}.{name}" for (name,) in rows}


def _drop_quarantine(conn: Connection) -> None:
    # Its tables one by one, then the schema without CASCADE: anything else
    # a user put there makes the drop fail and leaves everything as it was.
    for qualified in sorted(_quarantine_tables(conn)):
        name = qualified.split(".", 1)[1]
        conn.execute(
            sql.SQL("DROP TABLE {}.{}").format(
                sql.Identifier(QUARANTINE_SCHEMA), sql.Identifier(name)
            )
        )
    conn.execute(
        sql.SQL("DROP SCHEMA IF EXISTS {}").format(sql.Identifier(QUARANTINE_SCHEMA))
    )


def _drop_chinook_tables(conn: Connection) -> None:
    # No CASCADE: a view a user built on the demo's tables makes the drop
    # fail, and the transaction leaves everything as it was.
    names = sql.SQL(", ").join(sql.Identifier(t) for t in POSTGRESQL_TABLES)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(names))


def _count(conn: Connection, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _not_empty(database: str, tables: list[str]) -> UsageError:
    shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
    return UsageError(
        f"database {database} is not empty (it has {shown}) and was not loaded "
        "by the demo; the demo loads Chinook only into an empty database",
        hint="create one for it, e.g. createdb guardian_demo, and pass its URL",
    )


def connect_postgresql(url: URL) -> Connection:
    """An autocommit psycopg connection for loading; failures become TargetError."""
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return psycopg.connect(libpq, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        raise TargetError(
            f"cannot connect to {mask_url(url)}: {mask_url(detail)}",
            hint="is the server running and the URL right?",
        ) from None
