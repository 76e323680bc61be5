"""Durations as people write them in configuration: ``30s``, ``10m``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``"90s"``, ``"1h30m"``, ``"2d"`` or a number of seconds.

    Raises ValueError with a message fit for a user when the text is not a
    duration, or is zero or negative.
    """
    if isinstance(text, timedelta):
        value = text
    elif isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 10m, 1h30m")
    elif isinstance(text, int | float):
        value = timedelta(seconds=text)
    else:
        value = _parse_text(text.strip().lower())
    if value <= timedelta(0):
        raise ValueError(f"duration must be positive, got {text!r}")
    return value


def _parse_text(text: str) -> timedelta:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    pos, total = 0, timedelta(0)
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(
            f"{text!r} is not a duration; write e.g. 500ms, 30s, 10m, 1h30m, 2d"
        )
    return total


def format_duration(value: timedelta) -> str:
    """The shortest plain form of ``value``: ``1h30m``, ``45s``, ``250ms``."""
    millis = round(value.total_seconds() * 1000)
    if millis < 1000:
        return f"{millis}ms"
    seconds, rest = divmod(millis, 1000)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    if seconds or rest:
        parts.append(f"{seconds + rest / 1000:g}s")
    return "".join(parts)
