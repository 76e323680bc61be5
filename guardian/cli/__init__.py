"""The ``guardian`` command: a thin front door onto the core.

Each command group lives in its own module and only parses, calls the core
and renders. One handler here turns a :class:`GuardianError` into its message
and exit code; anything else is a bug and shows a traceback with ``--debug``.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from guardian import __version__
from guardian.cli.common import AppContext, err_console
from guardian.errors import ExitCode, GuardianError


class GuardianGroup(click.Group):
    """A click group whose errors end as one clear message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GuardianError as exc:
            app = ctx.find_object(AppContext)
            if app is not None and app.debug:
                raise
            err_console().print(f"[bold red]error:[/] {exc.message}", highlight=False)
            if exc.hint:
                err_console().print(f"  hint: {exc.hint}", highlight=False)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            err_console().print("interrupted", highlight=False)
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
    from guardian.cli import check, config_cmd, db, demo, serve, status

    for module in (check, config_cmd, db, demo, serve, status):
        command = getattr(module, "command", None)
        if command is not None:
            cli.add_command(command)


def main() -> None:
    """Entry point of the console script."""
    _register()
    try:
        cli.main(prog_name="guardian", standalone_mode=True)
    except SystemExit as exit_:
        sys.exit(exit_.code if exit_.code is not None else int(ExitCode.OK))
