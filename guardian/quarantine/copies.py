"""Releasing a copy: a row that never left its table (copy mode, held in place).

A user who fixes such a copy with plain SQL expects the fix to reach the
table. So a release compares three things for each copy: its values now,
the source row now, and the checksum taken when the copy was made.

- The copy equals the source row: nothing to apply; the copy is dismissed
  once the row no longer violates its check (or with ``--force``), and
  stays held while it does, like a moved row.
- The copy differs and the source row still has the checksum of the copy
  time: the copy was edited; its values are written to the source row by
  key, the row is re-validated against its check, and one that still
  violates gets its old values back and stays (unless forced).
- The copy was not edited but the row was: the same as an unedited copy.
- The copy was edited and the source row changed since (or is gone): a
  conflict, reported as changed since it was copied; guardian never
  overwrites a change it did not see.

A source row that is gone, with a copy left as it was, is dismissed. A
table without a primary key has no key to apply an edit by: an edited copy
of it stays in quarantine (``--force`` dismisses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.quarantine import rows

Values = dict[str, Any]


@dataclass
class CopyOutcome:
    """What became of each copy: applied, dismissed, or kept and why.

    ``changed``: copies whose row changed since it was copied (a conflict).
    """

    applied: list[int] = field(default_factory=list)
    dismissed: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    still_violating: list[int] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Copy:
    id: int
    values: Values
    checksum: str
    unedited: bool


def settle_copies(
    conn: Connection,
    quarantine: sa.Table,
    source: sa.Table,
    ids: Sequence[int],
    violating: sa.ColumnElement[bool] | None,
    *,
    force: bool,
) -> CopyOutcome:
    """Dismiss or apply the copies ``ids`` of rows of ``source``, as above.

    ``violating`` selects the check's violating rows of ``source`` (None
    when the check is unknown: an edit is then applied only with ``force``).
    Runs inside the caller's transaction and leaves the statuses to it.
    """
    outcome = CopyOutcome()
    keys = [c.name for c in source.primary_key.columns]
    names = [c.name for c in source.columns if c.name in quarantine.c]
    for copy in _read(conn, quarantine, source, names, ids):
        if not keys:
            _without_key(copy, outcome, force)
            continue
        current = _source_row(conn, source, keys, names, copy.values)
        if current is None:
            _gone(copy, outcome)
            continue
        values, checksum = current
        if copy.unedited or all(values[n] == copy.values[n] for n in names):
            # Nothing to apply: the row (fixed in its table, or not) decides.
            _unedited(conn, source, keys, copy, violating, force, outcome)
        elif checksum != copy.checksum:
            outcome.changed.append(copy.id)
        elif violating is None and not force:
            outcome.kept[copy.id] = (
                "its check is not in the suites given, so the edit cannot be "
                "re-validated (use --force to apply it anyway)"
            )
        else:
            _apply(conn, source, keys, names, copy, values, violating, force, outcome)
    return outcome


def _read(
    conn: Connection,
    quarantine: sa.Table,
    source: sa.Table,
    names: list[str],
    ids: Sequence[int],
) -> list[_Copy]:
    """Each copy's values, and whether they still match its checksum."""
    hashed = rows.hashable(conn, source)
    now = rows.checksum(
        conn.dialect.name, [quarantine.c[n] for n in names], hashed=hashed
    )
    query = sa.select(
        quarantine.c.guardian_id,
        quarantine.c.guardian_checksum,
        now.label("guardian_now"),
        *(quarantine.c[n] for n in names),
    ).where(quarantine.c.guardian_id.in_(list(ids)))
    found = []
    for row in conn.execute(query.order_by(quarantine.c.guardian_id)):
        data = row._mapping
        found.append(
            _Copy(
                id=int(data["guardian_id"]),
                values={n: data[n] for n in names},
                checksum=str(data["guardian_checksum"]),
                unedited=data["guardian_now"] == data["guardian_checksum"],
            )
        )
    return found


def _source_row(
    conn: Connection,
    source: sa.Table,
    keys: list[str],
    names: list[str],
    values: Mapping[str, Any],
) -> tuple[Values, str] | None:
    """The source row with the copy's key, and its checksum; locked."""
    hashed = rows.hashable(conn, source)
    checksum = rows.checksum(
        conn.dialect.name, [source.c[c.name] for c in source.columns], hashed=hashed
    )
    query = sa.select(*(source.c[n] for n in names), checksum.label("guardian_now"))
    query = query.where(*(source.c[k] == values[k] for k in keys))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=source)
    row = conn.execute(query).first()
    if row is None:
        return None
    data = row._mapping
    return {n: data[n] for n in names}, str(data["guardian_now"])


def _apply(
    conn: Connection,
    source: sa.Table,
    keys: list[str],
    names: list[str],
    copy: _Copy,
    before: Values,
    violating: sa.ColumnElement[bool] | None,
    force: bool,
    outcome: CopyOutcome,
) -> None:
    """Write the edited copy to its row; put the old values back if it violates."""
    same_row = [source.c[k] == copy.values[k] for k in keys]
    changed = {n: copy.values[n] for n in names if n not in keys}
    conn.execute(sa.update(source).where(*same_row).values(**changed))
    if violating is not None and not force:
        query = sa.select(sa.literal(1)).select_from(source)
        if conn.execute(query.where(violating, *same_row)).first() is not None:
            restored = {n: before[n] for n in names if n not in keys}
            conn.execute(sa.update(source).where(*same_row).values(**restored))
            outcome.still_violating.append(copy.id)
            return
    outcome.applied.append(copy.id)


def _unedited(
    conn: Connection,
    source: sa.Table,
    keys: list[str],
    copy: _Copy,
    violating: sa.ColumnElement[bool] | None,
    force: bool,
    outcome: CopyOutcome,
) -> None:
    """Dismiss a copy equal to its row, once the row no longer violates.

    The same rule as for a moved row: one that still breaks its check (or
    whose check cannot be asked) stays held unless forced.
    """
    if force:
        outcome.dismissed.append(copy.id)
        return
    if violating is None:
        outcome.kept[copy.id] = (
            "its check is not in the suites given, so the row cannot be "
            "re-validated (use --force to dismiss the copy anyway)"
        )
        return
    same_row = [source.c[k] == copy.values[k] for k in keys]
    query = sa.select(sa.literal(1)).select_from(source).where(violating, *same_row)
    if conn.execute(query).first() is not None:
        outcome.still_violating.append(copy.id)
    else:
        outcome.dismissed.append(copy.id)


def _gone(copy: _Copy, outcome: CopyOutcome) -> None:
    if copy.unedited:
        outcome.dismissed.append(copy.id)
    else:
        outcome.kept[copy.id] = (
            "the edited copy's row is no longer in its table (or its key was "
            "edited); nothing was applied"
        )


def _without_key(copy: _Copy, outcome: CopyOutcome, force: bool) -> None:
    if copy.unedited or force:
        outcome.dismissed.append(copy.id)
    else:
        outcome.kept[copy.id] = (
            "the copy was edited, but its table has no primary key to apply "
            "the edit by; fix the row in the table (or --force to dismiss)"
        )
