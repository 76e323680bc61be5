"""Running checks against a target: one scan per table, in parallel, read-only.

The work is cut into units: all row-level checks and row_count checks of one
table form one unit (one fused scan, then key samples for the checks that
found violating rows); every other check is a unit of its own. Units run in
parallel up to the target's ``max_parallel``, each on its own connection and
in one read-only transaction, so that a count and its sample see the same
data.

Failures stay as small as they can be. A check that names a missing table
or column, or whose query fails, ends as ``error`` and the others still run;
when a fused scan fails, its checks are retried one by one so that only the
truly failing one is reported. A target that cannot be reached at the start
raises TargetError; when the connection is lost part way, the checks still
to run end as ``error`` with a "connection lost" message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from guardian.checks import compiler
from guardian.checks.compiler import FreshnessPlan, Options, Plan, RowPlan
from guardian.checks.reflect import Catalog
from guardian.checks.results import CheckResult, Status, status_for
from guardian.checks.session import read_only
from guardian.checks.spec import Check, RowCountCheck
from guardian.checks.suite import Suite
from guardian.checks.timestamps import freshness
from guardian.durations import format_duration
from guardian.errors import SuiteError
from guardian.targets import Target, mask_url

log = logging.getLogger(__name__)

ResultCallback = Callable[[CheckResult], None]


@dataclass(frozen=True)
class _Item:
    """One selected check, with its place in the output order."""

    index: int
    suite: str
    check: Check


@dataclass(frozen=True)
class _Outcome:
    """What evaluating a plan found, before it becomes a result."""

    violations: int
    sample: list[dict[str, Any]]
    observed: dict[str, Any] | None = None
    note: str | None = None


class _Failure(Exception):
    """A check's query failed; ``lost`` when the connection went with it."""

    def __init__(self, reason: str, lost: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lost = lost


def run_checks(
    target: Target,
    suites: Sequence[Suite],
    *,
    only: Collection[tuple[str, str]] | None = None,
    on_result: ResultCallback | None = None,
) -> list[CheckResult]:
    """Run the checks of ``suites`` on ``target``; results in suite/check order.

    ``only`` limits the run to (suite name, check name) pairs. ``on_result``
    is called once per result as soon as it is ready, from worker threads,
    but never from two threads at once. Raises TargetError when the target
    cannot be reached at all.
    """
    items = _select(suites, only)
    catalog = Catalog(light=True)
    with target.connect() as conn:
        try:
            catalog.load(conn, _all_table_names(items))
        except DBAPIError as exc:
            raise target.connection_error(exc) from None
    runner = _Runner(target, catalog, on_result)
    return runner.run(items)


def _select(
    suites: Sequence[Suite], only: Collection[tuple[str, str]] | None
) -> list[_Item]:
    chosen = set(only) if only is not None else None
    items: list[_Item] = []
    for suite in suites:
        for check in suite.checks:
            if chosen is None or (suite.name, check.name) in chosen:
                items.append(_Item(len(items), suite.name, check))
    return items


def _all_table_names(items: Sequence[_Item]) -> list[str]:
    names: dict[str, None] = {}
    for item in items:
        names.update(dict.fromkeys(compiler.table_names(item.check)))
    return list(names)


class _Runner:
    """Plans the units of one run, runs them in parallel, collects results."""

    def __init__(
        self, target: Target, catalog: Catalog, on_result: ResultCallback | None
    ) -> None:
        self.target = target
        self.catalog = catalog
        self.options = Options(
            dialect=target.dialect,
            sample_size=target.options.sample_size,
            timezone=target.options.timezone,
        )
        self._on_result = on_result
        self._lock = threading.Lock()
        self._results: list[tuple[int, CheckResult]] = []
        # The driver connections of the queries in flight, to cancel them.
        self._active: set[Any] = set()
        self._interrupted = False

    def run(self, items: Sequence[_Item]) -> list[CheckResult]:
        """Every item's result, in the items' order.

        On KeyboardInterrupt the queries in flight are cancelled, checks not
        yet started are dropped, and the interrupt goes on up at once.
        """
        units = self._plan(items)
        workers = min(self.target.options.max_parallel, max(1, len(units)))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="guardian-check")
        try:
            for future in [pool.submit(self._run_unit, unit) for unit in units]:
                future.result()
        except KeyboardInterrupt:
            self._cancel_all()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

        return [result for _, result in sorted(self._results, key=lambda r: r[0])]

    def _cancel_all(self) -> None:
        """Ask the database to stop every query the workers are running."""
        with self._lock:
            self._interrupted = True
            active = list(self._active)
        for driver_connection in active:
            _cancel(driver_connection)

    def _plan(self, items: Sequence[_Item]) -> list[list[tuple[_Item, Plan]]]:
        """Compile each item; fused row plans grouped by table, others alone."""
        by_table: dict[sa.Table, list[tuple[_Item, Plan]]] = {}
        units: list[list[tuple[_Item, Plan]]] = []
        for item in items:
            started = time.perf_counter()
            try:
                plan = compiler.compile_check(
                    item.check, self.catalog.table, self.options
                )
            except SuiteError as exc:
                self._error(item, exc.reason, started)
                continue
            if isinstance(plan, RowPlan):
                if plan.table not in by_table:
                    by_table[plan.table] = []
                    units.append(by_table[plan.table])
                by_table[plan.table].append((item, plan))
            else:
                units.append([(item, plan)])
        return units

    def _run_unit(self, unit: list[tuple[_Item, Plan]]) -> None:
        if isinstance(unit[0][1], RowPlan):
            self._run_table(unit)
        else:
            item, plan = unit[0]
            self._run_alone(item, plan)

    def _run_table(self, unit: list[tuple[_Item, Plan]]) -> None:
        """One fused scan for the table; one by one if that fails."""
        started = time.perf_counter()
        plans = [plan for _, plan in unit if isinstance(plan, RowPlan)]
        try:
            outcomes = self._in_transaction(lambda c: _evaluate_rows(c, plans))
        except _Failure as failure:
            if failure.lost or len(unit) == 1:
                for item, _ in unit:
                    self._error(item, failure.reason, started)
                return
            log.info("fused scan failed (%s); checking one by one", failure.reason)
            for item, plan in unit:
                self._run_alone(item, plan)
            return

        for (item, plan), outcome in zip(unit, outcomes, strict=True):
            self._done(item, plan, outcome, started)

    def _run_alone(self, item: _Item, plan: Plan) -> None:
        started = time.perf_counter()
        try:
            outcome = self._in_transaction(lambda c: _evaluate(c, plan))
        except _Failure as failure:
            self._error(item, failure.reason, started)
            return
        self._done(item, plan, outcome, started)

    def _in_transaction(self, work: Callable[[Connection], Any]) -> Any:
        """``work`` on a fresh connection, in a read-only transaction."""
        try:
            with self._connection() as conn, read_only(conn, self.target):
                return work(conn)
        except SQLAlchemyError as exc:
            raise self._failure(exc) from None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._interrupted:
            raise _Failure("interrupted", lost=True)
        try:
            conn = self.target.engine().connect()
        except DBAPIError as exc:
            reason = self.target.connection_error(exc).message
            raise _Failure(f"connection lost: {reason}", lost=True) from None
        driver_connection = conn.connection.dbapi_connection
        with self._lock:
            self._active.add(driver_connection)
        try:
            yield conn
        finally:
            with self._lock:
                self._active.discard(driver_connection)
            conn.close()

    def _failure(self, exc: SQLAlchemyError) -> _Failure:
        """The reason a query failed, in words fit for a report."""
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip()
        first = mask_url(text.splitlines()[0] if text else type(exc).__name__)
        options = self.target.options
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate == "57014" and "statement timeout" in text:
            limit = format_duration(options.statement_timeout)
            return _Failure(f"query cancelled after statement_timeout ({limit})", False)
        if sqlstate == "55P03" and "lock timeout" in text:
            limit = format_duration(options.lock_timeout)
            return _Failure(
                f"gave up waiting for a lock after lock_timeout ({limit})", False
            )
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return _Failure(f"connection lost: {first}", lost=True)
        return _Failure(first, lost=False)

    def _done(self, item: _Item, plan: Plan, outcome: _Outcome, started: float) -> None:
        violated = outcome.violations > 0
        # The missing-key note only matters when there are keys to miss.
        note = plan.note if violated and not isinstance(plan, FreshnessPlan) else None
        note = outcome.note or note
        result = _result(
            item,
            status=status_for(item.check.severity, violated),
            violations=outcome.violations,
            sample=outcome.sample,
            started=started,
            observed=outcome.observed,
            note=note,
        )
        self._emit(item, result)

    def _error(self, item: _Item, reason: str, started: float) -> None:
        log.warning("check %s.%s errored: %s", item.suite, item.check.name, reason)
        result = _result(
            item,
            status="error",
            violations=None,
            sample=[],
            started=started,
            error=reason,
        )
        self._emit(item, result)

    def _emit(self, item: _Item, result: CheckResult) -> None:
        with self._lock:
            self._results.append((item.index, result))
            if self._on_result is not None:
                self._on_result(result)


def _cancel(driver_connection: Any) -> None:
    """Stop the query running on a driver connection, from another thread.

    psycopg sends a cancel request over a connection of its own; SQLite's
    interrupt makes the running statement fail at its next step.
    """
    try:
        if hasattr(driver_connection, "cancel_safe"):
            driver_connection.cancel_safe(timeout=5.0)
        elif hasattr(driver_connection, "interrupt"):
            driver_connection.interrupt()
    except Exception as exc:  # the query may have ended, or the server gone
        log.info("could not cancel a query: %s", exc)


def _result(
    item: _Item,
    *,
    status: Status,
    violations: int | None,
    sample: list[dict[str, Any]],
    started: float,
    observed: dict[str, Any] | None = None,
    note: str | None = None,
    error: str | None = None,
) -> CheckResult:
    check = item.check
    return CheckResult(
        suite=item.suite,
        name=check.name,
        kind=check.kind,
        table=check.table,
        severity=check.severity,
        status=status,
        violations=violations,
        sample_keys=sample,
        duration_ms=(time.perf_counter() - started) * 1000,
        error=error,
        observed=observed,
        note=note,
        description=check.description,
    )


def _evaluate_rows(conn: Connection, plans: Sequence[RowPlan]) -> list[_Outcome]:
    """One scan for every count, then key samples only where rows violated."""
    counts = conn.execute(compiler.fused_select(plans)).one()
    outcomes = []
    for plan, count in zip(plans, counts, strict=True):
        outcomes.append(_row_outcome(conn, plan, int(count)))
    return outcomes


def _row_outcome(conn: Connection, plan: RowPlan, count: int) -> _Outcome:
    check = plan.check
    if isinstance(check, RowCountCheck):
        low = check.min is not None and count < check.min
        high = check.max is not None and count > check.max
        return _Outcome(int(low or high), [], {"rows": count})
    sample = plan.sample() if count else None
    return _Outcome(count, _keys(conn, sample))


def _evaluate(conn: Connection, plan: Plan) -> _Outcome:
    if isinstance(plan, RowPlan):
        return _evaluate_rows(conn, [plan])[0]
    if isinstance(plan, FreshnessPlan):
        newest = conn.execute(plan.newest).scalar()
        now = datetime.now(UTC)
        try:
            found = freshness(newest, plan.zone, plan.check.max_age_delta, now)
        except ValueError as exc:
            raise _Failure(f"column {plan.check.column!r}: {exc}", lost=False) from None
        return _Outcome(int(found.stale), [], found.observed(), found.note)
    count = int(conn.execute(plan.count).scalar_one())
    return _Outcome(count, _keys(conn, plan.sample if count else None))


def _keys(conn: Connection, sample: Any) -> list[dict[str, Any]]:
    if sample is None:
        return []
    return [dict(row._mapping) for row in conn.execute(sample)]
