"""Values of a suite against the types of the target's columns.

A suite writes bounds and accepted values in YAML, which decides their
types (``1.10`` is a number, ``'1.10'`` text, ``2024-01-01`` a date); the
column has a type of its own. When the two do not go together, the check
is an error with a message that says what to write, rather than a
comparison the database refuses, or worse, one it makes as text.

The rules, by the column's kind:

- numbers (integer, numeric, real...): number values and bounds;
- text (text, varchar, char...): text values and bounds (a range then
  compares in the column's text order);
- date and timestamp: dates, timestamps (a date is its midnight) and ISO
  8601 text;
- boolean: true and false (accepted_values only);
- a type guardian does not know, or a SQLite column declared without a
  type: anything, as the database compares it.

Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from guardian.checks.reflect import display_name
from guardian.errors import SuiteError

Kind = Literal["number", "text", "date", "boolean", "other"]

# The values a column of each integer type can hold; a bound past them can
# never be crossed on that side.
INTEGER_LIMITS = {
    "SMALLINT": 2**15,
    "INTEGER": 2**31,
    "BIGINT": 2**63,
}
SQLITE_INTEGER_LIMIT = 2**63


def plain(value: Any) -> str:
    """A value as a person writes it: 1.5, 2024-01-01, 'text', never a repr."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)


def column_kind(col: sa.ColumnElement[Any]) -> Kind:
    """What a column holds, from its reflected (or declared) type."""
    kind = col.type
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
        return "number"
    if isinstance(kind, sa.Date | sa.DateTime):
        return "date"
    if isinstance(kind, sa.String) and not isinstance(kind, sa.Enum):
        return "text"
    return "other"


def value_kind(value: Any) -> Kind:
    """What a suite value is, in the same words as :func:`column_kind`."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, date):
        return "date"
    return "text"


def type_name(col: sa.ColumnElement[Any]) -> str:
    """The column's type as the database names it, in lower case."""
    try:
        return str(col.type).lower()
    except Exception:  # a type without a compiled name (NullType)
        return type(col.type).__name__.lower()


def check_range_bounds(col: sa.Column[Any], bounds: Sequence[Any]) -> None:
    """SuiteError unless every bound of a range check fits the column."""
    kind = column_kind(col)
    if kind == "other":
        return
    wanted = {
        "number": ("number",),
        "text": ("text",),
        "date": ("date", "text"),
        "boolean": (),
    }[kind]
    wrong = [b for b in bounds if value_kind(b) not in wanted]
    for bound in bounds:
        if kind == "date" and isinstance(bound, str) and not _is_iso_moment(bound):
            wrong.append(bound)
    if not wrong:
        return
    raise SuiteError(
        f"range on column {_where(col)} ({type_name(col)}) needs "
        f"{_wanted_words(kind)}, got {_listed(wrong)}: a range compares numbers "
        "with number columns, dates and timestamps with date and timestamp "
        "columns, and text with text columns"
        + (" (quote the bounds to compare as text)" if kind == "text" else "")
    )


def check_accepted_values(col: sa.Column[Any], values: Sequence[Any]) -> None:
    """SuiteError unless every accepted value fits the column's type."""
    kind = column_kind(col)
    if kind == "other":
        return
    wanted = {
        "number": ("number",),
        "text": ("text",),
        "date": ("date", "text"),
        "boolean": ("boolean",),
    }[kind]
    wrong = [v for v in values if value_kind(v) not in wanted]
    if not wrong:
        return
    if kind == "text":
        advice = (
            "quote them in the suite as they are written in the column "
            "(e.g. '1.10', not 1.10) so that YAML keeps them as text"
        )
    elif kind == "number":
        advice = "write numbers unquoted"
    else:
        advice = f"write {_wanted_words(kind)}"
    raise SuiteError(
        f"accepted_values on column {_where(col)} ({type_name(col)}) needs "
        f"{_wanted_words(kind)}, got {_listed(wrong)}: {advice}"
    )


def check_freshness_column(col: sa.Column[Any], dialect: str) -> None:
    """SuiteError unless the column can hold the moments freshness reads.

    Date and timestamp columns everywhere; on SQLite, which stores moments
    as ISO text or Unix epoch numbers, text and number columns as well.
    """
    kind = column_kind(col)
    if kind in ("date", "other"):
        return
    if dialect == "sqlite" and kind in ("text", "number"):
        return
    raise SuiteError(
        f"freshness on column {_where(col)} ({type_name(col)}) needs a date or "
        "timestamp column: it reads the newest moment of the column"
    )


def integer_limit(col: sa.Column[Any], dialect: str) -> int | None:
    """The first integer past what the column's type holds, or None."""
    if not isinstance(col.type, sa.Integer):
        return None
    if dialect == "sqlite":
        return SQLITE_INTEGER_LIMIT
    if isinstance(col.type, sa.SmallInteger):
        return INTEGER_LIMITS["SMALLINT"]
    if isinstance(col.type, sa.BigInteger):
        return INTEGER_LIMITS["BIGINT"]
    return INTEGER_LIMITS["INTEGER"]


def as_moment(value: date) -> datetime:
    """A date as its midnight; a datetime as it is."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time())


def _is_iso_moment(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _where(col: sa.Column[Any]) -> str:
    table = col.table
    if isinstance(table, sa.Table):
        return f"'{col.name}' of {display_name(table)}"
    return f"'{col.name}'"


def _wanted_words(kind: Kind) -> str:
    return {
        "number": "numbers",
        "text": "text",
        "date": "dates or timestamps",
        "boolean": "true or false",
        "other": "values",
    }[kind]


def _listed(values: Sequence[Any]) -> str:
    words = [plain(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
