"""The scheduled service, run in-process and as a `guardian serve` process."""

from __future__ import annotations

import itertools
import logging
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from guardian.cli import _register, cli
from guardian.config import Config, load_config
from guardian.errors import ConfigError
from guardian.service.scheduler import Service
from guardian.state.records import RunSummary
from guardian.state.store import StateStore

GOOD_SUITE = """
suite: orders
checks:
  - name: email_present
    table: orders
    kind: not_null
    columns: email
"""

SLOW_SUITE = """
suite: slow
checks:
  - name: sleepy
    kind: sql
    query: select 1 as id from pg_sleep(1.5) where random() < 0
"""


def _make_target(path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            sa.text("create table orders (id integer primary key, email text)")
        )
        conn.execute(sa.text("insert into orders values (1, 'a@example.com')"))
    engine.dispose()


def _write_config(folder: Path, targets: str, jobs: str) -> Path:
    (folder / "suites").mkdir(exist_ok=True)
    (folder / "suites" / "orders.yml").write_text(GOOD_SUITE)
    (folder / "suites" / "broken.yml").write_text("suite: broken\nchecks: 12\n")
    (folder / "suites" / "slow.yml").write_text(SLOW_SUITE)
    path = folder / "guardian.yml"
    text = "targets:\n{}\nstate:\n  url: sqlite:///state/guardian.db\njobs:\n{}\n"
    path.write_text(
        text.format(textwrap.indent(targets, "  "), textwrap.indent(jobs, "  "))
    )
    return path


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A folder with a SQLite target shop.db whose orders all pass."""
    _make_target(tmp_path / "shop.db")
    return tmp_path


def _store(config: Config) -> StateStore:
    store = StateStore(config.state_url)
    store.ensure_ready(upgrade=True)
    return store


@contextmanager
def _running(config: Config, store: StateStore) -> Iterator[Service]:
    service = Service(config, store)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _wait_for(condition: Callable[[], bool], what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _finished(store: StateStore, job: str) -> list[RunSummary]:
    runs = store.recent_runs(job=job, limit=100)
    return sorted((r for r in runs if r.status == "finished"), key=lambda r: r.id)


def _has_runs(store: StateStore, job: str, count: int) -> Callable[[], bool]:
    return lambda: len(_finished(store, job)) >= count


def test_a_one_second_job_runs_and_records_its_runs(shop: Path) -> None:
    config = load_config(
        _write_config(
            shop,
            "shop:\n  url: sqlite:///shop.db",
            "quick:\n  target: shop\n  suites: [suites/orders.yml]\n  every: 1s",
        )
    )
    store = _store(config)

    with _running(config, store):
        _wait_for(lambda: len(_finished(store, "quick")) >= 2, "two runs of quick")

    runs = _finished(store, "quick")
    assert {(r.verdict, r.trigger, r.target) for r in runs} == {
        ("pass", "schedule", "shop")
    }
    assert all(r.suites == ["orders"] for r in runs)
    [status] = store.job_statuses(config)
    assert status.schedule == "every 1s"
    assert status.next_run_at is not None
    assert status.next_run_at > runs[0].started_at
    assert status.failures_since_success == 0


@pytest.mark.slow
def test_an_overrunning_job_never_runs_twice_at_once(
    tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(
        _write_config(
            tmp_path,
            f"db:\n  url: {pg_url}",
            "slow:\n  target: db\n  suites: [suites/slow.yml]\n  every: 1s",
        )
    )
    store = _store(config)
    caplog.set_level(logging.WARNING, logger="guardian.service")

    with _running(config, store):
        _wait_for(lambda: len(_finished(store, "slow")) >= 3, "three runs of slow")

    runs = _finished(store, "slow")
    assert all(r.verdict == "pass" for r in runs)
    for before, after in itertools.pairwise(runs):
        assert before.finished_at is not None
        assert after.started_at >= before.finished_at
    last_end = runs[-1].finished_at
    assert last_end is not None
    # Each run sleeps 1.5s, so no more runs fit than that allows.
    span = (last_end - runs[0].started_at).total_seconds()
    assert len(runs) <= span / 1.5 + 1
    assert "job slow skipped a run: its previous run is still going" in caplog.messages


def test_a_failing_job_does_not_stop_the_others(shop: Path) -> None:
    jobs = """
    good:
      target: shop
      suites: [suites/orders.yml]
      every: 1s
    broken:
      target: shop
      suites: [suites/broken.yml]
      every: 1s
    gone:
      target: missing
      suites: [suites/orders.yml]
      every: 1s
    """
    targets = "shop:\n  url: sqlite:///shop.db\nmissing:\n  url: sqlite:///missing.db"
    config = load_config(_write_config(shop, targets, textwrap.dedent(jobs)))
    store = _store(config)

    with _running(config, store):
        for job in ("good", "broken", "gone"):
            _wait_for(_has_runs(store, job, 2), f"two runs of {job}")

    assert {r.verdict for r in _finished(store, "good")} == {"pass"}
    broken = _finished(store, "broken")
    assert {r.verdict for r in broken} == {"error"}
    assert "'checks' must be a list of checks" in (broken[0].error or "")
    gone = _finished(store, "gone")
    assert {r.verdict for r in gone} == {"error"}
    assert "no SQLite database at" in (gone[0].error or "")
    statuses = {s.name: s for s in store.job_statuses(config)}
    assert statuses["gone"].failures_since_success >= 2
    assert statuses["good"].failures_since_success == 0


def test_a_configuration_without_jobs_is_refused(shop: Path) -> None:
    path = shop / "guardian.yml"
    path.write_text("targets:\n  shop:\n    url: sqlite:///shop.db\n")
    config = load_config(path)

    with pytest.raises(ConfigError) as caught:
        Service(config, StateStore(config.state_url))
    _register()
    result = CliRunner().invoke(cli, ["-c", str(path), "serve"])

    assert caught.value.message == f"no jobs configured in {path}: add a jobs: section"
    assert result.exit_code == 2
    assert f"no jobs configured in {path}: add a jobs: section" in result.output
    assert not (shop / "state").exists()


def test_sigterm_stops_guardian_serve_cleanly(shop: Path) -> None:
    path = _write_config(
        shop,
        "shop:\n  url: sqlite:///shop.db",
        "quick:\n  target: shop\n  suites: [suites/orders.yml]\n  every: 1s",
    )
    log_path = shop / "serve.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "guardian", "-c", str(path), "serve"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            store = StateStore(load_config(path).state_url)
            _wait_for(
                lambda: (
                    (shop / "state" / "guardian.db").exists()
                    and store.current_revision() is not None
                    and len(_finished(store, "quick")) >= 1
                ),
                "a finished run of the service",
            )
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    output = log_path.read_text()
    assert code == 0, output
    assert "guardian service started with 1 job: quick (every 1s, next " in output
    assert "received SIGTERM" in output
    assert "guardian service stopping" in output
    assert "guardian service stopped" in output
    assert output.index("guardian service stopping") < output.index(
        "guardian service stopped"
    )
    assert "Traceback" not in output
    assert not any(r.status == "running" for r in store.recent_runs(limit=100))


def test_sigterm_during_a_run_waits_for_it_then_stops(shop: Path, pg_url: str) -> None:
    path = _write_config(
        shop,
        f"slow_db:\n  url: {pg_url}",
        "slow:\n  target: slow_db\n  suites: [suites/slow.yml]\n  every: 1s",
    )
    log_path = shop / "serve.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "guardian", "-c", str(path), "serve"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            store = StateStore(load_config(path).state_url)
            _wait_for(
                lambda: (
                    (shop / "state" / "guardian.db").exists()
                    and store.current_revision() is not None
                    and any(
                        r.status == "running"
                        for r in store.recent_runs(job="slow", limit=10)
                    )
                ),
                "a run under way",
            )
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    output = log_path.read_text()
    assert code == 0, output
    assert output.index("guardian service stopping") < output.index(
        "guardian service stopped"
    )
    runs = store.recent_runs(job="slow", limit=100)
    assert runs
    assert all(r.status == "finished" and r.verdict == "pass" for r in runs)
