"""Check specifications to SQLAlchemy Core statements, without a connection.

Every function here is pure: a check, the reflected tables it names and a
few options go in, statements come out. Values are always bound parameters;
user SQL (``where``, ``expression``, ``query``) is embedded as written.

Row-level checks and row_count become a :class:`RowPlan`, an aggregate that
the runner fuses with the others of the same table into one scan. The other
kinds become a :class:`QueryPlan` (a count and a sample of keys) or, for
freshness, a :class:`FreshnessPlan`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Executable, Select

from guardian.checks.patterns import SQLITE_LOWER, SQLITE_REGEXP, postgresql_regex
from guardian.checks.reflect import column, columns
from guardian.checks.spec import (
    AcceptedValuesCheck,
    Check,
    ExpressionCheck,
    FreshnessCheck,
    NotNullCheck,
    PatternCheck,
    RangeCheck,
    ReconciliationCheck,
    ReferencesCheck,
    RowCountCheck,
    SqlCheck,
    UniqueCheck,
)
from guardian.checks.timestamps import sqlite_text
from guardian.checks.values import (
    SQLITE_INTEGER_LIMIT,
    check_accepted_values,
    check_freshness_column,
    check_range_bounds,
    column_kind,
    integer_limit,
    value_kind,
)

TableLookup = Callable[[str], sa.Table]
AnySelect = Select[*tuple[Any, ...]]
Condition = ColumnElement[bool]

NO_KEY_NOTE = (
    "table has no primary key: keys of violating rows are not available; "
    "counted only (give `key:` in the suite to name key columns)"
)

# Floats cannot hold most decimal fractions, so sums computed by SQLite carry
# noise in the last bits; differences below this share of the total are noise.
FLOAT_SLACK = 1e-9

# SQLite compares DATETIME text as text: '2024-01-01 00:00:00' sorts before
# '2024-01-01 00:00:00.000000'. Both sides are normalised to this form first.
_SQLITE_MOMENT = "%Y-%m-%d %H:%M:%f"


@dataclass(frozen=True)
class Options:
    """What the compiler needs to know about the target."""

    dialect: str
    sample_size: int = 10
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        """The zone naive timestamps are read in."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class RowPlan:
    """A check answered by counting rows of one table in a shared scan.

    ``counted`` selects the rows that count (the violating rows, or for
    row_count the rows matching ``where``); None means every row.
    """

    check: Check
    table: sa.Table
    counted: Condition | None
    keys: list[sa.Column[Any]] | None
    note: str | None
    sample_size: int

    def count_column(self) -> ColumnElement[int]:
        """``count(*) FILTER (WHERE …)``: this check's share of the scan."""
        if self.counted is None:
            return sa.func.count()
        return sa.func.count().filter(self.counted)

    def sample(self) -> AnySelect | None:
        """The first keys of violating rows in key order, or None if unneeded."""
        if not self.keys or not self.sample_size or self.check.kind == "row_count":
            return None
        query = sa.select(*self.keys).select_from(self.table)
        if self.counted is not None:
            query = query.where(self.counted)
        return query.order_by(*self.keys).limit(self.sample_size)


@dataclass(frozen=True)
class QueryPlan:
    """A check answered by its own count query and an optional key sample."""

    check: Check
    count: Executable
    sample: Executable | None
    note: str | None


@dataclass(frozen=True)
class FreshnessPlan:
    """A freshness check: a query for the newest value, read in ``zone``."""

    check: FreshnessCheck
    newest: AnySelect
    zone: ZoneInfo


Plan = RowPlan | QueryPlan | FreshnessPlan


def fused_select(plans: Sequence[RowPlan]) -> AnySelect:
    """One scan of the plans' table giving every count, in the plans' order."""
    counts = [plan.count_column().label(f"c{i}") for i, plan in enumerate(plans)]
    return sa.select(*counts).select_from(plans[0].table)


def table_names(check: Check) -> list[str]:
    """Every table a check reads, as written in the suite."""
    names = [check.table] if check.table else []
    if isinstance(check, ReferencesCheck):
        names.append(check.parent_table)
    if isinstance(check, ReconciliationCheck):
        names.append(check.child_table)
    return names


def compile_check(check: Check, lookup: TableLookup, options: Options) -> Plan:
    """The plan that answers ``check``; SuiteError for unknown tables or columns."""
    if isinstance(check, SqlCheck):
        return _sql(check, options)
    table = lookup(check.table)
    if isinstance(check, RowCountCheck):
        return RowPlan(check, table, _where(check), None, None, 0)
    if isinstance(check, FreshnessCheck):
        return _freshness(check, table, options)
    keys, note = key_columns(check, table)
    if isinstance(check, UniqueCheck):
        return _unique(check, table, keys, note, options)
    if isinstance(check, ReferencesCheck):
        return _references(check, table, lookup, keys, note, options)
    if isinstance(check, ReconciliationCheck):
        return _reconciliation(check, table, lookup, keys, note, options)
    violated = _row_predicate(check, table, options)
    counted = _all(_where(check), violated)
    return RowPlan(check, table, counted, keys, note, options.sample_size)


def key_columns(
    check: Check, table: sa.Table
) -> tuple[list[sa.Column[Any]] | None, str | None]:
    """The columns naming a row: ``key`` of the check, else the primary key."""
    if check.key:
        return columns(table, check.key), None
    primary = list(table.primary_key.columns)
    if not primary:
        return None, NO_KEY_NOTE
    return primary, None


def user_sql(text: str) -> Condition:
    """A condition written by the user, embedded as written, in parentheses."""
    return sa.literal_column(f"({text})", sa.Boolean)


def _where(check: Check) -> Condition | None:
    return user_sql(check.where) if check.where else None


def _all(*conditions: Condition | None) -> Condition:
    present = [c for c in conditions if c is not None]
    return sa.and_(*present) if len(present) > 1 else present[0]


def _row_predicate(check: Check, table: sa.Table, options: Options) -> Condition:
    """The condition a violating row meets, for the row-level kinds."""
    if isinstance(check, NotNullCheck):
        return sa.or_(*(col.is_(None) for col in columns(table, check.columns)))
    if isinstance(check, AcceptedValuesCheck):
        return _not_accepted(check, column(table, check.column), options)
    if isinstance(check, RangeCheck):
        return _out_of_range(check, column(table, check.column), options)
    if isinstance(check, PatternCheck):
        return _not_matching(check, column(table, check.column), options)
    if isinstance(check, ExpressionCheck):
        # As in a CHECK constraint: NOT NULL is NULL, so NULL results pass.
        return sa.not_(user_sql(check.expression))
    raise TypeError(f"{check.kind} is not a row-level check")


def _not_accepted(
    check: AcceptedValuesCheck, col: sa.Column[Any], options: Options
) -> Condition:
    # NULL NOT IN (...) is NULL, which FILTER and WHERE do not count: NULL
    # passes without a test of its own.
    check_accepted_values(col, check.values)
    values = [_untyped(v, options.dialect) for v in check.values]
    kind = column_kind(col)
    # A SQLite column declared without a type may hold text; PostgreSQL
    # has no lower() for types that are not text (enums, say).
    loose = options.dialect == "sqlite" and kind == "other"
    if check.case_insensitive and (kind == "text" or loose):
        lower = _lower(options)
        return lower(col).not_in([lower(v) for v in values])
    return col.not_in(values)


def _untyped(value: Any, dialect: str) -> ColumnElement[Any]:
    """A bound value that never makes the database convert the column.

    Text goes without a cast, so the database reads it as the column's
    type: ``::VARCHAR`` beside a char(2) column would convert every row's
    value instead, and defeat an index. Numbers go as bigint or numeric,
    which compare with every number column as they are.
    """
    if dialect == "sqlite":
        # SQLite's driver takes no Decimal; SQLite compares numbers as reals.
        if isinstance(value, Decimal):
            value = float(value)
        return sa.bindparam(None, value, type_=sa.types.NullType())

    if isinstance(value, float) and math.isfinite(value):
        # A float compared with a numeric column would turn the column to
        # floats; the shortest decimal of the float compares exactly.
        value = Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        # Named, or a comparison would take the column's type and cast the
        # bound to it: 1.5 to an integer column's 2. bigint meets every
        # integer column without converting the column.
        if -(2**63) <= value < 2**63:
            return sa.bindparam(None, value, type_=sa.BigInteger())
        value = Decimal(value)
    if isinstance(value, Decimal):
        return sa.bindparam(None, value, type_=sa.Numeric())
    return sa.bindparam(None, value, type_=sa.types.NullType())


def _lower(options: Options) -> Callable[[Any], ColumnElement[Any]]:
    """lower() by Unicode rules: SQLite's own only lowers ASCII letters."""
    if options.dialect == "sqlite":
        return cast(Callable[[Any], ColumnElement[Any]], getattr(sa.func, SQLITE_LOWER))
    return sa.func.lower


def _out_of_range(
    check: RangeCheck, col: sa.Column[Any], options: Options
) -> Condition:
    check_range_bounds(col, [b for b in (check.min, check.max) if b is not None])
    outside: list[Condition] = []
    if check.min is not None:
        past = _past_limit(col, check.min, options)
        if past is None:
            value, bound = _comparable(col, check.min, options)
            outside.append(value <= bound if check.min_exclusive else value < bound)
        elif past > 0:
            # A minimum above every value the type holds: every value is below.
            outside.append(col.is_not(None))
    if check.max is not None:
        past = _past_limit(col, check.max, options)
        if past is None:
            value, bound = _comparable(col, check.max, options)
            outside.append(value >= bound if check.max_exclusive else value > bound)
        elif past < 0:
            outside.append(col.is_not(None))
    return sa.or_(*outside) if outside else sa.false()


def _past_limit(col: sa.Column[Any], bound: Any, options: Options) -> int | None:
    """1 or -1 when a number bound lies beyond what an integer column holds.

    Such a bound cannot be bound as the column's type (bigint out of range),
    and need not be: the comparison has the same answer for every row.
    """
    limit = integer_limit(col, options.dialect)
    if limit is None or isinstance(bound, bool) or value_kind(bound) != "number":
        return None
    if bound >= limit:
        return 1
    if bound < -limit:
        return -1
    return None


def _comparable(
    col: sa.Column[Any], bound: Any, options: Options
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The column and a bound, in forms that compare correctly on the dialect."""
    temporal = isinstance(col.type, sa.Date | sa.DateTime) or isinstance(bound, date)
    if options.dialect == "sqlite" and temporal and isinstance(bound, date | str):
        text = sa.literal(sqlite_text(bound, options.zone), sa.String)
        return (
            sa.func.strftime(_SQLITE_MOMENT, col),
            sa.func.strftime(_SQLITE_MOMENT, text),
        )
    if isinstance(bound, str) and not isinstance(col.type, sa.String):
        # Let the database read the text as the column's type ('2024-01-01').
        return col, sa.cast(sa.literal(bound, sa.String), col.type)
    if value_kind(bound) == "number" and column_kind(col) == "number":
        # SQLite holds 64-bit integers at most; a wider bound compares as a
        # real, as SQLite compares mixed numbers anyway.
        wide = (
            isinstance(bound, int | Decimal) and abs(int(bound)) >= SQLITE_INTEGER_LIMIT
        )
        if options.dialect == "sqlite" and wide:
            return col, sa.literal(float(bound), sa.Float())
        return col, _untyped(bound, options.dialect)
    return col, sa.literal(bound, col.type)


def _not_matching(
    check: PatternCheck, col: sa.Column[Any], options: Options
) -> Condition:
    # No "col IS NOT NULL": a NULL value gives a NULL match, NOT NULL is
    # NULL, and NULL is not counted.
    text = col if isinstance(col.type, sa.String) else sa.cast(col, sa.Text)
    if options.dialect == "sqlite":
        flags = "i" if check.case_insensitive else ""
        regexp: ColumnElement[Any] = getattr(sa.func, SQLITE_REGEXP)(
            text, check.regex, flags
        )
        return sa.not_(regexp == 1)
    regex = postgresql_regex(check.regex)
    matched = text.regexp_match(regex, "i" if check.case_insensitive else None)
    return sa.not_(matched)


def _unique(
    check: UniqueCheck,
    table: sa.Table,
    keys: list[sa.Column[Any]] | None,
    note: str | None,
    options: Options,
) -> QueryPlan:
    """Every copy of a duplicated value, counted with a window over the table."""
    cols = columns(table, check.columns)
    copies = sa.func.count().over(partition_by=cols).label("guardian_copies")
    filters: list[Condition | None] = [_where(check)]
    if check.nulls_distinct:
        filters.extend(col.is_not(None) for col in cols)
    inner = sa.select(*(keys or []), copies).select_from(table)
    present = [f for f in filters if f is not None]
    if present:
        inner = inner.where(*present)
    rows = inner.subquery("guardian_unique")
    duplicated = rows.c.guardian_copies > 1
    count = sa.select(sa.func.count()).select_from(rows).where(duplicated)
    sample = None
    if keys and options.sample_size:
        sub_keys = [rows.c[k.name] for k in keys]
        sample = (
            sa.select(*sub_keys)
            .where(duplicated)
            .order_by(*sub_keys)
            .limit(options.sample_size)
        )
    return QueryPlan(check, count, sample, note)


def _references(
    check: ReferencesCheck,
    child: sa.Table,
    lookup: TableLookup,
    keys: list[sa.Column[Any]] | None,
    note: str | None,
    options: Options,
) -> QueryPlan:
    """Orphans by anti-join: a NULL in the parent can never hide one."""
    parent_table = lookup(check.parent_table)
    child_cols = columns(child, check.columns)
    names = [column(parent_table, n).name for n in check.referenced_columns]
    # An alias, so that a table referencing itself (a tree) works too.
    parent = parent_table.alias("guardian_parent")
    parent_cols = [parent.c[name] for name in names]
    # Compared pairwise, a NULL in a child column matches no parent row, so
    # such rows are orphans unless allow_null excludes them first.
    match = sa.and_(*(p == c for p, c in zip(parent_cols, child_cols, strict=True)))
    orphan = ~sa.exists().where(match)
    conditions = [c for c in [_where(check)] if c is not None]
    if check.allow_null:
        conditions.extend(col.is_not(None) for col in child_cols)
    conditions.append(orphan)
    return _counted_plan(check, child, conditions, keys, note, options)


def _reconciliation(
    check: ReconciliationCheck,
    parent: sa.Table,
    lookup: TableLookup,
    keys: list[sa.Column[Any]] | None,
    note: str | None,
    options: Options,
) -> QueryPlan:
    """Parents whose total differs from the aggregate of their child rows."""
    child = lookup(check.child_table)
    parent_cols = columns(parent, check.columns)
    child_cols = columns(child, check.join_child_columns)
    total = column(parent, check.column)
    grouped = _child_aggregates(check, child, child_cols)
    on = sa.and_(*(p == grouped.c[f"guardian_k{i}"] for i, p in enumerate(parent_cols)))
    joined = parent.outerjoin(grouped, on)
    raw: ColumnElement[Any] = grouped.c.guardian_agg
    aggregate = raw
    if check.aggregate in ("sum", "count"):
        aggregate = sa.func.coalesce(raw, 0)
    # A NULL total states no total: it agrees with children that give none
    # (no child rows, or only NULL values), and with nothing else.
    no_total = sa.or_(grouped.c.guardian_k0.is_(None), raw.is_(None))
    violated = _differs(check, total, aggregate, no_total, options)
    conditions = [c for c in [_where(check), violated] if c is not None]
    return _counted_plan(check, joined, conditions, keys, note, options)


def _child_aggregates(
    check: ReconciliationCheck, child: sa.Table, child_cols: list[sa.Column[Any]]
) -> sa.Subquery:
    if check.expression.strip() == "*":
        value: ColumnElement[Any] = sa.func.count()
    else:
        expression: ColumnElement[Any] = sa.literal_column(f"({check.expression})")
        value = getattr(sa.func, check.aggregate)(expression)
    labelled = [col.label(f"guardian_k{i}") for i, col in enumerate(child_cols)]
    query = sa.select(*labelled, value.label("guardian_agg")).select_from(child)
    if check.child_where:
        query = query.where(user_sql(check.child_where))
    return query.group_by(*child_cols).subquery("guardian_children")


def _differs(
    check: ReconciliationCheck,
    total: ColumnElement[Any],
    aggregate: ColumnElement[Any],
    no_total: Condition,
    options: Options,
) -> Condition:
    """True when the two sides disagree beyond the tolerance.

    A NULL total agrees only when ``no_total`` holds (the children give no
    total); a non-NULL total never agrees with a NULL aggregate.

    On PostgreSQL both sides are compared as numeric, exactly: a tolerance
    of 0 means equal to the last digit (float columns convert to numeric
    with 15 significant digits). SQLite computes in floats, so there a
    difference up to FLOAT_SLACK times the larger of 1 and the parent's
    value is rounding noise and passes even with a tolerance of 0. With
    ``relative_tolerance`` the allowed difference is the larger of
    ``tolerance`` and ``relative_tolerance`` times the parent's value.
    """
    numeric = options.dialect == "postgresql"
    left = sa.cast(total, sa.Numeric()) if numeric else total
    right = sa.cast(aggregate, sa.Numeric()) if numeric else aggregate
    allowed: ColumnElement[Any] = _number(check.tolerance, numeric)
    if check.relative_tolerance is not None:
        share = _number(check.relative_tolerance, numeric) * sa.func.abs(left)
        allowed = _larger(allowed, share, numeric)
    if not numeric:
        noise = _number(FLOAT_SLACK, numeric) * _larger(
            _number(1.0, numeric), sa.func.abs(left), numeric
        )
        allowed = allowed + noise
    left_null, right_null = total.is_(None), aggregate.is_(None)
    return sa.case(
        (left_null, sa.not_(no_total)),
        (right_null, sa.true()),
        else_=sa.func.abs(left - right) > allowed,
    )


def _number(value: float, numeric: bool) -> ColumnElement[Any]:
    if numeric:
        # repr gives the shortest text of the float: 0.01, not 0.01000000000000000020.
        return sa.cast(sa.literal(Decimal(repr(value)), sa.Numeric()), sa.Numeric())
    return sa.literal(value, sa.Float())


def _larger(
    a: ColumnElement[Any], b: ColumnElement[Any], numeric: bool
) -> ColumnElement[Any]:
    return sa.func.greatest(a, b) if numeric else sa.func.max(a, b)


def _counted_plan(
    check: Check,
    source: sa.FromClause,
    conditions: list[Condition],
    keys: list[sa.Column[Any]] | None,
    note: str | None,
    options: Options,
) -> QueryPlan:
    count = sa.select(sa.func.count()).select_from(source).where(*conditions)
    sample = None
    if keys and options.sample_size:
        sample = (
            sa.select(*keys)
            .select_from(source)
            .where(*conditions)
            .order_by(*keys)
            .limit(options.sample_size)
        )
    return QueryPlan(check, count, sample, note)


def _sql(check: SqlCheck, options: Options) -> QueryPlan:
    """The user's query as a derived table: counted, then sampled."""
    body = _literal_colons(check.query.strip().rstrip(";").strip())
    filtered = f" WHERE ({_literal_colons(check.where)})" if check.where else ""
    derived = f"FROM ({body}) AS guardian_sql{filtered}"
    count = sa.text(f"SELECT count(*) {derived}")
    sample = None
    if options.sample_size:
        sample = sa.text(f"SELECT * {derived} LIMIT :guardian_limit").bindparams(
            guardian_limit=options.sample_size
        )
    return QueryPlan(check, count, sample, None)


def _literal_colons(text: str) -> str:
    """text() reads :name as a parameter; a colon in the user's SQL is literal."""
    return text.replace(":", "\\:")


def _freshness(
    check: FreshnessCheck, table: sa.Table, options: Options
) -> FreshnessPlan:
    """The newest value of the column among the rows matching ``where``."""
    col = column(table, check.column)
    check_freshness_column(col, options.dialect)
    zone = ZoneInfo(check.timezone or options.timezone)
    where = [c for c in [_where(check)] if c is not None]
    newest: AnySelect
    if options.dialect == "sqlite":
        # Text in mixed forms ('T' or space, offsets) does not sort as time;
        # julianday does. The raw text is read back and parsed in Python.
        newest = (
            sa.select(sa.type_coerce(col, sa.String))
            .where(col.is_not(None), *where)
            .order_by(sa.func.julianday(col).desc(), col.desc())
            .limit(1)
        )
    else:
        newest = sa.select(sa.func.max(col)).select_from(table).where(*where)
    return FreshnessPlan(check, newest, zone)


@dataclass(frozen=True)
class Violating:
    """The rows of one table that violate a check, as a condition on that table.

    The condition refers to ``table`` only (subqueries may read others), so
    it can select, lock or delete the violating rows at any later moment.
    """

    table: sa.Table
    condition: Condition


def violating_rows(check: Check, lookup: TableLookup, options: Options) -> Violating:
    """The condition that selects ``check``'s violating rows of its table.

    Row-level kinds use their own predicate; references its anti-join;
    unique and reconciliation select by key through a subquery. Table-level
    kinds (row_count, freshness) and sql checks have no such rows: TypeError.
    """
    if isinstance(check, RowCountCheck | FreshnessCheck | SqlCheck):
        raise TypeError(f"a {check.kind} check has no violating rows to select")
    table = lookup(check.table)
    if isinstance(check, UniqueCheck):
        return Violating(table, _duplicated(check, table))
    if isinstance(check, ReferencesCheck):
        plan = _references(check, table, lookup, None, None, options)
        return Violating(table, _plan_condition(plan, table))
    if isinstance(check, ReconciliationCheck):
        return Violating(table, _unreconciled(check, table, lookup, options))
    return Violating(table, _all(_where(check), _row_predicate(check, table, options)))


def _plan_condition(plan: QueryPlan, table: sa.Table) -> Condition:
    """The WHERE clause of a counted plan over ``table`` alone."""
    count = plan.count
    assert isinstance(count, Select)
    clause = count.whereclause
    assert clause is not None
    return clause


def _duplicated(check: UniqueCheck, table: sa.Table) -> Condition:
    cols = columns(table, check.columns)
    # Unqualified names in the user's ``where`` resolve to the nearest FROM:
    # inside the subquery, that is the alias, so the same text filters both.
    copies = table.alias("guardian_copies")
    inner_cols = [copies.c[c.name] for c in cols]
    filters = [f for f in [_where(check)] if f is not None]
    if check.nulls_distinct:
        filters.extend(c.is_not(None) for c in inner_cols)
    groups = sa.select(*inner_cols).select_from(copies)
    if filters:
        groups = groups.where(*filters)
    groups = groups.group_by(*inner_cols).having(sa.func.count() > 1)
    if not check.nulls_distinct:
        # IN never matches a NULL, and here NULLs collide: compare null-safely.
        found = groups.subquery("guardian_groups")
        same = [found.c[c.name].is_not_distinct_from(c) for c in cols]
        return _all(_where(check), sa.exists().where(*same))
    target = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
    return _all(_where(check), target.in_(groups))


def _unreconciled(
    check: ReconciliationCheck, parent: sa.Table, lookup: TableLookup, options: Options
) -> Condition:
    keys, _ = key_columns(check, parent)
    if not keys:
        raise TypeError("a reconciliation check needs a key to select rows by")
    # An alias inside, so that the subquery does not correlate with the outer
    # table when both are the parent.
    inner = cast(sa.Table, parent.alias("guardian_totals"))
    inner_keys = [inner.c[k.name] for k in keys]
    plan = _reconciliation(check, inner, lookup, inner_keys, None, options)
    count = plan.count
    assert isinstance(count, Select)
    chosen = sa.select(*inner_keys).select_from(count.get_final_froms()[0])
    if count.whereclause is not None:
        chosen = chosen.where(count.whereclause)
    target = keys[0] if len(keys) == 1 else sa.tuple_(*keys)
    return target.in_(chosen)
