"""Rows referenced by foreign keys: held in place, or moved with their dependents."""

from __future__ import annotations

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
