"""What each check kind counts as a violating row, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.test_checks_helpers import Db, counts
from tests.test_checks_helpers import db_fixture as db_fixture  # the db fixture


def people(db: Db) -> None:
    db.sql(
        "CREATE TABLE people (id integer PRIMARY KEY, name text, email text, "
        "age integer, status text)",
        "INSERT INTO people VALUES "
        "(1, 'ann', 'ann@example.org', 30, 'active'), "
        "(2, NULL, 'bob@example', 17, 'ACTIVE'), "
        "(3, 'cy', NULL, NULL, 'gone'), "
        "(4, 'di', 'di@example.org', 120, NULL), "
        "(5, NULL, NULL, 45, 'active')",
    )


def test_not_null_counts_rows_with_any_null_and_samples_keys(db: Db) -> None:
    people(db)

    one = db.one({"kind": "not_null", "table": "people", "columns": "name"})
    both = db.one({"kind": "not_null", "table": "people", "columns": ["name", "email"]})
    warn = db.one(
        {"kind": "not_null", "table": "people", "columns": "id", "severity": "warn"}
    )

    assert counts(one) == ("fail", 2)
    assert one.sample_keys == [{"id": 2}, {"id": 5}]
    assert counts(both) == ("fail", 3)
    assert counts(warn) == ("pass", 0)


def test_where_filters_the_rows_checked(db: Db) -> None:
    people(db)

    result = db.one(
        {"kind": "not_null", "table": "people", "columns": "name", "where": "age > 40"}
    )

    assert counts(result) == ("fail", 1)
    assert result.sample_keys == [{"id": 5}]


def test_empty_table_passes_row_checks_and_counts_zero_rows(db: Db) -> None:
    db.sql("CREATE TABLE empty (id integer PRIMARY KEY, v integer)")

    results = db.run(
        {"name": "nn", "kind": "not_null", "table": "empty", "columns": "v"},
        {"name": "rc", "kind": "row_count", "table": "empty", "min": 1},
        {"name": "u", "kind": "unique", "table": "empty", "columns": "v"},
    )

    assert counts(results["nn"]) == ("pass", 0)
    assert counts(results["rc"]) == ("fail", 1)
    assert results["rc"].observed == {"rows": 0}
    assert counts(results["u"]) == ("pass", 0)


def test_accepted_values_ignores_null_and_can_ignore_case(db: Db) -> None:
    people(db)
    values = ["active", "gone"]

    exact = db.one(
        {
            "kind": "accepted_values",
            "table": "people",
            "column": "status",
            "values": values,
        }
    )
    folded = db.one(
        {
            "kind": "accepted_values",
            "table": "people",
            "column": "status",
            "values": ["Active", "GONE"],
            "case_insensitive": True,
        }
    )

    assert counts(exact) == ("fail", 1)
    assert exact.sample_keys == [{"id": 2}]
    assert counts(folded) == ("pass", 0)


def test_range_bounds_inclusive_and_exclusive(db: Db) -> None:
    people(db)
    base = {"kind": "range", "table": "people", "column": "age"}

    inclusive = db.one({**base, "min": 17, "max": 120})
    exclusive = db.one({**base, "min": 17, "max": 120, "min_exclusive": True})
    both = db.one(
        {**base, "min": 17, "max": 120, "max_exclusive": True, "min_exclusive": True}
    )
    only_max = db.one({**base, "max": 44})

    assert counts(inclusive) == ("pass", 0)
    assert exclusive.sample_keys == [{"id": 2}]
    assert counts(both) == ("fail", 2)
    assert counts(only_max) == ("fail", 2)
    assert only_max.sample_keys == [{"id": 4}, {"id": 5}]


def events(db: Db) -> None:
    stamp = "timestamp" if db.dialect == "postgresql" else "DATETIME"
    db.sql(
        f"CREATE TABLE events (id integer PRIMARY KEY, at {stamp}, day date)",
        "INSERT INTO events VALUES "
        "(1, '2024-01-01 00:00:00', '2024-01-01'), "
        "(2, '2024-01-01 12:30:00', '2024-01-02'), "
        "(3, '2024-01-02 00:00:00', '2024-01-03'), "
        "(4, NULL, NULL)",
    )


def test_range_on_timestamps_is_exact_at_the_bounds(db: Db) -> None:
    events(db)
    base = {"kind": "range", "table": "events", "column": "at"}
    low, high = datetime(2024, 1, 1), datetime(2024, 1, 2)

    inclusive = db.one({**base, "min": low, "max": high})
    open_low = db.one({**base, "min": low, "min_exclusive": True})
    open_high = db.one({**base, "max": high, "max_exclusive": True})
    text_bound = db.one({**base, "max": "2024-01-01 12:30:00"})

    assert counts(inclusive) == ("pass", 0)
    assert open_low.sample_keys == [{"id": 1}]
    assert open_high.sample_keys == [{"id": 3}]
    assert text_bound.sample_keys == [{"id": 3}]


def test_range_on_dates_and_with_aware_bounds(db: Db) -> None:
    events(db)
    paris = datetime(2024, 1, 1, 13, 30, tzinfo=UTC) + timedelta(hours=0)

    days = db.one(
        {"kind": "range", "table": "events", "column": "day", "max": date(2024, 1, 2)}
    )
    aware = db.one(
        {"kind": "range", "table": "events", "column": "at", "max": paris},
        timezone="Europe/Paris",
    )

    assert days.sample_keys == [{"id": 3}]
    # 13:30 UTC is 14:30 in Paris, where the naive values are read.
    assert aware.sample_keys == [{"id": 3}]


def test_pattern_search_semantics_agree(db: Db) -> None:
    db.sql(
        "CREATE TABLE codes (id integer PRIMARY KEY, code text)",
        "INSERT INTO codes VALUES (1, 'AB-123'), (2, 'ab-12'), (3, 'xAB-123x'), "
        "(4, NULL), (5, '123')",
    )
    base = {"kind": "pattern", "table": "codes", "column": "code"}

    anchored = db.one({**base, "regex": r"^[A-Z]{2}-\d{3}$"})
    search = db.one({**base, "regex": r"\d{3}"})
    folded = db.one({**base, "regex": "^ab-[0-9]+$", "case_insensitive": True})

    assert anchored.sample_keys == [{"id": 2}, {"id": 3}, {"id": 5}]
    assert anchored.violations == 3
    assert search.sample_keys == [{"id": 2}]
    assert folded.sample_keys == [{"id": 3}, {"id": 5}]


def test_expression_null_result_passes(db: Db) -> None:
    people(db)

    result = db.one(
        {"kind": "expression", "table": "people", "expression": "age >= 18"}
    )

    assert counts(result) == ("fail", 1)
    assert result.sample_keys == [{"id": 2}]


def test_unique_counts_every_copy_and_nulls_both_ways(db: Db) -> None:
    db.sql(
        "CREATE TABLE u (id integer PRIMARY KEY, a integer, b text)",
        "INSERT INTO u VALUES (1, 1, 'x'), (2, 1, 'x'), (3, 1, 'x'), (4, 2, 'x'), "
        "(5, NULL, 'y'), (6, NULL, 'y'), (7, 3, NULL), (8, 3, NULL)",
    )

    single = db.one({"kind": "unique", "table": "u", "columns": "a"})
    pair = db.one({"kind": "unique", "table": "u", "columns": ["a", "b"]})
    nulls_equal = db.one(
        {"kind": "unique", "table": "u", "columns": ["a", "b"], "nulls_distinct": False}
    )
    filtered = db.one(
        {"kind": "unique", "table": "u", "columns": "a", "where": "id > 1"}
    )

    assert counts(single) == ("fail", 5)
    assert single.sample_keys == [{"id": i} for i in (1, 2, 3, 7, 8)]
    assert counts(pair) == ("fail", 3)
    assert counts(nulls_equal) == ("fail", 7)
    assert filtered.violations == 4


def test_references_finds_orphans_despite_null_in_parent(db: Db) -> None:
    db.sql(
        "CREATE TABLE parent (id integer PRIMARY KEY, code integer)",
        "CREATE TABLE child (id integer PRIMARY KEY, pcode integer)",
        "INSERT INTO parent VALUES (1, 10), (2, NULL)",
        "INSERT INTO child VALUES (1, 10), (2, 99), (3, NULL), (4, 77)",
    )
    base = {
        "kind": "references",
        "table": "child",
        "columns": "pcode",
        "parent_table": "parent",
        "parent_columns": "code",
    }

    allowed = db.one(base)
    strict = db.one({**base, "allow_null": False})

    assert counts(allowed) == ("fail", 2)
    assert allowed.sample_keys == [{"id": 2}, {"id": 4}]
    assert strict.sample_keys == [{"id": 2}, {"id": 3}, {"id": 4}]


def test_references_to_itself_and_on_two_columns(db: Db) -> None:
    db.sql(
        "CREATE TABLE node (id integer PRIMARY KEY, parent_id integer, a integer, "
        "b integer)",
        "INSERT INTO node VALUES (1, NULL, 1, 1), (2, 1, 1, 2), (3, 9, 2, 1)",
    )

    tree = db.one(
        {
            "kind": "references",
            "table": "node",
            "columns": "parent_id",
            "parent_table": "node",
            "parent_columns": "id",
        }
    )
    pair = db.one(
        {
            "kind": "references",
            "table": "node",
            "columns": ["a", "b"],
            "parent_table": "node",
            "parent_columns": ["b", "a"],
        }
    )

    assert tree.sample_keys == [{"id": 3}]
    assert counts(pair) == ("pass", 0)


def test_row_count_bounds_and_where(db: Db) -> None:
    people(db)
    base = {"kind": "row_count", "table": "people"}

    inside = db.one({**base, "min": 5, "max": 5})
    over = db.one({**base, "max": 4})
    filtered = db.one({**base, "min": 3, "where": "status = 'active'"})

    assert (inside.status, inside.observed) == ("pass", {"rows": 5})
    assert counts(over) == ("fail", 1)
    assert (filtered.status, filtered.observed) == ("fail", {"rows": 2})
    assert filtered.sample_keys == []


def orders(db: Db) -> None:
    money = "numeric(10,2)" if db.dialect == "postgresql" else "REAL"
    db.sql(
        f"CREATE TABLE orders (id integer PRIMARY KEY, total {money}, lines integer)",
        f"CREATE TABLE line (id integer PRIMARY KEY, order_id integer, "
        f"price {money}, qty integer)",
        "INSERT INTO orders VALUES (1, 1.98, 1), (2, 10.00, 2), (3, 0, 0), "
        "(4, 5.00, 1), (5, NULL, 0), (6, 100.00, 1)",
        "INSERT INTO line VALUES (1, 1, 0.99, 2), (2, 2, 4.00, 1), (3, 2, 6.01, 1), "
        "(4, 4, 5.00, 1), (5, 6, 101.00, 1)",
    )


def test_reconciliation_sum_with_tolerances(db: Db) -> None:
    orders(db)
    base = {
        "kind": "reconciliation",
        "table": "orders",
        "column": "total",
        "columns": "id",
        "child_table": "line",
        "child_columns": "order_id",
        "aggregate": "sum",
        "expression": "price * qty",
    }

    exact = db.one(base)
    absolute = db.one({**base, "tolerance": 0.02})
    relative = db.one({**base, "relative_tolerance": 0.02})

    # 1.98 = 0.99 * 2 exactly; order 3 has no lines and sums to 0; order 5
    # has no lines and no total, which agree; orders 2 and 6 are off by 0.01
    # and 1.
    assert exact.sample_keys == [{"id": 2}, {"id": 6}]
    assert absolute.sample_keys == [{"id": 6}]
    assert counts(relative) == ("pass", 0)


def test_reconciliation_count_and_max_without_children(db: Db) -> None:
    orders(db)
    base = {
        "kind": "reconciliation",
        "table": "orders",
        "columns": "id",
        "child_table": "line",
        "child_columns": "order_id",
    }

    counted = db.one({**base, "column": "lines", "aggregate": "count"})
    biggest = db.one(
        {**base, "column": "total", "aggregate": "max", "expression": "price * qty"}
    )
    filtered = db.one(
        {**base, "column": "lines", "aggregate": "count", "child_where": "qty > 1"}
    )

    assert counts(counted) == ("pass", 0)
    # Order 3 has no lines: max is NULL against 0; order 5: NULL and NULL pass.
    assert biggest.sample_keys == [{"id": 2}, {"id": 3}, {"id": 6}]
    assert filtered.sample_keys == [{"id": 2}, {"id": 4}, {"id": 6}]


def test_sql_check_counts_and_samples_the_query(db: Db) -> None:
    people(db)

    result = db.one(
        {
            "kind": "sql",
            "query": "SELECT id, name FROM people WHERE email NOT LIKE '%@%.%' "
            "OR email IS NULL ORDER BY id;",
        },
        sample_size=2,
    )
    clean = db.one({"kind": "sql", "query": "SELECT id FROM people WHERE id < 0"})

    assert counts(result) == ("fail", 3)
    assert result.sample_keys == [{"id": 2, "name": None}, {"id": 3, "name": "cy"}]
    assert counts(clean) == ("pass", 0)


def test_freshness_naive_and_aware(db: Db) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    recent, old = now - timedelta(minutes=5), now - timedelta(days=3)
    aware = "timestamptz" if db.dialect == "postgresql" else "DATETIME"
    naive = "timestamp" if db.dialect == "postgresql" else "DATETIME"
    paris = recent.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    db.sql(
        f"CREATE TABLE feed (id integer PRIMARY KEY, at_tz {aware}, at {naive}, "
        "kind text)",
        f"INSERT INTO feed VALUES (1, '{old.isoformat()}', "
        f"'{old.replace(tzinfo=None).isoformat(sep=' ')}', 'a'), "
        f"(2, '{recent.isoformat()}', "
        f"'{paris.replace(tzinfo=None).isoformat(sep='T')}', 'b')",
    )
    base = {"kind": "freshness", "table": "feed", "max_age": "1h"}

    aware_fresh = db.one({**base, "column": "at_tz"})
    naive_in_paris = db.one({**base, "column": "at", "timezone": "Europe/Paris"})
    naive_target_zone = db.one({**base, "column": "at"}, timezone="Europe/Paris")
    stale = db.one({**base, "column": "at_tz", "where": "kind = 'a'"})
    empty = db.one({**base, "column": "at_tz", "where": "kind = 'z'"})

    assert counts(aware_fresh) == ("pass", 0)
    assert aware_fresh.observed is not None
    assert 200 < aware_fresh.observed["age_seconds"] < 3000
    assert counts(naive_in_paris) == ("pass", 0)
    assert counts(naive_target_zone) == ("pass", 0)
    assert counts(stale) == ("fail", 1)
    assert counts(empty) == ("fail", 1)
    assert empty.observed == {"newest": None, "age_seconds": None}


@pytest.mark.parametrize("kind", ["not_null", "unique"])
def test_odd_identifiers_are_quoted(db: Db, kind: str) -> None:
    db.sql(
        'CREATE TABLE "InvoiceLine" ("Id" integer PRIMARY KEY, "order" integer, '
        '"Unit Price" integer)',
        'CREATE TABLE "select" ("from" integer PRIMARY KEY)',
        'INSERT INTO "InvoiceLine" VALUES (1, 1, NULL), (2, 1, NULL), (3, 5, 3)',
        'INSERT INTO "select" VALUES (1)',
    )

    spaced = db.one({"kind": kind, "table": "InvoiceLine", "columns": ["Unit Price"]})
    reserved = db.one(
        {
            "kind": "references",
            "table": "InvoiceLine",
            "columns": "order",
            "parent_table": "select",
            "parent_columns": "from",
        }
    )

    if kind == "not_null":
        assert spaced.sample_keys == [{"Id": 1}, {"Id": 2}]
    else:
        assert counts(spaced) == ("pass", 0)
    assert reserved.sample_keys == [{"Id": 3}]
