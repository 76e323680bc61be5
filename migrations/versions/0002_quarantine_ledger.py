"""The quarantine ledger: every movement of rows into and out of quarantine.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "guardian_quarantine_ledger",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("movement", sa.String(20), nullable=False),
        sa.Column("source_table", sa.Text(), nullable=False),
        sa.Column("suite", sa.String(200), nullable=True),
        sa.Column("check_name", sa.String(200), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("batch", sa.String(80), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("ids", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_quarantine_ledger")),
        sa.CheckConstraint(
            "movement in ('in', 'copied', 'held_in_place', 'out', 'dismissed', "
            "'purged', 'refused')",
            name=op.f("ck_guardian_quarantine_ledger_movement"),
        ),
    )
    op.create_index(
        "ix_guardian_quarantine_ledger_target_at",
        "guardian_quarantine_ledger",
        ["target", "at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_guardian_quarantine_ledger_target_at", "guardian_quarantine_ledger"
    )
    op.drop_table("guardian_quarantine_ledger")
