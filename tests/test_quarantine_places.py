"""Where quarantined rows go and who may read them; NULL groups of unique checks."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from guardian.quarantine.release import execute_release, plan_release
from guardian.quarantine.spec import QuarantineConfig
from guardian.targets import Target
from tests.quarantine_support import Db, move, qdb, suite

__all__ = ["qdb"]

UNIQUE = """
checks:
  - name: code_unique
    table: items
    kind: unique
    columns: [code]
    nulls_distinct: NULLS
    on_violation: quarantine
"""


@pytest.mark.parametrize("nulls_distinct", [True, False])
def test_unique_quarantines_null_groups_only_when_nulls_collide(
    qdb: Db, nulls_distinct: bool
) -> None:
    qdb.run(
        "create table items (id integer primary key, code text)",
        "insert into items values (1, 'a'), (2, 'a'), (3, null), (4, null), (5, 'b')",
    )
    check = suite(UNIQUE.replace("NULLS", str(nulls_distinct).lower())).checks[0]

    result = move(qdb, check)

    left = qdb.rows("select id from items order by id")
    if nulls_distinct:
        assert result.moved == 2
        assert left == [(3,), (4,), (5,)]
    else:
        assert result.moved == 4
        assert left == [(5,)]


RANGE = """
checks:
  - name: positive
    table: items
    kind: range
    column: qty
    min: 0
    on_violation: quarantine
"""


@pytest.mark.postgres
def test_a_table_named_without_schema_is_quarantined_under_its_own(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    pg_conn.execute("CREATE SCHEMA shop")
    pg_conn.execute("CREATE TABLE shop.items (id integer PRIMARY KEY, qty integer)")
    pg_conn.execute("INSERT INTO shop.items VALUES (1, 4), (2, -1)")
    pg_conn.execute(
        "ALTER DATABASE " + pg_url.rsplit("/", 1)[1] + " SET search_path = shop"
    )
    db = Db(Target.from_url(pg_url, "shop"))
    checks = suite(RANGE)
    try:
        assert move(db, checks.checks[0]).moved == 1

        held = pg_conn.execute(
            'SELECT id FROM guardian_quarantine."shop__items"'
        ).fetchall()
        assert held == [(2,)]
        missing = pg_conn.execute(
            "SELECT to_regclass('guardian_quarantine.public__items')"
        ).fetchone()
        assert missing == (None,)

        plan = plan_release(db.target, check="positive")
        assert execute_release(db.target, plan, [checks], force=True).released
        back = pg_conn.execute("SELECT id, qty FROM shop.items ORDER BY id").fetchall()
        assert back == [(1, 4), (2, -1)]
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_role_added_to_read_roles_later_gets_read_access(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    first, later = (f"reader_{uuid.uuid4().hex[:8]}" for _ in range(2))
    for role in (first, later):
        pg_conn.execute(f"CREATE ROLE {role}")
    pg_conn.execute("CREATE TABLE items (id integer PRIMARY KEY, qty integer)")
    pg_conn.execute("INSERT INTO items VALUES (1, -1), (2, -2)")
    db = Db(Target.from_url(pg_url, "shop"))
    check = suite(RANGE).checks[0]
    table = "guardian_quarantine.public__items"
    query = "SELECT has_table_privilege(%s, %s, 'SELECT')"
    try:
        move(db, check, config=QuarantineConfig(max_share=1.0, read_roles=[first]))
        assert pg_conn.execute(query, (later, table)).fetchone() == (False,)

        db.run("INSERT INTO items VALUES (3, -3)")
        config = QuarantineConfig(max_share=1.0, read_roles=[first, later])
        assert move(db, check, config=config).moved == 1

        for role in (first, later):
            assert pg_conn.execute(query, (role, table)).fetchone() == (True,)
            usage = pg_conn.execute(
                "SELECT has_schema_privilege(%s, 'guardian_quarantine', 'USAGE')",
                (role,),
            ).fetchone()
            assert usage == (True,)
    finally:
        db.dispose()
        for role in (first, later):
            pg_conn.execute(f"DROP OWNED BY {role}")
            pg_conn.execute(f"DROP ROLE {role}")


@pytest.mark.postgres
def test_a_table_with_a_type_without_hash_falls_back_to_md5(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    pg_conn.execute(
        "CREATE TABLE items (id integer PRIMARY KEY, qty integer, doc json)"
    )
    pg_conn.execute("""INSERT INTO items VALUES (1, -1, '{"a": 1}'), (2, 3, null)""")
    pg_conn.execute("CREATE TABLE plain (id integer PRIMARY KEY, qty integer)")
    pg_conn.execute("INSERT INTO plain VALUES (1, -1)")
    db = Db(Target.from_url(pg_url, "shop"))
    try:
        assert move(db, suite(RANGE).checks[0]).moved == 1
        assert move(db, suite(RANGE.replace("items", "plain")).checks[0]).moved == 1

        sums = pg_conn.execute(
            "SELECT length(guardian_checksum) FROM guardian_quarantine.public__items "
            "UNION ALL SELECT length(guardian_checksum) "
            "FROM guardian_quarantine.public__plain"
        ).fetchall()
        assert sums == [(32,), (16,)]
    finally:
        db.dispose()
