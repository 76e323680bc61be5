"""The top-level command: lazy command loading, help, versions, errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardian import __version__
from guardian.cli import COMMANDS, _register, cli, load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_matches_the_command_itself(name: str) -> None:
    command = load_command(name)
    assert command.get_short_help_str(limit=200) == COMMANDS[name][1]


def test_help_lists_every_command_without_importing_them() -> None:
    code = (
        "import sys\n"
        "from guardian.cli import main\n"
        "sys.argv = ['guardian', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'pydantic', 'alembic', 'rich') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    for name in COMMANDS:
        assert f"  {name} " in result.stdout
    assert "HEAVY []" in result.stdout


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["chek"])
    assert result.exit_code == 2
    assert "No such command 'chek'" in result.output


def test_errors_are_json_on_stdout_when_json_was_asked_for(tmp_path: Path) -> None:
    suite = tmp_path / "orders.yml"
    suite.write_text(
        "checks:\n  - name: a\n    table: orders\n    kind: not_null\n    columns: x\n"
    )
    _register()
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "run",
            str(suite),
            "--target",
            "postgresql://u:s3cret@127.0.0.1:9/db",
            "--format",
            "json",
            "--no-record",
        ],
    )
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["exit_code"] == 3
    assert "127.0.0.1:9" in data["error"]["message"]
    assert "s3cret" not in result.output


def test_brackets_in_messages_are_shown_not_taken_as_markup(tmp_path: Path) -> None:
    config = tmp_path / "guardian.yml"
    config.write_text("targets:\n  shop:\n    url: sqlite:///x.db\n")
    _register()
    result = CliRunner().invoke(cli, ["-c", str(config), "serve"])
    assert result.exit_code == 2
    assert "suites: [checks]" in result.output


def test_suggested_commands_start_the_way_guardian_was_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from guardian.cli.common import invocation

    monkeypatch.setattr(sys, "argv", ["/x/lib/guardian/__main__.py"])
    assert invocation() == "python -m guardian"
    script = tmp_path / "bin" / "guardian"
    script.parent.mkdir()
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sys, "argv", ["bin/guardian"])
    assert invocation() == "bin/guardian"
    monkeypatch.setenv("PATH", str(script.parent))
    script.chmod(0o755)
    assert invocation() == "guardian"
