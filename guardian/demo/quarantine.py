"""The demo's quarantine steps: take the faults out, fix one, put it back.

After the demo's run, every failed check's violating rows go into
quarantine (moved, or copied and held in place where other rows reference
them), the ledger is read back, the invoice line that sells a missing track
is fixed with plain SQL on its quarantine table, and released: re-validated
against its check and put back where it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from guardian.checks.results import RunReport
from guardian.checks.suite import Suite, load_suites
from guardian.config import load_config
from guardian.demo.chinook import NAMES, EditionNames
from guardian.demo.demo import TARGET, LoadedChinook, WrittenFiles
from guardian.errors import QuarantineError
from guardian.quarantine import ledger
from guardian.quarantine.actions import ActionOutcome, quarantine_failed
from guardian.quarantine.entries import Entry, Filter, read_entries
from guardian.quarantine.release import ReleaseResult, execute_release, plan_release
from guardian.quarantine.spec import NOT_QUARANTINABLE, OnViolation
from guardian.quarantine.tables import WAITING, Place
from guardian.state.store import StateStore
from guardian.targets import Target

FIXED_CHECK = "invoice_line_track_exists"
_UNIT_PRICE = {"sqlite": "UnitPrice", "postgresql": "unit_price"}


@dataclass(frozen=True)
class QuarantineSteps:
    """What the demo's quarantine did, step by step."""

    outcomes: list[ActionOutcome]
    held: list[Entry]
    fixed: Entry
    fix_sql: str
    release: ReleaseResult
    back: dict[str, Any] | None = None


def quarantine_faults(
    files: WrittenFiles, chinook: LoadedChinook, report: RunReport
) -> QuarantineSteps:
    """Quarantine the run's violating rows, fix the orphan line, release it."""
    env = dict(os.environ)
    if files.password_variable is not None:
        # Never used: the demo connects with the URL it was given.
        env.setdefault(files.password_variable, "unused")
    config = load_config(files.config, environ=env)
    suites = _quarantining(
        load_suites([config.resolve(path) for path in config.model.suites])
    )
    options = config.target(TARGET).options
    target = Target(name=TARGET, url=chinook.url, options=options)
    store = StateStore(config.state_url)
    settings = config.model.quarantine
    try:
        outcomes = quarantine_failed(
            target,
            suites,
            report.results,
            config=settings,
            store=store,
            run_id=report.run_id,
        )
        place = Place.of(target.dialect, settings)
        with target.connect() as conn:
            held = read_entries(conn, place, Filter(statuses=WAITING))
        fixed = _orphan_line(held)
        fix_sql = fix_statement(chinook, place, fixed)
        with target.engine().begin() as conn:
            conn.execute(sa.text(fix_sql))
        plan = plan_release(target, ids=[fixed.id], config=settings)
        release = execute_release(target, plan, suites, config=settings)
        ledger.record_release(store, target.name, release, plan.entries)
        back = _source_row(target, fixed)
    finally:
        target.dispose()
        store.dispose()
    return QuarantineSteps(outcomes, held, fixed, fix_sql, release, back)


def _source_row(target: Target, entry: Entry) -> dict[str, Any] | None:
    """The released row as its table holds it now; None if it is not there."""
    with target.connect() as conn:
        table = sa.Table(entry.table.source_table, sa.MetaData(), autoload_with=conn)
        match = [table.c[name] == value for name, value in entry.key.items()]
        row = conn.execute(sa.select(table).where(*match)).first()
    return None if row is None else dict(row._mapping)


def _quarantining(suites: list[Suite]) -> list[Suite]:
    """The suites with every check that can quarantine set to do so."""
    action = OnViolation(action="quarantine")
    result = []
    for suite in suites:
        checks = tuple(
            check
            if check.kind in NOT_QUARANTINABLE
            else check.model_copy(update={"on_violation": action})
            for check in suite.checks
        )
        result.append(
            Suite(suite.name, checks, suite.source, suite.description, suite.document)
        )
    return result


def _orphan_line(held: list[Entry]) -> Entry:
    for entry in held:
        if entry.check == FIXED_CHECK and entry.status == "held":
            return entry
    raise QuarantineError(
        f"the demo expected the row of check {FIXED_CHECK} in quarantine, "
        "but it is not there"
    )


def fix_statement(chinook: LoadedChinook, place: Place, entry: Entry) -> str:
    """Plain SQL that fixes the orphan line in its quarantine table.

    The line gets the first track with its unit price, so that the price
    check holds too once it is back.
    """
    names: EditionNames = NAMES[chinook.edition]
    price = _UNIT_PRICE[chinook.edition]
    table = f'"{entry.table.quarantine_table}"'
    if place.db_schema:
        table = f'"{place.db_schema}".{table}'
    return (
        f"UPDATE {table} SET {names.track_id} = "
        f"(SELECT min(t.{names.track_id}) FROM {names.track} AS t "
        f"WHERE t.{price} = {table}.{price}) "
        f"WHERE guardian_id = {entry.id}"
    )
