"""The shipped Chinook data and suites: pristine data passes, faults are caught.

Both editions run their own suite against real databases: a copy of the
SQLite file and the PostgreSQL script loaded into a fresh database.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from guardian.checks.results import RunReport
from guardian.checks.spec import KINDS
from guardian.checks.suite import Suite, load_suite
from guardian.demo.chinook import (
    DEMO_MARKER,
    INVOICES,
    Edition,
    connect_postgresql,
    copy_sqlite,
    load_postgresql,
    postgresql_script,
    suite_file,
)
from guardian.demo.faults import Fault, introduce_faults
from guardian.errors import UsageError
from guardian.runs import run_suites
from guardian.targets import Target, database_url

EDITIONS: list[Edition] = ["sqlite", "postgresql"]


def _suite(edition: Edition, tmp_path: Path) -> Suite:
    copy = tmp_path / f"{edition}.yml"
    copy.write_bytes(suite_file(edition).read_bytes())
    return load_suite(copy)


def _pristine_target(edition: Edition, request: pytest.FixtureRequest) -> Target:
    if edition == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        path = copy_sqlite(tmp_path / "chinook.db")
        return Target.from_url(f"sqlite:///{path}", name="chinook")
    pg_url: str = request.getfixturevalue("pg_url")
    with connect_postgresql(database_url(pg_url)) as conn:
        load_postgresql(conn)
    return Target.from_url(pg_url, name="chinook")


def _run(target: Target, suite: Suite) -> RunReport:
    try:
        return run_suites(target, [suite], store=None)
    finally:
        target.dispose()


@pytest.fixture(params=EDITIONS)
def edition(request: pytest.FixtureRequest) -> Edition:
    """Each edition of Chinook in turn."""
    value: Edition = request.param
    return value


def test_pristine_chinook_passes_every_check(
    edition: Edition, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    suite = _suite(edition, tmp_path)
    target = _pristine_target(edition, request)

    report = _run(target, suite)

    statuses = {r.name: r.status for r in report.results}
    assert statuses == {check.name: "pass" for check in suite.checks}
    assert all(r.violations == 0 for r in report.results)


def test_faults_trip_exactly_their_checks(
    edition: Edition, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    suite = _suite(edition, tmp_path)
    target = _pristine_target(edition, request)
    with target.engine().begin() as conn:
        faults = introduce_faults(conn, edition)

    report = _run(target, suite)

    failing = {r.name: r for r in report.results if r.status != "pass"}
    assert sorted(failing) == sorted(f.check for f in faults)
    for fault in faults:
        result = failing[fault.check]
        assert result.status == "fail", fault.check
        assert result.violations == fault.violations, fault.check
        assert fault.key in result.sample_keys, fault.check


def test_the_five_faults_are_distinct(tmp_path: Path) -> None:
    path = copy_sqlite(tmp_path / "chinook.db")
    target = Target.from_url(f"sqlite:///{path}")
    with target.engine().begin() as conn:
        faults = introduce_faults(conn, "sqlite")
    target.dispose()

    assert len(faults) == 5
    assert len({f.check for f in faults}) == 5
    assert all(isinstance(f, Fault) and f.summary for f in faults)


def test_postgresql_faults_keep_the_foreign_key_but_unvalidated(
    pg_url: str,
) -> None:
    with connect_postgresql(database_url(pg_url)) as conn:
        load_postgresql(conn)
    target = Target.from_url(pg_url)
    with target.engine().begin() as conn:
        introduce_faults(conn, "postgresql")
    target.dispose()

    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT convalidated FROM pg_constraint "
            "WHERE conname = 'invoice_line_track_id_fkey'"
        ).fetchone()
        assert row == (False,)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE invoice_line SET track_id = 9998 WHERE track_id = 1")


def test_both_suites_have_the_same_checks_and_every_kind(tmp_path: Path) -> None:
    sqlite_suite = _suite("sqlite", tmp_path)
    postgres_suite = _suite("postgresql", tmp_path)

    def shape(suite: Suite) -> list[tuple[str, str, str]]:
        return [(c.name, c.kind, c.severity) for c in suite.checks]

    assert shape(sqlite_suite) == shape(postgres_suite)
    assert {c.kind for c in sqlite_suite.checks} == set(KINDS)
    assert all(c.description for c in sqlite_suite.checks)


@pytest.mark.parametrize("edition", EDITIONS)
def test_suite_files_point_editors_at_the_schema(edition: Edition) -> None:
    text = suite_file(edition).read_text(encoding="utf-8")

    assert text.splitlines()[0] == (
        "# yaml-language-server: $schema=./suite.schema.json"
    )
    assert isinstance(yaml.safe_load(text), dict)


def test_postgresql_script_keeps_to_the_given_database() -> None:
    script = postgresql_script()

    assert "DROP DATABASE" not in script
    assert "CREATE DATABASE" not in script
    assert "\\c " not in script
    assert "CREATE TABLE invoice_line" in script


def test_loader_marks_the_database_and_reloads_it(pg_url: str) -> None:
    with connect_postgresql(database_url(pg_url)) as conn:
        first = load_postgresql(conn)
        conn.execute("UPDATE invoice SET total = 0 WHERE invoice_id = 1")
        second = load_postgresql(conn)
        total = conn.execute("SELECT total FROM invoice WHERE invoice_id = 1")
        comment = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()

    assert (first.reloaded, second.reloaded) == (False, True)
    assert first.invoices == second.invoices == INVOICES
    assert str(total.fetchone()[0]) == "1.98"  # type: ignore[index]
    assert comment == (DEMO_MARKER,)


def test_loader_refuses_a_database_with_user_tables(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    pg_conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
    pg_conn.execute("INSERT INTO notes VALUES (1, 'keep me')")

    conn = connect_postgresql(database_url(pg_url))
    with conn, pytest.raises(UsageError) as err:
        load_postgresql(conn)

    assert "is not empty" in err.value.message
    assert "notes" in err.value.message
    assert pg_conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    tables = pg_conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    ).fetchone()
    assert tables == (1,)


def test_loader_refuses_extra_tables_next_to_a_demo_load(pg_url: str) -> None:
    with connect_postgresql(database_url(pg_url)) as conn:
        load_postgresql(conn)
        conn.execute("CREATE TABLE my_report (id int)")

        with pytest.raises(UsageError, match="my_report"):
            load_postgresql(conn)

        row = conn.execute("SELECT count(*) FROM my_report").fetchone()
    assert row == (0,)
