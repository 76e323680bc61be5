"""The top-level command: lazy command loading, help, versions, errors."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from guardian import __version__
from guardian.cli import COMMANDS, cli, load_command


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
