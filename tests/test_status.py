"""`guardian status`: jobs and ad-hoc runs as text and JSON."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guardian.checks.results import CheckResult, RunReport
from guardian.cli import _register, cli
from guardian.config import load_config
from guardian.state.store import StateStore
from guardian.targets import Target


@pytest.fixture(params=["sqlite", "postgresql"])
def config_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A configuration with two jobs on target shop, its store not yet created."""
    if request.param == "sqlite":
        state_url = "sqlite:///state/guardian.db"
    else:
        state_url = str(request.getfixturevalue("pg_url"))
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
                suites: [checks/orders.yml]
                cron: "0 3 * * *"
              hourly:
                target: shop
                suites: [checks/orders.yml]
                every: 1h
            """
        )
    )
    return path


def _invoke(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})


def _record(store: StateStore, job: str | None, status: str) -> int:
    target = Target.from_url("postgresql://guard:s3cret@db.example/shop", "shop")
    run_id = store.start_run(target=target, suites=["orders"], job=job, trigger="cli")
    result = CheckResult(
        suite="orders",
        name="email_present",
        kind="not_null",
        table="orders",
        severity="error",
        status=status,  # type: ignore[arg-type]
        violations=0 if status == "pass" else 3,
        sample_keys=[] if status == "pass" else [{"id": 1}],
    )
    started = dt.datetime.now(dt.UTC)
    report = RunReport(
        target="shop",
        suites=["orders"],
        started_at=started,
        finished_at=started + dt.timedelta(seconds=1),
        results=[result],
        job=job,
    )
    store.finish_run(run_id, report)
    return run_id


@pytest.fixture
def recorded(config_path: Path) -> dict[str, int]:
    """Runs in the store: nightly passed then failed twice; one ad-hoc run."""
    store = StateStore(load_config(config_path).state_url)
    store.ensure_ready()
    _record(store, "nightly", "pass")
    _record(store, "nightly", "fail")
    last = _record(store, "nightly", "fail")
    adhoc = _record(store, None, "pass")
    store.dispose()
    return {"nightly": last, "adhoc": adhoc}


def test_status_as_json(config_path: Path, recorded: dict[str, int]) -> None:
    result = _invoke("-c", str(config_path), "status", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"state_store", "jobs", "recent_runs"}
    nightly, hourly = data["jobs"]
    assert nightly["name"] == "nightly"
    assert nightly["target"] == "shop"
    assert nightly["suites"] == ["checks/orders.yml"]
    assert nightly["schedule"] == "cron 0 3 * * *"
    assert nightly["failures_since_success"] == 2
    assert nightly["last_run"]["id"] == recorded["nightly"]
    assert nightly["last_run"]["verdict"] == "fail"
    assert set(nightly["last_run"]) == {
        "id",
        "status",
        "verdict",
        "started_at",
        "finished_at",
    }
    assert dt.datetime.fromisoformat(nightly["next_run_at"]).hour == 3
    assert hourly["last_run"] is None
    assert hourly["schedule"] == "every 1h"
    assert hourly["failures_since_success"] == 0
    [adhoc] = data["recent_runs"]
    assert adhoc["id"] == recorded["adhoc"]
    assert adhoc["job"] is None
    assert adhoc["verdict"] == "pass"
    assert adhoc["target_url"] == "postgresql+psycopg://guard:***@db.example/shop"
    assert "s3cret" not in result.output


def test_status_as_text(config_path: Path, recorded: dict[str, int]) -> None:
    result = _invoke("-c", str(config_path), "status")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [nightly] = [line for line in lines if "nightly" in line]
    assert f"#{recorded['nightly']} fail" in nightly
    assert "cron 0 3 * * *" in nightly
    assert nightly.rstrip(" │").endswith("2")
    [hourly] = [line for line in lines if "hourly" in line]
    assert "never" in hourly
    assert "Ad-hoc runs" in result.stdout
    assert f"#{recorded['adhoc']} pass" in result.stdout


def test_status_of_a_fresh_store_lists_jobs_that_never_ran(config_path: Path) -> None:
    result = _invoke("-c", str(config_path), "status", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [job["last_run"] for job in data["jobs"]] == [None, None]
    assert all(job["next_run_at"] for job in data["jobs"])
    assert data["recent_runs"] == []
    assert data["state_store"]["exists"] is False
    assert "no state store at" in result.stderr
    # Asking is not writing: the store is still not there.
    assert not StateStore(load_config(config_path).state_url).exists()
    assert not (config_path.parent / "state").exists()


def test_status_never_creates_a_store_where_state_url_points(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "state.db"
    _register()
    result = CliRunner().invoke(
        cli, ["status"], env={"GUARDIAN_STATE__URL": f"sqlite:///{missing}"}
    )
    assert result.exit_code == 0, result.output
    assert f"no state store at sqlite:///{missing} yet" in result.stderr
    assert not (tmp_path / "no").exists()


def test_status_exits_3_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "guardian.yml"
    path.write_text("state:\n  url: postgresql://guard:s3cret@127.0.0.1:9/state\n")

    result = _invoke("-c", str(path), "status")

    assert result.exit_code == 3
    assert (
        "error: cannot read the state store at "
        "postgresql+psycopg://guard:***@127.0.0.1:9/state" in result.output
    )
    assert "s3cret" not in result.output
