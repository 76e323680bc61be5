"""Shared fixtures: a real PostgreSQL server, fresh databases, SQLite files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.pgserver import ensure_server


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """libpq URL of the ``postgres`` database of a running server."""
    return ensure_server()


def _with_database(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A libpq URL of a new, empty database, dropped after the test."""
    name = f"gtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(pg_server_url, name)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@pytest.fixture
def pg_conn(pg_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit psycopg connection to the test's own database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """Path for a new SQLite database file in the test's folder."""
    return tmp_path / "target.db"
