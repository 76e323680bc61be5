"""guardian's pattern language means the same on PostgreSQL and SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest

from guardian.checks.patterns import check_pattern, postgresql_regex, python_regex
from guardian.errors import SuiteError
from tests.test_checks_helpers import Db, make_suite
from tests.test_checks_helpers import db_fixture as db_fixture  # the db fixture

# (regex, case_insensitive, value, matches)
CASES: list[tuple[str, bool, str, bool]] = [
    (r"\bbar", False, "foo bar", True),
    (r"\bbar", False, "foobar", False),
    (r"bar\B", False, "barn", True),
    (r"bar\B", False, "bar", False),
    (r"^line1.line2$", False, "line1\nline2", True),
    (r"^ab$", False, "ab\n", False),
    (r"^ab$", False, "ab", True),
    (r"\Aab\Z", False, "ab", True),
    (r"^.$", False, "\n", True),
    (r"^\d+$", False, "123", True),
    (r"^\d+$", False, "\u0661\u0662", False),
    (r"^\D+$", False, "abc", True),
    (r"^[\d.]+$", False, "3.5", True),
    (r"^\w+$", False, "école_9", True),
    (r"^\w+$", False, "a-b", False),
    (r"\s", False, "a\tb", True),
    (r"\s", False, "ab", False),
    (r"^\S+$", False, "ab", True),
    (r"^abc$", True, "ABC", True),
    (r"^abc$", False, "ABC", False),
    (r"^école$", True, "ÉCOLE", True),
    (r"^[a-z]+$", False, "abc", True),
    (r"^[]a]+$", False, "]a", True),
    (r"^(?:ab)+$", False, "abab", True),
    (r"x(?=y)", False, "xy", True),
    (r"(?<!a)b", False, "ab", False),
    (r"^(a)\1$", False, "aa", True),
    (r"a|b", False, "c", False),
    (r"\.", False, "a.b", True),
    (r"^a[.]b$", False, "a.b", True),
    (r"^a[.]b$", False, "axb", False),
    (r"^[[a]+$", False, "[a", True),
    (r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", False, "a@b.org", True),
    (r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", False, "a@b", False),
    (r"^a\$$", False, "a$", True),
    (r"^[$]$", False, "$", True),
]


def insert_values(db: Db, values: list[str]) -> None:
    """One row per value, id from 1, inserted with bound parameters."""
    rows = list(enumerate(values, start=1))
    if db.dialect == "postgresql":
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE p (id integer PRIMARY KEY, v text)")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO p VALUES (%s, %s)", rows)
        return
    with sqlite3.connect(db.url.removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE TABLE p (id integer PRIMARY KEY, v text)")
        conn.executemany("INSERT INTO p VALUES (?, ?)", rows)


def test_every_pattern_gives_the_same_answer_on_both_engines(db: Db) -> None:
    insert_values(db, [value for _, _, value, _ in CASES])
    checks: list[dict[str, Any]] = [
        {
            "name": f"c{i}",
            "kind": "pattern",
            "table": "p",
            "column": "v",
            "regex": regex,
            "case_insensitive": folded,
            "where": f"id = {i}",
        }
        for i, (regex, folded, _, _) in enumerate(CASES, start=1)
    ]

    results = db.run(*checks)

    found = {
        (regex, value): results[f"c{i}"].violations == 0
        for i, (regex, _, value, _) in enumerate(CASES, start=1)
    }
    expected = {(regex, value): matches for regex, _, value, matches in CASES}
    assert all(results[f"c{i}"].status != "error" for i in range(1, len(CASES) + 1))
    assert found == expected


def test_null_and_non_text_values(db: Db) -> None:
    db.sql(
        "CREATE TABLE n (id integer PRIMARY KEY, v text, k integer)",
        "INSERT INTO n VALUES (1, NULL, 12), (2, 'x', 7), (3, NULL, NULL)",
    )

    text = db.one({"kind": "pattern", "table": "n", "column": "v", "regex": "^y$"})
    number = db.one(
        {"kind": "pattern", "table": "n", "column": "k", "regex": r"^\d\d$"}
    )

    assert (text.violations, text.sample_keys) == (1, [{"id": 2}])
    assert (number.violations, number.sample_keys) == (1, [{"id": 2}])


@pytest.mark.parametrize(
    ("regex", "words"),
    [
        ("^[[:alpha:]]+$", "POSIX class"),
        ("(?P<name>a)", "(?P<"),
        ("(?#note)a", "(?#n"),
        ("(?i)abc", "inline flags"),
        (r"\mword", r"write \b"),
        (r"\yword", r"write \b"),
        (r"[\D]", "negated class"),
        (r"\x41", r"\uXXXX"),
        ("a(", "invalid regular expression"),
        (r"^\d{,3}$", "write {0,n}"),
        (r"[\d-z]", "put - first or last"),
        (r"[\w&&x]", "read differently by the two engines"),
    ],
)
def test_constructs_read_differently_are_refused_at_load(
    regex: str, words: str
) -> None:
    check = {"name": "c", "kind": "pattern", "table": "t", "column": "v"}

    with pytest.raises(SuiteError) as caught:
        make_suite({**check, "regex": regex})

    assert words in str(caught.value)


def test_translations_per_engine() -> None:
    regex = r"\bx[$\d]\d$\B"

    check_pattern(regex)

    assert postgresql_regex(regex) == r"\yx[$\d]\d$\Y"
    assert python_regex(regex) == r"\bx[$0-9][0-9]\Z\B"
