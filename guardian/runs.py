"""One run from start to end: the work, then its actions, then records.

This is the only place that knows the order of those steps. The CLI and the
service both come here; a run is recorded in the state store when one is
given, and logged at its start and end either way.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Collection, Sequence

from guardian.checks.results import CheckResult, RunReport
from guardian.checks.runner import run_checks
from guardian.checks.suite import Suite
from guardian.errors import GuardianError
from guardian.quarantine.actions import quarantine_failed
from guardian.quarantine.spec import QuarantineConfig
from guardian.state.store import StateStore
from guardian.targets import Target

log = logging.getLogger(__name__)

TRIGGERS = ("cli", "schedule", "demo")


def run_suites(
    target: Target,
    suites: Sequence[Suite],
    *,
    store: StateStore | None,
    only: Collection[tuple[str, str]] | None = None,
    job: str | None = None,
    trigger: str = "cli",
    on_result: Callable[[CheckResult], None] | None = None,
    quarantine: QuarantineConfig | None = None,
) -> RunReport:
    """Run ``suites`` against ``target`` and record the run in ``store``.

    ``only`` limits the run to (suite, check) pairs. After the checks, the
    violating rows of each failed check whose ``on_violation`` asks for it
    are quarantined (``quarantine`` configures where and the budget). A
    GuardianError that keeps the checks from running (the target is
    unreachable) is recorded as a failed run and raised again.
    """
    names = [suite.name for suite in suites]
    run_id = _start(store, target, names, job, trigger)
    started_at = dt.datetime.now(dt.UTC)
    clock = time.monotonic()

    try:
        results = run_checks(target, suites, only=only, on_result=on_result)
    except GuardianError as exc:
        _record_failure(store, run_id, exc.message)
        raise
    except KeyboardInterrupt:
        # Ctrl-C: the run is over, not running; it never would finish.
        _record_failure(store, run_id, "interrupted")
        raise
    except Exception as exc:
        _record_failure(store, run_id, f"internal error: {type(exc).__name__}: {exc}")
        raise

    try:
        outcomes = quarantine_failed(
            target, suites, results, config=quarantine, store=store, run_id=run_id
        )
    except KeyboardInterrupt:
        _record_failure(store, run_id, "interrupted")
        raise
    report = RunReport(
        target=target.name,
        suites=names,
        started_at=started_at,
        finished_at=dt.datetime.now(dt.UTC),
        results=list(results),
        run_id=run_id,
        job=job,
        actions=[outcome.to_json() for outcome in outcomes],
    )
    if store is not None and run_id is not None:
        store.finish_run(run_id, report)
    _log_finished(report, time.monotonic() - clock)
    return report


def record_failed_run(
    store: StateStore,
    target: Target,
    suites: Sequence[str],
    error: str,
    *,
    job: str | None = None,
    trigger: str = "cli",
) -> int:
    """Record a run that could not even start its work, such as a broken suite."""
    run_id = _start(store, target, list(suites), job, trigger)
    assert run_id is not None
    _record_failure(store, run_id, error)
    return run_id


def _start(
    store: StateStore | None,
    target: Target,
    suites: list[str],
    job: str | None,
    trigger: str,
) -> int | None:
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    run_id = None
    if store is not None:
        run_id = store.start_run(target=target, suites=suites, job=job, trigger=trigger)
    log.info(
        "run %s started: job %s, target %s, suites %s",
        run_id if run_id is not None else "-",
        job or "-",
        target.name,
        ", ".join(suites),
    )
    return run_id


def _record_failure(store: StateStore | None, run_id: int | None, error: str) -> None:
    log.error("run %s could not run: %s", run_id if run_id is not None else "-", error)
    if store is not None and run_id is not None:
        store.fail_run(run_id, error)


def _log_finished(report: RunReport, seconds: float) -> None:
    counts = report.counts()
    total = len(report.results)
    parts = [
        f"{counts[status]} {word}"
        for status, word in (
            ("fail", "failed"),
            ("error", "errored"),
            ("warn", "warned"),
        )
        if counts[status]
    ]
    noun = "check" if total == 1 else "checks"
    detail = (
        f"{', '.join(parts)} of {total} {noun}" if parts else f"{total} {noun} passed"
    )
    log.info(
        "run %s finished: %s (%s) in %.1fs",
        report.run_id if report.run_id is not None else "-",
        report.verdict,
        detail,
        seconds,
    )
