"""SQLite: two guardians quarantining at once in a file never used before."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from guardian.quarantine.move import execute_move, plan_move
from guardian.quarantine.plan import MoveResult
from guardian.targets import Target
from tests.quarantine_support import OPEN, suite

CHECKS = suite(
    """
checks:
  - name: first
    table: first
    kind: range
    column: qty
    min: 0
  - name: second
    table: second
    kind: range
    column: qty
    min: 0
"""
).checks


def _race(path: Path) -> list[MoveResult | BaseException]:
    targets = [Target.from_url(f"sqlite:///{path}", "shop") for _ in CHECKS]
    plans = [
        plan_move(t, "s", c, config=OPEN) for t, c in zip(targets, CHECKS, strict=True)
    ]
    start = threading.Barrier(len(plans))
    outcomes: list[MoveResult | BaseException] = [ValueError("not run")] * len(plans)

    def work(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = execute_move(targets[n], plans[n], config=OPEN)
        except BaseException as exc:  # the test reports what failed
            outcomes[n] = exc

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(plans))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for target in targets:
        target.dispose()
    return outcomes


def test_two_first_uses_at_once_both_quarantine(tmp_path: Path) -> None:
    for attempt in range(8):
        path = tmp_path / f"shop{attempt}.db"
        with sqlite3.connect(path) as db:
            for table in ("first", "second"):
                db.execute(f"create table {table} (id integer primary key, qty int)")
                db.execute(f"insert into {table} values (1, 5), (2, -1)")
        db.close()

        outcomes = _race(path)

        assert [getattr(o, "moved", o) for o in outcomes] == [1, 1]
        with sqlite3.connect(path) as db:
            ids = db.execute("select count(*) from guardian_quarantine_ids").fetchall()
            held = [
                db.execute(f"select id from guardian_quarantine__{t}").fetchall()
                for t in ("first", "second")
            ]
        db.close()
        assert ids == [(1,)]
        assert held == [[(2,)], [(2,)]]
