"""`guardian db upgrade` and `guardian db current` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guardian.cli import _register, cli
from guardian.state.store import StateStore

HEAD = StateStore("sqlite://").migrations.head()


@pytest.fixture(params=["sqlite", "postgresql"])
def config_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "sqlite":
        state_url = "sqlite:///state/guardian.db"
    else:
        state_url = str(request.getfixturevalue("pg_url"))
    path = tmp_path / "guardian.yml"
    path.write_text(f"state:\n  url: {state_url}\n")
    return path


def _invoke(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, list(args))


def test_upgrade_creates_the_store_and_current_reports_it(config_path: Path) -> None:
    before = _invoke("-c", str(config_path), "db", "current")
    first = _invoke("-c", str(config_path), "db", "upgrade")
    again = _invoke("-c", str(config_path), "db", "upgrade")
    after = _invoke("-c", str(config_path), "db", "current", "--format", "json")

    assert before.exit_code == 0, before.output
    assert before.stdout == (
        "none (not created yet: run `guardian db upgrade` to create it)\n"
    )
    assert first.exit_code == 0, first.output
    assert "upgraded from empty to " + HEAD in first.stdout
    assert again.exit_code == 0, again.output
    assert again.stdout.endswith(f"is up to date ({HEAD})\n")
    data = json.loads(after.stdout)
    assert (data["revision"], data["head"], data["up_to_date"]) == (HEAD, HEAD, True)


def test_relative_sqlite_store_lives_beside_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "guardian.yml"
    path.parent.mkdir()
    path.write_text("state:\n  url: sqlite:///state/guardian.db\n")

    result = _invoke("-c", str(path), "db", "upgrade")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "conf" / "state" / "guardian.db").is_file()


def test_upgrade_of_an_unreachable_store_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "guardian.yml"
    path.write_text("state:\n  url: postgresql://guard:s3cret@127.0.0.1:9/state\n")

    result = _invoke("-c", str(path), "db", "upgrade")

    assert result.exit_code == 3
    assert "cannot read the state store at" in result.output
    assert "guard:***@127.0.0.1:9/state" in result.output
    assert "s3cret" not in result.output
