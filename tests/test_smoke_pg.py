"""The test PostgreSQL server is reachable and databases are isolated."""

import psycopg


def test_fresh_database_is_empty(pg_conn: psycopg.Connection) -> None:
    rows = pg_conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'public'"
    ).fetchone()
    assert rows == (0,)
