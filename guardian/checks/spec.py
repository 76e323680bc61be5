"""Check specifications: what a suite file says, validated and typed.

These models are the contract between suite files, the compiler and the JSON
Schema in ``checks/``. They describe checks; they know nothing of SQL.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from guardian.checks.names import split_table_name
from guardian.checks.patterns import check_pattern
from guardian.checks.values import as_moment, plain, value_kind
from guardian.durations import parse_duration
from guardian.quarantine.spec import NOT_QUARANTINABLE, OnViolationField

Severity = Literal["warn", "error", "critical"]
Scalar = bool | int | float | Decimal | str | datetime | date
Bound = int | float | Decimal | datetime | date | str

CHECK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

KINDS = (
    "not_null",
    "unique",
    "accepted_values",
    "range",
    "pattern",
    "references",
    "expression",
    "row_count",
    "freshness",
    "reconciliation",
    "sql",
)


def _as_list(value: Any) -> Any:
    """Let a single column be written without brackets."""
    return [value] if isinstance(value, str) else value


Columns = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    # The schema must let editors accept the single-column shorthand too.
    BeforeValidator(
        _as_list,
        json_schema_input_type=Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)],
    ),
    Field(min_length=1),
]


class CheckBase(BaseModel):
    """Fields every check has."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(
        description="Unique within the suite: letters, digits, _ . and -.",
    )
    table: str = Field(
        description=(
            "The table the check reads, as it is named in the database; "
            "schema-qualified as schema.table where needed. Quote a part "
            'that contains a dot with double quotes: "odd.name".'
        ),
    )
    severity: Severity = Field(
        default="error",
        description=(
            "warn: reported, never fails a run; error and critical: the run fails."
        ),
    )
    where: str | None = Field(
        default=None,
        description="An SQL condition; only rows where it holds are checked.",
    )
    description: str | None = Field(default=None, description="What the rule means.")
    key: Columns | None = Field(
        default=None,
        description=(
            "Columns that identify a row, for tables or views without a primary "
            "key. Defaults to the primary key."
        ),
    )
    on_violation: OnViolationField | None = Field(
        default=None,
        description=(
            "What happens to the violating rows when the check fails: alert "
            "(default) or quarantine (mode move or copy)."
        ),
    )

    @field_validator("table", "parent_table", "child_table", check_fields=False)
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None:
            split_table_name(value)
        return value

    @field_validator("name")
    @classmethod
    def _name_is_plain(cls, value: str) -> str:
        if not CHECK_NAME.match(value):
            raise ValueError(
                "a check name uses letters, digits, _ . and - and starts with a "
                f"letter, digit or _; got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _quarantinable(self) -> CheckBase:
        kind = getattr(self, "kind", None)
        action = self.on_violation
        if action is not None and action.quarantines and kind in NOT_QUARANTINABLE:
            raise ValueError(
                f"a {kind} check cannot quarantine: its violations are not rows "
                "of a table; use on_violation: alert"
            )
        return self

    @property
    def row_level(self) -> bool:
        """True when the check is a predicate over single rows of its table."""
        return False


class NotNullCheck(CheckBase):
    """Rows where any of the columns is NULL."""

    kind: Literal["not_null"]
    columns: Columns

    @property
    def row_level(self) -> bool:
        return True


class UniqueCheck(CheckBase):
    """Rows that share their value of the columns with another row.

    Every row of a duplicated value counts, not all but one. NULLs never
    collide, as with an SQL UNIQUE constraint, unless ``nulls_distinct`` is
    false.
    """

    kind: Literal["unique"]
    columns: Columns
    nulls_distinct: bool = True


class AcceptedValuesCheck(CheckBase):
    """Rows whose value is not one of a list. NULL is not checked here.

    The values must fit the column's type: text for text columns (quote
    numbers-like codes such as '1.10'), numbers for number columns, true or
    false for boolean ones; a mismatch is an error of the check.
    ``case_insensitive`` compares lower case by Unicode rules.
    """

    kind: Literal["accepted_values"]
    column: str
    values: Annotated[list[Scalar], Field(min_length=1)]
    case_insensitive: bool = False

    @property
    def row_level(self) -> bool:
        return True


class RangeCheck(CheckBase):
    """Rows whose value lies outside bounds. Bounds are inclusive by default.

    Numbers bound number columns, dates and timestamps (a date is its
    midnight; ISO text too) bound date and timestamp columns, text bounds
    text columns in their text order; a mismatch is an error of the check.
    A number bound beyond what an integer column can hold is honoured, not
    refused: no value lies past it.
    """

    kind: Literal["range"]
    column: str
    min: Bound | None = None
    max: Bound | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("a range check needs min, max or both")
        for bound in (self.min, self.max):
            if isinstance(bound, float | Decimal) and bound != bound:
                raise ValueError("a range bound cannot be .nan (not a number)")
        if self.min is not None and self.max is not None:
            low, high = _comparable_bounds(self.min, self.max)
            if low > high:
                raise ValueError(
                    f"min ({plain(self.min)}) is greater than max ({plain(self.max)})"
                )
        return self

    @property
    def row_level(self) -> bool:
        return True


def _comparable_bounds(low: Bound, high: Bound) -> tuple[Any, Any]:
    """Two range bounds in forms Python can order; ValueError if they can't be.

    A date beside a datetime is its midnight, as the databases read it.
    """
    if isinstance(low, date) and isinstance(high, date):
        low, high = as_moment(low), as_moment(high)
        if (low.tzinfo is None) != (high.tzinfo is None):
            # Only a naive bound's zone decides; neither order is certain.
            return low.replace(tzinfo=None), high.replace(tzinfo=None)
        return low, high
    if value_kind(low) != value_kind(high):
        raise ValueError(
            f"min ({plain(low)}) and max ({plain(high)}) cannot be compared: "
            f"one is {value_kind(low)}, the other {value_kind(high)}; write both "
            "as numbers, both as dates or timestamps, or both as text"
        )
    return low, high


class PatternCheck(CheckBase):
    """Rows whose value does not contain a match of a regular expression.

    The expression is in guardian's pattern language, the syntax PostgreSQL
    and Python's re share, read alike on both: ``.`` matches any character
    including a newline; ``^`` and ``$`` are the start and the very end of
    the value (anchor with both to match the whole value); ``\\d`` is 0-9,
    ``\\w`` a letter of any alphabet, a digit or _, ``\\s`` white space,
    ``\\b`` a word boundary. POSIX classes (``[[:alpha:]]``), named groups,
    inline flags and engine-specific escapes (``\\m``, ``\\y``) are refused
    at load with what to write instead. ``case_insensitive`` folds case by
    Unicode rules. NULL is not checked here.
    """

    kind: Literal["pattern"]
    column: str
    regex: str
    case_insensitive: bool = False

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        check_pattern(value)
        return value

    @property
    def row_level(self) -> bool:
        return True


class ReferencesCheck(CheckBase):
    """Orphans: rows whose columns match no row of the parent table.

    A NULL in the parent never hides an orphan. A row whose reference is NULL
    is an orphan only with ``allow_null: false``.
    """

    kind: Literal["references"]
    columns: Columns
    parent_table: str
    parent_columns: Columns | None = Field(
        default=None, description="Defaults to the same names as columns."
    )
    allow_null: bool = True

    @model_validator(mode="after")
    def _same_width(self) -> ReferencesCheck:
        if self.parent_columns is not None and len(self.parent_columns) != len(
            self.columns
        ):
            raise ValueError(
                f"columns has {len(self.columns)} names but parent_columns has "
                f"{len(self.parent_columns)}"
            )
        return self

    @property
    def referenced_columns(self) -> list[str]:
        """The parent's columns, defaulting to the child's names."""
        return list(self.parent_columns or self.columns)


class ExpressionCheck(CheckBase):
    """Rows where an SQL boolean expression is false.

    As in an SQL CHECK constraint, a row where it is NULL passes.
    """

    kind: Literal["expression"]
    expression: str = Field(min_length=1)

    @property
    def row_level(self) -> bool:
        return True


class RowCountCheck(CheckBase):
    """The number of rows (matching ``where``) lies within bounds, inclusive."""

    kind: Literal["row_count"]
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RowCountCheck:
        if self.min is None and self.max is None:
            raise ValueError("a row_count check needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class FreshnessCheck(CheckBase):
    """The newest value of a timestamp column is younger than ``max_age``.

    Naive timestamps are read in ``timezone`` (default: the target's).
    An empty table (or no row matching ``where``) is stale.
    """

    kind: Literal["freshness"]
    column: str
    max_age: str = Field(description="A duration such as 30m, 6h or 2d.")
    timezone: str | None = None

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        try:
            parse_duration(value)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(str(exc)) from None
        return str(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            validate_timezone(value)
        return value

    @property
    def max_age_delta(self) -> timedelta:
        """``max_age`` as a timedelta."""
        return parse_duration(self.max_age)


class ReconciliationCheck(CheckBase):
    """An aggregate over child rows equals a column of the parent row.

    NULLs, precisely: ``sum`` and ``count`` of no values (no child rows, or
    only NULL values) are 0; ``min``, ``max`` and ``avg`` of no values are
    NULL. A NULL in the parent's column means "no total": it agrees when the
    children give no total (no child rows, or only NULL values) and is a
    violation when they give one. A non-NULL total against a NULL aggregate
    is a violation.
    """

    kind: Literal["reconciliation"]
    column: str = Field(description="The parent's column that holds the total.")
    columns: Columns = Field(
        description="The parent's columns that child rows join on."
    )
    child_table: str
    child_columns: Columns | None = Field(
        default=None, description="The child's join columns; default: same names."
    )
    aggregate: Literal["sum", "count", "min", "max", "avg"] = "sum"
    expression: str = Field(
        default="*",
        description="SQL over the child's columns, e.g. unit_price * quantity.",
    )
    child_where: str | None = None
    tolerance: Annotated[float, Field(ge=0)] = 0.0
    relative_tolerance: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ReconciliationCheck:
        if self.child_columns is not None and len(self.child_columns) != len(
            self.columns
        ):
            raise ValueError(
                f"columns has {len(self.columns)} names but child_columns has "
                f"{len(self.child_columns)}"
            )
        if self.expression.strip() == "*" and self.aggregate != "count":
            raise ValueError(f"aggregate {self.aggregate} needs an expression")
        return self

    @property
    def join_child_columns(self) -> list[str]:
        """The child's join columns, defaulting to the parent's names."""
        return list(self.child_columns or self.columns)


class SqlCheck(CheckBase):
    """A query that returns the key columns of the violating rows."""

    kind: Literal["sql"]
    table: str | None = None  # type: ignore[assignment]
    query: str = Field(min_length=1)


Check = Annotated[
    NotNullCheck
    | UniqueCheck
    | AcceptedValuesCheck
    | RangeCheck
    | PatternCheck
    | ReferencesCheck
    | ExpressionCheck
    | RowCountCheck
    | FreshnessCheck
    | ReconciliationCheck
    | SqlCheck,
    Field(discriminator="kind"),
]


class SuiteDefaults(BaseModel):
    """Values every check of the suite takes unless it says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity = "error"
    schema_name: str | None = Field(
        default=None,
        alias="schema",
        description="Schema of tables named without one.",
    )
    on_violation: OnViolationField | None = Field(
        default=None,
        description=(
            "The action of every check that names none; table-level checks "
            "(row_count, freshness, sql) keep alert."
        ),
    )


class SuiteSpec(BaseModel):
    """A suite file: a name, defaults and a list of checks."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    suite: str | None = Field(default=None, description="Default: the file's name.")
    description: str | None = None
    defaults: SuiteDefaults = SuiteDefaults()
    checks: Annotated[list[Check], Field(min_length=1)]


def validate_timezone(name: str) -> None:
    """Raise ValueError unless ``name`` is an IANA time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Paris"
        ) from None
