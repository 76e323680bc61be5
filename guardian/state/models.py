"""guardian's own tables, as SQLAlchemy declarative models.

The schema is created and changed only by the Alembic migrations in
``migrations/``; these models must match them (a test compares the two).
Every table name starts with ``guardian_`` so the store can share a database
with other applications.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TABLE_PREFIX = "guardian_"

# Deterministic constraint and index names, identical on every backend, so
# that later migrations can drop or alter them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no 64-bit autoincrement other than INTEGER PRIMARY KEY, which
# already is 64 bits there.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so a naive value read from it is UTC by contract.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("guardian stores only timezone-aware timestamps")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the state store's tables."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class RunRecord(Base):
    """One run: a job or a command executing suites against a target."""

    __tablename__ = "guardian_runs"
    __table_args__ = (
        sa.Index("ix_guardian_runs_job_started_at", "job", "started_at"),
        sa.Index("ix_guardian_runs_target_started_at", "target", "started_at"),
        sa.CheckConstraint(
            "status in ('running', 'finished', 'crashed')", name="status"
        ),
        sa.CheckConstraint(
            "verdict is null or verdict in ('pass', 'warn', 'fail', 'error')",
            name="verdict",
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    job: Mapped[str | None] = mapped_column(sa.String(200))
    target: Mapped[str] = mapped_column(sa.String(200))
    target_url: Mapped[str] = mapped_column(sa.Text)
    suites: Mapped[list[str]] = mapped_column(sa.JSON)
    trigger: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    verdict: Mapped[str | None] = mapped_column(sa.String(10))
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    pass_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    warn_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    fail_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    error_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    hostname: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int] = mapped_column(sa.Integer)

    results: Mapped[list[CheckResultRecord]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        order_by="CheckResultRecord.id",
    )


class CheckResultRecord(Base):
    """The outcome of one check within a run."""

    __tablename__ = "guardian_check_results"
    __table_args__ = (sa.Index("ix_guardian_check_results_run_id", "run_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("guardian_runs.id", ondelete="CASCADE")
    )
    suite: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(40))
    table: Mapped[str | None] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(10))
    violations: Mapped[int | None] = mapped_column(sa.BigInteger)
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    error: Mapped[str | None] = mapped_column(sa.Text)
    observed: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.Text)

    run: Mapped[RunRecord] = relationship(back_populates="results")
    samples: Mapped[list[ViolationSampleRecord]] = relationship(
        back_populates="check_result",
        cascade="all, delete-orphan",
        order_by="ViolationSampleRecord.position",
    )


class ViolationSampleRecord(Base):
    """The key of one violating row kept as a sample of a failed check."""

    __tablename__ = "guardian_violation_samples"
    __table_args__ = (
        sa.Index("ix_guardian_violation_samples_check_result_id", "check_result_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    check_result_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("guardian_check_results.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(sa.Integer)
    key: Mapped[dict[str, Any]] = mapped_column(sa.JSON)

    check_result: Mapped[CheckResultRecord] = relationship(back_populates="samples")


class JobRecord(Base):
    """A scheduled job as the service last saw it, with its next run."""

    __tablename__ = "guardian_jobs"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    target: Mapped[str] = mapped_column(sa.String(200))
    suites: Mapped[list[str]] = mapped_column(sa.JSON)
    schedule: Mapped[str] = mapped_column(sa.Text)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class QuarantineMovementRecord(Base):
    """One movement of rows into, out of, or within quarantine on a target.

    ``movement`` is ``in`` (moved), ``copied``, ``held_in_place``, ``out``
    (released), ``dismissed`` (a copy released), ``purged`` or ``refused``
    (over the budget: nothing moved). ``ids`` lists the quarantine ids for
    movements out and purges; rows that came in are found by ``batch``.
    """

    __tablename__ = "guardian_quarantine_ledger"
    __table_args__ = (
        sa.Index("ix_guardian_quarantine_ledger_target_at", "target", "at"),
        sa.CheckConstraint(
            "movement in ('in', 'copied', 'held_in_place', 'out', 'dismissed', "
            "'purged', 'refused')",
            name="movement",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(sa.String(200))
    movement: Mapped[str] = mapped_column(sa.String(20))
    source_table: Mapped[str] = mapped_column(sa.Text)
    suite: Mapped[str | None] = mapped_column(sa.String(200))
    check_name: Mapped[str | None] = mapped_column(sa.String(200))
    run_id: Mapped[int | None] = mapped_column(sa.Integer)
    batch: Mapped[str | None] = mapped_column(sa.String(80))
    rows: Mapped[int] = mapped_column(sa.Integer)
    ids: Mapped[list[int] | None] = mapped_column(sa.JSON)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    hostname: Mapped[str] = mapped_column(sa.String(255))
