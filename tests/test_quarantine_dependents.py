"""Rows referenced by foreign keys: held in place, or moved with their dependents."""

from __future__ import annotations

import pytest

from guardian.quarantine.release import execute_release, plan_release
from tests.quarantine_support import Db, move, qdb, suite

__all__ = ["qdb"]

CHECK = """
checks:
  - name: positive
    table: parents
    kind: range
    column: amount
    min: 0
    on_violation: {action: quarantine, dependents: DEPENDENTS}
"""


def _tables(db: Db) -> None:
    if db.dialect == "sqlite":
        db.run("pragma foreign_keys = on")
    db.run(
        "create table parents (id integer primary key, amount integer)",
        "create table children (id integer primary key, "
        "parent_id integer references parents (id), label text)",
        "insert into parents values (1, 10), (2, -1), (3, -2)",
        "insert into children values (10, 1, 'ok'), (11, 2, 'x'), (12, 2, 'y')",
    )


def test_referenced_row_is_held_in_place(qdb: Db) -> None:
    _tables(qdb)
    checks = suite(CHECK.replace("DEPENDENTS", "hold"))

    result = move(qdb, checks.checks[0])

    assert (result.moved, result.held_in_place) == (1, 1)
    assert result.held_by == ["children(parent_id)"]
    assert qdb.rows("select id from parents order by id") == [(1,), (2,)]
    assert qdb.rows("select count(*) from children") == [(3,)]
    held = qdb.held("parents", "held_in_place")
    assert [(r[0], r[-2]) for r in held] == [(2, "children(parent_id)")]
    assert move(qdb, checks.checks[0]).held_in_place == 0


def test_cascade_moves_dependents_and_releases_them_back(qdb: Db) -> None:
    _tables(qdb)
    before = (qdb.digest("parents"), qdb.digest("children"))
    checks = suite(CHECK.replace("DEPENDENTS", "cascade"))

    result = move(qdb, checks.checks[0])

    assert (result.moved, result.cascaded) == (2, {"children": 2})
    assert qdb.rows("select id from parents") == [(1,)]
    assert qdb.rows("select id from children") == [(10,)]
    parent_id = qdb.rows(
        f"select guardian_id from {qdb.quarantine('parents')} where id = 2"
    )[0][0]
    links = qdb.rows(
        f"select id, guardian_dependent_of from {qdb.quarantine('children')} "
        "order by id"
    )
    assert links == [(11, parent_id), (12, parent_id)]

    plan = plan_release(qdb.target, check="positive")
    released = execute_release(qdb.target, plan, [checks], force=True)

    assert len(released.released) == 4
    assert (qdb.digest("parents"), qdb.digest("children")) == before


TREE = """
checks:
  - name: positive
    table: accounts
    kind: range
    column: balance
    min: 0
    on_violation: {action: quarantine, dependents: cascade}
"""


def _tree(db: Db) -> None:
    """accounts ← orders ← lines: a violating account with grandchildren."""
    if db.dialect == "sqlite":
        db.run("pragma foreign_keys = on")
    db.run(
        "create table accounts (id integer primary key, balance integer)",
        "create table orders (id integer primary key, "
        "account_id integer references accounts (id))",
        "create table lines (id integer primary key, "
        "order_id integer references orders (id), sku text)",
        "insert into accounts values (1, 5), (2, -3)",
        "insert into orders values (10, 1), (20, 2), (21, 2)",
        "insert into lines values (100, 10, 'a'), (200, 20, 'b'), (201, 20, 'c'), "
        "(210, 21, 'd')",
    )


def test_cascade_moves_grandchildren_and_releases_the_whole_tree(qdb: Db) -> None:
    _tree(qdb)
    tables = ("accounts", "orders", "lines")
    before = [qdb.digest(t) for t in tables]
    checks = suite(TREE)
    dry = move(qdb, checks.checks[0], dry_run=True)
    assert (dry.moved, dry.cascaded) == (1, {"orders": 2, "lines": 3})
    assert [qdb.digest(t) for t in tables] == before

    result = move(qdb, checks.checks[0])

    assert (result.moved, result.cascaded) == (1, {"orders": 2, "lines": 3})
    assert qdb.rows("select id from accounts") == [(1,)]
    assert qdb.rows("select id from orders") == [(10,)]
    assert qdb.rows("select id from lines") == [(100,)]
    account = qdb.rows(f"select guardian_id from {qdb.quarantine('accounts')}")[0][0]
    orders = dict(qdb.rows(f"select id, guardian_id from {qdb.quarantine('orders')}"))
    links = qdb.rows(
        f"select id, guardian_dependent_of from {qdb.quarantine('orders')} "
        f"union all select id, guardian_dependent_of from {qdb.quarantine('lines')} "
        "order by 1"
    )
    assert links == [
        (20, account),
        (21, account),
        (200, orders[20]),
        (201, orders[20]),
        (210, orders[21]),
    ]

    plan = plan_release(qdb.target, check="positive")
    released = execute_release(qdb.target, plan, [checks], force=True)

    assert len(released.released) == 6
    assert [qdb.digest(t) for t in tables] == before


SELF = """
checks:
  - name: active
    table: staff
    kind: accepted_values
    column: state
    values: [active]
    on_violation: {action: quarantine, dependents: cascade}
"""


def test_cascade_on_a_self_referencing_table_moves_each_row_once(qdb: Db) -> None:
    if qdb.dialect == "sqlite":
        qdb.run("pragma foreign_keys = on")
    qdb.run(
        "create table staff (id integer primary key, "
        "boss_id integer references staff (id), state text)",
        "insert into staff values (1, null, 'active'), (2, 1, 'gone'), "
        "(3, 2, 'active'), (4, 3, 'active'), (5, 1, 'active'), (6, 2, 'gone')",
    )
    before = qdb.digest("staff")
    checks = suite(SELF)
    dry = move(qdb, checks.checks[0], dry_run=True)
    assert (dry.moved, dry.cascaded) == (2, {"staff": 2})

    result = move(qdb, checks.checks[0])

    # 2 and 6 violate; 3 reports to 2, and 4 to 3: both go with them.
    assert (result.moved, result.cascaded) == (2, {"staff": 2})
    assert qdb.rows("select id from staff order by id") == [(1,), (5,)]
    held = qdb.rows(
        f"select id, guardian_dependent_of is null from {qdb.quarantine('staff')} "
        "order by id"
    )
    assert held == [(2, True), (3, False), (4, False), (6, True)]

    plan = plan_release(qdb.target, check="active")
    released = execute_release(qdb.target, plan, [checks], force=True)

    assert len(released.released) == 4
    assert qdb.digest("staff") == before


@pytest.mark.postgres
def test_a_cycle_through_a_self_reference_goes_out_and_back(pg_url: str) -> None:
    db = Db.of(pg_url)
    db.run(
        "create table staff (id integer primary key, "
        "boss_id integer references staff (id), state text)",
        "insert into staff values (1, null, 'active'), (5, 6, 'gone'), "
        "(6, 5, 'active')",
    )
    before = db.digest("staff")
    checks = suite(SELF)

    result = move(db, checks.checks[0])

    assert (result.moved, result.cascaded) == (1, {"staff": 1})
    assert db.rows("select id from staff") == [(1,)]
    plan = plan_release(db.target, check="active")
    kept = execute_release(db.target, plan, [checks])
    assert (kept.still_violating, kept.released) == ([plan.entries[0].id], [])
    assert "still in quarantine" in kept.kept[plan.entries[1].id]
    assert db.rows("select id from staff") == [(1,)]
    dry = execute_release(db.target, plan, [checks], force=True, dry_run=True)
    assert len(dry.released) == 2
    assert db.rows("select id from staff") == [(1,)]

    released = execute_release(db.target, plan, [checks], force=True)

    assert len(released.released) == 2
    assert db.digest("staff") == before
    db.dispose()


def test_a_row_held_by_two_tables_names_both(qdb: Db) -> None:
    _tables(qdb)
    qdb.run(
        "create table notes (id integer primary key, "
        "parent_id integer references parents (id))",
        "insert into notes values (1, 2)",
    )
    checks = suite(CHECK.replace("DEPENDENTS", "hold"))

    result = move(qdb, checks.checks[0])

    assert result.held_in_place == 1
    assert sorted(result.held_by) == ["children(parent_id)", "notes(parent_id)"]
    held = qdb.held("parents", "held_in_place")
    assert [r[-2] for r in held] == ["children(parent_id), notes(parent_id)"]
