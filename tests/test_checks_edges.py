"""Edges a new user met: missing schemas, warnings, future times, NULL totals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guardian.cli import _register, cli
from tests.test_checks_helpers import Db, counts
from tests.test_checks_helpers import db_fixture as db_fixture  # the db fixture

IN_SALES = """\
suite: sales
defaults:
  schema: sales
checks:
  - name: in_sales
    kind: not_null
    table: orders
    columns: id
  - name: in_main
    kind: row_count
    table: main_orders
    min: 1
"""

NO_KEY = """\
suite: loose
checks:
  - name: amount_known
    kind: not_null
    table: loose
    columns: amount
"""


def guardian(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder without any configuration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    return tmp_path


def test_a_missing_schema_on_sqlite_is_an_error_of_the_check(
    db: Db, here: Path
) -> None:
    db.sql(
        "CREATE TABLE main_orders (id integer PRIMARY KEY)",
        "INSERT INTO main_orders VALUES (1)",
    )
    # The second check names its schema-less table as the default's own.
    suite = IN_SALES.replace("table: main_orders", "table: public.main_orders")
    if db.dialect == "sqlite":
        suite = suite.replace("public.main_orders", "main.main_orders")
    (here / "sales.yml").write_text(suite, encoding="utf-8")

    result = guardian(
        "check", "run", "sales.yml", "--target", db.url, "--format", "json"
    )

    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["in_sales"]["status"] == "error"
    assert checks["in_sales"]["error"].startswith(
        "schema 'sales' of table 'sales.orders' does not exist"
    )
    if db.dialect == "sqlite":
        assert "only main, temp and attached databases" in checks["in_sales"]["error"]
    assert checks["in_main"]["status"] == "pass"


def test_validate_passes_with_warnings_only(db: Db, here: Path) -> None:
    db.sql("CREATE TABLE loose (amount integer)")
    (here / "loose.yml").write_text(NO_KEY, encoding="utf-8")

    text = guardian("check", "validate", "loose.yml", "--target", db.url)
    as_json = guardian(
        "check", "validate", "loose.yml", "--target", db.url, "--format", "json"
    )

    assert text.exit_code == 0
    assert "check 'amount_known': warning: table has no primary key" in text.stdout
    assert "1 warning among 1 check" in text.stdout
    data = json.loads(as_json.stdout)
    assert as_json.exit_code == 0
    assert data["ok"] is True
    (problem,) = data["problems"]
    assert problem["severity"] == "warning"
    assert problem["message"].startswith("table has no primary key")


def test_validate_fails_on_an_error_beside_a_warning(db: Db, here: Path) -> None:
    db.sql("CREATE TABLE loose (amount integer)")
    broken = NO_KEY + "  - name: typo\n    kind: not_null\n    table: lose\n"
    broken += "    columns: amount\n"
    (here / "loose.yml").write_text(broken, encoding="utf-8")

    result = guardian(
        "check", "validate", "loose.yml", "--target", db.url, "--format", "json"
    )

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    severities = {p["check"]: p["severity"] for p in data["problems"]}
    assert severities == {"amount_known": "warning", "typo": "error"}


def test_a_newest_value_in_the_future_passes_with_a_note(db: Db) -> None:
    ahead = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=5)
    db.sql(
        "CREATE TABLE feed (id integer PRIMARY KEY, at timestamp)",
        f"INSERT INTO feed VALUES (1, '{ahead.isoformat(sep=' ')}')",
    )

    result = db.one(
        {"kind": "freshness", "table": "feed", "column": "at", "max_age": "1h"}
    )

    assert counts(result) == ("pass", 0)
    assert result.observed is not None
    assert result.observed["age_seconds"] < 0
    assert result.note == (
        "newest value is 5d in the future: check the clocks or the time zone"
    )


def test_a_newest_value_in_the_past_has_no_note(db: Db) -> None:
    db.sql(
        "CREATE TABLE feed (id integer PRIMARY KEY, at timestamp)",
        "INSERT INTO feed VALUES (1, '2020-01-01 00:00:00')",
    )

    result = db.one(
        {"kind": "freshness", "table": "feed", "column": "at", "max_age": "1h"}
    )

    assert counts(result) == ("fail", 1)
    assert result.note is None


def test_reconciliation_null_rules(db: Db) -> None:
    db.sql(
        "CREATE TABLE parent (id integer PRIMARY KEY, total integer, n integer)",
        "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer, v integer)",
        # 1: NULL total, no children; 2: NULL total, children with values;
        # 3: NULL total, children with only NULL values; 4: 0, no children;
        # 5: 7, no children; 6: 3 = 1 + 2.
        "INSERT INTO parent VALUES (1, NULL, NULL), (2, NULL, 1), (3, NULL, 1), "
        "(4, 0, 0), (5, 7, 0), (6, 3, 2)",
        "INSERT INTO child VALUES (1, 2, 5), (2, 3, NULL), (3, 6, 1), (4, 6, 2)",
    )
    base = {
        "kind": "reconciliation",
        "table": "parent",
        "columns": "id",
        "child_table": "child",
        "child_columns": "parent_id",
    }

    summed = db.one({**base, "column": "total", "expression": "v"})
    counted = db.one({**base, "column": "n", "aggregate": "count"})
    biggest = db.one({**base, "column": "total", "aggregate": "max", "expression": "v"})

    # A NULL total agrees with no total (no children, or only NULL values);
    # sum and count of nothing are 0; max of nothing is NULL.
    assert summed.sample_keys == [{"id": 2}, {"id": 5}]
    assert counts(counted) == ("pass", 0)
    assert biggest.sample_keys == [{"id": 2}, {"id": 4}, {"id": 5}, {"id": 6}]


def test_text_that_is_no_timestamp_is_named_plainly(db: Db) -> None:
    db.sql(
        "CREATE TABLE feed (id integer PRIMARY KEY, at text)",
        "INSERT INTO feed VALUES (1, 'yesterday')",
    )

    result = db.one(
        {"kind": "freshness", "table": "feed", "column": "at", "max_age": "1h"}
    )

    assert result.status == "error"
    if db.dialect == "postgresql":
        assert result.error is not None
        assert result.error.startswith("freshness on column 'at' of feed (text)")
    else:
        assert result.error == "column 'at': 'yesterday' is not an ISO 8601 timestamp"


def test_two_spellings_of_one_table_name_share_it(db: Db) -> None:
    db.sql(
        'CREATE TABLE "My Table" (id integer primary key, v integer)',
        'INSERT INTO "My Table" VALUES (1, NULL), (2, 5)',
    )
    results = db.run(
        {"name": "quoted", "table": '"My Table"', "kind": "not_null", "columns": "v"},
        {
            "name": "plain",
            "table": "My Table",
            "kind": "range",
            "column": "v",
            "max": 4,
        },
    )
    assert counts(results["quoted"]) == ("fail", 1)
    assert counts(results["plain"]) == ("fail", 1)
