"""Putting quarantined rows back where they came from, in one transaction.

Each row is re-validated against its check before it stays back: it is
inserted into the source, the check's predicate is asked about it, and a row
that still violates is taken out again (unless forced), all inside the one
transaction, so nobody ever sees it. A key that was re-used in the source
meanwhile is a conflict: reported, never overwritten. Columns the source
gained since the quarantine take their defaults. The moved rows of one
table go back in one statement, so rows that reference each other (a cycle
through a self-referencing key) meet the key at the statement's end; a row
that stays keeps the rows referencing it in quarantine with it. A database
refusal (a NOT NULL column added since, a foreign key) is exit code 1 with
what to fix, not a failure to run. Rows that were only copied
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
from guardian.errors import (
    ExitCode,
    GuardianError,
    QuarantineError,
    SuiteError,
    UsageError,
)
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
    changed: list[int] = field(default_factory=list)
    still_violating: list[int] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    dry_run: bool = False

    @property
    def problems(self) -> bool:
        """True when some entry asked for stayed in quarantine."""
        return bool(
            self.conflicts
            or self.changed
            or self.still_violating
            or self.kept
            or self.missing
        )

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "released": self.released,
            "dismissed": self.dismissed,
            "conflicts": self.conflicts,
            "changed": self.changed,
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
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        raise _refused(exc, plan) from None
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
        len(result.conflicts)
        + len(result.changed)
        + len(result.still_violating)
        + len(result.kept),
    )
    return result


class ReleaseRefused(QuarantineError):
    """The database refused to take rows back; nothing changed.

    The release ran and found a problem with the rows (a constraint they
    break), so this is exit code 1, not the 3 of a target out of reach.
    """

    exit_code = ExitCode.PROBLEMS


def _refused(exc: SQLAlchemyError, plan: ReleasePlan) -> ReleaseRefused:
    """What the database refused, on which rows, and what to do about it."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    first = mask_url(lines[0] if lines else type(exc).__name__)
    diag = getattr(orig, "diag", None)
    detail = getattr(diag, "message_detail", None)
    column = getattr(diag, "column_name", None)
    table = getattr(diag, "table_name", None)
    constraint = getattr(diag, "constraint_name", None)
    tables_of = sorted({e.source for e in plan.entries})
    where = ", ".join(tables_of)
    message = (
        f"release into {where} refused by the database ({first}"
        + (f"; {detail}" if detail else "")
        + "); the transaction was rolled back and every row is still in quarantine"
    )
    if column and "null" in first.lower():
        hint = (
            f"column {column} of {table or where} was added NOT NULL without a "
            "default: set it in the quarantine table, or give the column a default"
        )
    elif "foreign key" in first.lower():
        hint = (
            f"constraint {constraint or '?'}: the rows reference rows that are not "
            "in their tables; release those first, or fix the values in the "
            "quarantine table"
        )
    else:
        hint = (
            f"fix the rows in the quarantine table so that they meet "
            f"{'constraint ' + constraint if constraint else 'the constraint'}, "
            "then release again"
        )
    return ReleaseRefused(message, hint=hint)


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
        for batch in self._batches(plan.entries):
            here = {e.id for group in batch for e in group}
            groups: list[list[Entry]] = []
            for group in batch:
                ready: list[Entry] = []
                for entry in group:
                    parent = entry.dependent_of
                    # A parent in the same table goes back in the same
                    # statement (a table that references itself).
                    if (
                        parent is not None
                        and parent not in released
                        and parent not in here
                        and self._waiting(parent)
                    ):
                        self._behind(entry.id, parent)
                        continue
                    ready.append(entry)
                if ready:
                    groups.append(ready)
            if groups:
                released |= self._release_batch(groups)

    def _batches(self, entries: Sequence[Entry]) -> list[list[list[Entry]]]:
        """The entries' groups, one batch per table, referenced tables first.

        All rows of a table go back in one statement, and a table goes back
        before the tables whose foreign keys point at it, however the levels
        of a cascade interleave the tables.
        """
        batches: dict[str, list[list[Entry]]] = {}
        for group in _groups(entries):
            batches.setdefault(group[0].table.quarantine_table, []).append(group)
        found: dict[str, sa.Table] = {}
        for key, groups in batches.items():
            name = groups[0][0].source
            try:
                self.catalog.load(self.conn, [name])
                found[key] = self.catalog.table(name)
            except SuiteError:
                # A source gone missing has no keys to order by; putting its
                # rows back reports it.
                continue
        edges = _references(self.conn, found)
        return [batches[key] for key in _referenced_first(list(batches), edges)]

    def _behind(self, entry_id: int, parent: int) -> None:
        self.result.kept[entry_id] = (
            f"the row it references ({parent}) is still in quarantine"
        )

    def _waiting(self, entry_id: int) -> bool:
        wanted = Filter(ids=[entry_id], statuses=tables.WAITING)
        return bool(read_entries(self.conn, self.place, wanted))

    def _release_batch(self, groups: list[list[Entry]]) -> set[int]:
        """Release entries of one quarantine table; the ids released.

        Every moved row of the table goes back in one INSERT, so that rows
        referencing each other (a cycle through a self-referencing key)
        satisfy the key at the end of that statement.
        """
        first = groups[0][0]
        quarantine = tables.reflect_quarantine(
            self.conn, self.place, first.table.quarantine_table
        )
        locked = self._lock(quarantine, [e.id for g in groups for e in g])
        done: set[int] = set()
        parts: list[tuple[Check | None, list[int]]] = []
        staying: set[int] = set()
        for group in groups:
            copies = [e.id for e in group if e.id in locked and e.status != tables.HELD]
            if copies:
                done |= self._settle(quarantine, group[0], copies)
            held = [e.id for e in group if e.id in locked and e.status == tables.HELD]
            if not held:
                continue
            if group[0].dependent_of is not None:
                # Moved along with the row it references, not for breaking a
                # rule of its own: there is nothing to re-validate.
                parts.append((None, held))
                continue
            check = self._check(group[0])
            if check is None and not self.force:
                for entry_id in held:
                    self.result.kept[entry_id] = (
                        f"check {group[0].suite}.{group[0].check} is not in the "
                        "suites given, so the row cannot be re-validated (use "
                        "--force to release anyway)"
                    )
                staying.update(held)
                continue
            parts.append((check, held))
        if not parts:
            return done
        parents = {e.id: e.dependent_of for g in groups for e in g}
        source = self._source(first)
        return done | self._put_back(quarantine, source, parts, parents, staying)

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
        self._mark(quarantine, done.applied)
        self._mark(quarantine, done.dismissed, tables.DISMISSED)
        self.result.released.extend(done.applied)
        self.result.dismissed.extend(done.dismissed)
        self.result.changed.extend(done.changed)
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
        parts: list[tuple[Check | None, list[int]]],
        parents: dict[int, int | None],
        staying: set[int],
    ) -> set[int]:
        """Insert the moved rows ``parts`` in one statement, re-validate each part.

        A row that stays (a conflict, still violating, or in ``staying``)
        keeps the rows of this table that reference it in quarantine too.
        """
        keys = [c.name for c in source.primary_key.columns]
        if not keys:
            raise QuarantineError(
                f"table {source.name} has no primary key now; its rows cannot be "
                "released exactly; every row is still in quarantine"
            )
        if self.target.dialect == "postgresql":
            name = display_name_sql(self.conn, source)
            self.conn.exec_driver_sql(f"LOCK TABLE {name} IN ROW EXCLUSIVE MODE")
        ids = [i for _, part in parts for i in part]
        chosen = quarantine.c.guardian_id.in_(ids)
        taken = sa.exists().where(*(source.c[k] == quarantine.c[k] for k in keys))
        conflicts = self._ids(quarantine, sa.and_(chosen, taken))
        self.result.conflicts.extend(sorted(conflicts))
        behind = self._follow(ids, parents, conflicts | staying)
        rest = [i for i in ids if i not in conflicts and i not in behind]
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
        still: set[int] = set()
        for check, part in parts:
            mine = [i for i in part if i in rest]
            if mine:
                still |= self._still_violating(quarantine, source, check, keys, mine)
        out: set[int] = set()
        if still and not self.force:
            behind = self._follow(rest, parents, still)
            out = still | behind
            self._take_out(quarantine, source, keys, out)
            self.result.still_violating.extend(sorted(still))
        released = [i for i in rest if i not in out]
        self._mark(quarantine, released)
        self.result.released.extend(released)
        return set(released)

    def _follow(
        self, ids: list[int], parents: dict[int, int | None], staying: set[int]
    ) -> set[int]:
        """The ids that reference (maybe through others) a row that stays."""
        behind: set[int] = set()
        grown = True
        while grown:
            grown = False
            for entry_id in ids:
                parent = parents.get(entry_id)
                if entry_id in behind or entry_id in staying or parent is None:
                    continue
                if parent in staying or parent in behind:
                    behind.add(entry_id)
                    self._behind(entry_id, parent)
                    grown = True
        return behind

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

    def _mark(
        self, quarantine: sa.Table, ids: list[int], status: str = tables.RELEASED
    ) -> None:
        if not ids:
            return
        self.conn.execute(
            sa.update(quarantine)
            .where(quarantine.c.guardian_id.in_(ids))
            .values(guardian_status=status, guardian_changed_at=self.now)
        )


def _references(conn: Connection, found: dict[str, sa.Table]) -> set[tuple[str, str]]:
    """(referenced, referencing) pairs of keys of ``found``, one per foreign key.

    A table referencing itself is left out: one statement puts all its rows
    back, and the key is met at the statement's end.
    """
    if conn.dialect.name != "postgresql":
        return _sqlite_references(conn, found)
    named: dict[int, str] = {}
    for key, table in found.items():
        oid = conn.execute(
            sa.text("SELECT to_regclass(:name)::oid::bigint"),
            {"name": display_name_sql(conn, table)},
        ).scalar()
        if oid is not None:
            named[int(oid)] = key
    if len(named) < 2:
        return set()
    query = sa.text(
        "SELECT k.confrelid::bigint, k.conrelid::bigint FROM pg_constraint k "
        "WHERE k.contype = 'f' AND k.conrelid <> k.confrelid "
        "AND k.conrelid::bigint = ANY(:oids) AND k.confrelid::bigint = ANY(:oids)"
    )
    pairs = conn.execute(query, {"oids": list(named)})
    return {(named[int(parent)], named[int(child)]) for parent, child in pairs}


def _sqlite_references(
    conn: Connection, found: dict[str, sa.Table]
) -> set[tuple[str, str]]:
    inspector = sa.inspect(conn)
    by_name = {(t.schema, t.name): key for key, t in found.items()}
    pairs: set[tuple[str, str]] = set()
    for key, table in found.items():
        for fk in inspector.get_foreign_keys(table.name, schema=table.schema):
            schema = fk.get("referred_schema") or table.schema
            parent = by_name.get((schema, fk["referred_table"]))
            if parent is not None and parent != key:
                pairs.add((parent, key))
    return pairs


def _referenced_first(keys: list[str], edges: set[tuple[str, str]]) -> list[str]:
    """``keys`` with each referenced table before the tables referencing it.

    Tables with no order between them keep the order given. Tables that
    form a cycle cannot all go first; then the order given stands, and a
    row whose parent is not back yet stays in quarantine.
    """
    ordered: list[str] = []
    waiting = list(keys)
    while waiting:
        ready = [
            key
            for key in waiting
            if not any(child == key and parent in waiting for parent, child in edges)
        ]
        if not ready:
            return list(keys)
        ordered.append(ready[0])
        waiting.remove(ready[0])
    return ordered


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
