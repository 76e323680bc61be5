"""Durations as written in configuration files."""

from datetime import timedelta

import pytest

from guardian.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        (" 45 s ", timedelta(seconds=45)),
        ("90", timedelta(seconds=90)),
        (90, timedelta(seconds=90)),
    ],
)
def test_parses_common_forms(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "10x", "m10", "1h 30", "-5m", True])
def test_rejects_what_is_not_a_duration(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)  # type: ignore[arg-type]


def test_rejects_zero() -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_duration("0s")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(seconds=45), "45s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=1.5), "2d1.5s"),
    ],
)
def test_formats_shortest_form(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value
