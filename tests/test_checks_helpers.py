"""Helpers for the check engine tests: a database of either dialect, suites.

The ``db`` fixture gives the same small interface over a fresh PostgreSQL
database and a fresh SQLite file, so that each behaviour is tested on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from guardian.checks.results import CheckResult
from guardian.checks.runner import run_checks
from guardian.checks.suite import Suite, load_suite_text
from guardian.targets import Target, TargetOptions


def make_suite(*checks: dict[str, Any], name: str = "s", **top: Any) -> Suite:
    """A suite from check mappings, read through the YAML loader as a file is."""
    text = yaml.safe_dump({"suite": name, **top, "checks": list(checks)})
    return load_suite_text(text, source=f"{name}.yml")


@dataclass
class Db:
    """A fresh target database: run SQL on it, run checks against it."""

    dialect: str
    url: str

    def sql(self, *statements: str) -> None:
        """Run statements (DDL, inserts) outside guardian, committed."""
        if self.dialect == "postgresql":
            with psycopg.connect(self.url, autocommit=True) as conn:
                for statement in statements:
                    conn.execute(statement.encode())
            return
        with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of a query, read outside guardian."""
        if self.dialect == "postgresql":
            with psycopg.connect(self.url) as conn:
                return list(conn.execute(query.encode()).fetchall())
        with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
            return list(conn.execute(query).fetchall())

    def target(self, **options: Any) -> Target:
        """A guardian target on this database."""
        return Target.from_url(self.url, name="t", options=TargetOptions(**options))

    def run(self, *checks: dict[str, Any], **options: Any) -> dict[str, CheckResult]:
        """Run the checks as one suite; results by check name."""
        target = self.target(**options)
        try:
            results = run_checks(target, [make_suite(*checks)])
        finally:
            target.dispose()
        return {r.name: r for r in results}

    def one(self, check: dict[str, Any], **options: Any) -> CheckResult:
        """Run a single check (named ``c`` unless named)."""
        check = {"name": "c", **check}
        return self.run(check, **options)[check["name"]]


@pytest.fixture(name="db", params=["postgresql", "sqlite"])
def db_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh database of each dialect in turn."""
    if request.param == "postgresql":
        yield Db("postgresql", request.getfixturevalue("pg_url"))
        return
    path = tmp_path / "target.db"
    sqlite3.connect(path).close()
    yield Db("sqlite", f"sqlite:///{path}")


def counts(result: CheckResult) -> tuple[str, int | None]:
    """Status and violations, the two figures most tests assert."""
    return result.status, result.violations
