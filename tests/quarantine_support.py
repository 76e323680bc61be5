"""Shared helpers of the quarantine tests: a target with SQL access."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from guardian.checks.spec import Check
from guardian.checks.suite import Suite, load_suite_text
from guardian.quarantine.move import execute_move, plan_move
from guardian.quarantine.plan import MoveResult
from guardian.quarantine.spec import QuarantineConfig
from guardian.targets import Target

# Budgets are tested on their own; elsewhere any number of rows may move.
OPEN = QuarantineConfig(max_rows=10**9, max_share=1.0)


@dataclass
class Db:
    """A target plus plain SQL on it, for arranging and asserting."""

    target: Target

    @classmethod
    def of(cls, url: str) -> Db:
        return cls(Target.from_url(url, "shop"))

    @property
    def dialect(self) -> str:
        return self.target.dialect

    def run(self, *statements: str) -> None:
        with self.target.engine().begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with self.target.engine().connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(query)]

    def quarantine(self, table: str) -> str:
        """The quoted name of the quarantine table of ``table``."""
        if self.dialect == "postgresql":
            return f'guardian_quarantine."public__{table}"'
        return f'"guardian_quarantine__{table}"'

    def held(self, table: str, status: str = "held") -> list[tuple[Any, ...]]:
        return self.rows(
            f"select * from {self.quarantine(table)} "
            f"where guardian_status = '{status}' order by guardian_id"
        )

    def digest(self, table: str, order: str = "1") -> str:
        """A checksum of a whole table's contents, in key order."""
        content = repr(self.rows(f"select * from {table} order by {order}"))
        return hashlib.md5(content.encode()).hexdigest()

    def dispose(self) -> None:
        self.target.dispose()


def suite(text: str, name: str = "s") -> Suite:
    return load_suite_text(text, f"{name}.yml")


def move(
    db: Db, check: Check, config: QuarantineConfig = OPEN, **kwargs: Any
) -> MoveResult:
    plan = plan_move(db.target, "s", check, config=config)
    return execute_move(db.target, plan, config=config, **kwargs)


def ids(rows: Sequence[tuple[Any, ...]], position: int) -> list[Any]:
    return [r[position] for r in rows]


@pytest.fixture(params=["sqlite", "postgresql"])
def qdb(request: pytest.FixtureRequest, sqlite_path: Path) -> Iterator[Db]:
    """A database on each backend, for quarantine tests."""
    if request.param == "sqlite":
        sqlite_path.touch()
        url = f"sqlite:///{sqlite_path}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    db = Db(Target.from_url(url, "shop"))
    yield db
    db.dispose()
