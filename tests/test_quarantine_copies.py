"""Releasing copies: an edited copy reaches its row; a fixed one is dismissed."""

from __future__ import annotations

from guardian.quarantine.release import ReleaseResult, execute_release, plan_release
from tests.quarantine_support import Db, move, qdb, suite

__all__ = ["qdb"]

COPY = """
checks:
  - name: positive
    table: items
    kind: range
    column: qty
    min: 0
    on_violation: {action: quarantine, mode: copy}
"""


def _copied(db: Db) -> dict[int, int]:
    """Items 2 and 3 violate; both are copied. Quarantine id by item id."""
    db.run(
        "create table items (id integer primary key, qty integer, note text)",
        "insert into items values (1, 5, 'a'), (2, -1, 'b'), (3, -7, 'c')",
    )
    assert move(db, suite(COPY).checks[0]).copied == 2
    return dict(db.rows(f"select id, guardian_id from {db.quarantine('items')}"))


def _release(db: Db, *ids: int) -> ReleaseResult:
    plan = plan_release(db.target, ids=ids)
    return execute_release(db.target, plan, [suite(COPY)])


def _statuses(db: Db) -> list[tuple[int, str]]:
    return db.rows(
        f"select id, guardian_status from {db.quarantine('items')} order by id"
    )


def test_an_edited_copy_is_applied_to_its_row(qdb: Db) -> None:
    ids = _copied(qdb)
    qdb.run(f"update {qdb.quarantine('items')} set qty = 4 where id = 2")

    result = _release(qdb, ids[2], ids[3])

    assert result.released == [ids[2]]
    # Unedited, and its row still violates: it stays, like a moved row.
    assert (result.dismissed, result.still_violating) == ([], [ids[3]])
    assert (result.conflicts, result.changed) == ([], [])
    assert qdb.rows("select * from items order by id") == [
        (1, 5, "a"),
        (2, 4, "b"),
        (3, -7, "c"),
    ]
    assert _statuses(qdb) == [(2, "released"), (3, "copied")]


def test_an_unedited_copy_of_a_fixed_row_is_dismissed(qdb: Db) -> None:
    ids = _copied(qdb)
    qdb.run("update items set qty = 1 where id = 3")
    qdb.run(f"update {qdb.quarantine('items')} set qty = 1 where id = 3")

    result = _release(qdb, ids[3])

    assert (result.released, result.dismissed) == ([], [ids[3]])
    assert qdb.rows("select qty from items where id = 3") == [(1,)]
    assert _statuses(qdb) == [(2, "copied"), (3, "dismissed")]


def test_an_unedited_copy_of_a_row_that_still_violates_stays(qdb: Db) -> None:
    ids = _copied(qdb)
    before = qdb.digest("items")

    kept = _release(qdb, ids[2], ids[3])

    assert (kept.dismissed, kept.still_violating) == ([], [ids[2], ids[3]])
    assert kept.problems
    assert _statuses(qdb) == [(2, "copied"), (3, "copied")]
    plan = plan_release(qdb.target, ids=[ids[2]])
    unknown = execute_release(qdb.target, plan, [])
    assert "not in the suites given" in unknown.kept.get(ids[2], "")
    forced = execute_release(qdb.target, plan, [suite(COPY)], force=True)
    assert forced.dismissed == [ids[2]]
    assert _statuses(qdb) == [(2, "dismissed"), (3, "copied")]
    assert qdb.digest("items") == before


def test_an_edit_never_overwrites_a_change_made_to_the_row(qdb: Db) -> None:
    ids = _copied(qdb)
    qdb.run("update items set note = 'changed by the application' where id = 2")
    qdb.run(f"update {qdb.quarantine('items')} set qty = 9 where id = 2")

    result = _release(qdb, ids[2])

    assert (result.changed, result.conflicts) == ([ids[2]], [])
    assert result.released == []
    assert qdb.rows("select qty, note from items where id = 2") == [
        (-1, "changed by the application")
    ]
    assert _statuses(qdb) == [(2, "copied"), (3, "copied")]


def test_an_edit_that_still_violates_leaves_the_row_as_it_was(qdb: Db) -> None:
    ids = _copied(qdb)
    qdb.run(f"update {qdb.quarantine('items')} set qty = -2, note = 'x' where id = 2")

    result = _release(qdb, ids[2])

    assert result.still_violating == [ids[2]]
    assert qdb.rows("select qty, note from items where id = 2") == [(-1, "b")]
    assert _statuses(qdb) == [(2, "copied"), (3, "copied")]
