"""``guardian status``: what ran, how it ended, and what runs next."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click
from rich import box
from rich.table import Table

from guardian.cli.common import (
    AppContext,
    err_console,
    format_option,
    pass_app,
    print_json,
)
from guardian.cli.render import report_console

if TYPE_CHECKING:
    from guardian.state.records import JobStatus, RunSummary

_VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "error": "red"}


@click.command("status")
@format_option
@pass_app
def command(app: AppContext, output_format: str) -> None:
    """Show each job's last run, next run and failure streak.

    Also shows the last ad-hoc run of each target (runs no job started).
    The failure streak counts the job's runs since its last success.

    JSON fields: jobs (name, target, suites, schedule, last_run, next_run_at,
    failures_since_success) and recent_runs (the last ad-hoc run per target).
    Exits 0 whatever the runs found; 3 when the state store cannot be read.
    """
    from guardian.state.store import StateStore

    config = app.config()
    store = StateStore(config.state_url)
    exists = store.exists()
    if exists:
        store.ensure_ready()
    else:
        err_console().print(
            f"no state store at {store.display_url} yet: nothing has been recorded "
            "there (is state.url right?)"
        )
    statuses = store.job_statuses(config)
    store.dispose()

    jobs = [s for s in statuses if not s.adhoc]
    adhoc = [s.last_run for s in statuses if s.adhoc and s.last_run is not None]
    if output_format == "json":
        print_json(
            {
                "state_store": {"url": store.display_url, "exists": exists},
                "jobs": [s.to_json() for s in jobs],
                "recent_runs": [run.to_json() for run in adhoc],
            }
        )
        return
    _print_text(jobs, adhoc)


def _print_text(jobs: list[JobStatus], adhoc: list[RunSummary]) -> None:
    console = report_console()
    if not jobs and not adhoc:
        console.print("no jobs configured and no runs recorded yet")
        return

    if jobs:
        table = _table("Jobs")
        for column in ("job", "target", "suites", "schedule", "last run", "next run"):
            table.add_column(column, no_wrap=column in ("job", "target"))
        table.add_column("failures", justify="right")
        for job in jobs:
            table.add_row(
                job.name,
                job.target,
                ", ".join(job.suites),
                job.schedule,
                _run_cell(job.last_run),
                _when(job.next_run_at),
                str(job.failures_since_success),
            )
        console.print(table)

    if adhoc:
        table = _table("Ad-hoc runs")
        for column in ("target", "suites", "last run", "trigger"):
            table.add_column(column, no_wrap=column == "target")
        for run in adhoc:
            table.add_row(
                run.target, ", ".join(run.suites), _run_cell(run), run.trigger
            )
        console.print(table)


def _table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )


def _run_cell(run: RunSummary | None) -> str:
    if run is None:
        return "never"
    outcome = run.verdict or run.status
    style = _VERDICT_STYLE.get(outcome, "yellow")
    return f"#{run.id} [{style}]{outcome}[/] {_when(run.started_at)}"


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
