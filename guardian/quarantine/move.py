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
A move with ``dependents: cascade`` takes the rows that reference the
violating ones along, in the same transaction (see :mod:`cascade`).
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
from guardian.quarantine import cascade, rows, tables
from guardian.quarantine.cascade import Cascade
from guardian.quarantine.dependents import (
    Reference,
    reference_tree,
    references_to,
    table_key,
)
from guardian.quarantine.plan import (
    MovePlan,
    MoveResult,
    over_budget,
    over_budget_at_move,
)
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
    tree: tuple[Reference, ...] = ()
    if action.mode == "move":
        references = tuple(references_to(conn, source))
    if references and action.dependents == "cascade":
        tree = tuple(reference_tree(conn, source))
    rows.prepare(conn)
    if violations is None:
        violations = _count(conn, source, violating.condition)
    table_rows = _table_rows(conn, source)
    max_rows = action.max_rows or config.max_rows
    max_share = action.max_share or config.max_share
    refused = over_budget(violations, table_rows, max_rows, max_share)
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
        tree=tree,
        signature=signature(conn, source),
        violations=violations,
        table_rows=table_rows,
        run_id=run_id,
        refused=refused,
        max_rows=max_rows,
        max_share=max_share,
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
    if plan.tree:
        result.cascaded = cascade.preview(conn, plan)


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
        self.batch_id = 0

    def run(self) -> None:
        plan = self.plan
        quarantine = tables.ensure_table(self.conn, self.place, plan.source, self.roles)
        quarantines = {table_key(plan.source): quarantine}
        for ref in plan.tree:
            if table_key(ref.child) not in quarantines:
                quarantines[table_key(ref.child)] = tables.ensure_table(
                    self.conn, self.place, ref.child, self.roles
                )

        # A plain move counts its rows as it takes them and is judged after,
        # inside the same transaction; the other kinds count first.
        counts_as_it_goes = plan.mode == "move" and not plan.tree
        self._begin()
        try:
            self._unchanged()
            if not counts_as_it_goes and self._refuse(self._over_budget()):
                return
            if plan.mode == "copy":
                self._lock(plan.condition)
                self.result.copied = self._copy(
                    quarantine, plan.condition, tables.COPIED
                )
            elif plan.tree:
                Cascade(self, quarantines).run()
            else:
                self._move(quarantine)
                if self._refuse(self._over_budget(taken=self.result.total)):
                    return
            self._record_batch()
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def _refuse(self, reason: str | None) -> bool:
        """Roll the move back when ``reason`` says it is over the budget."""
        if reason is None:
            return False
        log.warning("quarantine %s: %s", self.plan.check.name, reason)
        self.conn.rollback()
        self.result.moved = self.result.held_in_place = 0
        self.result.held_by = []
        self.result.refused = reason
        return True

    def _begin(self) -> None:
        if self.postgres:
            set_timeouts(self.conn, self.target)
            # No ALTER TABLE can slip in between the check below and the move.
            name = display_name_sql(self.conn, self.plan.source)
            self.conn.exec_driver_sql(f"LOCK TABLE {name} IN ROW EXCLUSIVE MODE")
        else:
            # SQLite's write lock covers the id counter as well.
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        ids = self.place.id_table(sa.MetaData())
        taken = sa.select(ids.c.next_id)
        if self.postgres:
            taken = taken.with_for_update()
        # The move's batch takes the first id; its rows take the ones after.
        self.batch_id = int(self.conn.execute(taken).scalar_one())
        self._advance_ids(1)

    def _record_batch(self) -> None:
        """The batch's one row: what all rows of this move share."""
        if not self.result.total:
            return
        plan = self.plan
        batches = self.place.batches(sa.MetaData())
        self.conn.execute(
            sa.insert(batches).values(
                batch_id=self.batch_id,
                batch=self.result.batch,
                suite=plan.suite,
                check_name=plan.check.name,
                run_id=plan.run_id,
                reason=plan.reason,
                at=self.now,
                mode=plan.mode,
            )
        )

    def _over_budget(self, taken: int | None = None) -> str | None:
        """Why the rows selected now are over the budget, or None.

        ``taken`` is what a move already took in this transaction; without
        it the rows are counted under their locks, inside the move's
        transaction, so the rows counted are the rows the move takes.
        """
        plan = self.plan
        if plan.max_rows is None or plan.max_share is None:
            return None
        if taken is None:
            self._lock(plan.condition)
            found = _count(self.conn, plan.source, plan.condition)
        else:
            found = taken
        return over_budget_at_move(
            found, plan.violations, plan.table_rows, plan.max_rows, plan.max_share
        )

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

    def _move(self, quarantine: sa.Table) -> None:
        plan, result = self.plan, self.result
        held = _held_condition(plan)
        movable = plan.condition
        if held is not None:
            self._lock(plan.condition)
            result.held_in_place = self._copy(
                quarantine, sa.and_(plan.condition, held), tables.HELD_IN_PLACE
            )
            movable = sa.and_(plan.condition, sa.not_(held))
            if result.held_in_place:
                result.held_by = [ref.label for ref in plan.references]

        if self.postgres:
            result.moved = self._move_postgres(quarantine, movable)
        else:
            result.moved = self._move_generic(plan.source, quarantine, movable)

    def _values(
        self,
        table: sa.Table,
        source: sa.FromClause,
        names: Sequence[str],
        keys: Sequence[str],
        status: str,
        held_by: sa.ColumnElement[Any] | None = None,
        dependent_of: sa.ColumnElement[Any] | None = None,
    ) -> list[sa.ColumnElement[Any]]:
        """The values of a quarantine row made from a row of ``source``."""
        dialect = self.target.dialect
        data = [source.c[n] for n in names]
        key_names = list(keys) or list(names)
        hashed = rows.hashable(self.conn, table)
        return [
            *data,
            sa.literal(self.batch_id, sa.BigInteger),
            sa.literal(status, sa.Text),
            rows.key_json(dialect, key_names, [source.c[k] for k in key_names]),
            rows.checksum(dialect, data, hashed=hashed),
            dependent_of if dependent_of is not None else sa.null(),
            held_by if held_by is not None else sa.null(),
        ]

    def _insert(
        self,
        quarantine: sa.Table,
        table: sa.Table,
        source: sa.FromClause,
        names: Sequence[str],
        keys: Sequence[str],
        where: sa.ColumnElement[bool] | None,
        status: str,
        held_by: sa.ColumnElement[Any] | None = None,
    ) -> sa.Insert:
        values = self._values(table, source, names, keys, status, held_by)
        ids = self._id_column()
        select = sa.select(ids, *values).select_from(source)
        if where is not None:
            select = select.where(where)
        columns = ["guardian_id", *names, *tables.META_NAMES[1:-1]]
        return sa.insert(quarantine).from_select(columns, select)

    def _affected(self, statement: sa.Executable) -> int:
        return affected(self.conn, statement)

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
        check = rows.checksum(
            dialect,
            [source.c[n] for n in names],
            hashed=rows.hashable(self.conn, source),
        )
        already = sa.exists().where(
            quarantine.c.guardian_status.in_(tables.WAITING),
            quarantine.c.guardian_key == key_value,
            quarantine.c.guardian_checksum == check,
        )
        held_by = self._held_by() if status == tables.HELD_IN_PLACE else None
        insert = self._insert(
            quarantine,
            source,
            source,
            names,
            keys,
            sa.and_(where, sa.not_(already)),
            status,
            held_by,
        )
        count = affected(self.conn, insert)
        self._advance_ids(count)
        return int(count)

    def _held_by(self) -> sa.ColumnElement[Any]:
        """Every referencing table that holds the row, comma-separated."""
        labels: sa.ColumnElement[Any] = sa.literal("", sa.Text)
        for ref in self.plan.references:
            label = sa.literal(f"{ref.label}, ", sa.Text)
            found = sa.case(
                (_referenced(ref, self.plan.source), label),
                else_=sa.literal("", sa.Text),
            )
            labels = labels + found
        # Labels end with ")", so trimming commas and blanks cuts the last
        # separator only.
        return sa.func.nullif(sa.func.rtrim(labels, ", "), "")

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
        values = self._values(source, moved, names, keys, tables.HELD)
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
            quarantine, source, source, names, keys, where, tables.HELD
        )
        added = affected(self.conn, insert)
        self._advance_ids(added)
        held = sa.select(*(quarantine.c[k] for k in keys)).where(
            quarantine.c.guardian_batch == self.batch_id,
            quarantine.c.guardian_status == tables.HELD,
        )
        key_cols = [source.c[k] for k in keys]
        target = key_cols[0] if len(key_cols) == 1 else sa.tuple_(*key_cols)
        deleted = affected(self.conn, sa.delete(source).where(target.in_(held)))
        _same(deleted, added, source)
        return added


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
