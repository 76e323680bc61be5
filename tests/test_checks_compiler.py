"""The compiler alone: statements built from specs and tables, no server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from guardian.checks import compiler
from guardian.checks.compiler import Options, QueryPlan, RowPlan
from guardian.errors import SuiteError
from tests.test_checks_helpers import make_suite

DIALECTS = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}

metadata = sa.MetaData()
LINE = sa.Table(
    "InvoiceLine",
    metadata,
    sa.Column("Id", sa.Integer, primary_key=True),
    sa.Column("order", sa.Integer),
    sa.Column("Unit Price", sa.Numeric(10, 2)),
    sa.Column("note", sa.Text),
    sa.Column("at", sa.DateTime),
    schema="Sales",
)
TABLES = {"Sales.InvoiceLine": LINE}


def plan(check: dict[str, Any], dialect: str = "postgresql") -> compiler.Plan:
    spec = make_suite({"name": "c", "table": "Sales.InvoiceLine", **check}).checks[0]
    return compiler.compile_check(spec, TABLES.__getitem__, Options(dialect))


def sql(statement: Any, dialect: str) -> str:
    return str(statement.compile(dialect=DIALECTS[dialect]))


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_row_checks_fuse_into_one_scan_with_bound_values(dialect: str) -> None:
    plans = [
        plan({"kind": "not_null", "columns": ["order", "Unit Price"]}, dialect),
        plan({"kind": "accepted_values", "column": "note", "values": ["secret"]},
             dialect),
        plan({"kind": "range", "column": "Unit Price", "min": 17.5}, dialect),
        plan({"kind": "row_count", "min": 1, "where": "\"order\" > 0"}, dialect),
    ]  # fmt: skip
    row_plans = [p for p in plans if isinstance(p, RowPlan)]

    text = sql(compiler.fused_select(row_plans), dialect)

    assert len(row_plans) == 4
    assert text.count("FROM") == 1
    assert text.count("count(*) FILTER (WHERE") == 4
    assert '"Sales"."InvoiceLine"' in text
    assert '"Unit Price"' in text
    assert '"order"' in text
    assert "secret" not in text
    assert "17.5" not in text


def test_sample_orders_by_key_and_limits() -> None:
    row = plan({"kind": "not_null", "columns": "order"})

    assert isinstance(row, RowPlan)
    text = sql(row.sample(), "postgresql")

    assert 'ORDER BY "Sales"."InvoiceLine"."Id"' in text
    assert "LIMIT" in text


def test_references_is_an_anti_join_never_not_in() -> None:
    refs = plan(
        {"kind": "references", "columns": "order", "parent_table": "Sales.InvoiceLine",
         "parent_columns": "Id"}
    )  # fmt: skip

    assert isinstance(refs, QueryPlan)
    text = sql(refs.count, "postgresql")

    assert "NOT (EXISTS" in text
    assert "NOT IN" not in text


def test_sqlite_timestamps_are_normalised_on_both_sides() -> None:
    rng = plan({"kind": "range", "column": "at", "max": datetime(2024, 1, 1)}, "sqlite")

    assert isinstance(rng, RowPlan)
    text = sql(rng.counted, "sqlite")

    assert text.count("strftime(") == 2


def test_unknown_column_names_the_column_and_suggests() -> None:
    with pytest.raises(SuiteError) as raised:
        plan({"kind": "not_null", "columns": "Order"})

    assert raised.value.reason == (
        "column 'Order' not found in table Sales.InvoiceLine (did you mean 'order'?)"
    )


def test_sql_check_keeps_colons_and_percents_literal() -> None:
    query = plan({"kind": "sql", "query": "SELECT 1 AS id WHERE '10:30' LIKE '%:%';"})

    assert isinstance(query, QueryPlan)
    text = sql(query.count, "postgresql")

    assert "'10:30' LIKE '%%:%%'" in text
    assert text.endswith("AS guardian_sql")
