"""The demo's faults: five realistic mistakes planted in a copy of Chinook.

Each fault breaks exactly one check of the Chinook suites and nothing else,
so a run after :func:`introduce_faults` must report these five checks and
only these. The records returned say which check, table and row to expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.demo.chinook import NAMES, Edition, EditionNames

# The rows the faults touch. Chosen so that no two faults meet: each lives in
# its own invoice, track or customer.
_TOTAL_INVOICE = 250
_TOTAL_DELTA = 5
_ORPHAN_LINE = 1500
_MISSING_TRACK = 9999
_NEGATIVE_TRACK = 2000
_DUPLICATE_CUSTOMER = 17
_DUPLICATE_OF = 16
_MALFORMED_CUSTOMER = 20
_MALFORMED_EMAIL = "dmiller@comcast"

# The foreign key of the PostgreSQL edition that would refuse the orphaned
# invoice line.
_TRACK_FK = "invoice_line_track_id_fkey"


@dataclass(frozen=True)
class Fault:
    """One planted mistake and how a run should see it.

    ``check`` is the name of the one check it trips (the same in both
    editions), ``key`` the primary key of the row it changed, and
    ``violations`` how many violating rows that check should report.
    """

    check: str
    table: str
    key: dict[str, Any]
    violations: int
    summary: str


def introduce_faults(conn: Connection, edition: Edition) -> list[Fault]:
    """Plant the five faults in the Chinook database behind ``conn``.

    The caller owns the transaction: with ``engine.begin()`` either all five
    are in place or none is. The database must hold pristine Chinook.
    """
    names = NAMES[edition]
    return [
        _total_disagrees(conn, names),
        _line_without_track(conn, names, edition),
        _negative_length(conn, names),
        _shared_email(conn, names),
        _malformed_email(conn, names),
    ]


def _total_disagrees(conn: Connection, n: EditionNames) -> Fault:
    conn.execute(
        sa.text(
            f"UPDATE {n.invoice} SET {n.total} = {n.total} + :delta "
            f"WHERE {n.invoice_id} = :id"
        ),
        {"delta": _TOTAL_DELTA, "id": _TOTAL_INVOICE},
    )
    return Fault(
        check="invoice_total_matches_lines",
        table=n.invoice,
        key={n.invoice_id: _TOTAL_INVOICE},
        violations=1,
        summary=f"invoice {_TOTAL_INVOICE}: total {_TOTAL_DELTA}.00 above its lines",
    )


def _line_without_track(conn: Connection, n: EditionNames, edition: Edition) -> Fault:
    if edition == "postgresql":
        # The foreign key would refuse this line. In real life such rows get
        # in when a constraint is dropped for a bulk load and put back NOT
        # VALID to skip the long re-check: PostgreSQL then enforces it for
        # new writes but never looks at the rows already there. We do the
        # same, and the constraint stays visible (convalidated = false).
        drop = f"ALTER TABLE {n.invoice_line} DROP CONSTRAINT {_TRACK_FK}"
        conn.execute(sa.text(drop))

    conn.execute(
        sa.text(
            f"UPDATE {n.invoice_line} SET {n.track_id} = :track "
            f"WHERE {n.invoice_line_id} = :id"
        ),
        {"track": _MISSING_TRACK, "id": _ORPHAN_LINE},
    )

    if edition == "postgresql":
        conn.execute(
            sa.text(
                f"ALTER TABLE {n.invoice_line} ADD CONSTRAINT {_TRACK_FK} "
                f"FOREIGN KEY ({n.track_id}) REFERENCES {n.track} ({n.track_id}) "
                "NOT VALID"
            )
        )
    return Fault(
        check="invoice_line_track_exists",
        table=n.invoice_line,
        key={n.invoice_line_id: _ORPHAN_LINE},
        violations=1,
        summary=f"invoice line {_ORPHAN_LINE}: sells missing track {_MISSING_TRACK}",
    )


def _negative_length(conn: Connection, n: EditionNames) -> Fault:
    conn.execute(
        sa.text(
            f"UPDATE {n.track} SET {n.milliseconds} = -{n.milliseconds} "
            f"WHERE {n.track_id} = :id"
        ),
        {"id": _NEGATIVE_TRACK},
    )
    return Fault(
        check="track_length_positive",
        table=n.track,
        key={n.track_id: _NEGATIVE_TRACK},
        violations=1,
        summary=f"track {_NEGATIVE_TRACK}: length made negative",
    )


def _shared_email(conn: Connection, n: EditionNames) -> Fault:
    conn.execute(
        sa.text(
            f"UPDATE {n.customer} SET {n.email} = "
            f"(SELECT {n.email} FROM {n.customer} WHERE {n.customer_id} = :source) "
            f"WHERE {n.customer_id} = :id"
        ),
        {"source": _DUPLICATE_OF, "id": _DUPLICATE_CUSTOMER},
    )
    return Fault(
        check="customer_email_unique",
        table=n.customer,
        key={n.customer_id: _DUPLICATE_CUSTOMER},
        # Both customers who share the address are violating rows.
        violations=2,
        summary=f"customer {_DUPLICATE_CUSTOMER}: e-mail of customer {_DUPLICATE_OF}",
    )


def _malformed_email(conn: Connection, n: EditionNames) -> Fault:
    conn.execute(
        sa.text(
            f"UPDATE {n.customer} SET {n.email} = :email WHERE {n.customer_id} = :id"
        ),
        {"email": _MALFORMED_EMAIL, "id": _MALFORMED_CUSTOMER},
    )
    return Fault(
        check="customer_email_format",
        table=n.customer,
        key={n.customer_id: _MALFORMED_CUSTOMER},
        violations=1,
        summary=f"customer {_MALFORMED_CUSTOMER}: e-mail cut to {_MALFORMED_EMAIL!r}",
    )
