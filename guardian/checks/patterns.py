"""guardian's pattern language: one regular expression syntax, two engines.

PostgreSQL's regular expressions (ARE) and Python's ``re`` (what SQLite runs
here) agree on most syntax but not all of it: ``\\b`` is a backspace in one
and a word boundary in the other, ``.`` matches a newline in one only, ``$``
also matches before a final newline in Python. A pattern check uses the part
both share, with these meanings, on both:

- ``.`` is any character, newline included; ``^`` and ``$`` (and ``\\A``,
  ``\\Z``) are the start and the very end of the value;
- ``\\d`` is 0-9; ``\\w`` a letter of any alphabet, a digit or ``_``;
  ``\\s`` white space; ``\\D``, ``\\W``, ``\\S`` their opposites (not inside
  ``[...]``); ``\\b`` and ``\\B`` a word boundary and its opposite;
- ``\\t``, ``\\n``, ``\\r``, ``\\f``, ``\\v``, ``\\uXXXX``, back references
  ``\\1``-``\\9``, and a backslash before any other punctuation for itself;
- groups ``(...)``, ``(?:...)``, look-ahead ``(?=...)`` and ``(?!...)``,
  classes ``[...]``, quantifiers and alternation as usual.

Constructs that mean different things on the two (POSIX classes such as
``[[:alpha:]]``, Python's ``(?P<name>...)``, PostgreSQL's ``\\m`` or ``\\y``,
inline flags) are refused when the suite is loaded, with what to write
instead. Everything here is pure, except :func:`register_sqlite_functions`,
which gives a SQLite connection the functions the compiler calls.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Escapes both engines read alike (or that guardian translates), by letter.
_SHARED_LETTERS = set("dDsSwWbBAZtnrfvu")
# Escapes that stand for a set of characters and so cannot be negated inside
# a class: PostgreSQL refuses them there.
_NEGATED_CLASSES = set("DSW")
_HINTS = {
    "m": "\\b (a word boundary)",
    "M": "\\b (a word boundary)",
    "y": "\\b (a word boundary)",
    "Y": "\\B (not a word boundary)",
    "x": "\\uXXXX (four hex digits)",
    "U": "\\uXXXX (four hex digits)",
    "0": "\\uXXXX (four hex digits)",
    "a": "\\u0007",
    "e": "\\u001B",
    "z": "$ (the end of the value)",
}
_GROUP_OPENERS = ("(?:", "(?=", "(?!", "(?<=", "(?<!")

SQLITE_REGEXP = "guardian_regexp"
SQLITE_LOWER = "guardian_lower"


@dataclass(frozen=True)
class _Piece:
    """One unit of a pattern: a character, an escape or a class delimiter."""

    text: str
    in_class: bool


def check_pattern(regex: str) -> None:
    """Raise ValueError when ``regex`` is not in guardian's pattern language.

    The message names the construct and what to write instead.
    """
    pieces = _pieces(regex)
    for index, piece in enumerate(pieces):
        _check_piece(regex, pieces, index, piece)
        _check_pair(regex, pieces, index)

    try:
        re.compile(python_regex(regex))
    except re.error as exc:
        raise ValueError(f"invalid regular expression {regex!r}: {exc}") from None


# Doubled punctuation that Python reserves for set operations inside a class
# (it warns today), while PostgreSQL reads it as two plain characters.
_SET_OPERATIONS = {"&&", "--", "||", "~~"}


def _check_pair(regex: str, pieces: list[_Piece], index: int) -> None:
    """Refuse what only shows across two pieces: {,n} and odd class ranges."""
    piece = pieces[index]
    after = pieces[index + 1] if index + 1 < len(pieces) else None
    if after is None:
        return
    if not piece.in_class and piece.text == "{" and after.text == ",":
        raise ValueError(
            f"{regex!r}: {{,n}} means 0 to n times in Python but is literal text "
            "in PostgreSQL; write {0,n}"
        )
    if piece.in_class and after.in_class and piece.text + after.text in _SET_OPERATIONS:
        raise ValueError(
            f"{regex!r}: {piece.text}{after.text} inside [...] is read differently "
            f"by the two engines; escape it as \\{piece.text}\\{after.text}"
        )
    before = pieces[index - 1] if index > 0 else None
    if (
        piece.in_class
        and piece.text == "-"
        and before is not None
        and before.in_class
        and after.in_class
        and after.text != "]"
        and (_is_set_escape(before.text) or _is_set_escape(after.text))
    ):
        raise ValueError(
            f"{regex!r}: a range in [...] cannot start or end at "
            f"{before.text if _is_set_escape(before.text) else after.text}; "
            "put - first or last in the class to mean a hyphen"
        )


def _is_set_escape(text: str) -> bool:
    return len(text) == 2 and text[0] == "\\" and text[1] in "dDsSwW"


def postgresql_regex(regex: str) -> str:
    """``regex`` as PostgreSQL reads it: word boundaries are \\y and \\Y there."""
    out = []
    for piece in _pieces(regex):
        if piece.text == "\\b" and not piece.in_class:
            out.append("\\y")
        elif piece.text == "\\B" and not piece.in_class:
            out.append("\\Y")
        else:
            out.append(piece.text)
    return "".join(out)


def python_regex(regex: str) -> str:
    """``regex`` as Python's re reads it with DOTALL: ``$`` is the very end."""
    out = []
    for piece in _pieces(regex):
        if piece.in_class:
            # A [ inside a class is literal to both; Python warns unless escaped.
            escaped = {"\\d": "0-9", "[": "\\["}
            out.append(escaped.get(piece.text, piece.text))
        elif piece.text == "$":
            out.append("\\Z")
        elif piece.text == "\\d":
            # Python's \d takes every Unicode digit; PostgreSQL's only 0-9.
            out.append("[0-9]")
        elif piece.text == "\\D":
            out.append("[^0-9]")
        else:
            out.append(piece.text)
    return "".join(out)


def _pieces(regex: str) -> list[_Piece]:
    """Split ``regex`` into characters and escapes, marking those in a class."""
    pieces: list[_Piece] = []
    in_class = False
    i = 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex):
            pieces.append(_Piece(regex[i : i + 2], in_class))
            i += 2
            continue

        if not in_class and char == "[":
            # The opening bracket itself is not inside the class: a [ that
            # is (as in [[:alpha:]]) may start a POSIX class.
            pieces.append(_Piece(char, False))
            in_class = True
            # A ] first in a class (after an optional ^) is a literal ].
            for literal in ("^", "]"):
                if regex.startswith(literal, i + 1):
                    pieces.append(_Piece(literal, True))
                    i += 1
        elif in_class and char == "]":
            pieces.append(_Piece(char, True))
            in_class = False
        else:
            pieces.append(_Piece(char, in_class))
        i += 1
    return pieces


def _check_piece(regex: str, pieces: list[_Piece], index: int, piece: _Piece) -> None:
    text = piece.text
    if text.startswith("\\"):
        _check_escape(text, piece.in_class)
        return

    following = "".join(p.text for p in pieces[index : index + 4])
    if piece.in_class and following[:2] in ("[:", "[.", "[="):
        raise ValueError(
            f"the POSIX class {following[:2]}...{following[1]}] in {regex!r} is "
            "read differently by PostgreSQL and SQLite: write \\d, \\w, \\s or a "
            "range such as [a-z] instead"
        )
    opens = not piece.in_class and following.startswith("(?")
    if opens and not following.startswith(_GROUP_OPENERS):
        raise ValueError(
            f"{following}... in {regex!r} is not part of guardian's pattern "
            "language: use (?:...) for a group, look-ahead (?=...) or (?!...), "
            "look-behind (?<=...) or (?<!...), and case_insensitive: true "
            "instead of inline flags"
        )


def _check_escape(text: str, in_class: bool) -> None:
    letter = text[1]
    if letter.isdigit() and letter != "0" and not in_class:
        return
    if not letter.isalnum():
        return

    if letter in _SHARED_LETTERS and not (in_class and letter in _NEGATED_CLASSES):
        if in_class and letter in "bBAZ":
            raise ValueError(
                f"{text} inside [...] means different things to PostgreSQL and "
                "SQLite: move it out of the class"
            )
        return
    if in_class and letter in _NEGATED_CLASSES:
        raise ValueError(
            f"{text} cannot stand inside [...]: write a negated class such as "
            "[^0-9] instead"
        )
    hint = _HINTS.get(letter)
    instead = f": write {hint} instead" if hint else ""
    raise ValueError(
        f"the escape {text} is not part of guardian's pattern language, which "
        f"PostgreSQL and SQLite read alike{instead}"
    )


@lru_cache(maxsize=256)
def _compiled(regex: str, case_insensitive: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile(python_regex(regex), flags)


def sqlite_regexp(value: Any, regex: str, flags: str) -> int | None:
    """The SQLite function behind pattern checks: 1 on a match, NULL for NULL.

    ``flags`` is ``i`` for a case-insensitive match, else empty. Values that
    are not text (numbers in a loosely typed column) are matched as text.
    """
    if value is None or regex is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return int(_compiled(regex, flags == "i").search(str(value)) is not None)


def sqlite_lower(value: Any) -> Any:
    """Lower case by Unicode rules (SQLite's own lower() only knows ASCII)."""
    return value.lower() if isinstance(value, str) else value


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Give a SQLite connection the functions guardian's SQL calls."""
    connection.create_function(SQLITE_REGEXP, 3, sqlite_regexp, deterministic=True)
    connection.create_function(SQLITE_LOWER, 1, sqlite_lower, deterministic=True)
