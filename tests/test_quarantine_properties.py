"""Property: move then release restores any table; no row is ever in two places."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.quarantine.release import execute_release, plan_release
from tests.quarantine_support import Db, move, qdb, suite

__all__ = ["qdb"]

_names = itertools.count()

ROW = st.tuples(
    st.integers(-50, 50),
    st.one_of(st.none(), st.text("abc xyz'\"", max_size=6)),
    st.one_of(st.none(), st.integers(-(10**12), 10**12)),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(ROW, min_size=1, max_size=25),
    threshold=st.integers(-60, 60),
    composite=st.booleans(),
)
def test_move_then_release_is_identity(
    qdb: Db,
    rows: list[tuple[int, str | None, int | None]],
    threshold: int,
    composite: bool,
) -> None:
    table = f"t{next(_names)}"
    key = "(k, part)" if composite else "(k)"
    qdb.run(
        f"create table {table} (k integer, part text not null, qty integer, "
        f"label text, big bigint, primary key {key})"
    )
    values = ", ".join(
        f"({i}, 'p{i % 3}', {qty}, {_text(label)}, {_number(big)})"
        for i, (qty, label, big) in enumerate(rows)
    )
    qdb.run(f"insert into {table} values {values}")
    before = qdb.digest(table, "k")
    checks = suite(
        f"""
checks:
  - name: c_{table}
    table: {table}
    kind: range
    column: qty
    min: {threshold}
    on_violation: quarantine
"""
    )

    result = move(qdb, checks.checks[0])

    expected = sum(1 for qty, _, _ in rows if qty < threshold)
    assert result.moved == expected
    _each_row_once(qdb, table, len(rows))
    plan = plan_release(qdb.target, check=f"c_{table}")
    released = execute_release(qdb.target, plan, [checks], force=True)
    assert len(released.released) == expected
    _each_row_once(qdb, table, len(rows))
    assert qdb.digest(table, "k") == before


def _each_row_once(db: Db, table: str, count: int) -> None:
    source = [r[0] for r in db.rows(f"select k from {table}")]
    held = [r[0] for r in db.held(table)]
    assert sorted(source + held) == list(range(count))


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def _text(value: str | None) -> str:
    if value is None:
        return "null"
    return "'" + value.replace("'", "''") + "'"
