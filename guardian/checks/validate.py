"""Validating suites against a target without running a single check.

Each check is compiled against the reflected tables (which finds missing
tables and columns, with a suggestion), then its statements are handed to
the database to plan, not run (EXPLAIN, on both PostgreSQL and SQLite),
which finds broken ``where``, ``expression`` and ``query`` text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable, TextClause

from guardian.checks import compiler
from guardian.checks.compiler import FreshnessPlan, Options, Plan, RowPlan
from guardian.checks.reflect import Catalog
from guardian.checks.session import read_only
from guardian.checks.spec import Check
from guardian.checks.suite import Suite
from guardian.errors import SuiteError
from guardian.targets import Target, mask_url

ProblemSeverity = Literal["error", "warning"]


@dataclass(frozen=True)
class SuiteProblem:
    """One check that does not fit the target, and why.

    An ``error`` keeps the check from running; a ``warning`` lets it run
    but with less than it could give (no keys of violating rows, say).
    """

    suite: str
    check: str
    location: str
    message: str
    severity: ProblemSeverity = "error"


def validate_suites(target: Target, suites: Sequence[Suite]) -> list[SuiteProblem]:
    """Every problem of every check of ``suites`` on ``target``, running nothing.

    Missing tables and columns, values that do not fit a column's type, SQL
    text that does not compile (errors), and checks that would report
    violating rows without keys because the table has no primary key and
    the check names no ``key`` (warnings).
    Raises TargetError when the target cannot be reached.
    """
    names = {n: None for s in suites for c in s.checks for n in _tables(c)}
    catalog = Catalog(light=True)
    options = Options(
        dialect=target.dialect,
        sample_size=target.options.sample_size,
        timezone=target.options.timezone,
    )
    problems: list[SuiteProblem] = []
    with target.connect() as conn:
        try:
            catalog.load(conn, names)
            conn.rollback()
            for suite in suites:
                for check in suite.checks:
                    found = _problems(conn, target, suite, check, catalog, options)
                    problems.extend(found)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise target.connection_error(exc) from None
            raise
    return problems


def _tables(check: Check) -> list[str]:
    return compiler.table_names(check)


def _problems(
    conn: Connection,
    target: Target,
    suite: Suite,
    check: Check,
    catalog: Catalog,
    options: Options,
) -> list[SuiteProblem]:
    def problem(message: str, severity: ProblemSeverity = "error") -> SuiteProblem:
        location = suite.where(check.name)
        return SuiteProblem(suite.name, check.name, location, message, severity)

    try:
        plan = compiler.compile_check(check, catalog.table, options)
    except SuiteError as exc:
        return [problem(exc.reason)]

    found = []
    error = _compiles(conn, target, plan)
    if error is not None:
        found.append(problem(f"the check's SQL does not compile: {error}"))
    if not isinstance(plan, FreshnessPlan) and plan.note is not None:
        found.append(problem(plan.note, "warning"))
    refusal = _move_refused(check, catalog)
    if refusal is not None:
        found.append(problem(refusal, "warning"))
    return found


def _move_refused(check: Check, catalog: Catalog) -> str | None:
    """Why a quarantine move asked for by ``check`` would be refused, if it would."""
    action = check.on_violation
    if action is None or not action.quarantines or action.mode != "move":
        return None
    if check.table is None:
        return None
    table = catalog.table(check.table)
    if len(table.primary_key.columns) > 0:
        return None
    return (
        f"on_violation moves rows, but table {check.table!r} has no primary key: "
        "the move will be refused (mode: copy works without one)"
    )


def _compiles(conn: Connection, target: Target, plan: Plan) -> str | None:
    """The database's complaint about the plan's statements, or None."""
    for statement in _statements(plan):
        try:
            with read_only(conn, target):
                _explain(conn, statement)
        except SQLAlchemyError as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise
            orig = getattr(exc, "orig", None)
            text = str(orig if orig is not None else exc).strip()
            return mask_url(text.splitlines()[0] if text else type(exc).__name__)
    return None


def _statements(plan: Plan) -> list[Executable]:
    if isinstance(plan, RowPlan):
        sample = plan.sample()
        counts: list[Executable] = [compiler.fused_select([plan])]
        return counts + ([sample] if sample is not None else [])
    if isinstance(plan, FreshnessPlan):
        return [plan.newest]
    if isinstance(plan.count, TextClause):
        # The sample of an sql check reads the same query as its count.
        return [plan.count]
    return [s for s in (plan.count, plan.sample) if s is not None]


def _explain(conn: Connection, statement: Executable) -> None:
    """Have the database plan ``statement`` (EXPLAIN), which runs nothing."""
    if isinstance(statement, TextClause):
        conn.execute(sa.text(f"EXPLAIN {statement.text}"))
        return
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(_plain(compiled.params[name]) for name in compiled.positiontup)
    conn.exec_driver_sql(f"EXPLAIN {compiled.string}", params)


def _plain(value: Any) -> Any:
    """A bound value SQLite's driver accepts; EXPLAIN only needs its place."""
    if value is None or isinstance(value, int | float | str | bytes):
        return value
    return str(value)
