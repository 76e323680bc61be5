"""A run quarantines rows; ``guardian quarantine …`` lists, shows, releases, purges."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from guardian.cli import _register, cli
from guardian.quarantine import ledger
from guardian.state.store import StateStore
from tests.quarantine_support import Db, qdb

__all__ = ["qdb"]

SUITE = """\
suite: shop
defaults:
  on_violation: quarantine
checks:
  - name: amount_positive
    kind: range
    table: orders
    column: amount
    min: 0
  - name: enough_orders
    kind: row_count
    table: orders
    min: 1
"""


def _setup(db: Db, tmp_path: Path) -> Path:
    db.run(
        "create table orders (id integer primary key, amount integer)",
        "insert into orders values (1, 5), (2, -1), (3, -2), (4, 8), (5, 1)",
    )
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "shop.yml").write_text(SUITE)
    config = tmp_path / "guardian.yml"
    url = db.target.url.render_as_string(hide_password=False)
    config.write_text(
        f"targets:\n  shop:\n    url: '{url}'\n"
        "state:\n  url: sqlite:///state.db\n"
        "quarantine:\n  max_share: 0.5\n"
    )
    return config


def _guardian(config: Path, *args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, ["--config", str(config), *args], input="y\n")


def test_run_quarantines_and_cli_releases(qdb: Db, tmp_path: Path) -> None:
    config = _setup(qdb, tmp_path)
    assert _guardian(config, "db", "upgrade").exit_code == 0

    run = _guardian(config, "check", "run", "--format", "json")
    assert run.exit_code == 1, run.output
    report = json.loads(run.output)
    assert report["actions"][0]["result"]["moved"] == 2
    assert qdb.rows("select id from orders order by id") == [(1,), (4,), (5,)]

    listed = _guardian(config, "quarantine", "list", "--format", "json")
    entries = json.loads(listed.output)["entries"]
    assert [(e["key"], e["status"]) for e in entries] == [
        ({"id": 2}, "held"),
        ({"id": 3}, "held"),
    ]
    first, second = entries[0]["id"], entries[1]["id"]
    quoted = _guardian(config, "quarantine", "list", "--table", '"orders"')
    assert quoted.exit_code == 0, quoted.output
    assert "id=2" in quoted.output
    assert "id=3" in quoted.output
    shown = _guardian(config, "quarantine", "show", str(first))
    assert "amount = -1" in shown.output
    assert "shop.amount_positive" in shown.output

    qdb.run(f"update {qdb.quarantine('orders')} set amount = 1 where id = 2")
    dry = _guardian(
        config, "quarantine", "release", "--check", "amount_positive", "--dry-run"
    )
    assert dry.exit_code == 1
    assert "would release 1 rows" in dry.output
    assert qdb.rows("select count(*) from orders") == [(3,)]

    released = _guardian(config, "quarantine", "release", str(first), str(second))
    assert released.exit_code == 1
    assert (
        f"still violate their check (fix them, or --force): {second}" in released.output
    )
    assert qdb.rows("select id, amount from orders where id = 2") == [(2, 1)]

    time.sleep(0.01)
    purged = _guardian(config, "quarantine", "purge", "--older-than", "1ms")
    assert purged.exit_code == 0, purged.output
    assert "purged 2 rows" in purged.output

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    moves = [(m.movement, m.rows) for m in ledger.movements(store, "shop")]
    store.dispose()
    assert moves == [("purged", 2), ("out", 1), ("in", 2)]


def test_show_unknown_id_is_a_usage_error(qdb: Db, tmp_path: Path) -> None:
    config = _setup(qdb, tmp_path)

    result = _guardian(config, "quarantine", "show", "999")

    assert result.exit_code == 2
    assert "no row 999 in the quarantine of target shop" in result.output


def test_budget_in_a_run_alerts_and_moves_nothing(qdb: Db, tmp_path: Path) -> None:
    config = _setup(qdb, tmp_path)
    config.write_text(config.read_text().replace("max_share: 0.5", "max_rows: 1"))
    assert _guardian(config, "db", "upgrade").exit_code == 0

    run = _guardian(config, "check", "run")

    assert run.exit_code == 1
    assert "exceed the budget of 1 rows" in run.output
    engine = sa.create_engine(qdb.target.url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from orders").scalar() == 5
    engine.dispose()


def test_release_without_the_check_needs_force(qdb: Db, tmp_path: Path) -> None:
    config = _setup(qdb, tmp_path)
    assert _guardian(config, "db", "upgrade").exit_code == 0
    assert _guardian(config, "check", "run").exit_code == 1
    (tmp_path / "checks" / "shop.yml").unlink()
    (tmp_path / "checks").rmdir()

    kept = _guardian(config, "quarantine", "release", "--check", "amount_positive")

    assert kept.exit_code == 1
    assert "is not in the suites given" in kept.output
    assert qdb.rows("select count(*) from orders") == [(3,)]
    forced = _guardian(
        config, "quarantine", "release", "--check", "amount_positive", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert qdb.rows("select count(*) from orders") == [(5,)]


@pytest.mark.postgres
def test_a_release_the_database_refuses_is_a_problem_not_a_failure(
    pg_url: str, tmp_path: Path
) -> None:
    db = Db.of(pg_url)
    config = _setup(db, tmp_path)
    assert _guardian(config, "db", "upgrade").exit_code == 0
    assert _guardian(config, "check", "run").exit_code == 1
    db.run(
        "alter table orders add column region text not null default 'eu'",
        "alter table orders alter column region drop default",
    )
    before = db.digest("orders")

    for extra in ((), ("--dry-run",)):
        refused = _guardian(
            config, "quarantine", "release", "--check", "amount_positive", *extra
        )

        assert refused.exit_code == 1, refused.output
        assert "column region of orders was added NOT NULL" in refused.output
        assert "still in quarantine" in refused.output
        assert db.digest("orders") == before
    assert len(db.held("orders")) == 2
    db.dispose()


def test_list_of_an_unknown_check_and_an_empty_release_say_so(
    qdb: Db, tmp_path: Path
) -> None:
    config = _setup(qdb, tmp_path)
    assert _guardian(config, "db", "upgrade").exit_code == 0
    assert _guardian(config, "check", "run").exit_code == 1

    unknown = _guardian(config, "quarantine", "list", "--check", "nosuch")
    known = _guardian(config, "quarantine", "list", "--check", "amount_positive")
    released = _guardian(config, "quarantine", "release", "--check", "amount_positive")

    assert unknown.exit_code == 2
    assert "check nosuch is unknown to the quarantine ledger" in unknown.output
    assert known.exit_code == 0
    assert "amount_positive" in known.output
    assert released.exit_code == 1  # both rows still violate
    assert "nothing to release" in released.output
    assert "rows: \n" not in released.output
    assert "still violate" in released.output
