"""The ``guardian`` command: a thin front door onto the core.

Each command group lives in its own module and only parses, calls the core
and renders. One handler here turns a :class:`GuardianError` into its message
and exit code; anything else is a bug and shows a traceback with ``--debug``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from guardian import __version__
from guardian.cli.common import AppContext, err_console, print_json
from guardian.errors import ExitCode, GuardianError

# Command groups, imported only when used so that `guardian --help` answers at
# once. The one-line help shown in the command list must match each command's
# own; a test holds them together.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "guardian.cli.check",
        "Run check suites against a target, or validate them.",
    ),
    "config": ("guardian.cli.config_cmd", "Inspect guardian's configuration file."),
    "db": (
        "guardian.cli.db",
        "Create, upgrade and inspect guardian's state store (state.url).",
    ),
    "demo": (
        "guardian.cli.demo",
        "Plant five faults in the Chinook sample database and catch them.",
    ),
    "quarantine": (
        "guardian.cli.quarantine",
        "Look at rows held in quarantine, release them, or purge them.",
    ),
    "serve": (
        "guardian.cli.serve",
        "Run every job of the configuration on its cron or interval.",
    ),
    "status": (
        "guardian.cli.status",
        "Show each job's last run, next run and failure streak.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import the module of command ``name`` and return its click object."""
    module = importlib.import_module(COMMANDS[name][0])
    command: click.Command = module.command
    return command


class GuardianGroup(click.Group):
    """A click group whose errors end as one clear message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(
        self, ctx: click.Context, formatter: click.HelpFormatter
    ) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GuardianError as exc:
            app = ctx.find_object(AppContext)
            if app is not None and app.debug:
                raise
            from rich.markup import escape

            console = err_console()
            console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                console.print(f"  hint: {escape(exc.hint)}", highlight=False)
            if app is not None and app.output_format == "json":
                error = {"message": exc.message, "hint": exc.hint}
                print_json({"error": error, "exit_code": int(exc.exit_code)})
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            err_console().print("interrupted", highlight=False)
            app = ctx.find_object(AppContext)
            if app is not None and app.output_format == "json":
                print_json({"error": {"message": "interrupted"}, "exit_code": 130})
            ctx.exit(130)


@click.group(
    cls=GuardianGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="GUARDIAN_CONFIG",
    help="Configuration file (default: ./guardian.yml if present).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="guardian")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """guardian keeps a database's data correct and recoverable.

    Exit codes: 0 all good, 1 problems found, 2 usage or configuration
    error, 3 the work could not run.
    """
    ctx.obj = AppContext(config_path=config_path, debug=debug)


def _register() -> None:
    """Load every command now (tests and tools that walk the tree want them)."""
    for name in COMMANDS:
        if name not in cli.commands:
            cli.add_command(load_command(name), name)


def main() -> None:
    """Entry point of the console script."""
    try:
        cli.main(prog_name="guardian", standalone_mode=True)
    except SystemExit as exit_:
        sys.exit(exit_.code if exit_.code is not None else int(ExitCode.OK))
