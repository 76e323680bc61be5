"""Several services on one state store: one leads and runs jobs, the rest wait."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from guardian.config import load_config
from guardian.service.scheduler import Service
from guardian.state.store import StateStore
from tests.test_service import _finished, _make_target, _wait_for, _write_config


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///state/guardian.db"
    return str(request.getfixturevalue("pg_url"))


def _config_path(folder: Path, state_url: str) -> Path:
    _make_target(folder / "shop.db")
    path = _write_config(
        folder,
        "shop:\n  url: sqlite:///shop.db",
        "quick:\n  target: shop\n  suites: [suites/orders.yml]\n  every: 1s",
    )
    text = path.read_text().replace("sqlite:///state/guardian.db", state_url)
    path.write_text(text)
    return path


def test_only_the_leader_runs_jobs_and_another_takes_over(
    tmp_path: Path, state_url: str
) -> None:
    config = load_config(_config_path(tmp_path, state_url))
    store = StateStore(config.state_url)
    store.ensure_ready(upgrade=True)
    first = Service(config, StateStore(config.state_url))
    second = Service(config, StateStore(config.state_url))

    first.start()
    second.start()
    try:
        assert first.leading
        assert not second.leading
        _wait_for(lambda: len(_finished(store, "quick")) >= 2, "two runs")
        second.check_leadership()
        assert not second.leading
        # Runs of one job never overlap, so two services are not both running it.
        runs = _finished(store, "quick")
        for earlier, later in itertools.pairwise(runs):
            assert earlier.finished_at is not None
            assert later.started_at >= earlier.finished_at

        first.stop()
        before = len(_finished(store, "quick"))
        second.check_leadership()
        assert second.leading
        _wait_for(
            lambda: len(_finished(store, "quick")) > before, "a run by the new leader"
        )
    finally:
        first.stop()
        second.stop()
    assert not any(r.status == "running" for r in store.recent_runs(limit=100))
    store.dispose()
