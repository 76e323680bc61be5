"""Loading guardian.yml: defaults, ${VAR} expansion, overrides and exact errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from guardian.config import default_config, find_config, load_config
from guardian.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
targets:
  shop:
    url: sqlite:///shop.db
    statement_timeout: 30s
    max_parallel: 2
state:
  url: sqlite:///state/guardian.db
suites: [checks, more/extra.yml]
jobs:
  nightly:
    target: shop
    suites: [checks]
    cron: "0 3 * * *"
  often:
    target: shop
    suites: [checks]
    every: 10m
    timezone: Europe/Paris
"""


def test_a_valid_file_loads_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "guardian.yml", GOOD), environ={})

    assert config.base_dir == tmp_path.resolve()
    assert config.state_url == f"sqlite:///{tmp_path.resolve()}/state/guardian.db"
    assert config.resolve("more/extra.yml") == tmp_path.resolve() / "more/extra.yml"
    target = config.target("shop")
    assert target.url.database == str(tmp_path.resolve() / "shop.db")
    assert target.options.statement_timeout == timedelta(seconds=30)
    assert target.options.max_parallel == 2
    assert sorted(config.model.jobs) == ["nightly", "often"]


def test_defaults_without_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)

    assert find_config(None) is None
    config = default_config()
    assert config.model.targets == {}
    assert config.model.suites == ["checks"]
    assert config.state_url == f"sqlite:///{tmp_path.resolve()}/.guardian/state.db"


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "guardian.yml", ""), environ={})

    assert config.model.targets == {}
    assert config.model.jobs == {}


def test_env_references_are_expanded_with_defaults(tmp_path: Path) -> None:
    text = "targets:\n  db:\n    url: ${DB_URL}\n    timezone: ${TZ_NAME:-UTC}\n"
    environ = {"DB_URL": "postgresql://app@db.internal:5433/shop"}

    config = load_config(write(tmp_path / "g.yml", text), environ=environ)

    target = config.target("db")
    assert target.url.host == "db.internal"
    assert target.url.port == 5433
    assert target.options.timezone == "UTC"


def test_an_unset_variable_names_its_line(tmp_path: Path) -> None:
    text = "targets:\n  db:\n    url: ${DB_URL}\n"

    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "g.yml", text), environ={})

    assert caught.value.location == f"{tmp_path / 'g.yml'}:3"
    assert "environment variable DB_URL is not set" in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE


def test_state_url_override_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "guardian.yml", GOOD)
    environ = {"GUARDIAN_STATE__URL": "postgresql://guardian@state.internal/guardian"}

    config = load_config(path, environ=environ)

    assert config.state_url == "postgresql://guardian@state.internal/guardian"


def test_target_option_override_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "guardian.yml", GOOD)
    environ = {"GUARDIAN_TARGETS__SHOP__MAX_PARALLEL": "7"}

    config = load_config(path, environ=environ)

    assert config.target("shop").options.max_parallel == 7
    assert config.target("shop").options.statement_timeout == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("targets: {}\ncolour: blue\n", 2, "colour: is not a known setting"),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\n    statment_timeout: 5s\n",
            4,
            "targets.db.statment_timeout: is not a known setting",
        ),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\n    lock_timeout: 5 parsecs\n",
            4,
            "'5 parsecs' is not a duration",
        ),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\njobs:\n  j:\n    target: db\n"
            "    suites: [checks]\n    cron: '61 * * * *'\n",
            8,
            "jobs.j.cron: invalid cron expression '61 * * * *'",
        ),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\njobs:\n  j:\n    target: db\n"
            "    suites: [checks]\n    every: soon\n",
            8,
            "jobs.j.every: 'soon' is not a duration",
        ),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\njobs:\n  j:\n    target: db\n"
            "    suites: [checks]\n    every: 1h\n    timezone: Mars/Olympus\n",
            9,
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\njobs:\n  j:\n    target: db\n"
            "    suites: [checks]\n",
            5,
            "a job needs exactly one of cron or every",
        ),
        (
            "targets:\n  db:\n    url: sqlite:///x.db\njobs:\n  j:\n    target: dbb\n"
            "    suites: [checks]\n    every: 1h\n",
            6,
            "job 'j' names target 'dbb', which is not defined (known: db)",
        ),
        ("targets:\n  db:\n    url: mysql://h/db\n", 3, "unsupported database"),
        ("targets:\n  - db\n", 1, "targets: Input should be a valid dictionary"),
        ("- a\n- b\n", 1, "a configuration file is a mapping of settings"),
        ("targets:\n  db: {url: x\n", 3, "malformed YAML"),
        ("state:\n  url: a\nstate:\n  url: b\n", 3, "duplicate key 'state'"),
    ],
)
def test_a_bad_setting_is_named_with_its_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path / "guardian.yml", text)

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert f"{path}:{line}" in str(caught.value)
    assert words in str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    text = "targets:\n  db:\n    url: sqlite:///x.db\n    max_parallel: 0\ncolour: 1\n"
    path = write(tmp_path / "guardian.yml", text)

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    message = str(caught.value)
    assert message.startswith(f"2 problems in {path}")
    assert f"{path}:4: targets.db.max_parallel" in message
    assert f"{path}:5: colour: is not a known setting" in message


def test_a_password_in_a_bad_url_is_never_shown(tmp_path: Path) -> None:
    text = "targets:\n  db:\n    url: oracle://u:s3cret@db.internal/x\n"
    path = write(tmp_path / "guardian.yml", text)

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_an_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "guardian.yml", GOOD), environ={})

    with pytest.raises(ConfigError) as caught:
        config.target("warehouse")

    assert "no target named 'warehouse' (known: shop)" in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yml", environ={})

    assert f"file not found: {tmp_path / 'nope.yml'}" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GUARDIAN_TARGETS__SHOP__MAX_PARALLEL", "0", "greater than or equal to 1"),
        ("GUARDIAN_TARGETS__SHOP__MAX_PARALEL", "3", "is not a known setting"),
    ],
)
def test_a_bad_override_names_its_variable_not_the_file(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    path = tmp_path / "guardian.yml"
    path.write_text("targets:\n  shop:\n    url: sqlite:///x.db\n    max_parallel: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {variable: value})
    text = str(info.value)
    assert text.startswith(f"environment variable {variable}: targets.shop.")
    assert message in text
    assert "guardian.yml" not in text


def test_an_unknown_target_that_looks_like_a_url_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "guardian.yml"
    path.write_text("targets:\n  shop:\n    url: sqlite:///x.db\n")
    config = load_config(path, {})
    with pytest.raises(ConfigError) as info:
        config.target("app:s3cret@db.internal/shop")
    assert "s3cret" not in str(info.value)
    assert "postgresql://" in str(info.value)


def test_top_level_and_list_overrides(tmp_path: Path) -> None:
    path = tmp_path / "guardian.yml"
    path.write_text("targets:\n  Shop:\n    url: sqlite:///x.db\nsuites: [a.yml]\n")
    config = load_config(
        path,
        {
            "GUARDIAN_SUITES": "fr.yml, de.yml",
            "GUARDIAN_TARGETS__SHOP__MAX_PARALLEL": "3",
            "GUARDIAN_LOGGING__LEVEL": "debug",
            "GUARDIAN_QUARANTINE__READ_ROLES": "[analyst, auditor]",
            "GUARDIAN_CONFIG": "ignored.yml",
        },
    )
    assert config.model.suites == ["fr.yml", "de.yml"]
    assert config.target("Shop").options.max_parallel == 3
    assert config.model.logging.level == "DEBUG"
    assert list(config.model.quarantine.read_roles) == ["analyst", "auditor"]


def test_a_job_without_suites_runs_the_top_level_ones(tmp_path: Path) -> None:
    path = tmp_path / "guardian.yml"
    path.write_text(
        "targets:\n  shop:\n    url: sqlite:///x.db\n"
        "suites: [checks/shop.yml]\n"
        "jobs:\n  nightly:\n    target: shop\n    cron: '0 3 * * *'\n"
    )
    config = load_config(path, {})
    assert config.model.jobs["nightly"].suites == ["checks/shop.yml"]
