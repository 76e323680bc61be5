"""What every command shares: the loaded configuration, consoles, formats."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from guardian.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from guardian.config import Config
    from guardian.targets import Target


@dataclass
class AppContext:
    """Options of the top-level command, and the configuration read once."""

    config_path: str | None = None
    debug: bool = False
    output_format: str = "text"
    _config: Config | None = field(default=None, init=False, repr=False)

    def config(self) -> Config:
        """The configuration file's contents, or the defaults when there is none."""
        # Imported here so that `guardian --help` never pays for pydantic and
        # SQLAlchemy.
        from guardian.config import default_config, find_config, load_config
        from guardian.logs import setup_cli_logging

        if self._config is None:
            path = find_config(self.config_path)
            if path is None:
                self._config = default_config()
            else:
                self._config = load_config(Path(path))
            setup_cli_logging(
                self._config.model.logging,
                base_dir=self._config.base_dir,
                debug=self.debug,
            )
        return self._config

    def target(self, name_or_url: str | None) -> Target:
        """A target named in the configuration, or given as a database URL."""
        from guardian.targets import Target, is_url

        config = self.config()
        if name_or_url is None:
            names = sorted(config.model.targets)
            if len(names) == 1:
                return config.target(names[0])
            raise UsageError(
                "which target? give --target NAME or --target URL",
                hint=(
                    "configured targets: " + ", ".join(names)
                    if names
                    else "e.g. --target postgresql://user@host/dbname"
                ),
            )
        if is_url(name_or_url):
            return Target.from_url(name_or_url)
        return config.target(name_or_url)


pass_app = click.make_pass_decorator(AppContext)


def _remember_format(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    # The top-level error handler answers in the format the command was asked
    # for, so that `… --format json > report.json` never leaves an empty file.
    app = ctx.find_object(AppContext)
    if app is not None:
        app.output_format = value
    return value


format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    callback=_remember_format,
    help="Output format.",
)


def invocation() -> str:
    """How the user ran guardian, so that suggested commands can be pasted."""
    import os
    import shutil

    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "__main__.py":
        return "python -m guardian"
    on_path = shutil.which("guardian")
    if on_path and argv0 and os.path.realpath(on_path) == os.path.realpath(argv0):
        return "guardian"
    if argv0 and os.path.basename(argv0) == "guardian" and os.path.exists(argv0):
        return os.path.relpath(argv0) if not argv0.startswith("/") else argv0
    return "guardian"


def out_console() -> Console:
    """The console for results, on standard output."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def err_console() -> Console:
    """The console for errors and progress, on standard error."""
    from rich.console import Console

    # Messages carry file:line locations that must stay greppable: never
    # break them at the console width.
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
