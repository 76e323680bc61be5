"""How the runner executes checks: fused scans, samples, failures, targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.checks.results import CheckResult
from guardian.checks.runner import run_checks
from guardian.errors import TargetError
from guardian.targets import Target, TargetOptions
from tests.test_checks_helpers import Db, counts, make_suite
from tests.test_checks_helpers import db_fixture as db_fixture  # the db fixture

ROW_CHECKS: list[dict[str, Any]] = [
    {"name": "nn", "kind": "not_null", "table": "t", "columns": ["a", "b"]},
    {"name": "rng", "kind": "range", "table": "t", "column": "a", "min": -5, "max": 5},
    {"name": "acc", "kind": "accepted_values", "table": "t", "column": "b",
     "values": ["x", "y"]},
    {"name": "pat", "kind": "pattern", "table": "t", "column": "b", "regex": "^[xz]"},
    {"name": "expr", "kind": "expression", "table": "t", "expression": "a <> 0"},
    {"name": "cnt", "kind": "row_count", "table": "t", "min": 3, "where": "a > 0"},
]  # fmt: skip


def expected(rows: list[tuple[int, int | None, str | None]]) -> dict[str, int]:
    """What each of ROW_CHECKS should count, computed in Python."""
    return {
        "nn": sum(a is None or b is None for _, a, b in rows),
        "rng": sum(a is not None and not -5 <= a <= 5 for _, a, _ in rows),
        "acc": sum(b is not None and b not in ("x", "y") for _, _, b in rows),
        "pat": sum(b is not None and b[:1] not in ("x", "z") for _, _, b in rows),
        "expr": sum(a == 0 for _, a, _ in rows),
        "cnt": int(sum(a is not None and a > 0 for _, a, _ in rows) < 3),
    }


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement sent to any database while the test runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-8, 8)),
            st.one_of(st.none(), st.sampled_from(["x", "y", "z", "w", "xy"])),
        ),
        max_size=12,
    )
)
def test_fused_scan_counts_as_each_check_alone(
    db: Db, rows: list[tuple[int | None, str | None]]
) -> None:
    keyed = [(i, a, b) for i, (a, b) in enumerate(rows)]
    values = ", ".join(
        f"({i}, {'NULL' if a is None else a}, {'NULL' if b is None else repr(b)})"
        for i, a, b in keyed
    )
    db.sql("DROP TABLE IF EXISTS t", "CREATE TABLE t (id integer PRIMARY KEY, "
           "a integer, b text)")  # fmt: skip
    if values:
        db.sql(f"INSERT INTO t VALUES {values}")

    fused = db.run(*ROW_CHECKS)
    alone = {c["name"]: db.run(c)[c["name"]] for c in ROW_CHECKS[:3]}

    assert {n: r.violations for n, r in fused.items()} == expected(keyed)
    for name, result in alone.items():
        assert result.violations == fused[name].violations
        assert result.sample_keys == fused[name].sample_keys


def test_one_scan_per_table_and_samples_only_for_failures(
    db: Db, statements: list[str]
) -> None:
    db.sql(
        "CREATE TABLE t (id integer PRIMARY KEY, a integer, b text)",
        "INSERT INTO t VALUES (1, 1, 'x'), (2, 2, 'q'), (3, 3, NULL)",
    )

    results = db.run(*ROW_CHECKS)

    scans = [s for s in statements if "count(*) FILTER" in s]
    samples = [s for s in statements if "ORDER BY t.id" in s]
    assert len(scans) == 1
    failing = [
        r for r in results.values() if r.status == "fail" and r.kind != "row_count"
    ]
    assert len(samples) == len(failing) == 3
    assert all("'q'" not in s and "'x'" not in s for s in statements)


def test_sample_is_capped_and_the_total_exact(db: Db) -> None:
    db.sql("CREATE TABLE t (id integer PRIMARY KEY, v integer)")
    db.sql(
        "INSERT INTO t VALUES " + ", ".join(f"({i}, NULL)" for i in range(40, 15, -1))
    )

    result = db.one({"kind": "not_null", "table": "t", "columns": "v"}, sample_size=3)
    none = db.one({"kind": "not_null", "table": "t", "columns": "v"}, sample_size=0)

    assert counts(result) == ("fail", 25)
    assert result.sample_keys == [{"id": 16}, {"id": 17}, {"id": 18}]
    assert (none.violations, none.sample_keys) == (25, [])


def test_table_without_primary_key_is_counted_and_says_so(db: Db) -> None:
    db.sql(
        "CREATE TABLE loose (code text, v integer)",
        "INSERT INTO loose VALUES ('a', NULL), ('b', NULL), ('c', 1), ('c', 2)",
    )

    bare = db.run(
        {"name": "nn", "kind": "not_null", "table": "loose", "columns": "v"},
        {"name": "u", "kind": "unique", "table": "loose", "columns": "code"},
    )
    keyed = db.one(
        {"kind": "not_null", "table": "loose", "columns": "v", "key": "code"}
    )

    for result in bare.values():
        assert counts(result) == ("fail", 2)
        assert result.sample_keys == []
        assert "no primary key" in str(result.note)
    assert keyed.sample_keys == [{"code": "a"}, {"code": "b"}]
    assert keyed.note is None


def test_broken_expression_does_not_hide_the_other_checks(db: Db) -> None:
    db.sql(
        "CREATE TABLE t (id integer PRIMARY KEY, a integer, b text)",
        "INSERT INTO t VALUES (1, NULL, 'x'), (2, 7, 'y')",
    )

    results = db.run(
        {"name": "nn", "kind": "not_null", "table": "t", "columns": "a"},
        {"name": "bad", "kind": "expression", "table": "t", "expression": "nosuch > 0"},
        {"name": "rng", "kind": "range", "table": "t", "column": "a", "max": 10},
    )

    assert counts(results["nn"]) == ("fail", 1)
    assert results["nn"].sample_keys == [{"id": 1}]
    assert counts(results["rng"]) == ("pass", 0)
    bad = results["bad"]
    assert counts(bad) == ("error", None)
    assert "nosuch" in str(bad.error)
    assert "\n" not in str(bad.error)


def test_unknown_column_or_table_errors_with_a_suggestion(db: Db) -> None:
    db.sql(
        "CREATE TABLE invoice (id integer PRIMARY KEY, total integer)",
        "INSERT INTO invoice VALUES (1, NULL)",
    )

    results = db.run(
        {"name": "col", "kind": "not_null", "table": "invoice", "columns": "totl"},
        {"name": "tab", "kind": "not_null", "table": "invoce", "columns": "total"},
        {"name": "ok", "kind": "not_null", "table": "invoice", "columns": "total"},
    )

    assert results["col"].status == "error"
    assert results["col"].error == (
        "column 'totl' not found in table invoice (did you mean 'total'?)"
    )
    assert (
        results["tab"].error
        == "table 'invoce' does not exist (did you mean 'invoice'?)"
    )
    assert counts(results["ok"]) == ("fail", 1)


def test_results_in_suite_order_with_progress_and_only(db: Db) -> None:
    db.sql(
        "CREATE TABLE a (id integer PRIMARY KEY, v integer)",
        "CREATE TABLE b (id integer PRIMARY KEY, v integer)",
        "INSERT INTO a VALUES (1, NULL)",
    )
    first = make_suite(
        {"name": "a1", "kind": "not_null", "table": "a", "columns": "v"},
        {"name": "b1", "kind": "unique", "table": "b", "columns": "v"},
        {"name": "a2", "kind": "row_count", "table": "a", "min": 1},
        name="one",
    )
    second = make_suite(
        {"name": "b2", "kind": "not_null", "table": "b", "columns": "v"}, name="two"
    )
    seen: list[CheckResult] = []
    target = db.target(max_parallel=3)

    try:
        everything = run_checks(target, [first, second], on_result=seen.append)
        some = run_checks(target, [first, second], only={("one", "a2"), ("two", "b2")})
    finally:
        target.dispose()

    assert [(r.suite, r.name) for r in everything] == [
        ("one", "a1"), ("one", "b1"), ("one", "a2"), ("two", "b2"),
    ]  # fmt: skip
    assert sorted(r.name for r in seen) == ["a1", "a2", "b1", "b2"]
    assert [r.name for r in some] == ["a2", "b2"]


def test_run_is_read_only_and_leaves_the_database_writable(db: Db) -> None:
    db.sql(
        "CREATE TABLE t (id integer PRIMARY KEY, v integer)",
        "INSERT INTO t VALUES (1, 2)",
    )
    if db.dialect == "postgresql":
        db.sql(
            "CREATE FUNCTION wipe() RETURNS boolean "
            "AS 'DELETE FROM t RETURNING true' LANGUAGE sql"
        )
    check = "wipe()" if db.dialect == "postgresql" else "v > 5"

    result = db.one({"kind": "expression", "table": "t", "expression": check})
    db.sql("INSERT INTO t VALUES (2, 3)")

    assert db.rows("SELECT id, v FROM t ORDER BY id") == [(1, 2), (2, 3)]
    if db.dialect == "postgresql":
        assert result.status == "error"
        assert "read-only transaction" in str(result.error)
    else:
        assert counts(result) == ("fail", 1)


def test_statement_timeout_is_reported_per_check(pg_url: str) -> None:
    db = Db("postgresql", pg_url)
    db.sql(
        "CREATE TABLE t (id integer PRIMARY KEY, v integer)",
        "INSERT INTO t VALUES (1, 1)",
    )

    results = db.run(
        {"name": "slow", "kind": "expression", "table": "t",
         "expression": "pg_sleep(5) IS NOT NULL"},
        {"name": "fast", "kind": "not_null", "table": "t", "columns": "v"},
        {"name": "slow_sql", "kind": "sql", "query": "SELECT 1 AS id FROM pg_sleep(5)"},
        statement_timeout="300ms",
    )  # fmt: skip

    assert counts(results["fast"]) == ("pass", 0)
    for name in ("slow", "slow_sql"):
        assert counts(results[name]) == ("error", None)
        assert results[name].error == "query cancelled after statement_timeout (300ms)"


def test_schema_qualified_table_and_not_valid_foreign_key(pg_url: str) -> None:
    db = Db("postgresql", pg_url)
    db.sql(
        'CREATE SCHEMA "Sales"',
        'CREATE TABLE "Sales".customer (id integer PRIMARY KEY)',
        'CREATE TABLE "Sales"."Order" (id integer PRIMARY KEY, customer_id integer)',
        'INSERT INTO "Sales".customer VALUES (1)',
        'INSERT INTO "Sales"."Order" VALUES (1, 1), (2, 2)',
        'ALTER TABLE "Sales"."Order" ADD FOREIGN KEY (customer_id) '
        'REFERENCES "Sales".customer (id) NOT VALID',
    )

    result = db.one(
        {
            "kind": "references",
            "table": "Sales.Order",
            "columns": "customer_id",
            "parent_table": "Sales.customer",
            "parent_columns": "id",
        }
    )
    missing = db.one({"kind": "not_null", "table": "Sales.Ordr", "columns": "id"})

    assert result.sample_keys == [{"id": 2}]
    assert missing.error == (
        "table 'Sales.Ordr' does not exist (did you mean 'Sales.Order'?)"
    )


def test_unreachable_target_raises_target_error() -> None:
    target = Target.from_url(
        "postgresql://postgres:secret@127.0.0.1:9/nowhere",
        options=TargetOptions(connect_timeout="2s"),
    )
    suite = make_suite({"name": "c", "kind": "row_count", "table": "t", "min": 1})

    with pytest.raises(TargetError) as raised:
        run_checks(target, [suite])

    assert "127.0.0.1:9" in raised.value.message
    assert "secret" not in str(raised.value)
