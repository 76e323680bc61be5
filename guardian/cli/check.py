"""``guardian check run`` and ``guardian check validate``: suites against a target.

Both load suites (files or folders given, else the configuration's), pick a
target, hand the work to the core and render what comes back. The run's exit
code is the report's: 0 when no error or critical check failed, 1 when one
did; suite and usage errors end with 2, an unreachable target with 3.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from guardian.checks.results import CheckResult
from guardian.checks.suite import check_by_name, load_suites
from guardian.cli.common import (
    AppContext,
    err_console,
    format_option,
    pass_app,
    print_json,
)
from guardian.cli.render import (
    failing,
    problems_json,
    render_problems,
    render_report,
    report_console,
)
from guardian.config import Config
from guardian.state.store import StateStore

suite_paths_argument = click.argument(
    "suite_paths", metavar="SUITE...", nargs=-1, type=click.Path(path_type=Path)
)
target_option = click.option(
    "--target",
    "target_ref",
    metavar="NAME|URL",
    help="A target named in the configuration, or a database URL.",
)


@click.group("check")
def command() -> None:
    """Run check suites against a target, or validate them."""


@command.command("run")
@suite_paths_argument
@target_option
@format_option
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Run only this check (check or suite.check); repeat or separate by commas.",
)
@click.option("-v", "--verbose", is_flag=True, help="List passing checks too.")
@click.option(
    "--no-record", is_flag=True, help="Do not record the run in the state store."
)
@pass_app
@click.pass_context
def run_command(
    ctx: click.Context,
    app: AppContext,
    suite_paths: tuple[Path, ...],
    target_ref: str | None,
    output_format: str,
    only: tuple[str, ...],
    verbose: bool,
    no_record: bool,
) -> None:
    """Run the checks of SUITE... (files or folders) against a target.

    Without SUITE, the suites named in the configuration run. Exit code 0
    when no check of severity error or critical failed, 1 when one did.
    Ctrl-C cancels the queries in flight and exits with 130; the run is
    recorded as interrupted.
    """
    from guardian.runs import run_suites

    config = app.config()
    suites = load_suites(suite_files(config, suite_paths))
    chosen = check_by_name(suites, split_names(only)) if only else None
    target = app.target(target_ref)
    store = None if no_record else open_store(config)

    total = len(chosen) if chosen is not None else sum(len(s.checks) for s in suites)
    try:
        with progress(total, enabled=output_format == "text") as on_result:
            report = run_suites(
                target,
                suites,
                store=store,
                only=chosen,
                on_result=on_result,
                quarantine=config.model.quarantine,
            )
    finally:
        target.dispose()
        if store is not None:
            store.dispose()

    if output_format == "json":
        print_json(report.to_json())
    else:
        render_report(report_console(), report, verbose=verbose)
    ctx.exit(int(report.exit_code))


@command.command("validate")
@suite_paths_argument
@target_option
@format_option
@pass_app
@click.pass_context
def validate_command(
    ctx: click.Context,
    app: AppContext,
    suite_paths: tuple[Path, ...],
    target_ref: str | None,
    output_format: str,
) -> None:
    """Check that SUITE... fits the target's tables and columns, running nothing.

    Exit code 0 when every check fits (warnings alone are printed but pass),
    1 when some do not.
    """
    from guardian.checks.validate import validate_suites

    config = app.config()
    suites = load_suites(suite_files(config, suite_paths))
    target = app.target(target_ref)
    try:
        problems = validate_suites(target, suites)
    finally:
        target.dispose()

    checks = sum(len(s.checks) for s in suites)
    if output_format == "json":
        names = [s.name for s in suites]
        print_json(
            problems_json(problems, target=target.name, checks=checks, suites=names)
        )
    else:
        render_problems(
            report_console(),
            problems,
            target=target.name,
            checks=checks,
            suites=len(suites),
        )
    ctx.exit(1 if failing(problems) else 0)


def suite_files(config: Config, given: Sequence[Path]) -> list[Path]:
    """The suite paths to load: those given, else the configuration's."""
    if given:
        return list(given)
    return [config.resolve(path) for path in config.model.suites]


def split_names(values: Iterable[str]) -> list[str]:
    """``--only`` values, each possibly a comma-separated list, as single names."""
    return [
        name.strip() for value in values for name in value.split(",") if name.strip()
    ]


def open_store(config: Config) -> StateStore:
    """The configuration's state store, created or checked for its schema."""
    store = StateStore(config.state_url)
    try:
        store.ensure_ready(upgrade=False)
    except BaseException:
        store.dispose()
        raise
    return store


@contextmanager
def progress(
    total: int, *, enabled: bool
) -> Iterator[Callable[[CheckResult], None] | None]:
    """A progress bar on standard error while checks run, when a person watches.

    Yields the callback that advances it, or None when standard output or
    standard error is not a terminal: piped output and CI logs stay clean.
    """
    if not (enabled and total and sys.stdout.isatty() and sys.stderr.isatty()):
        yield None
        return

    bar = Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("checks"),
        console=err_console(),
        transient=True,
    )
    task = bar.add_task("checks", total=total)

    def advance(_result: CheckResult) -> None:
        bar.advance(task)

    with bar:
        yield advance
