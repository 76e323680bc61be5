"""Suite values against the types of the columns they are compared with."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from guardian.checks.validate import validate_suites
from guardian.errors import SuiteError
from tests.test_checks_helpers import Db, counts, make_suite
from tests.test_checks_helpers import db_fixture as db_fixture  # the db fixture


def items(db: Db) -> None:
    big = "bigint" if db.dialect == "postgresql" else "integer"
    loose = "loose text" if db.dialect == "postgresql" else "loose"
    db.sql(
        f"CREATE TABLE item (id integer PRIMARY KEY, status text, price numeric, "
        f"qty {big}, country char(2), made date, seen timestamp, {loose})",
        "INSERT INTO item VALUES "
        "(1, 'active', 1.10, 5, 'FR', '2020-01-01', '2020-01-01 10:00:00', 1), "
        "(2, 'gone', 3, -7, 'DE', '1999-12-31', '2031-01-01 00:00:00', 'x'), "
        "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )


def error_of(db: Db, check: dict[str, object]) -> str:
    result = db.one(check)
    assert result.status == "error"
    assert result.error is not None
    return result.error


def test_range_with_number_bounds_on_a_text_column_is_an_error(db: Db) -> None:
    items(db)

    error = error_of(
        db, {"kind": "range", "table": "item", "column": "status", "min": 1, "max": 5}
    )

    assert error.startswith("range on column 'status' of item (text) needs text")
    assert "got 1 and 5" in error
    assert "quote the bounds" in error


def test_range_with_text_bounds_compares_text(db: Db) -> None:
    items(db)

    result = db.one(
        {"kind": "range", "table": "item", "column": "status", "min": "b", "max": "h"}
    )

    assert counts(result) == ("fail", 1)
    assert result.sample_keys == [{"id": 1}]


def test_accepted_numbers_on_a_text_column_say_to_quote_them(db: Db) -> None:
    items(db)
    check = {"kind": "accepted_values", "table": "item", "column": "status"}

    error = error_of(db, {**check, "values": [1.10, 1.1, 3]})

    assert "accepted_values on column 'status' of item (text) needs text" in error
    assert "got 1.1, 1.1 and 3" in error
    assert "'1.10'" in error
    assert "Decimal(" not in error


def test_accepted_text_on_a_number_column_is_an_error(db: Db) -> None:
    items(db)

    error = error_of(
        db,
        {
            "kind": "accepted_values",
            "table": "item",
            "column": "qty",
            "values": ["5", "-7"],
        },
    )

    assert "needs numbers, got '5' and '-7': write numbers unquoted" in error


def test_accepted_numbers_on_a_number_column_compare_exactly(db: Db) -> None:
    items(db)
    check = {"kind": "accepted_values", "table": "item", "column": "price"}

    exact = db.one({**check, "values": [1.1, 3]})
    missing = db.one({**check, "values": [1.10]})

    assert counts(exact) == ("pass", 0)
    assert missing.sample_keys == [{"id": 2}]


def test_accepted_values_on_a_char_column(db: Db) -> None:
    items(db)

    result = db.one(
        {
            "kind": "accepted_values",
            "table": "item",
            "column": "country",
            "values": ["FR", "DEU"],
        }
    )

    assert result.sample_keys == [{"id": 2}]


def test_a_sqlite_column_without_type_takes_any_value(tmp_path: Path) -> None:
    path = tmp_path / "loose.db"
    sqlite3.connect(path).close()
    db = Db("sqlite", f"sqlite:///{path}")
    items(db)

    result = db.one(
        {"kind": "accepted_values", "table": "item", "column": "loose", "values": [1]}
    )

    assert result.sample_keys == [{"id": 2}]


def test_freshness_on_a_number_column_is_an_error_on_postgresql(db: Db) -> None:
    items(db)

    result = db.one(
        {"kind": "freshness", "table": "item", "column": "price", "max_age": "1d"}
    )

    if db.dialect == "postgresql":
        assert result.status == "error"
        assert result.error == (
            "freshness on column 'price' of item (numeric) needs a date or "
            "timestamp column: it reads the newest moment of the column"
        )
    else:
        # SQLite keeps moments as Unix epoch numbers too: 3 is 1970, stale.
        assert counts(result) == ("fail", 1)


def test_a_date_min_and_a_datetime_max_are_accepted(db: Db) -> None:
    items(db)

    result = db.one(
        {
            "kind": "range",
            "table": "item",
            "column": "seen",
            "min": date(2000, 1, 1),
            "max": datetime(2030, 12, 31, 23, 59, 59),
        }
    )
    on_date = db.one(
        {
            "kind": "range",
            "table": "item",
            "column": "made",
            "min": date(2000, 1, 1),
            "max": datetime(2030, 12, 31, 23, 59, 59),
        }
    )

    assert result.sample_keys == [{"id": 2}]
    assert on_date.sample_keys == [{"id": 2}]


def test_bounds_of_different_kinds_are_refused_without_reprs() -> None:
    check = {"name": "c", "kind": "range", "table": "t", "column": "v"}

    with pytest.raises(SuiteError) as mixed:
        make_suite({**check, "min": 1, "max": date(2030, 12, 31)})
    with pytest.raises(SuiteError) as inverted:
        make_suite({**check, "min": date(2030, 1, 1), "max": datetime(2020, 1, 1, 10)})

    assert "min (1) and max (2030-12-31) cannot be compared" in str(mixed.value)
    assert "min (2030-01-01) is greater than max (2020-01-01 10:00:00)" in str(
        inverted.value
    )
    assert "datetime." not in str(mixed.value) + str(inverted.value)


@pytest.mark.parametrize(
    ("bounds", "violating"),
    [
        ({"max": 99999999999999999999999}, []),
        ({"max": float("inf")}, []),
        ({"min": -99999999999999999999999, "max": 0}, [{"id": 1}]),
        ({"min": float("-inf"), "max": 0}, [{"id": 1}]),
        ({"min": 99999999999999999999999}, [{"id": 1}, {"id": 2}]),
        ({"max": -99999999999999999999999}, [{"id": 1}, {"id": 2}]),
        ({"min": -7, "max": 1e30}, []),
    ],
)
def test_bounds_past_the_integer_type(
    db: Db, bounds: dict[str, object], violating: list[dict[str, int]]
) -> None:
    items(db)

    result = db.one({"kind": "range", "table": "item", "column": "qty", **bounds})

    assert result.status != "error", result.error
    assert result.sample_keys == violating


def test_case_insensitive_values_fold_unicode_letters(db: Db) -> None:
    db.sql(
        "CREATE TABLE school (id integer PRIMARY KEY, name text)",
        "INSERT INTO school VALUES (1, 'école'), (2, 'ÉCOLE'), (3, 'Straße')",
    )
    check = {"kind": "accepted_values", "table": "school", "column": "name"}

    folded = db.one({**check, "values": ["ÉCOLE", "STRASSE"], "case_insensitive": True})
    exact = db.one({**check, "values": ["ÉCOLE"]})

    # lower('STRASSE') is 'strasse', not 'straße': folding is lower case only.
    assert folded.sample_keys == [{"id": 3}]
    assert exact.sample_keys == [{"id": 1}, {"id": 3}]


def test_validate_reports_type_problems(db: Db) -> None:
    items(db)
    suite = make_suite(
        {"name": "r", "kind": "range", "table": "item", "column": "status", "min": 1},
        {
            "name": "a",
            "kind": "accepted_values",
            "table": "item",
            "column": "status",
            "values": [3],
        },
        {
            "name": "f",
            "kind": "freshness",
            "table": "item",
            "column": "status",
            "max_age": "1d",
        },
    )
    target = db.target()

    try:
        problems = validate_suites(target, [suite])
    finally:
        target.dispose()

    by_check = {p.check: p for p in problems}
    assert "range on column 'status'" in by_check["r"].message
    assert "accepted_values on column 'status'" in by_check["a"].message
    assert {p.severity for p in problems} == {"error"}
    if db.dialect == "postgresql":
        assert "freshness on column 'status'" in by_check["f"].message
    else:
        assert "f" not in by_check


def test_fractional_bounds_on_an_integer_column_are_not_rounded(db: Db) -> None:
    items(db)

    result = db.one(
        {"kind": "range", "table": "item", "column": "qty", "min": -7.5, "max": 4.5}
    )

    assert result.sample_keys == [{"id": 1}]
