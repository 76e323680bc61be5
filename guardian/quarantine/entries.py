"""Reading what is in quarantine: one entry per held (or once held) row.

The quarantine tables on the target are the truth of what is held; these
functions read them for ``list``, ``show``, release and purge.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.checks.results import json_value
from guardian.quarantine import tables
from guardian.quarantine.tables import Place, Registered


@dataclass(frozen=True)
class Entry:
    """One row in a quarantine table: the row's values and why it is there."""

    id: int
    table: Registered
    suite: str | None
    check: str | None
    run_id: int | None
    reason: str | None
    at: dt.datetime
    mode: str
    status: str
    key: dict[str, Any]
    checksum: str
    batch: str
    dependent_of: int | None = None
    held_by: str | None = None
    changed_at: dt.datetime | None = None
    row: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The source table, as suites name it."""
        return self.table.source_display

    def to_json(self, with_row: bool = False) -> dict[str, Any]:
        """The stable JSON form; the row's values only when asked."""
        data: dict[str, Any] = {
            "id": self.id,
            "table": self.source,
            "quarantine_table": self.table.quarantine_table,
            "suite": self.suite,
            "check": self.check,
            "run_id": self.run_id,
            "reason": self.reason,
            "at": json_value(self.at),
            "mode": self.mode,
            "status": self.status,
            "key": {k: json_value(v) for k, v in self.key.items()},
            "checksum": self.checksum,
            "dependent_of": self.dependent_of,
            "held_by": self.held_by,
            "changed_at": json_value(self.changed_at),
        }
        if with_row:
            data["row"] = {k: json_value(v) for k, v in self.row.items()}
        return data


@dataclass(frozen=True)
class Filter:
    """Which entries to read; every field left None matches all."""

    ids: Collection[int] | None = None
    table: str | None = None
    check: str | None = None
    since: dt.datetime | None = None
    before: dt.datetime | None = None
    statuses: Collection[str] | None = None
    dependent_of: Collection[int] | None = None


def read_entries(conn: Connection, place: Place, wanted: Filter) -> list[Entry]:
    """Entries matching ``wanted`` across every quarantine table, by id."""
    found: list[Entry] = []
    batches = place.batches(sa.MetaData())
    for registered in tables.registered(conn, place):
        if wanted.table and wanted.table not in (
            registered.source_display,
            registered.source_table,
        ):
            continue
        quarantine = tables.reflect_quarantine(conn, place, registered.quarantine_table)
        query = _joined(quarantine, batches).where(
            *_conditions(quarantine, batches, wanted)
        )
        for row in conn.execute(query.order_by(quarantine.c.guardian_id)):
            found.append(_entry(registered, quarantine, row._mapping))
    return sorted(found, key=lambda e: e.id)


def _joined(quarantine: sa.Table, batches: sa.Table) -> sa.Select[Any]:
    """A quarantine table's rows, each with the fields of its batch."""
    b = batches.c
    fields = [b.batch, b.suite, b.check_name, b.run_id, b.reason, b.at, b.mode]
    labelled = [f.label(n) for f, n in zip(fields, tables.BATCH_LABELS, strict=True)]
    joined = quarantine.outerjoin(batches, quarantine.c.guardian_batch == b.batch_id)
    return sa.select(quarantine, *labelled).select_from(joined)


def iter_tables(
    conn: Connection, place: Place
) -> Iterator[tuple[Registered, sa.Table]]:
    """Every quarantine table with its registry record."""
    for registered in tables.registered(conn, place):
        yield (
            registered,
            tables.reflect_quarantine(conn, place, registered.quarantine_table),
        )


def _conditions(
    q: sa.Table, batches: sa.Table, wanted: Filter
) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    b = batches.c
    if wanted.ids is not None:
        found.append(q.c.guardian_id.in_(list(wanted.ids)))
    if wanted.check:
        suite, _, name = wanted.check.rpartition(".")
        if suite:
            found.append(
                sa.or_(
                    b.check_name == wanted.check,
                    sa.and_(b.suite == suite, b.check_name == name),
                )
            )
        else:
            found.append(b.check_name == wanted.check)
    if wanted.since is not None:
        found.append(b.at >= wanted.since)
    if wanted.before is not None:
        found.append(b.at < wanted.before)
    if wanted.statuses is not None:
        found.append(q.c.guardian_status.in_(list(wanted.statuses)))
    if wanted.dependent_of is not None:
        found.append(q.c.guardian_dependent_of.in_(list(wanted.dependent_of)))
    return found


def _entry(registered: Registered, q: sa.Table, row: Any) -> Entry:
    data = {c.name: row[c.name] for c in tables.data_columns(q)}
    key_text = row["guardian_key"]
    return Entry(
        id=int(row["guardian_id"]),
        table=registered,
        suite=row["guardian_suite"],
        check=row["guardian_check"],
        run_id=row["guardian_run_id"],
        reason=row["guardian_reason"],
        at=_aware(row["guardian_at"]),
        mode=row["guardian_mode"],
        status=row["guardian_status"],
        key=json.loads(key_text) if key_text else {},
        checksum=row["guardian_checksum"],
        batch=row["guardian_batch_name"],
        dependent_of=row["guardian_dependent_of"],
        held_by=row["guardian_held_by"],
        changed_at=_aware(row["guardian_changed_at"])
        if row["guardian_changed_at"]
        else None,
        row=data,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite keeps no zone; guardian writes UTC there.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
