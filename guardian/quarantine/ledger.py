"""The ledger in the state store: every movement into, out of and within quarantine.

The quarantine tables on the target hold each row's own record; the
ledger here holds each movement (a move, a release, a purge) with its
counts, so that ``guardian status`` and audits see what was done where,
even for targets that are gone.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from guardian.checks.results import json_value
from guardian.quarantine.entries import Entry
from guardian.quarantine.plan import MoveResult
from guardian.quarantine.release import ReleaseResult
from guardian.state.models import QuarantineMovementRecord
from guardian.state.store import StateStore

ACTION = "record a quarantine movement in"


@dataclass(frozen=True)
class Movement:
    """One movement as the ledger keeps it."""

    id: int
    target: str
    movement: str
    table: str
    suite: str | None
    check: str | None
    run_id: int | None
    batch: str | None
    rows: int
    ids: list[int] | None
    detail: str | None
    at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "id": self.id,
            "target": self.target,
            "movement": self.movement,
            "table": self.table,
            "suite": self.suite,
            "check": self.check,
            "run_id": self.run_id,
            "batch": self.batch,
            "rows": self.rows,
            "ids": self.ids,
            "detail": self.detail,
            "at": json_value(self.at),
        }


def record_move(
    store: StateStore, target: str, result: MoveResult, run_id: int | None = None
) -> None:
    """Record what a move did: rows in, copied, held in place, or a refusal."""
    if result.dry_run:
        return
    records = []
    counts = [
        ("in", result.moved, None),
        ("copied", result.copied, None),
        ("held_in_place", result.held_in_place, ", ".join(result.held_by) or None),
    ]
    for movement, rows, detail in counts:
        if rows:
            records.append(_record(target, movement, result, rows, detail, run_id))
    for table, rows in result.cascaded.items():
        if rows:
            detail = f"dependents of rows of {result.table}"
            record = _record(target, "in", result, rows, detail, run_id)
            record.source_table = table
            record.batch = f"{result.batch}:dependents"
            records.append(record)
    if result.refused:
        records.append(_record(target, "refused", result, 0, result.refused, run_id))
    _save(store, records)


def record_release(
    store: StateStore, target: str, result: ReleaseResult, entries: Sequence[Entry]
) -> None:
    """Record the rows a release put back and the copies it dismissed."""
    if result.dry_run:
        return
    by_id = {e.id: e for e in entries}
    records = []
    for movement, ids in (("out", result.released), ("dismissed", result.dismissed)):
        groups: dict[tuple[str, str | None, str | None], list[int]] = {}
        for entry_id in ids:
            entry = by_id.get(entry_id)
            if entry is not None:
                groups.setdefault((entry.source, entry.suite, entry.check), []).append(
                    entry_id
                )
        for (table, suite, check), chosen in groups.items():
            records.append(
                QuarantineMovementRecord(
                    target=target,
                    movement=movement,
                    source_table=table,
                    suite=suite,
                    check_name=check,
                    rows=len(chosen),
                    ids=sorted(chosen),
                    at=_now(),
                    hostname=socket.gethostname(),
                )
            )
    _save(store, records)


def record_purge(
    store: StateStore, target: str, entries: Sequence[Entry], purged: Sequence[int]
) -> None:
    """Record the entries a purge cleared, per source table."""
    done = set(purged)
    tables: dict[str, list[int]] = {}
    for entry in entries:
        if entry.id in done:
            tables.setdefault(entry.source, []).append(entry.id)
    records = [
        QuarantineMovementRecord(
            target=target,
            movement="purged",
            source_table=table,
            rows=len(ids),
            ids=sorted(ids),
            at=_now(),
            hostname=socket.gethostname(),
        )
        for table, ids in tables.items()
    ]
    _save(store, records)


def movements(
    store: StateStore, target: str | None = None, limit: int = 50
) -> list[Movement]:
    """The newest movements first, of one target when it is given."""
    query = sa.select(QuarantineMovementRecord).order_by(
        QuarantineMovementRecord.id.desc()
    )
    if target is not None:
        query = query.where(QuarantineMovementRecord.target == target)
    with store.session("read") as session:
        return [_movement(r) for r in session.scalars(query.limit(limit))]


def knows_check(store: StateStore, target: str, check: str) -> bool:
    """Whether the ledger of ``target`` has any movement of ``check``.

    ``check`` is a check's name, or ``suite.check``.
    """
    record = QuarantineMovementRecord
    suite, _, name = check.rpartition(".")
    named = record.check_name == check
    if suite:
        named = sa.or_(named, sa.and_(record.suite == suite, record.check_name == name))
    query = sa.select(record.id).where(record.target == target, named).limit(1)
    with store.session("read") as session:
        return session.scalars(query).first() is not None


def _record(
    target: str,
    movement: str,
    result: MoveResult,
    rows: int,
    detail: str | None,
    run_id: int | None,
) -> QuarantineMovementRecord:
    return QuarantineMovementRecord(
        target=target,
        movement=movement,
        source_table=result.table,
        suite=result.suite,
        check_name=result.check,
        run_id=run_id,
        batch=result.batch,
        rows=rows,
        detail=detail,
        at=_now(),
        hostname=socket.gethostname(),
    )


def _save(store: StateStore, records: list[QuarantineMovementRecord]) -> None:
    if not records:
        return
    with store.session(ACTION) as session:
        session.add_all(records)


def _movement(record: QuarantineMovementRecord) -> Movement:
    return Movement(
        id=record.id,
        target=record.target,
        movement=record.movement,
        table=record.source_table,
        suite=record.suite,
        check=record.check_name,
        run_id=record.run_id,
        batch=record.batch,
        rows=record.rows,
        ids=list(record.ids) if record.ids is not None else None,
        detail=record.detail,
        at=record.at,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
