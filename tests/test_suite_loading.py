"""Suite files: what loads, and bad suites that end in one clear message.

Bad suites are tried both through the loader and through ``guardian check
run`` / ``check validate``, which must stop with exit code 2 and the file
and line before touching the target (the target here does not even exist).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from guardian.checks.spec import KINDS, NotNullCheck, ReferencesCheck
from guardian.checks.suite import (
    check_by_name,
    load_suite,
    load_suite_text,
    load_suites,
)
from guardian.cli import _register, cli
from guardian.errors import ConfigError, ExitCode, SuiteError

GOOD = """\
# yaml-language-server: $schema=./suite.schema.json
suite: shop
description: What the shop promises.
defaults:
  severity: warn
  schema: sales
checks:
  - name: email_present
    kind: not_null
    table: customers
    columns: email
  - name: order_customer_exists
    kind: references
    table: orders
    columns: [customer_id]
    parent_table: crm.customers
    parent_columns: id
    severity: critical
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_suite_loads_with_its_defaults(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path / "shop.yml", GOOD))

    assert suite.name == "shop"
    assert suite.description == "What the shop promises."
    first, second = suite.checks
    assert isinstance(first, NotNullCheck)
    assert first.columns == ["email"]
    assert first.table == "sales.customers"
    assert first.severity == "warn"
    assert isinstance(second, ReferencesCheck)
    assert second.table == "sales.orders"
    assert second.parent_table == "crm.customers"
    assert second.referenced_columns == ["id"]
    assert second.severity == "critical"
    assert suite.where("order_customer_exists") == f"{tmp_path / 'shop.yml'}:12"


def test_a_suite_is_named_after_its_file_by_default(tmp_path: Path) -> None:
    text = "checks:\n  - {name: a, kind: not_null, table: t, columns: x}\n"

    suite = load_suite(write(tmp_path / "orders.yaml", text))

    assert suite.name == "orders"


def test_a_folder_is_searched_for_suites(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    write(
        tmp_path / "a.yml",
        "checks:\n  - {name: x, kind: not_null, table: t, columns: c}\n",
    )
    write(
        tmp_path / "nested" / "b.yaml",
        "checks:\n  - {name: y, kind: not_null, table: t, columns: c}\n",
    )
    write(tmp_path / "notes.txt", "not a suite")

    suites = load_suites([tmp_path])

    assert sorted(s.name for s in suites) == ["a", "b"]


def test_two_suites_with_one_name_are_refused(tmp_path: Path) -> None:
    text = "suite: same\nchecks:\n  - {name: x, kind: not_null, table: t, columns: c}\n"
    write(tmp_path / "a.yml", text)
    write(tmp_path / "b.yml", text)

    with pytest.raises(SuiteError) as caught:
        load_suites([tmp_path])

    assert "two suites are named 'same'" in str(caught.value)


def test_check_by_name_takes_check_or_suite_dot_check(tmp_path: Path) -> None:
    suites = [
        load_suite_text(
            "checks:\n  - {name: x, kind: not_null, table: t, columns: c}\n", "one.yml"
        ),
        load_suite_text(
            "checks:\n  - {name: x, kind: not_null, table: t, columns: c}\n"
            "  - {name: y, kind: not_null, table: t, columns: c}\n",
            "two.yml",
        ),
    ]

    assert check_by_name(suites, ["x"]) == {("one", "x"), ("two", "x")}
    assert check_by_name(suites, ["two.x", "y"]) == {("two", "x"), ("two", "y")}
    with pytest.raises(SuiteError, match="no check named 'z'"):
        check_by_name(suites, ["z"])


BAD = [
    pytest.param(
        "checks: [\n  {name: a, kind: not_null\n",
        3,
        "malformed YAML",
        None,
        id="malformed-yaml",
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: not_nul\n    table: t\n",
        3,
        "check 'a' has unknown kind 'not_nul'",
        "valid kinds: " + ", ".join(KINDS),
        id="unknown-kind",
    ),
    pytest.param(
        "checks:\n  - name: a\n    table: t\n",
        2,
        "check 'a' has no kind",
        "not_null",
        id="no-kind",
    ),
    pytest.param(
        "checks:\n  - {name: a, kind: not_null, table: t, columns: x}\n"
        "  - {name: b, kind: not_null, table: t, columns: y}\n"
        "  - {name: a, kind: not_null, table: t, columns: z}\n",
        4,
        "duplicate check name 'a' (first used on line 2)",
        "unique within a suite",
        id="duplicate-name",
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: pattern\n    table: t\n    column: c\n"
        "    regex: '[a-'\n",
        6,
        "check 'a': regex: invalid regular expression '[a-'",
        None,
        id="invalid-regex",
    ),
    pytest.param("", None, "the suite is empty", "add a 'checks:' list", id="empty"),
    pytest.param(
        "suite: s\nchecks: []\n",
        2,
        "the suite has no checks",
        "add a 'checks:' list",
        id="no-checks",
    ),
    pytest.param(
        "- name: a\n", 1, "a suite is a mapping with a 'checks' list", None, id="list"
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: not_null\n    table: t\n",
        2,
        "check 'a': columns: is required",
        None,
        id="missing-field",
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: not_null\n    table: t\n    columns: x\n"
        "    colour: red\n",
        6,
        "check 'a': colour: is not a known setting",
        None,
        id="unknown-field",
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: range\n    table: t\n    column: c\n"
        "    min: 5\n    max: 1\n",
        2,
        "min (5) is greater than max (1)",
        None,
        id="inverted-range",
    ),
    pytest.param(
        "checks:\n  - name: a b\n    kind: not_null\n    table: t\n    columns: x\n",
        2,
        "a check name uses letters, digits",
        None,
        id="bad-name",
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: freshness\n    table: t\n    column: c\n"
        "    max_age: soon\n",
        6,
        "'soon' is not a duration",
        None,
        id="bad-duration",
    ),
    pytest.param(
        "checks:\n  - name: a\n    kind: not_null\n    table: t\n    columns: x\n"
        "  - name: a\n    kind: not_null\n    table: t\n    columns: x\n"
        "    columns: y\n",
        10,
        "duplicate key 'columns' (first given on line 9)",
        None,
        id="duplicate-key",
    ),
]


@pytest.mark.parametrize(("text", "line", "words", "hint"), BAD)
def test_a_bad_suite_is_named_with_its_line(
    tmp_path: Path, text: str, line: int | None, words: str, hint: str | None
) -> None:
    path = write(tmp_path / "bad.yml", text)

    with pytest.raises(ConfigError) as caught:
        load_suite(path)

    where = f"{path}:{line}" if line else f"{path}: "
    assert str(caught.value).startswith(where)
    assert words in str(caught.value)
    if hint is not None:
        assert hint in (caught.value.hint or "")
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize(("text", "line", "words", "hint"), BAD)
def test_the_cli_stops_at_a_bad_suite_before_the_target(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    text: str,
    line: int | None,
    words: str,
    hint: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    write(tmp_path / "bad.yml", text)
    _register()

    result = CliRunner().invoke(
        cli, ["check", command, "bad.yml", "--target", "sqlite:///missing.db"]
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    where = f"bad.yml:{line}: " if line else "bad.yml: "
    assert first.startswith(f"error: {where}")
    assert words in first
    if hint is not None:
        assert hint in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / ".guardian").exists()
    assert not (tmp_path / "missing.db").exists()


def test_the_cli_names_a_missing_suite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    _register()

    result = CliRunner().invoke(
        cli, ["check", "run", "nowhere.yml", "--target", "sqlite:///x.db"]
    )

    assert result.exit_code == 2
    assert "no suite file or folder at nowhere.yml" in result.stderr
