"""Quarantine across schemas: referencing tables elsewhere, names that collide."""

from __future__ import annotations

import pytest

from guardian.quarantine.release import execute_release, plan_release
from tests.quarantine_support import Db, move, qdb, suite

__all__ = ["qdb"]

CHECK = """
checks:
  - name: positive
    table: PARENT
    kind: range
    column: amount
    min: 0
    on_violation: {action: quarantine, dependents: DEPENDENTS}
"""


def _other_schema(db: Db, action: str) -> None:
    db.run(
        "create schema other",
        "create table parents (id integer primary key, amount integer)",
        "create table other.children (id integer primary key, parent_id integer "
        f"references public.parents (id) on delete {action}, label text)",
        "insert into parents values (1, 10), (2, -1)",
        "insert into other.children values (10, 1, 'ok'), (11, 2, 'x')",
    )


@pytest.mark.postgres
@pytest.mark.parametrize("action", ["cascade", "set null"])
def test_a_referencing_table_in_another_schema_holds_the_row_in_place(
    pg_url: str, action: str
) -> None:
    db = Db.of(pg_url)
    _other_schema(db, action)
    before = db.digest("other.children")
    checks = suite(CHECK.replace("PARENT", "parents").replace("DEPENDENTS", "hold"))

    result = move(db, checks.checks[0])

    assert (result.moved, result.held_in_place) == (0, 1)
    assert result.held_by == ["other.children(parent_id)"]
    assert db.rows("select id from parents order by id") == [(1,), (2,)]
    assert db.digest("other.children") == before
    db.dispose()


@pytest.mark.postgres
def test_cascade_moves_the_rows_of_another_schema_and_releases_them(
    pg_url: str,
) -> None:
    db = Db.of(pg_url)
    _other_schema(db, "cascade")
    before = (db.digest("parents"), db.digest("other.children"))
    checks = suite(CHECK.replace("PARENT", "parents").replace("DEPENDENTS", "cascade"))

    result = move(db, checks.checks[0])

    assert (result.moved, result.cascaded) == (1, {"other.children": 1})
    assert db.rows("select id from other.children") == [(10,)]
    held = db.rows('select id from guardian_quarantine."other__children"')
    assert held == [(11,)]
    plan = plan_release(db.target, check="positive")
    released = execute_release(db.target, plan, [checks], force=True)
    assert len(released.released) == 2
    assert (db.digest("parents"), db.digest("other.children")) == before
    db.dispose()


@pytest.mark.postgres
def test_a_quoted_mixed_case_referencing_table_is_found(pg_url: str) -> None:
    db = Db.of(pg_url)
    db.run(
        'create schema "Sales"',
        "create table parents (id integer primary key, amount integer)",
        'create table "Sales"."Customer" (id integer primary key, '
        "parent_id integer references parents (id) on delete cascade)",
        "insert into parents values (1, -1)",
        'insert into "Sales"."Customer" values (5, 1)',
    )
    checks = suite(CHECK.replace("PARENT", "parents").replace("DEPENDENTS", "hold"))

    result = move(db, checks.checks[0])

    assert (result.moved, result.held_in_place) == (0, 1)
    assert result.held_by == ["Sales.Customer(parent_id)"]
    assert db.rows('select id from "Sales"."Customer"') == [(5,)]
    db.dispose()


def _check(table: str, name: str) -> str:
    return f"""
  - name: {name}
    table: '{table}'
    kind: range
    column: amount
    min: 0
"""


@pytest.mark.postgres
def test_two_sources_with_the_same_natural_name_keep_their_own_rows(
    pg_url: str,
) -> None:
    db = Db.of(pg_url)
    db.run(
        'create schema "x__y"',
        "create schema x",
        'create table "x__y".z (id integer primary key, amount integer)',
        'create table x."y__z" (id integer primary key, amount integer)',
        'insert into "x__y".z values (1, -1), (2, 5)',
        'insert into x."y__z" values (1, -7), (3, 5)',
    )
    before = (db.digest('"x__y".z'), db.digest('x."y__z"'))
    checks = suite("checks:" + _check("x__y.z", "first") + _check("x.y__z", "second"))

    assert move(db, checks.checks[0]).moved == 1
    assert move(db, checks.checks[1]).moved == 1

    assert db.rows('select id from "x__y".z') == [(2,)]
    assert db.rows('select id from x."y__z"') == [(3,)]
    registry = db.rows(
        "select quarantine_table, source_schema, source_table "
        "from guardian_quarantine.guardian_tables order by source_schema"
    )
    assert len({r[0] for r in registry}) == 2
    assert [(r[1], r[2]) for r in registry] == [("x", "y__z"), ("x__y", "z")]
    for name in ("first", "second"):
        plan = plan_release(db.target, check=name)
        assert len(execute_release(db.target, plan, [checks]).released) == 0
        forced = execute_release(db.target, plan, [checks], force=True)
        assert len(forced.released) == 1
    assert (db.digest('"x__y".z'), db.digest('x."y__z"')) == before
    db.dispose()


@pytest.mark.postgres
def test_a_long_table_name_gets_a_distinct_quarantine_table(pg_url: str) -> None:
    db = Db.of(pg_url)
    long = "t" * 60
    db.run(
        f"create table {long} (id integer primary key, amount integer)",
        f"insert into {long} values (1, -1)",
    )
    checks = suite("checks:" + _check(long, "long"))

    assert move(db, checks.checks[0]).moved == 1

    (name,) = db.rows(
        "select quarantine_table from guardian_quarantine.guardian_tables"
    )[0]
    assert len(name.encode()) <= 63
    plan = plan_release(db.target, check="long")
    assert len(execute_release(db.target, plan, [checks], force=True).released) == 1
    assert db.rows(f"select id, amount from {long}") == [(1, -1)]
    db.dispose()


@pytest.mark.postgres
def test_a_widened_source_column_is_followed_by_its_quarantine_table(
    pg_url: str,
) -> None:
    db = Db.of(pg_url)
    db.run(
        "create table items (id integer primary key, amount integer, code varchar(3))",
        "insert into items values (1, -1, 'abc')",
    )
    checks = suite("checks:" + _check("items", "positive"))
    assert move(db, checks.checks[0]).moved == 1

    db.run(
        "alter table items alter column amount type bigint",
        "alter table items alter column code type text",
        "insert into items values (2, -5000000000, 'a much longer code')",
    )
    assert move(db, checks.checks[0]).moved == 1

    plan = plan_release(db.target, check="positive")
    assert len(execute_release(db.target, plan, [checks], force=True).released) == 2
    assert db.rows("select id, amount, code from items order by id") == [
        (1, -1, "abc"),
        (2, -5000000000, "a much longer code"),
    ]
    db.dispose()


SALARY = """
checks:
  - name: paid
    table: hr.employees
    kind: range
    column: salary
    min: 0
    on_violation: {action: quarantine, dependents: cascade}
"""


@pytest.mark.postgres
def test_a_tree_through_two_tables_goes_back_parents_first(pg_url: str) -> None:
    db = Db.of(pg_url)
    db.run(
        "create schema hr",
        "create table hr.employees (id integer primary key, manager_id integer "
        "references hr.employees (id) on delete set null, salary integer)",
        "insert into hr.employees values (1, null, -5), (2, 1, 10), (3, 2, 10)",
        "update hr.employees set manager_id = 3 where id = 1",
        "insert into hr.employees select g, 1, 10 from generate_series(10, 15) g",
        "insert into hr.employees select g, 10, 10 from generate_series(20, 22) g",
        "create table badge (id integer primary key, emp integer "
        "references hr.employees (id) on delete cascade)",
        "insert into badge values (1, 3), (2, 21), (3, 2)",
    )
    db.run("update hr.employees set salary = 5 where id = 1")
    before = (db.digest("hr.employees"), db.digest("badge"))
    db.run("update hr.employees set salary = -5 where id = 1")
    checks = suite(SALARY)

    result = move(db, checks.checks[0])

    assert (result.moved, result.cascaded) == (
        1,
        {"hr.employees": 11, "public.badge": 3},
    )
    assert db.rows("select count(*) from hr.employees") == [(0,)]
    db.run('update guardian_quarantine."hr__employees" set salary = 5 where id = 1')
    plan = plan_release(db.target, check="paid")
    released = execute_release(db.target, plan, [checks])
    assert len(released.released) == 15
    assert (db.digest("hr.employees"), db.digest("badge")) == before
    db.dispose()


def _partitioned(db: Db) -> None:
    db.run(
        "create schema app",
        "create schema other",
        "create table app.parent (id integer primary key, amount integer)",
        "create table other.parted (id integer, pid integer "
        "references app.parent (id) on delete cascade, label text, "
        "primary key (id)) partition by range (id)",
        "create table other.parted_a partition of other.parted "
        "for values from (0) to (1000)",
        "insert into app.parent values (1, 10), (2, -1)",
        "insert into other.parted values (10, 1, 'ok'), (11, 2, 'x'), (12, 2, 'y')",
    )


@pytest.mark.postgres
def test_a_partitioned_referencing_table_holds_the_row_once(pg_url: str) -> None:
    db = Db.of(pg_url)
    _partitioned(db)
    before = db.digest("other.parted")
    checks = suite(CHECK.replace("PARENT", "app.parent").replace("DEPENDENTS", "hold"))

    result = move(db, checks.checks[0])

    assert (result.moved, result.held_in_place) == (0, 1)
    assert result.held_by == ["other.parted(pid)"]
    assert db.rows("select id from app.parent order by id") == [(1,), (2,)]
    assert db.digest("other.parted") == before
    db.dispose()


@pytest.mark.postgres
def test_cascade_moves_partitioned_rows_once_and_releases_them(pg_url: str) -> None:
    db = Db.of(pg_url)
    _partitioned(db)
    before = (db.digest("app.parent"), db.digest("other.parted"))
    checks = suite(
        CHECK.replace("PARENT", "app.parent").replace("DEPENDENTS", "cascade")
    )

    result = move(db, checks.checks[0])

    assert (result.moved, result.cascaded) == (1, {"other.parted": 2})
    assert db.rows("select id from other.parted") == [(10,)]
    assert db.rows("select id from other.parted_a") == [(10,)]
    held = db.rows('select id from guardian_quarantine."other__parted" order by id')
    assert held == [(11,), (12,)]
    plan = plan_release(db.target, check="positive")
    released = execute_release(db.target, plan, [checks], force=True)
    assert len(released.released) == 3
    assert (db.digest("app.parent"), db.digest("other.parted")) == before
    db.dispose()
