"""The state store: guardian's own records of runs, results and jobs.

A SQLite file by default, PostgreSQL for production; the schema belongs to
the Alembic migrations. Every failure to reach the store becomes a
:class:`StateError` naming the store with its password masked.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from guardian.checks.results import CheckResult, RunReport, Status, json_value
from guardian.config import Config, JobConfig
from guardian.errors import StateError
from guardian.state import migrate
from guardian.state.leader import Leadership, leadership_for
from guardian.state.models import (
    CheckResultRecord,
    JobRecord,
    RunRecord,
    ViolationSampleRecord,
)
from guardian.state.records import JobStatus, RunSummary
from guardian.targets import Target, database_url, mask_url

_FAILED = ("fail", "error")
_SUCCEEDED = ("pass", "warn")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StateStore:
    """guardian's records in a SQLite file or a PostgreSQL database.

    Safe to share between threads: each call uses its own session.
    ``migrations`` is a folder of migration scripts other than the shipped
    ones (for tests of upgrades).
    """

    def __init__(self, url: str, *, migrations: Path | None = None) -> None:
        self.url = database_url(url)
        self.display_url = mask_url(self.url)
        self.migrations = migrate.Migrations(migrations)
        self._engine = self._create_engine()

    def _create_engine(self) -> Engine:
        if self.url.get_backend_name() == "sqlite":
            return _sqlite_engine(self.url)
        return sa.create_engine(
            self.url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "guardian"},
        )

    def leadership(self) -> Leadership:
        """The lock that elects one service among those sharing this store."""
        return leadership_for(self._engine)

    def dispose(self) -> None:
        """Close every pooled connection to the store."""
        self._engine.dispose()

    # --- schema -----------------------------------------------------------

    def upgrade(self) -> None:
        """Bring the store's schema to the newest revision (alembic upgrade head).

        A store at a revision this guardian does not know (written by a newer
        one) is left alone and raises StateError.
        """
        current = self.current_revision()
        if current is not None and not self.migrations.knows(current):
            raise self._ahead_error(current)
        folder = self._sqlite_folder()
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateError(
                    f"cannot create the state store at {self.display_url}: "
                    f"{exc.strerror or exc} ({folder})",
                    hint="point state.url at a folder guardian can write to",
                ) from None
        with self._guard("upgrade"), self._engine.begin() as conn:
            self.migrations.upgrade(conn)

    def current_revision(self) -> str | None:
        """The schema revision the store is at; None for a new, empty store.

        Never creates anything: a SQLite file that does not exist is not
        opened, since opening it would create it.
        """
        if not self._file_present():
            return None
        with self._guard("read"), self._engine.connect() as conn:
            return migrate.current_revision(conn)

    def exists(self) -> bool:
        """True when the store has been created, by an upgrade or a first run."""
        return self.current_revision() is not None

    def _sqlite_folder(self) -> Path | None:
        database = self.url.database
        if self.url.get_backend_name() != "sqlite" or not database:
            return None
        if database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).parent

    def _file_present(self) -> bool:
        folder = self._sqlite_folder()
        return folder is None or Path(str(self.url.database)).is_file()

    def ensure_ready(self, *, upgrade: bool = False) -> None:
        """Make sure the schema is the one this guardian needs.

        A brand-new store is created by upgrading it. A store behind the head
        is upgraded only when ``upgrade`` is true, else StateError says to run
        ``guardian db upgrade``; a store ahead (written by a newer guardian)
        is always a StateError.
        """
        current = self.current_revision()
        head = self.migrations.head()
        if current == head:
            return

        if current is not None and not self.migrations.knows(current):
            raise self._ahead_error(current)
        if current is not None and not upgrade:
            raise StateError(
                f"state store at {self.display_url} is at revision {current}, "
                f"guardian needs {head}: run `guardian db upgrade`"
            )
        self.upgrade()

    def _ahead_error(self, current: str) -> StateError:
        return StateError(
            f"state store at {self.display_url} is at revision {current}, "
            f"newer than this guardian knows (it needs {self.migrations.head()})",
            hint="upgrade guardian, or point state.url at another store",
        )

    # --- runs -------------------------------------------------------------

    def start_run(
        self,
        *,
        target: Target,
        suites: Sequence[str],
        job: str | None,
        trigger: str,
    ) -> int:
        """Record that a run begins now; returns its id."""
        record = RunRecord(
            job=job,
            target=target.name,
            target_url=target.display_url,
            suites=list(suites),
            trigger=trigger,
            status="running",
            started_at=_now(),
            pass_count=0,
            warn_count=0,
            fail_count=0,
            error_count=0,
            hostname=socket.gethostname(),
            pid=os.getpid(),
        )
        with self._session("record a run in") as session:
            session.add(record)
            session.flush()
            return record.id

    def finish_run(self, run_id: int, report: RunReport) -> None:
        """Store a run's results, samples, verdict and counts in one transaction."""
        with self._session("record a run in") as session:
            record = self._run(session, run_id)
            record.results.extend(_result_record(r) for r in report.results)
            _close(record, report.verdict, report.error, report.finished_at)
            _set_counts(record, report.counts())

    def fail_run(self, run_id: int, error: str) -> None:
        """Record that a run could not run (target down, suite broken)."""
        with self._session("record a run in") as session:
            _close(self._run(session, run_id), "error", error, None)

    def get_run(self, run_id: int) -> RunReport | None:
        """The run with its check results and samples, or None if unknown."""
        with self._session("read") as session:
            record = session.get(
                RunRecord,
                run_id,
                options=[selectinload(RunRecord.results, CheckResultRecord.samples)],
            )
            return None if record is None else _report(record)

    def recent_runs(
        self, *, job: str | None = None, limit: int = 20
    ) -> list[RunSummary]:
        """The newest runs first; only those of ``job`` when it is given."""
        query = sa.select(RunRecord).order_by(RunRecord.id.desc()).limit(limit)
        if job is not None:
            query = query.where(RunRecord.job == job)
        with self._session("read") as session:
            return [_summary(r) for r in session.scalars(query)]

    def mark_crashed_runs(
        self, is_alive: Callable[[int], bool] | None = None
    ) -> list[int]:
        """Mark runs of this host whose process has died as ``crashed``.

        Runs left ``running`` by a process that was killed would otherwise
        look busy forever. Returns the ids of the runs marked.
        """
        alive = is_alive or _pid_alive
        query = sa.select(RunRecord).where(
            RunRecord.status == "running",
            RunRecord.hostname == socket.gethostname(),
        )
        with self._session("record a run in") as session:
            dead = [r for r in session.scalars(query) if not alive(r.pid)]
            for record in dead:
                record.status = "crashed"
                record.finished_at = _now()
                record.error = f"guardian process {record.pid} ended during the run"
            return [r.id for r in dead]

    # --- jobs -------------------------------------------------------------

    def save_job(
        self,
        name: str,
        *,
        target: str,
        suites: Sequence[str],
        schedule: str,
        next_run_at: dt.datetime | None,
    ) -> None:
        """Record a scheduled job and its next run, for ``status`` elsewhere."""
        with self._session("record a job in") as session:
            session.merge(
                JobRecord(
                    name=name,
                    target=target,
                    suites=list(suites),
                    schedule=schedule,
                    next_run_at=next_run_at,
                    updated_at=_now(),
                )
            )

    def job_statuses(self, config: Config) -> list[JobStatus]:
        """Each configured job's standing, then each target's last ad-hoc run."""
        from guardian.service.schedules import describe_schedule, next_fire_time

        if not self.exists():
            return [_never_run(name, job) for name, job in config.model.jobs.items()]
        with self._session("read") as session:
            saved = {j.name: j for j in session.scalars(sa.select(JobRecord))}
            statuses = []
            for name, job in config.model.jobs.items():
                schedule = describe_schedule(job)
                stored = saved.get(name)
                # A time the service saved is right while it runs; once it is
                # past (the service stopped), the schedule says what is next.
                next_run = (
                    stored.next_run_at
                    if stored is not None
                    and stored.schedule == schedule
                    and stored.next_run_at is not None
                    and stored.next_run_at > _now()
                    else next_fire_time(job)
                )
                statuses.append(
                    JobStatus(
                        name=name,
                        target=job.target,
                        suites=list(job.suites),
                        schedule=schedule,
                        last_run=_last_run(session, RunRecord.job == name),
                        next_run_at=next_run,
                        failures_since_success=_failure_streak(session, name),
                    )
                )
            statuses.extend(_adhoc_statuses(session))
            return statuses

    # --- plumbing ---------------------------------------------------------

    @contextmanager
    def session(self, action: str) -> Iterator[Session]:
        """A session in one transaction, for records other parts keep here.

        ``action`` words a failure: "cannot <action> the state store at …".
        """
        with self._session(action) as session:
            yield session

    @contextmanager
    def _session(self, action: str) -> Iterator[Session]:
        with self._guard(action), Session(self._engine) as session, session.begin():
            yield session

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            raise self._error(action, exc) from None

    def _error(self, action: str, exc: DBAPIError) -> StateError:
        lines = str(exc.orig or exc).strip().splitlines()
        detail = mask_url(lines[0]) if lines else type(exc).__name__
        return StateError(
            f"cannot {action} the state store at {self.display_url}: {detail}",
            hint="check state.url in the configuration and that the store is up",
        )

    @staticmethod
    def _run(session: Session, run_id: int) -> RunRecord:
        record = session.get(RunRecord, run_id)
        if record is None:
            raise StateError(f"no run {run_id} in the state store")
        return record


def _never_run(name: str, job: JobConfig) -> JobStatus:
    from guardian.service.schedules import describe_schedule, next_fire_time

    return JobStatus(
        name=name,
        target=job.target,
        suites=list(job.suites),
        schedule=describe_schedule(job),
        last_run=None,
        next_run_at=next_fire_time(job),
        failures_since_success=0,
    )


def _sqlite_engine(url: sa.URL) -> Engine:
    # The service writes from worker threads while `guardian status` reads
    # from another process: wait for locks instead of failing at once.
    engine = sa.create_engine(url, connect_args={"timeout": 30})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _close(
    record: RunRecord,
    verdict: str,
    error: str | None,
    finished_at: dt.datetime | None,
) -> None:
    record.status = "finished"
    record.verdict = verdict
    record.error = error
    record.finished_at = finished_at or _now()


def _set_counts(record: RunRecord, counts: dict[str, int]) -> None:
    record.pass_count = counts.get("pass", 0)
    record.warn_count = counts.get("warn", 0)
    record.fail_count = counts.get("fail", 0)
    record.error_count = counts.get("error", 0)


def _result_record(result: CheckResult) -> CheckResultRecord:
    samples = [
        ViolationSampleRecord(
            position=index, key={k: json_value(v) for k, v in key.items()}
        )
        for index, key in enumerate(result.sample_keys)
    ]
    observed = result.observed
    return CheckResultRecord(
        suite=result.suite,
        name=result.name,
        kind=result.kind,
        table=result.table,
        severity=result.severity,
        status=result.status,
        violations=result.violations,
        duration_ms=result.duration_ms,
        error=result.error,
        observed=None
        if observed is None
        else {k: json_value(v) for k, v in observed.items()},
        note=result.note,
        samples=samples,
    )


def _check_result(record: CheckResultRecord) -> CheckResult:
    status: Status = record.status  # type: ignore[assignment]
    return CheckResult(
        suite=record.suite,
        name=record.name,
        kind=record.kind,
        table=record.table,
        severity=record.severity,
        status=status,
        violations=record.violations,
        sample_keys=[dict(s.key) for s in record.samples],
        duration_ms=record.duration_ms,
        error=record.error,
        observed=record.observed,
        note=record.note,
    )


def _report(record: RunRecord) -> RunReport:
    return RunReport(
        target=record.target,
        suites=list(record.suites),
        started_at=record.started_at,
        finished_at=record.finished_at,
        results=[_check_result(r) for r in record.results],
        run_id=record.id,
        job=record.job,
        error=record.error,
    )


def _summary(record: RunRecord) -> RunSummary:
    return RunSummary(
        id=record.id,
        job=record.job,
        target=record.target,
        target_url=record.target_url,
        suites=list(record.suites),
        trigger=record.trigger,
        status=record.status,
        verdict=record.verdict,
        error=record.error,
        started_at=record.started_at,
        finished_at=record.finished_at,
        counts={
            "pass": record.pass_count,
            "warn": record.warn_count,
            "fail": record.fail_count,
            "error": record.error_count,
        },
        hostname=record.hostname,
        pid=record.pid,
    )


def _last_run(session: Session, condition: sa.ColumnElement[bool]) -> RunSummary | None:
    query = sa.select(RunRecord).where(condition).order_by(RunRecord.id.desc())
    record = session.scalars(query.limit(1)).first()
    return None if record is None else _summary(record)


def _failure_streak(session: Session, job: str) -> int:
    """Runs of ``job`` that ended without success since its last success."""
    last_success = (
        sa.select(sa.func.max(RunRecord.id))
        .where(RunRecord.job == job, RunRecord.verdict.in_(_SUCCEEDED))
        .scalar_subquery()
    )
    query = sa.select(sa.func.count()).where(
        RunRecord.job == job,
        RunRecord.status != "running",
        RunRecord.id > sa.func.coalesce(last_success, 0),
    )
    return int(session.scalar(query) or 0)


def _adhoc_statuses(session: Session) -> list[JobStatus]:
    """The newest run per target that no job started."""
    newest = (
        sa.select(sa.func.max(RunRecord.id))
        .where(RunRecord.job.is_(None))
        .group_by(RunRecord.target)
    )
    query = (
        sa.select(RunRecord).where(RunRecord.id.in_(newest)).order_by(RunRecord.target)
    )
    return [
        JobStatus(
            name=None,
            target=record.target,
            suites=list(record.suites),
            schedule=None,
            last_run=_summary(record),
            next_run_at=None,
            failures_since_success=0,
        )
        for record in session.scalars(query)
    ]
