"""Moving (or copying) a check's violating rows into quarantine.

A move is one transaction on the target. The rows are selected again at
move time with the check's own predicate, so a row fixed since the check
ran stays where it is. PostgreSQL moves them with one statement, a
``DELETE … RETURNING`` feeding an ``INSERT`` in a data-modifying CTE: the
delete takes the row locks, and a second guardian moving the same rows at
once waits, then finds them gone, so each row enters quarantine exactly
once. SQLite takes the database's write lock first (``BEGIN IMMEDIATE``),
copies, then deletes exactly the keys it copied. Either way the number of
rows deleted must equal the number inserted, or everything rolls back.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from guardian.checks import compiler
from guardian.checks.reflect import Catalog, display_name
from guardian.checks.spec import Check
from guardian.errors import GuardianError, QuarantineError, SuiteError
from guardian.quarantine import rows, tables
from guardian.quarantine.dependents import Reference, references_to
from guardian.quarantine.plan import MovePlan, MoveResult, over_budget
from guardian.quarantine.spec import OnViolation, QuarantineConfig
from guardian.quarantine.tables import Place
from guardian.targets import Target, mask_url

log = logging.getLogger(__name__)


def plan_move(
    target: Target,
    suite: str,
    check: Check,
    *,
    violations: int | None = None,
    action: OnViolation | None = None,
    config: QuarantineConfig | None = None,
    run_id: int | None = None,
) -> MovePlan:
    """Plan the quarantine of ``check``'s violating rows on ``target``.

    ``violations`` is the count the check found (counted again if None).
    ``action`` defaults to the check's ``on_violation``, else a move. A plan
    over the budget, or a move of a table without a primary key, comes back
    with ``refused`` set and quarantines nothing.
    """
    action = action or check.on_violation or OnViolation(action="quarantine")
    config = config or QuarantineConfig()
    try:
        with target.connect() as conn:
            plan = _plan(conn, target, suite, check, violations, action, config, run_id)
            conn.rollback()
            return plan
    except DBAPIError as exc:
        raise _db_error(exc, check, "plan") from None


def _plan(
    conn: Connection,
    target: Target,
    suite: str,
    check: Check,
    violations: int | None,
    action: OnViolation,
    config: QuarantineConfig,
    run_id: int | None,
) -> MovePlan:
    catalog = Catalog()
    catalog.load(conn, compiler.table_names(check))
    options = compiler.Options(dialect=target.dialect, timezone=target.options.timezone)
    try:
        violating = compiler.violating_rows(check, catalog.table, options)
    except (TypeError, SuiteError) as exc:
        raise QuarantineError(f"check {check.name}: cannot quarantine: {exc}") from None

    source = violating.table
    references: tuple[Reference, ...] = ()
    if action.mode == "move":
        references = tuple(references_to(conn, source))
    rows.prepare(conn)
    if violations is None:
        violations = _count(conn, source, violating.condition)
    table_rows = _table_rows(conn, source)
    refused = over_budget(
        violations,
        table_rows,
        action.max_rows or config.max_rows,
        action.max_share or config.max_share,
    )
    if action.mode == "move" and not source.primary_key.columns:
        refused = (
            f"table {display_name(source)} has no primary key, so its rows cannot "
            "be moved and put back exactly; quarantine it with mode copy "
            "(full-row match) or give the table a primary key"
        )
    return MovePlan(
        suite=suite,
        check=check,
        source=source,
        condition=violating.condition,
        mode=action.mode,
        dependents=action.dependents,
        references=references,
        signature=signature(conn, source),
        violations=violations,
        table_rows=table_rows,
        run_id=run_id,
        refused=refused,
    )


def signature(conn: Connection, table: sa.Table) -> tuple[tuple[str, str], ...]:
    """The table's columns and their types as the database has them now."""
    found = sa.inspect(conn).get_columns(table.name, schema=table.schema)
    return tuple(
        (str(c["name"]), str(c["type"].compile(dialect=conn.dialect))) for c in found
    )


def _count(conn: Connection, table: sa.Table, condition: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(condition)
    return int(conn.execute(query).scalar_one())


def _table_rows(conn: Connection, table: sa.Table) -> int:
    """The table's size: the planner's estimate on PostgreSQL, else a count."""
    if conn.dialect.name == "postgresql":
        name = display_name_sql(conn, table)
        estimate = conn.execute(
            sa.text(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"
            ),
            {"name": name},
        ).scalar()
        if estimate is not None and estimate >= 0:
            return int(estimate)
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def display_name_sql(conn: Connection, table: sa.Table) -> str:
    """The table's name quoted for SQL text, schema-qualified where it has one."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    name = quote(table.name)
    return f"{quote(table.schema)}.{name}" if table.schema else name


def execute_move(
    target: Target,
    plan: MovePlan,
    *,
    config: QuarantineConfig | None = None,
    dry_run: bool = False,
) -> MoveResult:
    """Carry out ``plan``: one transaction, all of it or nothing.

    With ``dry_run`` the rows are only counted and nothing is created or
    changed. Raises QuarantineError (nothing changed) when the table changed
    since the plan, the connection is lost, or the counts disagree.
    """
    config = config or QuarantineConfig()
    place = Place.of(target.dialect, config)
    batch = uuid.uuid4().hex
    result = MoveResult(
        check=plan.check.name,
        suite=plan.suite,
        table=display_name(plan.source),
        mode=plan.mode,
        batch=batch,
        refused=plan.refused,
        dry_run=dry_run,
    )
    if plan.refused:
        return result
    try:
        with target.connect() as conn:
            rows.prepare(conn)
            if dry_run:
                _preview(conn, plan, result)
                conn.rollback()
                return result
            _Mover(conn, target, plan, place, config.read_roles, result).run()
    except GuardianError:
        raise
    except SQLAlchemyError as exc:
        raise _db_error(exc, plan.check, "move") from None
    log.info("quarantine %s: %s", plan.check.name, result.summary())
    return result


def _preview(conn: Connection, plan: MovePlan, result: MoveResult) -> None:
    """Counts of what the move would do, read without changing anything."""
    if plan.mode == "copy":
        result.copied = _count(conn, plan.source, plan.condition)
        return
    held = _held_condition(plan)
    if plan.dependents == "hold" and held is not None:
        result.held_in_place = _count(conn, plan.source, sa.and_(plan.condition, held))
        movable = sa.and_(plan.condition, sa.not_(held))
        result.held_by = [ref.label for ref in plan.references]
    else:
        movable = plan.condition
    result.moved = _count(conn, plan.source, movable)
    if plan.dependents == "cascade":
        for ref in plan.references:
            child = ref.child
            where = _children_of(ref, plan.source, plan.condition)
            result.cascaded[display_name(child)] = _count(conn, child, where)


def _held_condition(plan: MovePlan) -> sa.ColumnElement[bool] | None:
    """Rows of the source that some other row references."""
    if not plan.references:
        return None
    return sa.or_(*(_referenced(ref, plan.source) for ref in plan.references))


def _referenced(ref: Reference, source: sa.Table) -> sa.ColumnElement[bool]:
    child = ref.child.alias("guardian_child")
    match = sa.and_(
        *(
            child.c[c] == source.c[p]
            for c, p in zip(ref.columns, ref.parent_columns, strict=True)
        )
    )
    return sa.exists().where(match)


def _children_of(
    ref: Reference, source: sa.Table, condition: sa.ColumnElement[bool]
) -> sa.ColumnElement[bool]:
    """Rows of the referencing table that point at violating rows of ``source``."""
    parents = sa.select(*(source.c[p] for p in ref.parent_columns)).where(condition)
    cols = [ref.child.c[c] for c in ref.columns]
    target = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
    return target.in_(parents)


class _Mover:
    """One move transaction on one connection."""

    def __init__(
        self,
        conn: Connection,
        target: Target,
        plan: MovePlan,
        place: Place,
        roles: Sequence[str],
        result: MoveResult,
    ) -> None:
        self.conn = conn
        self.target = target
        self.plan = plan
        self.place = place
        self.roles = roles
        self.result = result
        self.now = dt.datetime.now(dt.UTC)
        self.postgres = target.dialect == "postgresql"

    def run(self) -> None:
        plan = self.plan
        quarantine = tables.ensure_table(self.conn, self.place, plan.source, self.roles)
        children = {}
        if plan.mode == "move" and plan.dependents == "cascade":
            for ref in plan.references:
                children[ref] = tables.ensure_table(
                    self.conn, self.place, ref.child, self.roles
                )

        self._begin()
        try:
            self._unchanged()
            if plan.mode == "copy":
                self._lock(plan.condition)
                self.result.copied = self._copy(
                    quarantine, plan.condition, tables.COPIED
                )
            else:
                self._move(quarantine, children)
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def _begin(self) -> None:
        if self.postgres:
            set_timeouts(self.conn, self.target)
            # No ALTER TABLE can slip in between the check below and the move.
            name = display_name_sql(self.conn, self.plan.source)
            self.conn.exec_driver_sql(f"LOCK TABLE {name} IN ROW EXCLUSIVE MODE")
            ids = self.place.id_table(sa.MetaData())
            self.conn.execute(sa.select(ids.c.next_id).with_for_update()).all()
        else:
            # SQLite's write lock covers the id counter as well.
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _unchanged(self) -> None:
        now = signature(self.conn, self.plan.source)
        if now != self.plan.signature:
            before = {name for name, _ in self.plan.signature}
            after = {name for name, _ in now}
            detail = _difference(before, after) or "column types changed"
            raise QuarantineError(
                f"table {display_name(self.plan.source)} changed since check "
                f"{self.plan.check.name} ran ({detail}); nothing was moved",
                hint="run the check again, then quarantine",
            )

    def _lock(self, condition: sa.ColumnElement[bool]) -> None:
        """Lock the violating rows (PostgreSQL; SQLite already holds the write lock).

        The statements after this one take a new snapshot, so they see the
        work of a concurrent guardian that held these locks before us.
        """
        if not self.postgres:
            return
        source = self.plan.source
        query = sa.select(sa.literal(1)).select_from(source).where(condition)
        self.conn.execute(query.with_for_update(of=source)).all()

    def _move(self, quarantine: sa.Table, children: dict[Reference, sa.Table]) -> None:
        plan, result = self.plan, self.result
        held = _held_condition(plan)
        movable = plan.condition
        if held is not None:
            self._lock(plan.condition)
        if held is not None and plan.dependents == "hold":
            result.held_in_place = self._copy(
                quarantine, sa.and_(plan.condition, held), tables.HELD_IN_PLACE
            )
            movable = sa.and_(plan.condition, sa.not_(held))
            if result.held_in_place:
                result.held_by = [ref.label for ref in plan.references]

        dependent_batch = f"{result.batch}:dependents"
        for ref, child_quarantine in children.items():
            moved = self._move_generic(
                ref.child,
                child_quarantine,
                _children_of(ref, plan.source, plan.condition),
                dependent_batch,
            )
            result.cascaded[display_name(ref.child)] = moved

        if self.postgres:
            result.moved = self._move_postgres(quarantine, movable)
        else:
            result.moved = self._move_generic(
                plan.source, quarantine, movable, result.batch
            )
        for ref, child_quarantine in children.items():
            self._link_dependents(ref, quarantine, child_quarantine, dependent_batch)

    def _values(
        self,
        source: sa.FromClause,
        names: Sequence[str],
        keys: Sequence[str],
        status: str,
        batch: str,
        held_by: sa.ColumnElement[Any] | None = None,
    ) -> list[sa.ColumnElement[Any]]:
        """The values of a quarantine row made from a row of ``source``."""
        plan = self.plan
        dialect = self.target.dialect
        data = [source.c[n] for n in names]
        key_names = list(keys) or list(names)
        return [
            *data,
            sa.literal(batch, sa.Text),
            sa.literal(plan.suite, sa.Text),
            sa.literal(plan.check.name, sa.Text),
            sa.literal(plan.run_id, sa.BigInteger),
            sa.literal(plan.reason, sa.Text),
            sa.literal(self.now, sa.DateTime(timezone=True)),
            sa.literal(plan.mode, sa.Text),
            sa.literal(status, sa.Text),
            rows.key_json(dialect, key_names, [source.c[k] for k in key_names]),
            rows.checksum(dialect, data),
            sa.null(),
            held_by if held_by is not None else sa.null(),
        ]

    def _insert(
        self,
        quarantine: sa.Table,
        source: sa.FromClause,
        names: Sequence[str],
        keys: Sequence[str],
        where: sa.ColumnElement[bool] | None,
        status: str,
        batch: str,
        held_by: sa.ColumnElement[Any] | None = None,
    ) -> sa.Insert:
        values = self._values(source, names, keys, status, batch, held_by)
        ids = self._id_column()
        select = sa.select(ids, *values).select_from(source)
        if where is not None:
            select = select.where(where)
        columns = ["guardian_id", *names, *tables.META_NAMES[1:-1]]
        return sa.insert(quarantine).from_select(columns, select)

    def _id_column(self) -> sa.ColumnElement[Any]:
        # The counter's row is locked by this transaction (see _begin), so
        # the block of ids taken here is ours alone.
        ids = self.place.id_table(sa.MetaData())
        start = sa.select(ids.c.next_id).scalar_subquery()
        return start - 1 + sa.func.row_number().over()

    def _advance_ids(self, count: int) -> None:
        if not count:
            return
        ids = self.place.id_table(sa.MetaData())
        self.conn.execute(sa.update(ids).values(next_id=ids.c.next_id + count))

    def _copy(
        self, quarantine: sa.Table, where: sa.ColumnElement[bool], status: str
    ) -> int:
        """Copy the rows of the source matching ``where``, unless already held.

        A row whose copy (same key, same content) is already waiting in
        quarantine is not copied again, so repeated runs do not pile up.
        """
        source = self.plan.source
        names = [c.name for c in source.columns]
        keys = [c.name for c in source.primary_key.columns] or names
        dialect = self.target.dialect
        key_value = rows.key_json(dialect, keys, [source.c[k] for k in keys])
        check = rows.checksum(dialect, [source.c[n] for n in names])
        already = sa.exists().where(
            quarantine.c.guardian_status.in_(tables.WAITING),
            quarantine.c.guardian_key == key_value,
            quarantine.c.guardian_checksum == check,
        )
        held_by = self._held_by() if status == tables.HELD_IN_PLACE else None
        insert = self._insert(
            quarantine,
            source,
            names,
            keys,
            sa.and_(where, sa.not_(already)),
            status,
            self.result.batch,
            held_by,
        )
        count = affected(self.conn, insert)
        self._advance_ids(count)
        return int(count)

    def _held_by(self) -> sa.ColumnElement[Any]:
        whens = [
            (_referenced(ref, self.plan.source), sa.literal(ref.label, sa.Text))
            for ref in self.plan.references
        ]
        return sa.case(*whens, else_=sa.null())

    def _move_postgres(
        self, quarantine: sa.Table, where: sa.ColumnElement[bool]
    ) -> int:
        """One statement: DELETE … RETURNING feeding the INSERT, then both counts."""
        source = self.plan.source
        names = [c.name for c in source.columns]
        keys = [c.name for c in source.primary_key.columns]
        moved = (
            sa.delete(source)
            .where(where)
            .returning(*source.columns)
            .cte("guardian_moved")
        )
        values = self._values(moved, names, keys, tables.HELD, self.result.batch)
        select = sa.select(self._id_column(), *values).select_from(moved)
        columns = ["guardian_id", *names, *tables.META_NAMES[1:-1]]
        inserted = (
            sa.insert(quarantine)
            .from_select(columns, select)
            .returning(quarantine.c.guardian_id)
            .cte("guardian_inserted")
        )
        counts = sa.select(
            sa.select(sa.func.count()).select_from(moved).scalar_subquery(),
            sa.select(sa.func.count()).select_from(inserted).scalar_subquery(),
        )
        deleted, added = self.conn.execute(counts).one()
        _same(int(deleted), int(added), source)
        self._advance_ids(int(added))
        return int(added)

    def _move_generic(
        self,
        source: sa.Table,
        quarantine: sa.Table,
        where: sa.ColumnElement[bool],
        batch: str,
    ) -> int:
        """Copy the rows, then delete exactly the keys copied; counts must agree."""
        names = [c.name for c in source.columns]
        keys = [c.name for c in source.primary_key.columns]
        if not keys:
            raise QuarantineError(
                f"table {display_name(source)} has no primary key; its rows "
                "cannot be moved into quarantine",
                hint="give the table a primary key, or use mode copy",
            )
        if self.postgres:
            locked = sa.select(sa.literal(1)).select_from(source).where(where)
            self.conn.execute(locked.with_for_update(of=source)).all()
        insert = self._insert(
            quarantine, source, names, keys, where, tables.HELD, batch
        )
        added = affected(self.conn, insert)
        self._advance_ids(added)
        held = sa.select(*(quarantine.c[k] for k in keys)).where(
            quarantine.c.guardian_batch == batch,
            quarantine.c.guardian_status == tables.HELD,
        )
        key_cols = [source.c[k] for k in keys]
        target = key_cols[0] if len(key_cols) == 1 else sa.tuple_(*key_cols)
        deleted = affected(self.conn, sa.delete(source).where(target.in_(held)))
        _same(deleted, added, source)
        return added

    def _link_dependents(
        self,
        ref: Reference,
        parent_quarantine: sa.Table,
        child_quarantine: sa.Table,
        dependent_batch: str,
    ) -> None:
        """Record on each cascaded row the quarantine id of the row it references."""
        parent = parent_quarantine.alias("guardian_parent")
        match = [
            parent.c[p] == child_quarantine.c[c]
            for c, p in zip(ref.columns, ref.parent_columns, strict=True)
        ]
        owner = (
            sa.select(sa.func.min(parent.c.guardian_id))
            .where(parent.c.guardian_batch == self.result.batch, *match)
            .scalar_subquery()
        )
        self.conn.execute(
            sa.update(child_quarantine)
            .where(child_quarantine.c.guardian_batch == dependent_batch)
            .values(guardian_dependent_of=owner)
        )


def set_timeouts(conn: Connection, target: Target) -> None:
    """The target's lock and statement timeouts, for this transaction only."""
    if target.dialect != "postgresql":
        return
    options = target.options
    timeouts = {
        "lock_timeout": options.lock_timeout,
        "statement_timeout": options.statement_timeout,
    }
    calls = [
        sa.func.set_config(name, str(max(1, int(v.total_seconds() * 1000))), True)
        for name, v in timeouts.items()
    ]
    conn.execute(sa.select(*calls))


def affected(conn: Connection, statement: sa.Executable) -> int:
    """Run a data-changing statement; the number of rows it changed."""
    # SQLAlchemy keeps the driver's count for INSERT … SELECT only when asked.
    result = conn.execute(statement.execution_options(preserve_rowcount=True))
    return int(result.rowcount)


def _same(deleted: int, added: int, source: sa.Table) -> None:
    if deleted != added:
        raise QuarantineError(
            f"quarantine of {display_name(source)} rolled back: {deleted} rows "
            f"deleted but {added} inserted; nothing was moved"
        )


def _difference(before: set[str], after: set[str]) -> str:
    parts = []
    if after - before:
        parts.append("new columns: " + ", ".join(sorted(after - before)))
    if before - after:
        parts.append("dropped columns: " + ", ".join(sorted(before - after)))
    return "; ".join(parts)


def _db_error(exc: SQLAlchemyError, check: Check, step: str) -> QuarantineError:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = mask_url(text.splitlines()[0] if text else type(exc).__name__)
    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    cause = "connection lost" if lost else "database error"
    return QuarantineError(
        f"quarantine {step} for check {check.name} failed ({cause}: {first}); "
        "the transaction was rolled back and nothing was moved",
        hint="the next run retries" if lost else None,
    )
