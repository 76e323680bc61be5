"""``guardian demo``: Chinook with five faults, a configuration and a run.

Needs no server: it copies the shipped SQLite edition of Chinook into a
folder of its own, plants five faults, writes a guardian.yml there and runs
the Chinook suite, which must find exactly those faults. Then it shows
quarantine: the faulty rows go in, one is fixed with plain SQL and released.
With ``--postgres`` it does the same in a PostgreSQL database. Exit code 0
when the run found the five faults and nothing else, 1 when it did not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from guardian.checks.results import RunReport, json_value
from guardian.cli.common import (
    err_console,
    format_option,
    invocation,
    out_console,
    print_json,
)
from guardian.cli.render import render_report
from guardian.demo import demo
from guardian.demo.chinook import CHINOOK_VERSION
from guardian.demo.faults import Fault
from guardian.demo.quarantine import QuarantineSteps, quarantine_faults

_EDITION_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=demo.DEFAULT_FOLDER,
    show_default=True,
    help="Folder for the demo's files; made if missing, reused if the demo made it.",
)
@click.option(
    "--postgres",
    "postgres_url",
    metavar="URL",
    help="Load Chinook into this empty PostgreSQL database instead of SQLite.",
)
@click.option(
    "--quarantine/--no-quarantine",
    "with_quarantine",
    default=True,
    show_default=True,
    help="Then quarantine the faulty rows, fix one with SQL and release it.",
)
@format_option
@click.pass_context
def command(
    ctx: click.Context,
    folder: Path,
    postgres_url: str | None,
    with_quarantine: bool,
    output_format: str,
) -> None:
    """Plant five faults in the Chinook sample database and catch them.

    Copies Chinook into --dir (or loads it into --postgres), breaks five
    rows, writes guardian.yml and the suite next to it, and runs the suite.
    Then it takes the faulty rows into quarantine, fixes one with plain SQL
    and releases it (--no-quarantine stops after the run). Run it again at
    will: it re-creates only its own files.
    """
    text = output_format == "text"
    console = out_console()

    workspace = demo.prepare_folder(folder)
    if postgres_url is None:
        chinook = demo.copy_chinook(workspace)
    else:
        chinook = demo.load_chinook_postgres(postgres_url)
    if text:
        _said_loaded(console, chinook)

    faults = demo.plant_faults(chinook)
    if text:
        _said_faults(console, faults)

    files = demo.write_files(workspace, chinook)
    if text:
        _said_written(console, files)

    report = demo.run_demo_suite(files, chinook)
    outcome = demo.compare(report, faults)
    steps = None
    if with_quarantine and outcome.ok:
        steps = quarantine_faults(files, chinook, report)
    if text:
        _said_ran(console, report, files)
        if steps is not None:
            _said_quarantine(console, steps, files)
        _said_outcome(console, outcome, files)
    else:
        data = _json(workspace, chinook, faults, files, report, outcome)
        if steps is not None:
            data["quarantine"] = _quarantine_json(steps)
        print_json(data)

    if not outcome.ok:
        _complain(outcome)
        ctx.exit(1)


def _said_loaded(console: Console, chinook: demo.LoadedChinook) -> None:
    edition = _EDITION_LABEL[chinook.edition]
    what = f"Chinook {CHINOOK_VERSION} ({edition}, {chinook.invoices} invoices)"
    if chinook.edition == "sqlite":
        console.print(f"1. Copied {what} to {chinook.location}")
    else:
        verb = "Reloaded" if chinook.reloaded else "Loaded"
        console.print(f"1. {verb} {what} into {chinook.location}")


def _said_faults(console: Console, faults: list[Fault]) -> None:
    console.print(f"2. Introduced {len(faults)} faults:")
    for fault in faults:
        console.print(f"   - {fault.check:<28} {fault.summary}")


def _said_written(console: Console, files: demo.WrittenFiles) -> None:
    console.print(f"3. Wrote {files.config} and {files.suite}")
    if files.password_variable is not None:
        console.print(
            f"   The password is not in it: set {files.password_variable} "
            "before using it."
        )


def _said_ran(console: Console, report: RunReport, files: demo.WrittenFiles) -> None:
    state = files.config.parent / demo.STATE_FILE
    suites = ", ".join(report.suites)
    console.print(f"4. Ran suite {suites} (run {report.run_id}, recorded in {state}):")
    console.print()
    render_report(console, report)
    console.print()


def _said_outcome(
    console: Console, outcome: demo.Outcome, files: demo.WrittenFiles
) -> None:
    if outcome.ok:
        console.print(
            f"The run found exactly the {len(outcome.faults)} faults and nothing else."
        )
    prog = f"{invocation()} -c {files.config}"
    console.print("Next:")
    console.print(f"  {prog} check run -v          # run it again", soft_wrap=True)
    console.print(
        f"  {prog} quarantine list       # what is still held", soft_wrap=True
    )
    console.print(f"  {prog} status                # the runs so far", soft_wrap=True)
    console.print(f"  {prog} serve                 # job {demo.JOB}", soft_wrap=True)


def _complain(outcome: demo.Outcome) -> None:
    console = err_console()
    console.print(
        "[bold red]error:[/] the run did not find exactly the planted faults",
        highlight=False,
    )
    for fault in outcome.missing:
        console.print(
            f"  not reported as expected: {fault.check} "
            f"({fault.violations} violating row(s), key {fault.key})",
            highlight=False,
        )
    for result in outcome.unexpected:
        console.print(
            f"  unexpected: {result.name} ended {result.status}"
            + (f": {result.error}" if result.error else ""),
            highlight=False,
        )


def _json(
    workspace: demo.Workspace,
    chinook: demo.LoadedChinook,
    faults: list[Fault],
    files: demo.WrittenFiles,
    report: RunReport,
    outcome: demo.Outcome,
) -> dict[str, Any]:
    return {
        "folder": str(workspace.folder),
        "edition": chinook.edition,
        "database": chinook.location,
        "invoices": chinook.invoices,
        "faults": [_fault_json(fault) for fault in faults],
        "config": str(files.config),
        "suite": str(files.suite),
        "report": report.to_json(),
        "found_exactly_the_faults": outcome.ok,
        "missing": [fault.check for fault in outcome.missing],
        "unexpected": [result.name for result in outcome.unexpected],
    }


def _fault_json(fault: Fault) -> dict[str, Any]:
    return {
        "check": fault.check,
        "table": fault.table,
        "key": {name: json_value(value) for name, value in fault.key.items()},
        "violations": fault.violations,
        "summary": fault.summary,
    }


def _said_quarantine(
    console: Console, steps: QuarantineSteps, files: demo.WrittenFiles
) -> None:
    console.print("5. Quarantined the violating rows:")
    for outcome in steps.outcomes:
        console.print(f"   - {outcome.summary}", markup=False, soft_wrap=True)
    console.print(f"   The ledger now holds {len(steps.held)} rows:")
    for entry in steps.held:
        key = ", ".join(f"{k}={v}" for k, v in entry.key.items())
        console.print(
            f"   {entry.id:>4}  {entry.source:<14} {key:<22} {entry.status:<14} "
            f"{entry.check}",
            markup=False,
            soft_wrap=True,
        )
    fixed = steps.fixed
    console.print(f"6. Fixed row {fixed.id} in quarantine with plain SQL:")
    console.print(f"   {steps.fix_sql}", markup=False, soft_wrap=True)
    released = ", ".join(str(i) for i in steps.release.released) or "nothing"
    console.print(f"7. Released it (re-validated by its check): {released}")
    if steps.back is not None:
        values = ", ".join(f"{k}={v}" for k, v in steps.back.items())
        console.print(
            f"   Back in {fixed.source}: {values}", markup=False, soft_wrap=True
        )


def _quarantine_json(steps: QuarantineSteps) -> dict[str, Any]:
    return {
        "actions": [outcome.to_json() for outcome in steps.outcomes],
        "held": [entry.to_json() for entry in steps.held],
        "fixed": steps.fixed.id,
        "fix_sql": steps.fix_sql,
        "release": steps.release.to_json(),
        "back": None
        if steps.back is None
        else {k: json_value(v) for k, v in steps.back.items()},
    }
