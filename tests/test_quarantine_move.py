"""Quarantine moves, copies and releases on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from guardian.checks.suite import Suite
from guardian.errors import QuarantineError, UsageError
from guardian.quarantine.move import execute_move, plan_move
from guardian.quarantine.purge import execute_purge, plan_purge
from guardian.quarantine.release import ReleaseResult, execute_release, plan_release
from guardian.quarantine.spec import QuarantineConfig
from guardian.targets import Target
from tests.quarantine_support import OPEN, Db, move, qdb, suite

__all__ = ["qdb"]

RANGE = """
checks:
  - name: positive
    table: items
    kind: range
    column: qty
    min: 0
    on_violation: quarantine
"""


def _items(db: Db) -> None:
    db.run(
        "create table items (id integer primary key, qty integer, note text)",
        "insert into items values (1, 5, 'a'), (2, -1, 'b'), (3, -7, null), "
        "(4, 0, 'd')",
    )


def _release(
    db: Db,
    checks: Suite,
    *,
    ids: tuple[int, ...] = (),
    check: str | None = None,
    force: bool = False,
) -> ReleaseResult:
    plan = plan_release(db.target, ids=ids, check=check)
    return execute_release(db.target, plan, [checks], force=force)


def test_move_then_release_restores_the_table(qdb: Db) -> None:
    _items(qdb)
    before = qdb.digest("items")
    checks = suite(RANGE)

    result = move(qdb, checks.checks[0])

    assert result.moved == 2
    assert qdb.rows("select id from items order by id") == [(1,), (4,)]
    held = qdb.held("items")
    assert [(r[0], r[1], r[2]) for r in held] == [(2, -1, "b"), (3, -7, None)]

    qdb.run(f"update {qdb.quarantine('items')} set qty = 1")
    released = _release(qdb, checks, check="positive")

    assert released.released == [held[0][3], held[1][3]]
    assert qdb.rows("select id, qty from items order by id") == [
        (1, 5),
        (2, 1),
        (3, 1),
        (4, 0),
    ]
    assert qdb.held("items") == []
    qdb.run(
        "update items set qty = -1 where id = 2",
        "update items set qty = -7 where id = 3",
    )
    assert qdb.digest("items") == before


def test_release_keeps_rows_that_still_violate_unless_forced(qdb: Db) -> None:
    _items(qdb)
    checks = suite(RANGE)
    move(qdb, checks.checks[0])

    kept = _release(qdb, checks, check="positive")

    assert sorted(kept.still_violating) == sorted(r[3] for r in qdb.held("items"))
    assert len(qdb.held("items")) == 2
    assert qdb.rows("select id from items order by id") == [(1,), (4,)]

    forced = _release(qdb, checks, check="positive", force=True)
    assert len(forced.released) == 2
    assert qdb.rows("select count(*) from items") == [(4,)]


def test_a_row_fixed_since_the_check_stays(qdb: Db) -> None:
    _items(qdb)
    check = suite(RANGE).checks[0]
    plan = plan_move(qdb.target, "s", check, config=OPEN)
    qdb.run("update items set qty = 3 where id = 2")

    result = execute_move(qdb.target, plan, config=OPEN)

    assert result.moved == 1
    assert qdb.rows("select id from items order by id") == [(1,), (2,), (4,)]


def test_dry_run_changes_nothing(qdb: Db) -> None:
    _items(qdb)
    before = qdb.digest("items")

    result = move(qdb, suite(RANGE).checks[0], dry_run=True)

    assert (result.moved, result.dry_run) == (2, True)
    assert qdb.digest("items") == before


def test_copy_mode_leaves_rows_and_does_not_pile_up(qdb: Db) -> None:
    _items(qdb)
    before = qdb.digest("items")
    checks = suite(RANGE.replace("quarantine\n", "{action: quarantine, mode: copy}\n"))

    first = move(qdb, checks.checks[0])
    second = move(qdb, checks.checks[0])

    assert (first.copied, second.copied) == (2, 0)
    assert qdb.digest("items") == before
    assert len(qdb.held("items", "copied")) == 2
    kept = _release(qdb, checks, check="positive")
    assert (len(kept.dismissed), len(kept.still_violating)) == (0, 2)
    qdb.run("update items set qty = 0 where qty < 0")
    released = _release(qdb, checks, check="positive")
    assert len(released.dismissed) == 2
    assert len(qdb.held("items", "dismissed")) == 2


def test_budget_refuses_and_changes_nothing(qdb: Db) -> None:
    _items(qdb)
    before = qdb.digest("items")
    config = QuarantineConfig(max_rows=1)

    result = move(qdb, suite(RANGE).checks[0], config=config)

    assert result.refused is not None
    assert "exceed the budget of 1 rows" in result.refused
    assert qdb.digest("items") == before

    share = move(qdb, suite(RANGE).checks[0], config=QuarantineConfig(max_share=0.25))
    assert share.refused is not None
    assert "over the budget of 25.0%" in share.refused
    assert qdb.digest("items") == before


def test_the_budget_holds_for_the_rows_selected_at_move_time(qdb: Db) -> None:
    qdb.run(
        "create table items (id integer primary key, qty integer, note text)",
        "insert into items values (1, -1, 'bad'), (2, 5, 'ok'), (3, 6, 'ok')",
    )
    config = QuarantineConfig(max_rows=3, max_share=1.0)
    check = suite(RANGE).checks[0]
    plan = plan_move(qdb.target, "s", check, config=config)
    assert plan.refused is None
    values = ", ".join(f"({i}, -{i}, 'late')" for i in range(10, 310))
    qdb.run(
        f"insert into items values {values}", "update items set qty = 1 where id = 1"
    )
    before = qdb.digest("items")

    result = execute_move(qdb.target, plan, config=config)

    assert result.refused is not None
    assert "found 300 violating rows at move time" in result.refused
    assert "over the budget of 3 rows" in result.refused
    assert result.total == 0
    assert qdb.digest("items") == before
    assert qdb.rows("select count(*) from items where qty < 0") == [(300,)]


def test_rows_fixed_between_check_and_move_stay(qdb: Db) -> None:
    _items(qdb)
    config = QuarantineConfig(max_rows=3, max_share=1.0)
    plan = plan_move(qdb.target, "s", suite(RANGE).checks[0], config=config)
    qdb.run("update items set qty = 1 where id = 2")

    result = execute_move(qdb.target, plan, config=config)

    assert (result.refused, result.moved) == (None, 1)
    assert qdb.rows("select id from items order by id") == [(1,), (2,), (4,)]


def test_release_conflict_when_key_reused(qdb: Db) -> None:
    _items(qdb)
    checks = suite(RANGE)
    move(qdb, checks.checks[0])
    qdb.run(f"update {qdb.quarantine('items')} set qty = 9")
    qdb.run("insert into items values (2, 42, 'new')")

    result = _release(qdb, checks, check="positive")

    assert len(result.conflicts) == 1
    assert len(result.released) == 1
    assert qdb.rows("select qty, note from items where id = 2") == [(42, "new")]
    assert len(qdb.held("items")) == 1


def test_columns_added_before_release_take_defaults(qdb: Db) -> None:
    _items(qdb)
    checks = suite(RANGE)
    move(qdb, checks.checks[0])
    qdb.run("alter table items add column flag integer default 7")
    qdb.run(f"update {qdb.quarantine('items')} set qty = 1")

    result = _release(qdb, checks, check="positive")

    assert len(result.released) == 2
    assert qdb.rows("select id, flag from items order by id") == [
        (1, 7),
        (2, 7),
        (3, 7),
        (4, 7),
    ]


def test_quarantine_table_follows_new_source_columns(qdb: Db) -> None:
    _items(qdb)
    check = suite(RANGE).checks[0]
    move(qdb, check)
    qdb.run(
        "alter table items add column extra text",
        "insert into items values (9, -2, 'x', 'e')",
    )

    move(qdb, check)

    held = qdb.rows(f"select id, extra from {qdb.quarantine('items')} order by id")
    assert held == [(2, None), (3, None), (9, "e")]


def test_table_altered_between_plan_and_move_fails_cleanly(qdb: Db) -> None:
    _items(qdb)
    plan = plan_move(qdb.target, "s", suite(RANGE).checks[0], config=OPEN)
    qdb.run("alter table items add column late integer")
    before = qdb.digest("items")

    with pytest.raises(QuarantineError, match="changed since check positive ran"):
        execute_move(qdb.target, plan, config=OPEN)

    assert qdb.digest("items") == before


def test_no_primary_key_refuses_move_but_copies(qdb: Db) -> None:
    qdb.run(
        "create table items (qty integer, note text)",
        "insert into items values (1, 'a'), (-1, 'b'), (-1, 'b')",
    )
    checks = suite(RANGE)

    refused = move(qdb, checks.checks[0])
    assert refused.refused is not None
    assert "has no primary key" in refused.refused
    assert qdb.rows("select count(*) from items") == [(3,)]

    copy = suite(RANGE.replace("quarantine\n", "{action: quarantine, mode: copy}\n"))
    assert move(qdb, copy.checks[0]).copied == 2
    assert move(qdb, copy.checks[0]).copied == 0


def test_mixed_case_and_reserved_names(qdb: Db) -> None:
    qdb.run(
        'create table "Order" ("Id" integer primary key, "select" integer, '
        '"From" text)',
        """insert into "Order" values (1, 1, 'a'), (2, -1, 'b')""",
    )
    before = qdb.digest('"Order"')
    checks = suite(
        """
checks:
  - name: sel
    table: Order
    kind: range
    column: select
    min: 0
    on_violation: quarantine
"""
    )

    assert move(qdb, checks.checks[0]).moved == 1
    assert qdb.rows('select "Id" from "Order"') == [(1,)]
    result = _release(qdb, checks, check="sel", force=True)
    assert len(result.released) == 1
    assert qdb.digest('"Order"') == before


def test_release_needs_ids_or_check(qdb: Db) -> None:
    with pytest.raises(UsageError):
        plan_release(qdb.target)


def test_purge_clears_values_and_keeps_the_record(qdb: Db) -> None:
    _items(qdb)
    move(qdb, suite(RANGE).checks[0])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    plan = plan_purge(qdb.target, dt.timedelta(days=1), now=later)
    assert plan.by_table() == {"items": 2}

    purged = execute_purge(qdb.target, plan)

    assert len(purged) == 2
    rows = qdb.rows(
        "select qty, note, guardian_status, guardian_key "
        f"from {qdb.quarantine('items')}"
    )
    assert {r[:3] for r in rows} == {(None, None, "purged")}
    assert all(r[3] for r in rows)
    assert plan_purge(qdb.target, dt.timedelta(days=1), now=later).entries == ()


@pytest.mark.postgres
def test_quarantine_tables_are_private_but_for_read_roles(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"CREATE ROLE {role}")
    try:
        db = Db(Target.from_url(pg_url))
        _items(db)
        config = QuarantineConfig(max_share=1.0, read_roles=[role])
        move(db, suite(RANGE).checks[0], config=config)
        db.dispose()

        table = "guardian_quarantine.public__items"
        query = "SELECT has_table_privilege(%s, %s, 'SELECT')"
        assert pg_conn.execute(query, (role, table)).fetchone() == (True,)
        acl = pg_conn.execute(
            "SELECT relacl::text FROM pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone()
        assert acl is not None
        assert "=r" not in acl[0].replace(f"{role}=r", "")
    finally:
        pg_conn.execute(f"DROP OWNED BY {role}")
        pg_conn.execute(f"DROP ROLE {role}")


KINDS = """
checks:
  - name: pair_unique
    table: items
    kind: unique
    columns: [qty, note]
    on_violation: quarantine
  - name: parent_known
    table: items
    kind: references
    columns: qty
    parent_table: parents
    parent_columns: id
    where: qty > 0
    on_violation: quarantine
"""


def test_unique_and_references_move_their_violating_rows(qdb: Db) -> None:
    _items(qdb)
    qdb.run(
        "insert into items values (5, 5, 'a'), (6, 0, 'z')",
        "create table parents (id integer primary key)",
        "insert into parents values (0), (5)",
    )
    unique, references = suite(KINDS).checks

    assert move(qdb, unique).moved == 2
    assert qdb.rows("select id from items order by id") == [(2,), (3,), (4,), (6,)]
    assert move(qdb, references).moved == 0
    qdb.run("delete from parents where id = 0", "insert into items values (7, 3, 'q')")
    assert move(qdb, references).moved == 1
    assert qdb.rows("select id from items order by id") == [(2,), (3,), (4,), (6,)]
