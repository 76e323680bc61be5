"""The orders table of the checks benchmark, and its ten checks in every form.

Each check is written once here in three equivalent forms: a guardian suite
entry, the SQL predicate that picks its violating rows (for the hand-written
queries), and a SodaCL entry. Keeping them side by side is what makes the
comparison fair; :func:`bench.checks` verifies that all of them count the
same rows.

The data is generated inside PostgreSQL from ``generate_series`` with values
derived from hashes of the id, so every run of the same size builds the same
table, fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

TABLE = "bench_orders"
KEY = "id"
SAMPLE_SIZE = 10  # keys fetched per failing check: guardian's default sample_size

STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
COUNTRIES = ("US", "DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "JP", "BR", "CA")
EMAIL_REGEX = "^[^@ ]+@[^@ ]+[.][a-z]{2,}$"

# About one row in DIRTY_ONE_IN breaks one of the three checks below.
DIRTY_ONE_IN = 1000
DIRTY_CHECKS = ("status_accepted", "email_pattern", "shipped_after_created")


@dataclass(frozen=True)
class BenchCheck:
    """One rule in the three forms the benchmark compares.

    ``violation`` is an SQL condition true exactly for the violating rows;
    for the row count it is None and the rule is ``count(*) >= 1``.
    """

    name: str
    guardian: dict[str, Any]
    violation: str | None
    soda: dict[str, Any]


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


CHECKS: tuple[BenchCheck, ...] = (
    BenchCheck(
        "customer_id_not_null",
        {"kind": "not_null", "columns": ["customer_id"]},
        "customer_id IS NULL",
        {"missing_count(customer_id) = 0": {}},
    ),
    BenchCheck(
        "created_at_not_null",
        {"kind": "not_null", "columns": ["created_at"]},
        "created_at IS NULL",
        {"missing_count(created_at) = 0": {}},
    ),
    BenchCheck(
        "status_accepted",
        {"kind": "accepted_values", "column": "status", "values": list(STATUSES)},
        f"status NOT IN ({_quoted(STATUSES)})",
        {"invalid_count(status) = 0": {"valid values": list(STATUSES)}},
    ),
    BenchCheck(
        "country_accepted",
        {"kind": "accepted_values", "column": "country", "values": list(COUNTRIES)},
        f"country NOT IN ({_quoted(COUNTRIES)})",
        {"invalid_count(country) = 0": {"valid values": list(COUNTRIES)}},
    ),
    BenchCheck(
        "amount_range",
        {"kind": "range", "column": "amount", "min": 0, "max": 100000},
        "amount < 0 OR amount > 100000",
        {"invalid_count(amount) = 0": {"valid min": 0, "valid max": 100000}},
    ),
    BenchCheck(
        "quantity_range",
        {"kind": "range", "column": "quantity", "min": 1, "max": 1000},
        "quantity < 1 OR quantity > 1000",
        {"invalid_count(quantity) = 0": {"valid min": 1, "valid max": 1000}},
    ),
    BenchCheck(
        "discount_range",
        {"kind": "range", "column": "discount_pct", "min": 0, "max": 100},
        "discount_pct < 0 OR discount_pct > 100",
        {"invalid_count(discount_pct) = 0": {"valid min": 0, "valid max": 100}},
    ),
    BenchCheck(
        "email_pattern",
        {"kind": "pattern", "column": "email", "regex": EMAIL_REGEX},
        f"email !~ '{EMAIL_REGEX}'",
        {"invalid_count(email) = 0": {"valid regex": EMAIL_REGEX}},
    ),
    BenchCheck(
        "shipped_after_created",
        {"kind": "expression", "expression": "shipped_at >= created_at"},
        "NOT (shipped_at >= created_at)",
        {"failed rows": {"fail condition": "shipped_at < created_at"}},
    ),
    BenchCheck(
        "row_count",
        {"kind": "row_count", "min": 1},
        None,
        {"row_count > 0": {}},
    ),
)


def suite_document() -> dict[str, Any]:
    """The guardian suite, as the YAML document the bench writes."""
    return {
        "suite": "bench_orders",
        "description": "Ten row-level checks on the benchmark's orders table.",
        "checks": [{"name": c.name, "table": TABLE, **c.guardian} for c in CHECKS],
    }


def soda_document() -> dict[str, Any]:
    """The equivalent SodaCL checks, each named as in the guardian suite.

    Samples are limited to guardian's sample size, so that both fetch the
    same number of failing rows.
    """
    entries: list[dict[str, Any]] = []
    for check in CHECKS:
        ((header, body),) = check.soda.items()
        entries.append(
            {header: {"name": check.name, "samples limit": SAMPLE_SIZE, **body}}
        )
    return {f"checks for {TABLE}": entries}


def _hash(seed: int) -> str:
    # A non-negative pseudo-random bigint derived from the id; the mask keeps
    # abs() from overflowing on the most negative value.
    return f"(hashint8extended(g, {seed}) & 9223372036854775807)"


CREATE_SQL = f"""
CREATE TABLE {TABLE} (
    id bigint PRIMARY KEY,
    customer_id bigint,
    status text,
    amount numeric(12, 2),
    quantity integer,
    discount_pct numeric(5, 2),
    email text,
    country char(2),
    created_at timestamptz,
    shipped_at timestamptz,
    note text
)
"""

INSERT_SQL = f"""
INSERT INTO {TABLE}
SELECT id, customer_id, status, amount, quantity, discount_pct,
       'customer' || customer_id || '@' || domain AS email,
       country, created_at,
       CASE WHEN status IN ('shipped', 'delivered', 'refunded')
            THEN created_at + ship_delay END AS shipped_at,
       note
FROM (
    SELECT g AS id,
           1 + {_hash(1)} % 200000 AS customer_id,
           (ARRAY[{_quoted(STATUSES)}])[1 + {_hash(2)} % {len(STATUSES)}] AS status,
           ({_hash(3)} % 5000000) / 100.0 AS amount,
           1 + {_hash(4)} % 20 AS quantity,
           ({_hash(5)} % 3001) / 100.0 AS discount_pct,
           (ARRAY['example.com', 'mail.org', 'shop.net', 'post.de'])
               [1 + {_hash(6)} % 4] AS domain,
           (ARRAY[{_quoted(COUNTRIES)}])[1 + {_hash(7)} % {len(COUNTRIES)}]
               AS country,
           timestamptz '2023-01-01 00:00+00'
               + ({_hash(8)} % 63072000) * interval '1 second' AS created_at,
           (1 + {_hash(9)} % 1209600) * interval '1 second' AS ship_delay,
           CASE {_hash(10)} % 20
               WHEN 0 THEN 'gift wrap, please'
               WHEN 1 THEN 'leave at the back door'
           END AS note
    FROM generate_series(1, {{rows}}::bigint) AS g
) AS generated
"""

DIRTY_SQL = f"""
UPDATE {TABLE} SET
    status = CASE WHEN id % 3 = 0 THEN 'lost' ELSE status END,
    email = CASE WHEN id % 3 = 1 THEN replace(email, '@', ' at ') ELSE email END,
    shipped_at = CASE WHEN id % 3 = 2 THEN created_at - interval '1 day'
                      ELSE shipped_at END
WHERE (hashint8extended(id, 99) & 9223372036854775807) % {DIRTY_ONE_IN} = 0
"""


def load(url: str, rows: int) -> None:
    """Drop and rebuild the table with ``rows`` clean rows, then VACUUM ANALYZE."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        with conn.transaction():
            conn.execute(CREATE_SQL)
            conn.execute(INSERT_SQL.replace("{rows}", str(int(rows))))
        conn.execute(f"VACUUM ANALYZE {TABLE}")


def make_dirty(url: str) -> int:
    """Break three checks on about 0.1% of the rows; return how many changed.

    The rows are chosen by a hash of their id, so the same rows break on
    every run; each breaks exactly one of :data:`DIRTY_CHECKS`.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(DIRTY_SQL).rowcount
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return changed


def table_size(url: str) -> str:
    """The table's size on disk with its indexes, as PostgreSQL words it."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))", (TABLE,)
        ).fetchone()
    return str(row[0]) if row else "unknown"
