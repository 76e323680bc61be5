"""Ctrl-C on ``guardian check run``: queries cancelled, run closed, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from guardian.state.store import StateStore

SLOW = """\
suite: slow
checks:
  - name: sleepy
    kind: sql
    query: SELECT 1 AS id FROM pg_sleep(30)
  - name: sleepy_too
    kind: sql
    query: SELECT 2 AS id FROM pg_sleep(30)
"""


def sleeping(conn: psycopg.Connection) -> int:
    """How many queries of the target's database are asleep in pg_sleep."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state = 'active' AND query LIKE '%pg_sleep%'"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_sigint_cancels_the_queries_and_closes_the_run(
    pg_url: str, pg_conn: psycopg.Connection, tmp_path: Path
) -> None:
    suite = tmp_path / "slow.yml"
    suite.write_text(SLOW, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "GUARDIAN_CONFIG"}
    command = ["check", "run", str(suite), "--target", pg_url]
    process = subprocess.Popen(
        [sys.executable, "-m", "guardian", *command],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while sleeping(pg_conn) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sleeping(pg_conn) == 2

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)

    assert process.returncode == 130
    assert "interrupted" in stderr
    assert sleeping(pg_conn) == 0
    store = StateStore(f"sqlite:///{tmp_path / '.guardian' / 'state.db'}")
    try:
        (run,) = store.recent_runs()
    finally:
        store.dispose()
    assert run.status != "running"
    assert (run.verdict, run.error) == ("error", "interrupted")
