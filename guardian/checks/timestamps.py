"""Reading timestamps the way a freshness or range check needs them.

PostgreSQL hands back datetimes, aware for ``timestamptz`` and naive for
``timestamp``; SQLite stores whatever text (or number) the application wrote.
Everything here is pure: it turns those values into aware datetimes and
decides whether a table is fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from guardian.checks.values import plain
from guardian.durations import format_duration


@dataclass(frozen=True)
class Freshness:
    """How old the newest row is, and whether that breaks the check."""

    newest: datetime | None
    age_seconds: float | None
    stale: bool
    note: str | None = None

    def observed(self) -> dict[str, Any]:
        """The figures a freshness result reports."""
        newest = self.newest.isoformat() if self.newest is not None else None
        return {"newest": newest, "age_seconds": self.age_seconds}


def as_aware(value: Any, zone: ZoneInfo) -> datetime | None:
    """``value`` as an aware datetime; naive values are read in ``zone``.

    Accepts datetimes, dates (midnight), ISO 8601 text with ``T`` or a space,
    with or without fractional seconds and offset (``Z`` too), and numbers as
    seconds since the Unix epoch. Returns None for NULL; raises ValueError
    for text that is not a timestamp.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a timestamp")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        value = _parse_text(value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone)
    raise ValueError(f"{_shown(value)} is not a timestamp")


def _parse_text(text: str) -> datetime:
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"{_shown(text)} is not an ISO 8601 timestamp") from None


def _shown(value: Any) -> str:
    """A database value in a message: as written, never a Python repr."""
    return plain(value)


def freshness(
    newest: Any, zone: ZoneInfo, max_age: timedelta, now: datetime
) -> Freshness:
    """Judge the newest value of a column: stale when older than ``max_age``.

    No value at all (an empty table, or no row matching the filter) is stale.
    """
    moment = as_aware(newest, zone)
    if moment is None:
        return Freshness(newest=None, age_seconds=None, stale=True)
    age = now - moment
    return Freshness(
        newest=moment,
        age_seconds=age.total_seconds(),
        stale=age > max_age,
        note=_future_note(age),
    )


def _future_note(age: timedelta) -> str | None:
    """A word about a newest value ahead of now: fresh, but likely a wrong clock.

    Clock skew between hosts is normal, so it passes; but a value far ahead
    usually means a zone mix-up, which hides real staleness.
    """
    if age >= timedelta(0):
        return None
    ahead = round(-age.total_seconds())
    if ahead >= 3600:
        ahead = round(ahead / 60) * 60
    shown = format_duration(timedelta(seconds=ahead))
    return f"newest value is {shown} in the future: check the clocks or the time zone"


def sqlite_text(value: date | str, zone: ZoneInfo) -> str:
    """A range bound as SQLite text, before SQLite normalises it.

    SQLite's date functions read offsets (converting to UTC) but naive values
    are taken as they are; an aware bound is therefore moved to ``zone``,
    the zone naive values are read in, and written without offset.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value
