"""The demo's steps: a folder, Chinook with five faults, a configuration, a run.

Each step is a plain function that returns a typed record of what it did;
the ``guardian demo`` command calls them in order and prints the records.
The folder the demo works in is marked as its own, so that a second demo
may re-create its files there while any other non-empty folder is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from guardian.checks.results import CheckResult, RunReport
from guardian.checks.suite import load_suites
from guardian.config import Config, load_config
from guardian.demo.chinook import (
    NAMES,
    Edition,
    connect_postgresql,
    copy_sqlite,
    count_sqlite_invoices,
    load_postgresql,
    suite_file,
    suite_schema_file,
)
from guardian.demo.faults import Fault, introduce_faults
from guardian.errors import UsageError
from guardian.runs import run_suites
from guardian.state.store import StateStore
from guardian.targets import Target, database_url, mask_url

DEFAULT_FOLDER = Path("guardian-demo")
MARKER_FILE = ".guardian-demo"
SQLITE_FILE = "chinook.db"
CONFIG_FILE = "guardian.yml"
STATE_FILE = "state.db"
SCHEMA_FILE = "suite.schema.json"
TARGET = "chinook"
JOB = "chinook-hourly"
JOB_CRON = "0 * * * *"

# libpq reads this variable itself, and guardian.yml refers to it, so a
# password given on the command line is never written to disk.
PASSWORD_VARIABLE = "PGPASSWORD"

_MARKER_TEXT = (
    "This folder was made by `guardian demo`. Running the demo again\n"
    "re-creates its files here: chinook.db, guardian.yml and the suite.\n"
)


@dataclass(frozen=True)
class Workspace:
    """The demo's folder; ``reused`` when an earlier demo made it."""

    folder: Path
    reused: bool

    def claim(self) -> None:
        """Create the folder if needed and mark it as the demo's own."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / MARKER_FILE).write_text(_MARKER_TEXT, encoding="utf-8")


@dataclass(frozen=True)
class LoadedChinook:
    """Where pristine Chinook now is, and how to reach it."""

    edition: Edition
    location: str
    invoices: int
    url: URL
    reloaded: bool = False


@dataclass(frozen=True)
class WrittenFiles:
    """The files the demo wrote into its folder."""

    config: Path
    suite: Path
    schema: Path | None
    password_variable: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How a run compares with the planted faults.

    ``missing`` are faults the run did not report as expected (wrong status,
    count or keys); ``unexpected`` are checks that did not pass although no
    fault was planted for them.
    """

    faults: list[Fault]
    missing: list[Fault] = field(default_factory=list)
    unexpected: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the run found exactly the planted faults."""
        return not self.missing and not self.unexpected


def prepare_folder(folder: Path) -> Workspace:
    """Accept a new or empty folder, or one an earlier demo made.

    A folder that exists, is not empty and carries no marker is refused:
    the demo never writes among someone else's files. Nothing is written
    yet; the steps that write claim the folder first.
    """
    marker = folder / MARKER_FILE
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder", hint="give another --dir")

    reused = marker.is_file()
    if folder.is_dir() and not reused and any(folder.iterdir()):
        raise UsageError(
            f"folder {folder} is not empty and was not made by the demo; "
            "nothing was changed",
            hint="give an empty or new folder with --dir",
        )
    return Workspace(folder=folder, reused=reused)


def copy_chinook(workspace: Workspace) -> LoadedChinook:
    """Copy the SQLite edition into the folder, replacing an earlier copy."""
    workspace.claim()
    path = copy_sqlite(workspace.folder / SQLITE_FILE)
    return LoadedChinook(
        edition="sqlite",
        location=str(path),
        invoices=count_sqlite_invoices(path),
        url=database_url(f"sqlite:///{path.resolve()}"),
    )


def load_chinook_postgres(url_text: str) -> LoadedChinook:
    """Load the PostgreSQL edition into the empty (or earlier demo) database."""
    url = database_url(url_text)
    if url.get_backend_name() != "postgresql":
        raise UsageError(
            f"--postgres needs a PostgreSQL URL, got {mask_url(url)}",
            hint="e.g. --postgres postgresql://user@localhost/guardian_demo",
        )

    with connect_postgresql(url) as conn:
        load = load_postgresql(conn)
    return LoadedChinook(
        edition="postgresql",
        location=mask_url(url.set(drivername="postgresql")),
        invoices=load.invoices,
        url=url,
        reloaded=load.reloaded,
    )


def plant_faults(chinook: LoadedChinook) -> list[Fault]:
    """Introduce the five faults, all in one transaction."""
    target = Target(name=TARGET, url=chinook.url)
    try:
        with target.engine().begin() as conn:
            return introduce_faults(conn, chinook.edition)
    finally:
        target.dispose()


def write_files(workspace: Workspace, chinook: LoadedChinook) -> WrittenFiles:
    """Copy the suite (and its schema) next to a new guardian.yml."""
    workspace.claim()
    names = NAMES[chinook.edition]
    suite = workspace.folder / names.suite_file
    suite.write_bytes(suite_file(chinook.edition).read_bytes())

    schema_source = suite_schema_file()
    schema = None
    if schema_source is not None:
        schema = workspace.folder / SCHEMA_FILE
        schema.write_bytes(schema_source.read_bytes())

    url_text, variable = config_url(chinook)
    config = workspace.folder / CONFIG_FILE
    config.write_text(config_text(url_text, names.suite_file), encoding="utf-8")
    return WrittenFiles(
        config=config, suite=suite, schema=schema, password_variable=variable
    )


def config_url(chinook: LoadedChinook) -> tuple[str, str | None]:
    """The target URL as guardian.yml holds it, and the variable it needs.

    The SQLite copy is named relative to the configuration, so the folder
    can move. A PostgreSQL password is replaced by a reference to
    :data:`PASSWORD_VARIABLE`.
    """
    if chinook.edition == "sqlite":
        return f"sqlite:///{SQLITE_FILE}", None

    url = chinook.url.set(drivername="postgresql")
    if url.password is None:
        return _escape_dollars(url.render_as_string(hide_password=False)), None
    placeholder = "GUARDIANDEMOPASSWORD"
    text = url.set(password=placeholder).render_as_string(hide_password=False)
    reference = "${" + PASSWORD_VARIABLE + "}"
    return _escape_dollars(text).replace(placeholder, reference), PASSWORD_VARIABLE


def config_text(target_url: str, suite_path: str) -> str:
    """guardian.yml for the demo: one target, a local state store, one job."""
    url, suite, cron = (json.dumps(v) for v in (target_url, suite_path, JOB_CRON))
    return f"""\
# Written by `guardian demo`; running the demo again replaces this file.
# Relative paths are relative to this file's folder.

targets:
  {TARGET}:
    url: {url}

# guardian's own records: every run and the results of its checks.
state:
  url: "sqlite:///{STATE_FILE}"

suites:
  - {suite}

jobs:
  {JOB}:
    target: {TARGET}
    suites: [{suite}]
    cron: {cron}  # at the top of every hour
"""


def run_demo_suite(files: WrittenFiles, chinook: LoadedChinook) -> RunReport:
    """Run the demo's suite as configured, recording the run in the state store.

    The target is reached by the URL the demo was given, so the run works
    even when guardian.yml refers to a password variable that is not set.
    """
    config = load_config(files.config, environ=_environment(files))
    suites = load_suites([config.resolve(path) for path in config.model.suites])
    target = _target(config, chinook)
    store = StateStore(config.state_url)
    try:
        store.ensure_ready(upgrade=True)
        return run_suites(target, suites, store=store, trigger="demo")
    finally:
        target.dispose()
        store.dispose()


def compare(report: RunReport, faults: Sequence[Fault]) -> Outcome:
    """Whether ``report`` shows exactly ``faults`` and nothing else."""
    by_check = {fault.check: fault for fault in faults}
    missing = [
        fault for fault in faults if not _reported(_result(report, fault.check), fault)
    ]
    unexpected = [
        result
        for result in report.results
        if result.status != "pass" and result.name not in by_check
    ]
    return Outcome(faults=list(faults), missing=missing, unexpected=unexpected)


def _reported(result: CheckResult | None, fault: Fault) -> bool:
    return (
        result is not None
        and result.status == "fail"
        and result.violations == fault.violations
        and fault.key in result.sample_keys
    )


def _result(report: RunReport, check: str) -> CheckResult | None:
    return next((r for r in report.results if r.name == check), None)


def _target(config: Config, chinook: LoadedChinook) -> Target:
    configured = config.target(TARGET)
    return Target(name=TARGET, url=chinook.url, options=configured.options)


def _environment(files: WrittenFiles) -> dict[str, str]:
    """The environment for reading guardian.yml, with the password variable set.

    Its value is never used: the run connects with the URL it was given.
    """
    env = dict(os.environ)
    if files.password_variable is not None:
        env.setdefault(files.password_variable, "unused")
    return env


def _escape_dollars(text: str) -> str:
    # guardian.yml expands ${VAR}; a literal dollar is written as $$.
    return text.replace("$", "$$")
