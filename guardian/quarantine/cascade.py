"""``dependents: cascade``: a violating row moves with every row that references it.

The whole tree goes in the mover's one transaction: children,
grandchildren and further, and rows of a table that references itself.
Rows are first copied into quarantine, level by level until a level adds
nothing; each copy of a dependent records the quarantine id of the row it
references. A row already copied by this move is never copied again, which
is what ends the walk on a self-referencing table. Then each table's rows
are deleted by key, the deepest tables first, and the rows deleted from a
table must equal the rows copied from it, or everything rolls back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from guardian.checks.reflect import display_name
from guardian.errors import QuarantineError
from guardian.quarantine import tables
from guardian.quarantine.dependents import Reference, table_key
from guardian.quarantine.plan import MovePlan

if TYPE_CHECKING:
    from guardian.quarantine.move import _Mover

TableKey = tuple[str | None, str]


class Cascade:
    """One cascading move, run inside the mover's transaction."""

    def __init__(self, mover: _Mover, quarantines: dict[TableKey, sa.Table]) -> None:
        self.mover = mover
        self.quarantines = quarantines
        self.copied: dict[TableKey, int] = {}
        self.sources: dict[TableKey, sa.Table] = {
            table_key(mover.plan.source): mover.plan.source
        }

    def run(self) -> None:
        """Copy the violating rows and their dependents, then delete them all."""
        mover, plan = self.mover, self.mover.plan
        source = plan.source
        mover._lock(plan.condition)
        moved = self._copy_violating(source)
        self.copied[table_key(source)] = moved
        mover.result.moved = moved

        while True:
            added = sum(self._copy_dependents(ref) for ref in plan.tree)
            if not added:
                break

        for key in self._deepest_first():
            self._delete(key)

    def _copy_violating(self, source: sa.Table) -> int:
        mover = self.mover
        keys = _keys(source)
        names = [c.name for c in source.columns]
        insert = mover._insert(
            self.quarantines[table_key(source)],
            source,
            source,
            names,
            keys,
            mover.plan.condition,
            tables.HELD,
        )
        return self._run_insert(insert)

    def _copy_dependents(self, ref: Reference) -> int:
        """Copy the rows of ``ref.child`` that reference a row this move copied."""
        assert ref.parent is not None
        mover, child = self.mover, ref.child
        self.sources.setdefault(table_key(child), child)
        keys = _keys(child)
        parent = self.quarantines[table_key(ref.parent)].alias("guardian_parent")
        mine = self.quarantines[table_key(child)].alias("guardian_mine")
        links = sa.and_(
            *(
                child.c[c] == parent.c[p]
                for c, p in zip(ref.columns, ref.parent_columns, strict=True)
            )
        )
        already = sa.exists().where(
            mine.c.guardian_batch == mover.batch_id,
            *(mine.c[k] == child.c[k] for k in keys),
        )
        chosen = sa.and_(
            parent.c.guardian_batch == mover.batch_id,
            parent.c.guardian_status == tables.HELD,
            sa.not_(already),
        )
        joined = child.join(parent, links)
        if mover.postgres:
            # Locked before they are copied: a row changed after its copy was
            # taken would otherwise be deleted with the change unrecorded.
            lock = sa.select(sa.literal(1)).select_from(joined).where(chosen)
            mover.conn.execute(lock.with_for_update(of=child)).all()

        names = [c.name for c in child.columns]
        values = mover._values(
            child,
            child,
            names,
            keys,
            tables.HELD,
            dependent_of=parent.c.guardian_id,
        )
        select = (
            sa.select(mover._id_column(), *values).select_from(joined).where(chosen)
        )
        columns = ["guardian_id", *names, *tables.META_NAMES[1:-1]]
        quarantine = self.quarantines[table_key(child)]
        count = self._run_insert(sa.insert(quarantine).from_select(columns, select))
        if count:
            key = table_key(child)
            self.copied[key] = self.copied.get(key, 0) + count
            cascaded = mover.result.cascaded
            name = display_name(child)
            cascaded[name] = cascaded.get(name, 0) + count
        return count

    def _run_insert(self, insert: sa.Insert) -> int:
        count = self.mover._affected(insert)
        self.mover._advance_ids(count)
        return count

    def _deepest_first(self) -> list[TableKey]:
        """Tables with copied rows, each after every table below it in the tree."""
        depth: dict[TableKey, int] = {table_key(self.mover.plan.source): 0}
        for ref in self.mover.plan.tree:
            assert ref.parent is not None
            child = table_key(ref.child)
            if child not in depth:
                depth[child] = depth[table_key(ref.parent)] + 1
        chosen = [key for key in depth if self.copied.get(key)]
        return sorted(chosen, key=lambda key: -depth[key])

    def _delete(self, key: TableKey) -> None:
        source = self.sources[key]
        quarantine = self.quarantines[key]
        keys = _keys(source)
        held = sa.select(*(quarantine.c[k] for k in keys)).where(
            quarantine.c.guardian_batch == self.mover.batch_id,
            quarantine.c.guardian_status == tables.HELD,
        )
        cols = [source.c[k] for k in keys]
        target = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
        deleted = self.mover._affected(sa.delete(source).where(target.in_(held)))
        if deleted != self.copied[key]:
            raise QuarantineError(
                f"quarantine of {display_name(source)} rolled back: {deleted} rows "
                f"deleted but {self.copied[key]} copied; nothing was moved",
                hint="another session changed the rows meanwhile; the next run retries",
            )


def _keys(table: sa.Table) -> list[str]:
    keys = [c.name for c in table.primary_key.columns]
    if not keys:
        raise QuarantineError(
            f"table {display_name(table)} has no primary key; its rows cannot be "
            "moved with the rows they reference",
            hint="give the table a primary key, or use dependents: hold",
        )
    return keys


def preview(conn: Connection, plan: MovePlan) -> dict[str, int]:
    """How many dependent rows a cascade would move, per table; changes nothing.

    The same walk as the move, over keys read into memory instead of rows
    copied: a dry run is asked for by hand, on a budget-sized set of rows.
    """
    source = plan.source
    found: dict[TableKey, set[tuple[Any, ...]]] = {
        table_key(source): _keys_where(conn, source, plan.condition)
    }
    violating = len(found[table_key(source)])
    grown = True
    while grown:
        grown = False
        for ref in plan.tree:
            assert ref.parent is not None
            parents = found.get(table_key(ref.parent))
            if not parents:
                continue
            referenced = _column_values(conn, ref.parent, ref.parent_columns, parents)
            if not referenced:
                continue
            links = sa.tuple_(*(ref.child.c[c] for c in ref.columns))
            children = _keys_where(conn, ref.child, links.in_(list(referenced)))
            known = found.setdefault(table_key(ref.child), set())
            if not children <= known:
                known |= children
                grown = True
    names = {table_key(ref.child): display_name(ref.child) for ref in plan.tree}
    counts = {names[k]: len(v) for k, v in found.items() if k in names}
    if table_key(source) in names:
        counts[names[table_key(source)]] -= violating
    return {name: count for name, count in counts.items() if count}


def _keys_where(
    conn: Connection, table: sa.Table, where: sa.ColumnElement[bool]
) -> set[tuple[Any, ...]]:
    keys = [table.c[k] for k in _keys(table)]
    return {tuple(row) for row in conn.execute(sa.select(*keys).where(where))}


def _column_values(
    conn: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    keys: set[tuple[Any, ...]],
) -> set[tuple[Any, ...]]:
    key = sa.tuple_(*(table.c[k] for k in _keys(table)))
    query = sa.select(*(table.c[c] for c in columns)).where(key.in_(list(keys)))
    return {tuple(row) for row in conn.execute(query) if None not in tuple(row)}
