"""``guardian config check``: validate a configuration without running anything.

It reads the file as the service would, then loads every suite the file and
its jobs name (syntax only; no database is contacted), and reports every
problem it finds rather than stopping at the first suite that is broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.markup import escape

from guardian.checks.suite import Suite, find_suite_files, load_suite
from guardian.cli.common import (
    AppContext,
    err_console,
    format_option,
    out_console,
    pass_app,
    print_json,
)
from guardian.config import Config, find_config, load_config
from guardian.errors import ConfigError, UsageError
from guardian.targets import mask_url
from guardian.yamlsource import Document, load_file


@dataclass
class ConfigCheck:
    """What checking a configuration found: its suites and its problems."""

    file: str
    config: Config | None = None
    suites: dict[Path, Suite] = field(default_factory=dict)
    problems: list[ConfigError] = field(default_factory=list)

    @property
    def checks(self) -> int:
        """Checks across every suite that loaded."""
        return sum(len(suite.checks) for suite in self.suites.values())


@click.group("config")
def command() -> None:
    """Inspect guardian's configuration file."""


@command.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@format_option
@pass_app
@click.pass_context
def check_command(
    ctx: click.Context, app: AppContext, file: str | None, output_format: str
) -> None:
    """Validate FILE (default: the configuration in use) and the suites it names.

    Exit code 0 when everything is valid, 2 when anything is not.
    """
    path = Path(file) if file else find_config(app.config_path)
    if path is None:
        raise UsageError(
            "no configuration file to check",
            hint="give FILE or -c FILE, set GUARDIAN_CONFIG, or create ./guardian.yml",
        )

    outcome = check_config(path)

    if output_format == "json":
        print_json(outcome_json(outcome))
    elif outcome.problems:
        for problem in outcome.problems:
            err_console().print(
                f"[bold red]error:[/] {escape(problem.message)}", highlight=False
            )
            if problem.hint:
                err_console().print(f"  hint: {problem.hint}", markup=False)
    else:
        out_console().print(ok_line(outcome), style="green", soft_wrap=True)
    ctx.exit(2 if outcome.problems else 0)


def check_config(path: Path) -> ConfigCheck:
    """Load the configuration at ``path`` and every suite it names."""
    outcome = ConfigCheck(file=str(path))
    try:
        outcome.config = load_config(path)
    except ConfigError as exc:
        outcome.problems.append(exc)
        return outcome

    # The configuration loaded, so the file parses: read again for lines.
    doc = load_file(path)
    model = outcome.config.model
    # The default folder is optional: a configuration may not use suites.
    if "suites" in model.model_fields_set or outcome.config.resolve("checks").exists():
        _load_suites(outcome, doc, ("suites",), model.suites)
    for name, job in model.jobs.items():
        _load_suites(outcome, doc, ("jobs", name, "suites"), job.suites)
    return outcome


def _load_suites(
    outcome: ConfigCheck,
    doc: Document,
    setting: tuple[str, ...],
    paths: list[str],
) -> None:
    assert outcome.config is not None
    names: dict[str, Path] = {}
    for index, text in enumerate(paths):
        where = doc.where((*setting, index))
        try:
            files = find_suite_files([outcome.config.resolve(text)])
        except ConfigError as exc:
            outcome.problems.append(_at(where, exc))
            continue
        if not files:
            outcome.problems.append(
                ConfigError(f"no suite files (*.yml, *.yaml) in {text}", location=where)
            )
        for file in files:
            suite = _load_once(outcome, file)
            if suite is not None:
                _note_name(outcome, names, suite, file, where)


def _load_once(outcome: ConfigCheck, file: Path) -> Suite | None:
    key = file.resolve()
    if key in outcome.suites:
        return outcome.suites[key]
    try:
        suite = load_suite(file)
    except ConfigError as exc:
        if not any(p.message == exc.message for p in outcome.problems):
            outcome.problems.append(exc)
        return None
    outcome.suites[key] = suite
    return suite


def _note_name(
    outcome: ConfigCheck, names: dict[str, Path], suite: Suite, file: Path, where: str
) -> None:
    first = names.setdefault(suite.name, file.resolve())
    if first != file.resolve():
        outcome.problems.append(
            ConfigError(
                f"two suites are named {suite.name!r}: {first} and {file}",
                location=where,
                hint="give one of them another name with the top-level 'suite' key",
            )
        )


def _at(where: str, exc: ConfigError) -> ConfigError:
    return ConfigError(exc.reason, location=where, hint=exc.hint)


def ok_line(outcome: ConfigCheck) -> str:
    """``OK  guardian.yml: 2 targets, 3 jobs, 4 suites (17 checks)``."""
    assert outcome.config is not None
    model = outcome.config.model
    return (
        f"OK  {outcome.file}: {_count(len(model.targets), 'target')}, "
        f"{_count(len(model.jobs), 'job')}, {_count(len(outcome.suites), 'suite')} "
        f"({_count(outcome.checks, 'check')})"
    )


def outcome_json(outcome: ConfigCheck) -> dict[str, object]:
    """The stable JSON form of a configuration check."""
    model = outcome.config.model if outcome.config is not None else None
    return {
        "file": outcome.file,
        "ok": not outcome.problems,
        "state": mask_url(outcome.config.state_url) if outcome.config else None,
        "targets": sorted(model.targets) if model else [],
        "jobs": sorted(model.jobs) if model else [],
        "suites": sorted(s.name for s in outcome.suites.values()),
        "checks": outcome.checks,
        "problems": [
            {"location": p.location, "message": p.reason, "hint": p.hint}
            for p in outcome.problems
        ],
    }


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"
