"""Plans: what a move, release or purge would do, before it is done.

Plans are plain records that can be printed (``--dry-run``) and then
executed by :mod:`move`, :mod:`release` and :mod:`purge`. The budget rule
lives here as a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from guardian.checks.reflect import display_name
from guardian.checks.spec import Check
from guardian.quarantine.dependents import Reference
from guardian.quarantine.spec import Dependents, Mode


def over_budget(
    violations: int, table_rows: int, max_rows: int, max_share: float
) -> str | None:
    """Why ``violations`` rows are too many to quarantine at once, or None.

    A sudden flood of violating rows usually means a bad deploy or a bad
    check rather than bad data, so above the budget nothing moves.
    """
    if violations > max_rows:
        return (
            f"{violations} violating rows exceed the budget of {max_rows} rows; "
            "nothing was quarantined"
        )
    if table_rows > 0 and violations / table_rows > max_share:
        share = violations / table_rows
        return (
            f"{violations} violating rows are {share:.1%} of the table's "
            f"{table_rows}, over the budget of {max_share:.1%}; nothing was "
            "quarantined"
        )
    return None


def over_budget_at_move(
    found: int, checked: int, table_rows: int, max_rows: int, max_share: float
) -> str | None:
    """Why the ``found`` rows selected at move time are too many, or None.

    Rows can go bad between the check and the move; the budget holds for
    the rows the move would actually take, not for the check's count.
    """
    if over_budget(found, table_rows, max_rows, max_share) is None:
        return None
    if found > max_rows:
        limit = f"the budget of {max_rows} rows"
    else:
        limit = f"the budget of {max_share:.1%} of the table's {table_rows} rows"
    return (
        f"found {found} violating rows at move time (the check found {checked}), "
        f"over {limit}; nothing was quarantined"
    )


@dataclass(frozen=True)
class MovePlan:
    """Quarantine of one check's violating rows of one table.

    ``signature`` is the source table's columns and types when the plan was
    made: the move refuses to run if the table changed since. ``refused``
    says why nothing will be quarantined (budget, no primary key).
    ``references`` are the foreign keys pointing at the source; ``tree``,
    for ``dependents: cascade``, every foreign key on the way down from it
    (children, grandchildren…), breadth first. ``max_rows`` and
    ``max_share`` are the budget, checked again at move time (None: none).
    """

    suite: str
    check: Check
    source: sa.Table
    condition: sa.ColumnElement[bool]
    mode: Mode
    dependents: Dependents
    references: tuple[Reference, ...]
    signature: tuple[tuple[str, str], ...]
    violations: int
    table_rows: int
    run_id: int | None = None
    refused: str | None = None
    tree: tuple[Reference, ...] = ()
    max_rows: int | None = None
    max_share: float | None = None

    @property
    def keys(self) -> list[sa.Column[Any]]:
        """The source's primary key columns; empty for a table without one."""
        return list(self.source.primary_key.columns)

    @property
    def reason(self) -> str:
        """Why the rows are quarantined, as recorded with each row."""
        text = self.check.description or f"{self.check.kind} check failed"
        return f"{self.suite}.{self.check.name}: {text}"

    def describe(self) -> list[str]:
        """Lines saying what executing the plan would do."""
        table = display_name(self.source)
        if self.refused:
            return [f"{self.check.name}: {table}: quarantine refused: {self.refused}"]
        verb = "move" if self.mode == "move" else "copy"
        lines = [
            f"{self.check.name}: {verb} up to {self.violations} violating rows of "
            f"{table} into quarantine"
        ]
        for ref in self.tree:
            lines.append(f"  and the rows of {ref.label} that reference them")
        for ref in self.references:
            if self.mode == "move" and self.dependents == "hold":
                lines.append(f"  rows referenced by {ref.label} are copied, not moved")
        return lines


@dataclass
class MoveResult:
    """What a move did (or, dry, would do), in exact numbers."""

    check: str
    suite: str
    table: str
    mode: Mode
    batch: str
    moved: int = 0
    copied: int = 0
    held_in_place: int = 0
    cascaded: dict[str, int] = field(default_factory=dict)
    held_by: list[str] = field(default_factory=list)
    refused: str | None = None
    dry_run: bool = False

    @property
    def total(self) -> int:
        """Rows that entered quarantine."""
        return (
            self.moved + self.copied + self.held_in_place + sum(self.cascaded.values())
        )

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "check": self.check,
            "suite": self.suite,
            "table": self.table,
            "mode": self.mode,
            "batch": self.batch,
            "moved": self.moved,
            "copied": self.copied,
            "held_in_place": self.held_in_place,
            "cascaded": dict(self.cascaded),
            "held_by": list(self.held_by),
            "refused": self.refused,
            "dry_run": self.dry_run,
        }

    def summary(self) -> str:
        """One line for a report."""
        if self.refused:
            return f"{self.table}: not quarantined: {self.refused}"
        parts = []
        if self.moved:
            parts.append(f"{self.moved} moved")
        if self.copied:
            parts.append(f"{self.copied} copied")
        if self.held_in_place:
            held = ", ".join(self.held_by[:3])
            parts.append(f"{self.held_in_place} held in place (referenced by {held})")
        for table, count in self.cascaded.items():
            parts.append(f"{count} dependent rows of {table} moved")
        return f"{self.table}: " + (", ".join(parts) or "no rows to quarantine")
