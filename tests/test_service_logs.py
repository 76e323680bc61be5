"""Logging setup from the configuration: text or JSON lines, a file, the level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardian.config import LoggingConfig
from guardian.errors import ConfigError
from guardian.logs import reset_logging, setup_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    reset_logging()
    root.setLevel(level)
    for name in ("apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_lines_go_to_the_stream_and_a_relative_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    settings = LoggingConfig(level="INFO", format="json", file="logs/guardian.log")

    setup_logging(settings, base_dir=tmp_path, stream=stream)
    logging.getLogger("guardian.runs").info("run %s started", 12)
    logging.getLogger("guardian.runs").debug("not at this level")

    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "INFO"
    assert record["logger"] == "guardian.runs"
    assert record["message"] == "run 12 started"
    assert record["time"].endswith("+00:00")
    written = (tmp_path / "logs" / "guardian.log").read_text().splitlines()
    assert [json.loads(x)["message"] for x in written] == ["run 12 started"]


def test_text_lines_and_a_second_setup_replaces_the_first() -> None:
    first, second = io.StringIO(), io.StringIO()

    setup_logging(LoggingConfig(level="INFO"), stream=first)
    setup_logging(LoggingConfig(level="WARNING"), stream=second)
    logging.getLogger("guardian.service").warning("job %s skipped a run", "slow")
    logging.getLogger("guardian.service").info("quiet at WARNING")

    assert first.getvalue() == ""
    [line] = second.getvalue().splitlines()
    assert line.endswith(" WARNING guardian.service: job slow skipped a run")


def test_an_unwritable_log_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    settings = LoggingConfig(file="taken/guardian.log")

    with pytest.raises(ConfigError) as caught:
        setup_logging(settings, base_dir=tmp_path, stream=io.StringIO())

    assert caught.value.message.startswith(
        f"cannot write the log file {tmp_path / 'taken' / 'guardian.log'}: "
    )
