"""``guardian config check``: the file and every suite it names, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guardian.cli import _register, cli

SUITE_A = "checks:\n  - {name: a1, kind: not_null, table: t, columns: x}\n"
SUITE_B = (
    "checks:\n  - {name: b1, kind: not_null, table: t, columns: x}\n"
    "  - {name: b2, kind: unique, table: t, columns: [x, y]}\n"
)

CONFIG = """\
targets:
  shop:
    url: postgresql://guardian:${SHOP_PASSWORD:-s3cret}@db.internal/shop
  crm:
    url: sqlite:///crm.db
suites: [checks]
jobs:
  nightly:
    target: shop
    suites: [checks/a.yml, extra]
    cron: "0 3 * * *"
  hourly:
    target: crm
    suites: [checks]
    every: 1h
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a valid configuration, three suites in two places."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    monkeypatch.delenv("GUARDIAN_STATE__URL", raising=False)
    (tmp_path / "checks").mkdir()
    (tmp_path / "extra").mkdir()
    (tmp_path / "checks" / "a.yml").write_text(SUITE_A, encoding="utf-8")
    (tmp_path / "checks" / "b.yml").write_text(SUITE_B, encoding="utf-8")
    (tmp_path / "extra" / "c.yml").write_text(SUITE_A.replace("a1", "c1"), "utf-8")
    (tmp_path / "guardian.yml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def guardian(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_valid_configuration_is_summed_up(folder: Path) -> None:
    result = guardian("config", "check")

    assert result.exit_code == 0
    assert result.stdout == "OK  guardian.yml: 2 targets, 2 jobs, 3 suites (4 checks)\n"


def test_the_file_may_be_given(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder / "extra")

    given = guardian("config", "check", "../guardian.yml")
    by_option = guardian("-c", "../guardian.yml", "config", "check")
    monkeypatch.setenv("GUARDIAN_CONFIG", str(folder / "guardian.yml"))
    by_env = guardian("config", "check")

    assert given.exit_code == by_option.exit_code == by_env.exit_code == 0
    assert given.stdout.startswith("OK  ../guardian.yml: 2 targets")
    assert by_env.stdout.startswith(f"OK  {folder / 'guardian.yml'}: 2 targets")


def test_json_form_masks_passwords(folder: Path) -> None:
    result = guardian("config", "check", "--format", "json")

    data = json.loads(result.stdout)
    assert result.exit_code == 0
    assert data["ok"] is True
    assert data["targets"] == ["crm", "shop"]
    assert data["jobs"] == ["hourly", "nightly"]
    assert data["suites"] == ["a", "b", "c"]
    assert data["checks"] == 4
    assert data["problems"] == []
    assert "s3cret" not in result.stdout


def test_state_url_override_is_applied(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARDIAN_STATE__URL", "postgresql://g:pw1234@state.internal/g")

    result = guardian("config", "check", "--format", "json")

    data = json.loads(result.stdout)
    assert result.exit_code == 0
    assert data["state"] == "postgresql://g:***@state.internal/g"
    assert "pw1234" not in result.stdout


def test_default_state_store_is_next_to_the_file(folder: Path) -> None:
    result = guardian("config", "check", "--format", "json")

    state = json.loads(result.stdout)["state"]
    assert state == f"sqlite:///{folder.resolve() / '.guardian' / 'state.db'}"
    assert not (folder / ".guardian").exists()


def test_no_configuration_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)

    result = guardian("config", "check")

    assert result.exit_code == 2
    assert "no configuration file to check" in result.stderr
    assert "GUARDIAN_CONFIG" in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "suites: [checks]\njobs:",
            "suites: [checks]\ncolour: blue\njobs:",
            "guardian.yml:7: colour: is not a known setting",
        ),
        (
            'cron: "0 3 * * *"',
            'cron: "0 25 * * *"',
            "guardian.yml:11: jobs.nightly.cron: invalid cron expression '0 25 * * *'",
        ),
        (
            "every: 1h",
            "every: one hour",
            "guardian.yml:15: jobs.hourly.every: 'one hour' is not a duration",
        ),
        (
            "target: crm",
            "target: warehouse",
            "guardian.yml:13: job 'hourly' names target 'warehouse', which is not "
            "defined (known: crm, shop)",
        ),
        (
            "${SHOP_PASSWORD:-s3cret}",
            "${SHOP_PASSWORD}",
            "guardian.yml:3: environment variable SHOP_PASSWORD is not set",
        ),
        (
            "url: sqlite:///crm.db",
            "url: mysql://u:hunter2@h/crm",
            "guardian.yml:5: targets.crm.url: unsupported database 'mysql'",
        ),
        (
            "    every: 1h\n",
            "    every: 1h\n  oops: [\n",
            "guardian.yml:17: malformed YAML",
        ),
    ],
)
def test_a_bad_configuration_is_reported_at_its_line(
    folder: Path, old: str, new: str, expected: str
) -> None:
    edit(folder / "guardian.yml", old, new)

    result = guardian("config", "check")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert expected in result.stderr
    assert "s3cret" not in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_every_broken_suite_is_reported(folder: Path) -> None:
    (folder / "checks" / "b.yml").write_text(
        "checks:\n  - {name: b1, kind: nul, table: t}\n", encoding="utf-8"
    )
    (folder / "extra" / "c.yml").write_text("checks: [\n", encoding="utf-8")
    edit(
        folder / "guardian.yml", "[checks/a.yml, extra]", "[checks/a.yml, extra, gone]"
    )

    result = guardian("config", "check")
    as_json = guardian("config", "check", "--format", "json")

    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert (
        f"{folder / 'checks' / 'b.yml'}:2: check 'b1' has unknown kind 'nul'"
        in errors[0]
    )
    assert "valid kinds: not_null" in result.stderr
    assert f"{folder / 'extra' / 'c.yml'}:2: malformed YAML" in errors[1]
    assert "guardian.yml:10: no suite file or folder at" in errors[2]
    problems = json.loads(as_json.stdout)["problems"]
    assert as_json.exit_code == 2
    assert [p["location"] for p in problems] == [
        f"{folder / 'checks' / 'b.yml'}:2",
        f"{folder / 'extra' / 'c.yml'}:2",
        "guardian.yml:10",
    ]


def test_two_suites_of_one_name_in_a_job_are_reported(folder: Path) -> None:
    (folder / "extra" / "c.yml").write_text("suite: a\n" + SUITE_A, encoding="utf-8")

    result = guardian("config", "check")

    assert result.exit_code == 2
    assert "guardian.yml:10: two suites are named 'a'" in result.stderr


def test_a_configuration_without_suites_needs_no_checks_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    (tmp_path / "guardian.yml").write_text(
        "targets:\n  shop:\n    url: sqlite:///shop.db\n", encoding="utf-8"
    )

    result = guardian("config", "check")

    assert result.exit_code == 0
    assert result.stdout == "OK  guardian.yml: 1 target, 0 jobs, 0 suites (0 checks)\n"
