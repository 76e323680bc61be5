"""The state store on SQLite and PostgreSQL: schema, runs, revisions, jobs."""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from guardian.checks.results import CheckResult, RunReport
from guardian.config import load_config
from guardian.errors import ExitCode, StateError
from guardian.state.migrate import VERSION_TABLE, include_name, scripts_location
from guardian.state.models import Base
from guardian.state.store import StateStore
from guardian.targets import Target


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a store that does not exist yet: a SQLite file or an empty db."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(state_url: str) -> StateStore:
    store = StateStore(state_url)
    store.ensure_ready()
    return store


def _target() -> Target:
    return Target.from_url("postgresql://guard:s3cret@db.example:5432/shop", "shop")


def _report(results: list[CheckResult]) -> RunReport:
    started = dt.datetime(2024, 5, 1, 3, 0, tzinfo=dt.UTC)
    return RunReport(
        target="shop",
        suites=["orders"],
        started_at=started,
        finished_at=started + dt.timedelta(seconds=2),
        results=results,
        job="nightly",
    )


def _failing() -> CheckResult:
    return CheckResult(
        suite="orders",
        name="amount_positive",
        kind="range",
        table="public.orders",
        severity="error",
        status="fail",
        violations=2,
        sample_keys=[
            {"id": 7, "day": dt.date(2024, 4, 30)},
            {"id": 9, "day": dt.date(2024, 4, 30)},
        ],
        duration_ms=12.5,
        observed={"min": decimal.Decimal("-1.50")},
        note="sampled",
    )


def _passing() -> CheckResult:
    return CheckResult(
        suite="orders",
        name="rows",
        kind="row_count",
        table="public.orders",
        severity="warn",
        status="pass",
        violations=0,
    )


def _diff(store: StateStore) -> list[object]:
    engine = sa.create_engine(store.url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": include_name,
                "version_table": VERSION_TABLE,
            },
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return list(diff)


def test_fresh_store_is_created_by_migrations_matching_the_models(
    state_url: str,
) -> None:
    store = StateStore(state_url)
    assert store.current_revision() is None

    store.ensure_ready()

    assert store.current_revision() == store.migrations.head()
    assert _diff(store) == []
    tables = set(sa.inspect(sa.create_engine(store.url)).get_table_names())
    assert {
        "guardian_runs",
        "guardian_check_results",
        "guardian_violation_samples",
        "guardian_jobs",
        VERSION_TABLE,
    } <= tables


def test_finished_run_keeps_results_samples_and_masked_url(store: StateStore) -> None:
    run_id = store.start_run(
        target=_target(), suites=["orders"], job="nightly", trigger="schedule"
    )
    store.finish_run(run_id, _report([_failing(), _passing()]))

    report = store.get_run(run_id)
    assert report is not None
    assert report.verdict == "fail"
    assert report.counts() == {"pass": 1, "warn": 0, "fail": 1, "error": 0}
    assert report.finished_at == dt.datetime(2024, 5, 1, 3, 0, 2, tzinfo=dt.UTC)
    failed = report.results[0]
    assert failed.name == "amount_positive"
    assert failed.violations == 2
    assert failed.sample_keys == [
        {"id": 7, "day": "2024-04-30"},
        {"id": 9, "day": "2024-04-30"},
    ]
    assert failed.observed == {"min": "-1.50"}
    assert failed.note == "sampled"
    assert failed.duration_ms == 12.5

    [summary] = store.recent_runs(job="nightly")
    assert summary.target_url == "postgresql+psycopg://guard:***@db.example:5432/shop"
    assert "s3cret" not in str(summary.to_json())
    assert summary.status == "finished"
    assert summary.trigger == "schedule"
    assert summary.started_at.tzinfo is not None


def test_failed_run_has_verdict_error_and_the_reason(store: StateStore) -> None:
    run_id = store.start_run(
        target=_target(), suites=["orders"], job=None, trigger="cli"
    )

    store.fail_run(run_id, "cannot connect to target shop at db.example:5432")

    report = store.get_run(run_id)
    assert report is not None
    assert report.verdict == "error"
    assert report.error == "cannot connect to target shop at db.example:5432"
    assert report.results == []
    [summary] = store.recent_runs()
    assert (summary.status, summary.verdict) == ("finished", "error")
    assert store.get_run(run_id + 1000) is None


def _scripts_with_second_revision(tmp_path: Path) -> Path:
    """A copy of the shipped scripts plus a revision 0099 on top of the head."""
    folder = tmp_path / "scripts"
    shutil.copytree(scripts_location(), folder)
    head = StateStore("sqlite://").migrations.head()
    (folder / "versions" / "0099_extra.py").write_text(
        textwrap.dedent(
            f"""
            import sqlalchemy as sa
            from alembic import op

            revision = "0099"
            down_revision = {head!r}
            branch_labels = None
            depends_on = None


            def upgrade():
                op.create_table("guardian_extra", sa.Column("id", sa.Integer))


            def downgrade():
                op.drop_table("guardian_extra")
            """
        )
    )
    return folder


def test_store_behind_head_needs_an_explicit_upgrade(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    newer = StateStore(state_url, migrations=_scripts_with_second_revision(tmp_path))
    head = store.migrations.head()

    with pytest.raises(StateError) as caught:
        newer.ensure_ready()

    assert caught.value.exit_code == ExitCode.CANNOT_RUN
    assert caught.value.message == (
        f"state store at {store.display_url} is at revision {head}, "
        "guardian needs 0099: run `guardian db upgrade`"
    )
    assert newer.current_revision() == head

    newer.ensure_ready(upgrade=True)
    assert newer.current_revision() == "0099"


def test_store_ahead_of_this_guardian_is_refused_even_with_upgrade(
    state_url: str, tmp_path: Path
) -> None:
    newer = StateStore(state_url, migrations=_scripts_with_second_revision(tmp_path))
    newer.ensure_ready()
    store = StateStore(state_url)

    with pytest.raises(StateError) as caught:
        store.ensure_ready(upgrade=True)

    assert caught.value.message == (
        f"state store at {store.display_url} is at revision 0099, newer than "
        f"this guardian knows (it needs {store.migrations.head()})"
    )
    assert store.current_revision() == "0099"


def test_unreachable_store_is_a_state_error_without_the_password() -> None:
    store = StateStore("postgresql://guard:s3cret@127.0.0.1:9/state")

    with pytest.raises(StateError) as caught:
        store.ensure_ready()

    message = str(caught.value)
    assert caught.value.exit_code == ExitCode.CANNOT_RUN
    assert message.startswith(
        "cannot read the state store at "
        "postgresql+psycopg://guard:***@127.0.0.1:9/state: "
    )
    assert "s3cret" not in message


def test_runs_of_a_dead_process_are_marked_crashed(store: StateStore) -> None:
    script = (
        "import sys\n"
        "from guardian.state.store import StateStore\n"
        "from guardian.targets import Target\n"
        "store = StateStore(sys.argv[1])\n"
        "target = Target.from_url('sqlite:///shop.db')\n"
        "store.start_run(target=target, suites=['s'], job='nightly', trigger='cli')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, store.url.render_as_string(False)], check=True
    )
    mine = store.start_run(target=_target(), suites=["s"], job=None, trigger="cli")

    crashed = store.mark_crashed_runs()

    runs = {run.id: run for run in store.recent_runs()}
    assert crashed == [run_id for run_id in runs if run_id != mine]
    [dead] = crashed
    assert runs[dead].status == "crashed"
    assert runs[dead].finished_at is not None
    assert "ended during the run" in (runs[dead].error or "")
    assert runs[mine].status == "running"


def _config(tmp_path: Path, state_url: str) -> Path:
    path = tmp_path / "guardian.yml"
    path.write_text(
        textwrap.dedent(
            f"""
            targets:
              shop:
                url: postgresql://guard:s3cret@db.example/shop
            state:
              url: {state_url}
            jobs:
              nightly:
                target: shop
                suites: [orders.yml]
                cron: "0 3 * * *"
              quick:
                target: shop
                suites: [orders.yml]
                every: 10m
            """
        )
    )
    return path


def _finish(store: StateStore, job: str | None, status: str) -> int:
    run_id = store.start_run(
        target=_target(), suites=["orders"], job=job, trigger="cli"
    )
    if status == "error":
        store.fail_run(run_id, "target down")
        return run_id
    result = _passing() if status == "pass" else _failing()
    store.finish_run(run_id, _report([result]))
    return run_id


def test_job_statuses_show_last_run_next_run_and_failure_streak(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    config = load_config(_config(tmp_path, state_url))
    _finish(store, "nightly", "fail")
    _finish(store, "nightly", "pass")
    _finish(store, "nightly", "fail")
    last = _finish(store, "nightly", "error")
    adhoc = _finish(store, None, "pass")
    saved_next = dt.datetime(2030, 1, 1, 3, 0, tzinfo=dt.UTC)
    store.save_job(
        "nightly",
        target="shop",
        suites=["orders.yml"],
        schedule="cron 0 3 * * *",
        next_run_at=saved_next,
    )

    statuses = {s.name: s for s in store.job_statuses(config)}

    nightly = statuses["nightly"]
    assert nightly.last_run is not None
    assert (nightly.last_run.id, nightly.last_run.verdict) == (last, "error")
    assert nightly.failures_since_success == 2
    assert nightly.next_run_at == saved_next
    assert nightly.schedule == "cron 0 3 * * *"
    quick = statuses["quick"]
    assert quick.last_run is None
    assert quick.failures_since_success == 0
    assert quick.schedule == "every 10m"
    assert quick.next_run_at is not None
    assert quick.next_run_at > dt.datetime.now(dt.UTC)
    adhoc_status = statuses[None]
    assert adhoc_status.target == "shop"
    assert adhoc_status.last_run is not None
    assert adhoc_status.last_run.id == adhoc


def test_a_saved_next_run_in_the_past_gives_way_to_the_schedule(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    config = load_config(_config(tmp_path, state_url))
    past = dt.datetime(2020, 1, 1, 3, 0, tzinfo=dt.UTC)
    store.save_job(
        "nightly",
        target="shop",
        suites=["orders.yml"],
        schedule="cron 0 3 * * *",
        next_run_at=past,
    )

    nightly = {s.name: s for s in store.job_statuses(config)}["nightly"]

    assert nightly.next_run_at is not None
    assert nightly.next_run_at > dt.datetime.now(dt.UTC)
    assert (nightly.next_run_at.hour, nightly.next_run_at.minute) == (3, 0)


def test_upgrade_leaves_a_store_of_a_newer_guardian_alone(
    state_url: str, tmp_path: Path
) -> None:
    StateStore(state_url, migrations=_scripts_with_second_revision(tmp_path)).upgrade()
    store = StateStore(state_url)

    with pytest.raises(StateError) as caught:
        store.upgrade()

    assert "is at revision 0099, newer than this guardian knows" in caught.value.message
    assert store.current_revision() == "0099"


def test_a_store_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    store = StateStore(f"sqlite:///{blocker}/state.db")
    with pytest.raises(StateError) as info:
        store.ensure_ready()
    assert "cannot create the state store at sqlite:///" in str(info.value)
    assert info.value.exit_code == 3
    assert blocker.read_text() == "not a folder"
