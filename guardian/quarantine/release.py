"""Putting quarantined rows back where they came from, in one transaction.

Each row is re-validated against its check before it stays back: it is
inserted into the source, the check's predicate is asked about it, and a row
that still violates is taken out again (unless forced), all inside the one
transaction, so nobody ever sees it. A key that was re-used in the source
meanwhile is a conflict: reported, never overwritten. Columns the source
gained since the quarantine take their defaults. Rows that were only copied
(copy mode, or held in place) never left: releasing an unedited copy
dismisses it, and releasing an edited one applies the edit to the row
(see :mod:`copies`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from guardian.checks import compiler
from guardian.checks.reflect import Catalog
from guardian.checks.spec import Check
from guardian.checks.suite import Suite
from guardian.errors import GuardianError, QuarantineError, SuiteError, UsageError
from guardian.quarantine import rows, tables
from guardian.quarantine.copies import settle_copies
from guardian.quarantine.entries import Entry, Filter, read_entries
from guardian.quarantine.move import affected, display_name_sql, set_timeouts
from guardian.quarantine.spec import QuarantineConfig
from guardian.quarantine.tables import Place
from guardian.targets import Target, mask_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleasePlan:
    """The entries a release would put back, parents before their dependents."""

    entries: tuple[Entry, ...]
    missing: tuple[int, ...] = ()

    def describe(self) -> list[str]:
        """Lines saying what the release would try."""
        lines = [
            f"{e.id}: {e.source} {e.key} ({e.status}, check {e.check})"
            for e in self.entries
        ]
        lines.extend(f"{i}: not waiting in quarantine" for i in self.missing)
        return lines


@dataclass
class ReleaseResult:
    """What a release did (or, dry, would do), entry by entry."""

    released: list[int] = field(default_factory=list)
    dismissed: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    still_violating: list[int] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    dry_run: bool = False

    @property
    def problems(self) -> bool:
        """True when some entry asked for stayed in quarantine."""
        return bool(self.conflicts or self.still_violating or self.kept or self.missing)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "released": self.released,
            "dismissed": self.dismissed,
            "conflicts": self.conflicts,
            "still_violating": self.still_violating,
            "kept": {str(k): v for k, v in self.kept.items()},
            "missing": self.missing,
            "dry_run": self.dry_run,
        }


def plan_release(
    target: Target,
    *,
    ids: Collection[int] = (),
    check: str | None = None,
    config: QuarantineConfig | None = None,
) -> ReleasePlan:
    """The waiting entries named by ``ids`` or by ``check``, with their dependents."""
    if not ids and not check:
        raise UsageError("name the rows to release: quarantine ids or --check NAME")
    place = Place.of(target.dialect, config)
    wanted = Filter(
        ids=list(ids) if ids else None, check=check, statuses=tables.WAITING
    )
    with target.connect() as conn:
        chosen = read_entries(conn, place, wanted)
        dependents = _dependents(conn, place, [e.id for e in chosen])
    known = {e.id for e in chosen}
    extra = [e for e in dependents if e.id not in known]
    missing = tuple(sorted(set(ids) - known))
    ordered = [e for e in chosen if e.dependent_of is None]
    ordered += [e for e in chosen if e.dependent_of is not None]
    return ReleasePlan(tuple(ordered + extra), missing)


def _dependents(conn: Connection, place: Place, parents: list[int]) -> list[Entry]:
    found: list[Entry] = []
    while parents:
        wanted = Filter(dependent_of=parents, statuses=(tables.HELD,))
        batch = read_entries(conn, place, wanted)
        found.extend(batch)
        parents = [e.id for e in batch]
    return found


def execute_release(
    target: Target,
    plan: ReleasePlan,
    suites: Sequence[Suite],
    *,
    force: bool = False,
    dry_run: bool = False,
    config: QuarantineConfig | None = None,
) -> ReleaseResult:
    """Put the plan's entries back in one transaction; roll back when dry.

    Without ``force``, a row that still violates its check (or whose check
    is no longer in ``suites``) stays in quarantine. Raises QuarantineError,
    with nothing changed, when the database refuses the release.
    """
    place = Place.of(target.dialect, config)
    result = ReleaseResult(missing=list(plan.missing), dry_run=dry_run)
    try:
        with target.connect() as conn:
            rows.prepare(conn)
            _Releaser(conn, target, place, suites, force, result).run(plan)
            if dry_run:
                conn.rollback()
            else:
                conn.commit()
    except GuardianError:
        raise
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip().splitlines()
        raise QuarantineError(
            f"release failed ({mask_url(text[0] if text else type(exc).__name__)}); "
            "the transaction was rolled back and every row is still in quarantine"
        ) from None
    log.info(
        "quarantine release: %d released, %d kept",
        len(result.released),
        len(result.conflicts) + len(result.still_violating) + len(result.kept),
    )
    return result


class _Releaser:
    """One release transaction."""

    def __init__(
        self,
        conn: Connection,
        target: Target,
        place: Place,
        suites: Sequence[Suite],
        force: bool,
        result: ReleaseResult,
    ) -> None:
        self.conn = conn
        self.target = target
        self.place = place
        self.suites = suites
        self.force = force
        self.result = result
        self.catalog = Catalog()
        self.now = dt.datetime.now(dt.UTC)

    def run(self, plan: ReleasePlan) -> None:
        if self.target.dialect == "sqlite":
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        set_timeouts(self.conn, self.target)
        released: set[int] = set()
        for group in _groups(plan.entries):
            ready: list[Entry] = []
            for entry in group:
                parent = entry.dependent_of
                # A parent earlier in the same group goes back in the same
                # statement (a table that references itself).
                if (
                    parent is not None
                    and parent not in released
                    and parent not in {e.id for e in ready}
                    and self._waiting(parent)
                ):
                    self.result.kept[entry.id] = (
                        f"the row it references ({parent}) is still in quarantine"
                    )
                    continue
                ready.append(entry)
            if ready:
                released |= self._release_group(ready)

    def _waiting(self, entry_id: int) -> bool:
        wanted = Filter(ids=[entry_id], statuses=tables.WAITING)
        return bool(read_entries(self.conn, self.place, wanted))

    def _release_group(self, group: list[Entry]) -> set[int]:
        """Release entries of one quarantine table and one check; ids released."""
        first = group[0]
        quarantine = tables.reflect_quarantine(
            self.conn, self.place, first.table.quarantine_table
        )
        ids = self._lock(quarantine, [e.id for e in group])
        copies = [e.id for e in group if e.id in ids and e.status != tables.HELD]
        settled = self._settle(quarantine, first, copies) if copies else set()
        held = [e.id for e in group if e.id in ids and e.status == tables.HELD]
        if not held:
            return settled
        copies = sorted(settled)

        source = self._source(first)
        if first.dependent_of is not None:
            # Moved along with the row it references, not for breaking a rule
            # of its own: there is nothing to re-validate.
            return set(copies) | self._put_back(quarantine, source, None, held)
        check = self._check(first)
        if check is None and not self.force:
            for entry_id in held:
                self.result.kept[entry_id] = (
                    f"check {first.suite}.{first.check} is not in the suites given, "
                    "so the row cannot be re-validated (use --force to release anyway)"
                )
            return set(copies)
        done = self._put_back(quarantine, source, check, held)
        return set(copies) | done

    def _settle(self, quarantine: sa.Table, first: Entry, ids: list[int]) -> set[int]:
        """Dismiss the copies, or apply their edits to the rows (see copies)."""
        check = self._check(first)
        violating = None
        if check is not None:
            options = compiler.Options(
                dialect=self.target.dialect, timezone=self.target.options.timezone
            )
            self.catalog.load(self.conn, compiler.table_names(check))
            found = compiler.violating_rows(check, self._lookup(), options)
            source, violating = found.table, found.condition
        else:
            source = self._source(first)
        done = settle_copies(
            self.conn, quarantine, source, ids, violating, force=self.force
        )
        self._mark(quarantine, done.applied + done.dismissed)
        self.result.released.extend(done.applied)
        self.result.dismissed.extend(done.dismissed)
        self.result.conflicts.extend(done.conflicts)
        self.result.still_violating.extend(done.still_violating)
        self.result.kept.update(done.kept)
        return set(done.applied + done.dismissed)

    def _lock(self, quarantine: sa.Table, ids: list[int]) -> set[int]:
        """The ids still waiting, locked so that no other release takes them."""
        query = sa.select(quarantine.c.guardian_id).where(
            quarantine.c.guardian_id.in_(ids),
            quarantine.c.guardian_status.in_(tables.WAITING),
        )
        if self.target.dialect == "postgresql":
            query = query.with_for_update()
        found = {int(i) for i in self.conn.execute(query).scalars()}
        for missing in sorted(set(ids) - found):
            self.result.kept[missing] = "no longer waiting in quarantine"
        return found

    def _source(self, entry: Entry) -> sa.Table:
        name = entry.source
        self.catalog.load(self.conn, [name])
        try:
            return self.catalog.table(name)
        except SuiteError as exc:
            raise QuarantineError(
                f"cannot release into {name}: {exc.reason}; every row is still "
                "in quarantine"
            ) from None

    def _check(self, entry: Entry) -> Check | None:
        for suite in self.suites:
            if suite.name == entry.suite:
                for check in suite.checks:
                    if check.name == entry.check:
                        return check
        return None

    def _put_back(
        self,
        quarantine: sa.Table,
        source: sa.Table,
        check: Check | None,
        ids: list[int],
    ) -> set[int]:
        keys = [c.name for c in source.primary_key.columns]
        if not keys:
            raise QuarantineError(
                f"table {source.name} has no primary key now; its rows cannot be "
                "released exactly; every row is still in quarantine"
            )
        if self.target.dialect == "postgresql":
            name = display_name_sql(self.conn, source)
            self.conn.exec_driver_sql(f"LOCK TABLE {name} IN ROW EXCLUSIVE MODE")
        chosen = quarantine.c.guardian_id.in_(ids)
        taken = sa.exists().where(*(source.c[k] == quarantine.c[k] for k in keys))
        conflicts = self._ids(quarantine, sa.and_(chosen, taken))
        self.result.conflicts.extend(sorted(conflicts))
        rest = [i for i in ids if i not in conflicts]
        if not rest:
            return set()

        common = [c.name for c in tables.data_columns(quarantine) if c.name in source.c]
        back = sa.select(*(quarantine.c[n] for n in common)).where(
            quarantine.c.guardian_id.in_(rest)
        )
        added = affected(self.conn, sa.insert(source).from_select(common, back))
        if added != len(rest):
            raise QuarantineError(
                f"release into {source.name} rolled back: {added} rows inserted for "
                f"{len(rest)} entries; every row is still in quarantine"
            )
        still = self._still_violating(quarantine, source, check, keys, rest)
        if still and not self.force:
            self._take_out(quarantine, source, keys, still)
            self.result.still_violating.extend(sorted(still))
        released = [i for i in rest if self.force or i not in still]
        self._mark(quarantine, released)
        self.result.released.extend(released)
        return set(released)

    def _still_violating(
        self,
        quarantine: sa.Table,
        source: sa.Table,
        check: Check | None,
        keys: list[str],
        ids: list[int],
    ) -> set[int]:
        if check is None:
            return set()
        options = compiler.Options(
            dialect=self.target.dialect, timezone=self.target.options.timezone
        )
        self.catalog.load(self.conn, compiler.table_names(check))
        violating = compiler.violating_rows(check, self._lookup(), options)
        # The check's own table object: the same table as ``source``, but a
        # condition over two objects of one table would join them.
        same_row = [violating.table.c[k] == quarantine.c[k] for k in keys]
        bad = sa.exists().where(violating.condition, *same_row)
        return self._ids(quarantine, sa.and_(quarantine.c.guardian_id.in_(ids), bad))

    def _lookup(self) -> compiler.TableLookup:
        def lookup(name: str) -> sa.Table:
            return self.catalog.table(name)

        return lookup

    def _take_out(
        self, quarantine: sa.Table, source: sa.Table, keys: list[str], ids: set[int]
    ) -> None:
        back = sa.select(*(quarantine.c[k] for k in keys)).where(
            quarantine.c.guardian_id.in_(sorted(ids))
        )
        cols = [source.c[k] for k in keys]
        target = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
        removed = affected(self.conn, sa.delete(source).where(target.in_(back)))
        if removed != len(ids):
            raise QuarantineError(
                f"release into {source.name} rolled back: could not keep "
                f"{len(ids)} still-violating rows out; every row is still in quarantine"
            )

    def _ids(self, quarantine: sa.Table, where: sa.ColumnElement[bool]) -> set[int]:
        query = sa.select(quarantine.c.guardian_id).where(where)
        return {int(i) for i in self.conn.execute(query).scalars()}

    def _mark(self, quarantine: sa.Table, ids: list[int]) -> None:
        if not ids:
            return
        self.conn.execute(
            sa.update(quarantine)
            .where(quarantine.c.guardian_id.in_(ids))
            .values(guardian_status=tables.RELEASED, guardian_changed_at=self.now)
        )


def _groups(entries: Sequence[Entry]) -> list[list[Entry]]:
    """Entries cut into runs of the same table and check, keeping their order."""
    groups: list[list[Entry]] = []
    for entry in entries:
        last = groups[-1][0] if groups else None
        same = last is not None and (
            last.table == entry.table
            and (last.suite, last.check) == (entry.suite, entry.check)
            and (last.dependent_of is None) == (entry.dependent_of is None)
        )
        if same:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups
