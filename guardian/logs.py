"""Logging setup from the configuration: level, text or JSON lines, a file.

Modules log through ``logging.getLogger(__name__)``; only this module decides
where the lines go and how they look.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from guardian.config import LoggingConfig
from guardian.errors import ConfigError

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Libraries whose lines repeat what guardian already says in its own (a run
# skipped because the previous one is still going, a migration applied).
_CHATTY = ("apscheduler", "alembic")

# Handlers installed by setup_logging, removed again when it is called twice.
_installed: list[logging.Handler] = []


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def setup_logging(
    settings: LoggingConfig,
    *,
    base_dir: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send log lines to standard error (or ``stream``) and the configured file.

    A relative ``file`` is relative to ``base_dir`` (the configuration's
    folder). Calling this again replaces what an earlier call installed.
    """
    reset_logging()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if settings.file:
        handlers.append(_file_handler(settings.file, base_dir))
    _install(handlers, settings)


def setup_cli_logging(
    settings: LoggingConfig, *, base_dir: Path | None = None, debug: bool = False
) -> None:
    """Logging for one-off commands, whose output already says what happened.

    ``--debug`` shows every line on standard error. Otherwise lines go only to
    the configured file, if any: on the terminal they would repeat the report.
    """
    if debug:
        setup_logging(LoggingConfig(level="DEBUG"), base_dir=base_dir)
        return
    reset_logging()
    guardian_logger = logging.getLogger("guardian")
    if not any(isinstance(h, logging.NullHandler) for h in guardian_logger.handlers):
        # Without a handler, Python would print warnings on standard error.
        guardian_logger.addHandler(logging.NullHandler())
    if settings.file:
        _install([_file_handler(settings.file, base_dir)], settings)


def _install(handlers: list[logging.Handler], settings: LoggingConfig) -> None:
    root = logging.getLogger()
    formatter = _formatter(settings.format)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
        _installed.append(handler)
    root.setLevel(settings.level)
    quiet = logging.DEBUG if settings.level == "DEBUG" else logging.ERROR
    for name in _CHATTY:
        logging.getLogger(name).setLevel(quiet)


def reset_logging() -> None:
    """Remove and close the handlers that :func:`setup_logging` installed."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()


def _formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def _file_handler(file: str, base_dir: Path | None) -> logging.Handler:
    path = Path(file).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the log file {path}: {exc.strerror or exc}",
            hint="fix logging.file in the configuration, or remove it",
        ) from None
