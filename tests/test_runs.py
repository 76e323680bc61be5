"""runs.run_suites: a run from start to end, recorded and logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from guardian.checks.results import CheckResult
from guardian.checks.suite import Suite, load_suite_text
from guardian.errors import TargetError
from guardian.runs import run_suites
from guardian.state.store import StateStore
from guardian.targets import Target

SUITE = """
suite: orders
checks:
  - name: email_present
    table: orders
    kind: not_null
    columns: email
  - name: id_unique
    table: orders
    kind: unique
    columns: id
"""


def _fill(url: str) -> None:
    engine = sa.create_engine(Target.from_url(url).url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("create table orders (id integer primary key, email text)")
        )
        conn.execute(
            sa.text(
                "insert into orders values (1, 'a@example.com'), (2, null), (3, null)"
            )
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, sqlite_path: Path) -> Target:
    """A target with an orders table in which two rows lack an email."""
    if request.param == "sqlite":
        url = f"sqlite:///{sqlite_path}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    _fill(url)
    return Target.from_url(url, "shop")


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.ensure_ready()
    return store


@pytest.fixture
def suite() -> Suite:
    return load_suite_text(SUITE, "orders.yml")


def test_run_is_recorded_end_to_end(
    target: Target, store: StateStore, suite: Suite, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[CheckResult] = []
    caplog.set_level(logging.INFO, logger="guardian.runs")

    report = run_suites(
        target,
        [suite],
        store=store,
        job="nightly",
        trigger="schedule",
        on_result=seen.append,
    )

    assert report.verdict == "fail"
    assert report.run_id is not None
    assert report.job == "nightly"
    assert report.started_at.tzinfo is not None
    assert report.finished_at is not None
    assert report.finished_at >= report.started_at
    assert sorted(r.name for r in seen) == ["email_present", "id_unique"]

    stored = store.get_run(report.run_id)
    assert stored is not None
    assert stored.verdict == "fail"
    assert [(r.name, r.status, r.violations) for r in stored.results] == [
        ("email_present", "fail", 2),
        ("id_unique", "pass", 0),
    ]
    assert stored.results[0].sample_keys == [{"id": 2}, {"id": 3}]
    [summary] = store.recent_runs()
    assert (summary.job, summary.trigger, summary.status) == (
        "nightly",
        "schedule",
        "finished",
    )
    assert summary.counts == {"pass": 1, "warn": 0, "fail": 1, "error": 0}

    messages = [r.getMessage() for r in caplog.records]
    assert (
        f"run {report.run_id} started: job nightly, target shop, suites orders"
        in messages
    )
    assert any(
        m.startswith(f"run {report.run_id} finished: fail (1 failed of 2 checks) in ")
        for m in messages
    )


def test_only_limits_the_run(target: Target, store: StateStore, suite: Suite) -> None:
    report = run_suites(target, [suite], store=store, only={("orders", "id_unique")})

    assert [r.name for r in report.results] == ["id_unique"]
    assert report.verdict == "pass"
    assert report.run_id is not None
    stored = store.get_run(report.run_id)
    assert stored is not None
    assert [r.name for r in stored.results] == ["id_unique"]


def test_run_without_a_store_is_not_recorded(target: Target, suite: Suite) -> None:
    report = run_suites(target, [suite], store=None)

    assert report.run_id is None
    assert report.verdict == "fail"


def test_unreachable_target_is_recorded_as_a_failed_run_and_raised(
    store: StateStore, suite: Suite, caplog: pytest.LogCaptureFixture
) -> None:
    target = Target.from_url("postgresql://guard:s3cret@127.0.0.1:9/shop", "shop")

    with pytest.raises(TargetError) as caught:
        run_suites(target, [suite], store=store)

    [summary] = store.recent_runs()
    assert summary.verdict == "error"
    assert summary.status == "finished"
    assert summary.error == caught.value.message
    assert summary.error.startswith("cannot connect to target shop at 127.0.0.1:9")
    assert "s3cret" not in summary.error
    assert f"run {summary.id} could not run: {summary.error}" in caplog.messages
