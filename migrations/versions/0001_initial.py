"""The first state store: runs, check results, violation samples, jobs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_runs()
    _create_check_results()
    _create_violation_samples()
    _create_jobs()


def _create_runs() -> None:
    op.create_table(
        "guardian_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(200), nullable=True),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("pass_count", sa.Integer(), nullable=False),
        sa.Column("warn_count", sa.Integer(), nullable=False),
        sa.Column("fail_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_runs")),
        sa.CheckConstraint(
            "status in ('running', 'finished', 'crashed')",
            name=op.f("ck_guardian_runs_status"),
        ),
        sa.CheckConstraint(
            "verdict is null or verdict in ('pass', 'warn', 'fail', 'error')",
            name=op.f("ck_guardian_runs_verdict"),
        ),
    )
    op.create_index(
        "ix_guardian_runs_job_started_at", "guardian_runs", ["job", "started_at"]
    )
    op.create_index(
        "ix_guardian_runs_target_started_at", "guardian_runs", ["target", "started_at"]
    )


def _create_check_results() -> None:
    op.create_table(
        "guardian_check_results",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("table", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("violations", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("observed", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_check_results")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["guardian_runs.id"],
            name=op.f("fk_guardian_check_results_run_id"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_guardian_check_results_run_id", "guardian_check_results", ["run_id"]
    )


def _create_violation_samples() -> None:
    op.create_table(
        "guardian_violation_samples",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("check_result_id", _BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_violation_samples")),
        sa.ForeignKeyConstraint(
            ["check_result_id"],
            ["guardian_check_results.id"],
            name=op.f("fk_guardian_violation_samples_check_result_id"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_guardian_violation_samples_check_result_id",
        "guardian_violation_samples",
        ["check_result_id"],
    )


def _create_jobs() -> None:
    op.create_table(
        "guardian_jobs",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("next_run_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_guardian_jobs")),
    )


def downgrade() -> None:
    op.drop_table("guardian_jobs")
    op.drop_table("guardian_violation_samples")
    op.drop_table("guardian_check_results")
    op.drop_table("guardian_runs")
