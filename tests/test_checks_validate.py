"""validate_suites: what does not fit the target is found without running it."""

from __future__ import annotations

from guardian.checks.validate import SuiteProblem, validate_suites
from tests.test_checks_helpers import Db, make_suite
from tests.test_checks_helpers import db_fixture as db_fixture  # the db fixture


def invoice(db: Db) -> None:
    db.sql(
        "CREATE TABLE invoice (id integer PRIMARY KEY, total integer, status text)",
        "CREATE TABLE loose (v integer)",
        "INSERT INTO invoice VALUES (1, NULL, 'x')",
    )


def validate(db: Db, *checks: dict[str, object]) -> list[SuiteProblem]:
    target = db.target()
    try:
        return validate_suites(target, [make_suite(*checks, name="billing")])
    finally:
        target.dispose()


def test_a_fitting_suite_has_no_problems_and_runs_nothing(db: Db) -> None:
    invoice(db)

    problems = validate(
        db,
        {"name": "nn", "kind": "not_null", "table": "invoice", "columns": "total"},
        {"name": "vals", "kind": "accepted_values", "table": "invoice",
         "column": "status", "values": ["x", "y"]},
        {"name": "fresh", "kind": "row_count", "table": "invoice", "min": 1},
        {"name": "q", "kind": "sql", "query": "SELECT id FROM invoice WHERE total < 0"},
        {"name": "u", "kind": "unique", "table": "invoice", "columns": "status",
         "where": "id > 0"},
    )  # fmt: skip

    assert problems == []
    assert db.rows("SELECT id, total, status FROM invoice") == [(1, None, "x")]


def test_missing_table_and_column_with_suggestions_and_location(db: Db) -> None:
    invoice(db)

    problems = validate(
        db,
        {"name": "ok", "kind": "not_null", "table": "invoice", "columns": "id"},
        {"name": "tab", "kind": "not_null", "table": "invoce", "columns": "total"},
        {
            "name": "col",
            "kind": "range",
            "table": "invoice",
            "column": "totl",
            "min": 0,
        },
    )

    assert [(p.check, p.message) for p in problems] == [
        ("tab", "table 'invoce' does not exist (did you mean 'invoice'?)"),
        ("col", "column 'totl' not found in table invoice (did you mean 'total'?)"),
    ]
    assert problems[0].suite == "billing"
    assert problems[0].location == "billing.yml:6"


def test_sql_that_does_not_compile_and_missing_keys(db: Db) -> None:
    invoice(db)

    problems = validate(
        db,
        {"name": "expr", "kind": "expression", "table": "invoice",
         "expression": "totl > 0"},
        {"name": "where", "kind": "not_null", "table": "invoice", "columns": "id",
         "where": "status = = 1"},
        {"name": "q", "kind": "sql", "query": "SELECT id FROM nowhere"},
        {"name": "nokey", "kind": "not_null", "table": "loose", "columns": "v"},
    )  # fmt: skip

    by_check = {p.check: p.message for p in problems}
    assert set(by_check) == {"expr", "where", "q", "nokey"}
    assert "totl" in by_check["expr"]
    assert by_check["expr"].startswith("the check's SQL does not compile: ")
    assert "nowhere" in by_check["q"]
    assert by_check["nokey"].startswith("table has no primary key")
    severity = {p.check: p.severity for p in problems}
    assert severity == {
        "expr": "error",
        "where": "error",
        "q": "error",
        "nokey": "warning",
    }


def test_a_move_that_would_be_refused_is_a_warning(db: Db) -> None:
    db.sql(
        "CREATE TABLE events (kind text, v integer)",
        "CREATE TABLE orders (id integer primary key, v integer)",
    )
    move = {"action": "quarantine", "mode": "move"}
    problems = validate(
        db,
        {
            "name": "e",
            "table": "events",
            "kind": "range",
            "column": "v",
            "min": 0,
            "key": ["kind"],
            "on_violation": move,
        },
        {
            "name": "o",
            "table": "orders",
            "kind": "range",
            "column": "v",
            "min": 0,
            "on_violation": move,
        },
        {
            "name": "c",
            "table": "events",
            "kind": "range",
            "column": "v",
            "min": 0,
            "key": ["kind"],
            "on_violation": {"action": "quarantine", "mode": "copy"},
        },
    )
    assert [(p.check, p.severity) for p in problems] == [("e", "warning")]
    assert "has no primary key: the move will be refused" in problems[0].message
