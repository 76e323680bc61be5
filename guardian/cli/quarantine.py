"""``guardian quarantine``: list, show, release and purge quarantined rows.

Rows enter quarantine through runs (a check's ``on_violation``); these
commands look at what is held and put it back or purge it. Every change
has ``--dry-run`` and is recorded in the ledger of the state store.
"""

from __future__ import annotations

import datetime as dt

import click
from rich import box
from rich.table import Table

from guardian.checks.names import split_table_name
from guardian.checks.suite import load_suites
from guardian.cli.check import open_store, suite_files, target_option
from guardian.cli.common import (
    AppContext,
    format_option,
    out_console,
    pass_app,
    print_json,
)
from guardian.cli.render import report_console
from guardian.durations import format_duration, parse_duration
from guardian.errors import ExitCode, UsageError
from guardian.quarantine import ledger
from guardian.quarantine.entries import Entry, Filter, read_entries
from guardian.quarantine.purge import execute_purge, plan_purge
from guardian.quarantine.release import ReleaseResult, execute_release, plan_release
from guardian.quarantine.tables import Place
from guardian.targets import Target


@click.group("quarantine")
def command() -> None:
    """Look at rows held in quarantine, release them, or purge them."""


@command.command("list")
@target_option
@click.option("--table", help="Only rows of this source table.")
@click.option("--check", "check_name", metavar="NAME", help="Only rows of this check.")
@click.option("--since", metavar="DURATION", help="Only rows held within, e.g. 2d.")
@click.option("--all", "everything", is_flag=True, help="Released and purged too.")
@format_option
@pass_app
def list_command(
    app: AppContext,
    target_ref: str | None,
    table: str | None,
    check_name: str | None,
    since: str | None,
    everything: bool,
    output_format: str,
) -> None:
    """List the rows in quarantine, newest last."""
    target = app.target(target_ref)
    after = None
    if since:
        after = dt.datetime.now(dt.UTC) - _duration(since, "--since")
    wanted = Filter(
        table=_plain_table_name(table) if table else None,
        check=check_name,
        since=after,
        statuses=None if everything else ("held", "held_in_place", "copied"),
    )
    entries = _read(app, target, wanted)
    if check_name and not entries:
        _known_check(app, target, check_name)
    if output_format == "json":
        print_json({"target": target.name, "entries": [e.to_json() for e in entries]})
        return
    if not entries:
        out_console().print("nothing in quarantine")
        return
    grid = Table(
        title=f"quarantine of {target.name}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    for name in ("id", "table", "key", "check", "status", "since"):
        grid.add_column(name, justify="right" if name == "id" else "left")
    for entry in entries:
        grid.add_row(
            str(entry.id),
            entry.source,
            _key(entry),
            f"{entry.suite}.{entry.check}",
            entry.status,
            f"{entry.at:%Y-%m-%d %H:%M}",
        )
    report_console().print(grid)


def _plain_table_name(text: str) -> str:
    """``--table`` as the ledger names tables: quotes as a suite may write them
    are taken off (``"x__y".z`` is ``x__y.z``)."""
    try:
        return ".".join(split_table_name(text))
    except ValueError as exc:
        raise UsageError(f"--table: {exc}") from None


@command.command("show")
@click.argument("entry_id", metavar="ID", type=int)
@target_option
@format_option
@pass_app
@click.pass_context
def show_command(
    ctx: click.Context,
    app: AppContext,
    entry_id: int,
    target_ref: str | None,
    output_format: str,
) -> None:
    """Show one quarantined row: its values, why it is held, what holds it."""
    target = app.target(target_ref)
    found = _read(app, target, Filter(ids=[entry_id]))
    if not found:
        raise UsageError(
            f"no row {entry_id} in the quarantine of target {target.name}",
            hint="`guardian quarantine list` shows the ids",
        )
    entry = found[0]
    if output_format == "json":
        print_json(entry.to_json(with_row=True))
        return
    console = out_console()
    console.print(f"[bold]{entry.id}[/]: row {_key(entry)} of {entry.source}")
    console.print(
        f"  status:  {entry.status} (mode {entry.mode}) "
        f"since {entry.at:%Y-%m-%d %H:%M:%S} UTC"
    )
    console.print(f"  check:   {entry.suite}.{entry.check} (run {entry.run_id or '-'})")
    console.print(f"  reason:  {entry.reason}")
    if entry.held_by:
        console.print(f"  held in place by rows of: {entry.held_by}")
    if entry.dependent_of is not None:
        console.print(f"  moved with row {entry.dependent_of}, which it references")
    console.print(f"  checksum: {entry.checksum}")
    console.print("  values:")
    for name, value in entry.row.items():
        console.print(f"    {name} = {value!r}", markup=False)


@command.command("release")
@click.argument("entry_ids", metavar="ID...", nargs=-1, type=int)
@click.option("--check", "check_name", metavar="NAME", help="Every row of this check.")
@target_option
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--force", is_flag=True, help="Release rows that still violate.")
@format_option
@pass_app
@click.pass_context
def release_command(
    ctx: click.Context,
    app: AppContext,
    entry_ids: tuple[int, ...],
    check_name: str | None,
    target_ref: str | None,
    dry_run: bool,
    force: bool,
    output_format: str,
) -> None:
    """Put rows back into their tables, in one transaction.

    Each row is validated against its check first: one that still violates
    stays unless --force. A key re-used in the table meanwhile is a conflict
    and stays. A copy (mode copy, or held in place) that was edited in
    quarantine has its edit applied to the row; an unedited one is
    dismissed. Exit code 1 when some row stayed.
    """
    if entry_ids and check_name:
        raise UsageError("give quarantine ids or --check, not both")
    config = app.config()
    target = app.target(target_ref)
    # Without suites the rows cannot be re-validated: they stay unless forced.
    paths = [path for path in suite_files(config, ()) if path.exists()]
    suites = load_suites(paths) if paths else []
    quarantine = config.model.quarantine
    try:
        plan = plan_release(target, ids=entry_ids, check=check_name, config=quarantine)
        result = execute_release(
            target, plan, suites, force=force, dry_run=dry_run, config=quarantine
        )
    finally:
        target.dispose()
    if not dry_run:
        store = open_store(config)
        try:
            ledger.record_release(store, target.name, result, plan.entries)
        finally:
            store.dispose()
    if output_format == "json":
        print_json(result.to_json())
    else:
        _print_release(result)
    ctx.exit(int(ExitCode.PROBLEMS if result.problems else ExitCode.OK))


@command.command("purge")
@click.option("--older-than", required=True, metavar="DURATION", help="e.g. 30d.")
@target_option
@click.option(
    "--dry-run", is_flag=True, help="Say what would be purged; change nothing."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option
@pass_app
def purge_command(
    app: AppContext,
    older_than: str,
    target_ref: str | None,
    dry_run: bool,
    yes: bool,
    output_format: str,
) -> None:
    """Forget the values of rows quarantined more than DURATION ago.

    Each row's record stays (status purged); its values are gone for good.
    """
    config = app.config()
    age = _duration(older_than, "--older-than")
    target = app.target(target_ref)
    try:
        plan = plan_purge(target, age, config=config.model.quarantine)
        if dry_run or not plan.entries:
            _print_purge(plan.describe(), plan.to_json(), output_format, dry_run)
            return
        if not yes:
            click.confirm(
                f"purge {len(plan.entries)} quarantined rows older than "
                f"{format_duration(age)}? Their values cannot be recovered",
                abort=True,
            )
        purged = execute_purge(target, plan, config=config.model.quarantine)
    finally:
        target.dispose()
    store = open_store(config)
    try:
        ledger.record_purge(store, target.name, plan.entries, purged)
    finally:
        store.dispose()
    data = dict(plan.to_json(), purged=purged)
    _print_purge([f"purged {len(purged)} rows"], data, output_format, False)


def _known_check(app: AppContext, target: Target, check_name: str) -> None:
    """UsageError when no row of ``check_name`` was ever quarantined on ``target``."""
    if _read(app, target, Filter(check=check_name)):
        return
    store = open_store(app.config())
    try:
        known = ledger.knows_check(store, target.name, check_name)
    finally:
        store.dispose()
    if not known:
        raise UsageError(
            f"check {check_name} is unknown to the quarantine ledger of target "
            f"{target.name}: no row of it was ever quarantined",
            hint="`guardian quarantine list` shows the checks with rows held",
        )


def _read(app: AppContext, target: Target, wanted: Filter) -> list[Entry]:
    place = Place.of(target.dialect, app.config().model.quarantine)
    try:
        with target.connect() as conn:
            return read_entries(conn, place, wanted)
    finally:
        target.dispose()


def _duration(text: str, option: str) -> dt.timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _key(entry: Entry) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry.key.items())


def _print_release(result: ReleaseResult) -> None:
    console = out_console()
    prefix = "would release" if result.dry_run else "released"
    if result.released:
        console.print(f"{prefix} {len(result.released)} rows: {_ids(result.released)}")
    elif not result.dismissed:
        console.print("nothing to release")
    if result.dismissed:
        verb = "would dismiss" if result.dry_run else "dismissed"
        console.print(
            f"{verb} {len(result.dismissed)} copies: {_ids(result.dismissed)}"
        )
    if result.conflicts:
        console.print(
            f"[yellow]kept {len(result.conflicts)} rows whose key is in use again:[/] "
            f"{_ids(result.conflicts)}"
        )
    if result.changed:
        console.print(
            f"[yellow]kept {len(result.changed)} copies whose row changed since it "
            f"was copied:[/] {_ids(result.changed)}"
        )
    if result.still_violating:
        console.print(
            f"[yellow]kept {len(result.still_violating)} rows that still violate "
            f"their check (fix them, or --force):[/] {_ids(result.still_violating)}"
        )
    for entry_id, why in sorted(result.kept.items()):
        console.print(f"[yellow]kept {entry_id}:[/] {why}")
    for entry_id in result.missing:
        console.print(f"[yellow]{entry_id}:[/] not waiting in quarantine")


def _print_purge(
    lines: list[str], data: dict[str, object], output_format: str, dry_run: bool
) -> None:
    if output_format == "json":
        print_json(dict(data, dry_run=dry_run))
        return
    for line in lines:
        out_console().print(("would purge: " if dry_run else "") + line)


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:20])
    return shown + (", …" if len(ids) > 20 else "")
