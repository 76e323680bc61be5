"""``guardian.yml``: targets, the state store, suites, jobs and logging.

The file is read once, ``${VAR}`` references are expanded, ``GUARDIAN_*``
environment overrides are applied, and the result is validated. Every error
names the file, the line and the key. Relative paths in the file are relative
to the file's folder, so a configuration means the same from any directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from guardian.durations import parse_duration
from guardian.errors import ConfigError
from guardian.quarantine.spec import QuarantineConfig
from guardian.targets import Target, TargetOptions, database_url, mask_url
from guardian.yamlsource import Document, expand_env, load_file, validation_error

CONFIG_ENV = "GUARDIAN_CONFIG"
DEFAULT_CONFIG_NAME = "guardian.yml"
DEFAULT_STATE_URL = "sqlite:///.guardian/state.db"
DEFAULT_SUITES = ("checks",)
ENV_PREFIX = "GUARDIAN_"
ENV_NESTING = "__"


class StateConfig(BaseModel):
    """Where guardian keeps its own records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        default=DEFAULT_STATE_URL,
        description="SQLite file (relative to this file) or PostgreSQL URL.",
    )


class LoggingConfig(BaseModel):
    """How the service and the CLI log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    file: str | None = None

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class TargetConfig(TargetOptions):
    """A target as written in the file: a URL plus the target options."""

    url: str

    @field_validator("url")
    @classmethod
    def _url_parses(cls, value: str) -> str:
        # A ConfigError would escape pydantic and lose the file and line.
        try:
            database_url(value)
        except ConfigError as exc:
            detail = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            raise ValueError(detail) from None
        return value


class JobConfig(BaseModel):
    """A scheduled job: suites to run on a target, on a cron or an interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    suites: list[str] = Field(
        min_length=1,
        description="Suite files or folders; default: the top-level suites.",
    )
    cron: str | None = Field(default=None, description="Five-field cron expression.")
    every: str | None = Field(default=None, description="An interval such as 10m.")
    timezone: str = "UTC"

    # Each field is validated on its own so that an error points at its line.
    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        if value is not None:
            _validate_cron(value, "UTC")
        return value

    @field_validator("every")
    @classmethod
    def _every_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from guardian.checks.spec import validate_timezone

        validate_timezone(value)
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobConfig:
        if (self.cron is None) == (self.every is None):
            raise ValueError("a job needs exactly one of cron or every")
        return self


class GuardianConfig(BaseModel):
    """The whole configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    state: StateConfig = StateConfig()
    suites: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SUITES),
        description="Suite files or folders, relative to this file.",
    )
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    logging: LoggingConfig = LoggingConfig()
    quarantine: QuarantineConfig = QuarantineConfig()

    @model_validator(mode="before")
    @classmethod
    def _job_suites(cls, data: Any) -> Any:
        """A job that names no suites runs the top-level ones."""
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
            return data
        default = data.get("suites", DEFAULT_SUITES)
        jobs = {
            name: {"suites": default, **job} if isinstance(job, dict) else job
            for name, job in data["jobs"].items()
        }
        return {**data, "jobs": jobs}


@dataclass(frozen=True)
class Config:
    """A loaded configuration and the folder its relative paths start from."""

    model: GuardianConfig
    base_dir: Path
    path: Path | None = None

    @property
    def state_url(self) -> str:
        """The state store's URL, with a relative SQLite path made absolute."""
        return resolve_sqlite_path(self.model.state.url, self.base_dir)

    def target(self, name: str) -> Target:
        """The target called ``name``; a ConfigError lists the known ones."""
        spec = self.model.targets.get(name)
        if spec is None:
            known = ", ".join(sorted(self.model.targets)) or "none are configured"
            hint = None
            if "@" in name or "/" in name:
                hint = "a database URL starts with postgresql:// or sqlite:///"
            raise ConfigError(
                f"no target named {mask_url(name)!r} (known: {known})", hint=hint
            )
        options = TargetOptions(**spec.model_dump(exclude={"url"}))
        url = resolve_sqlite_path(spec.url, self.base_dir)
        return Target(name=name, url=database_url(url), options=options)

    def resolve(self, path: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


def default_config(base_dir: Path | None = None) -> Config:
    """The configuration used when there is no file: all defaults."""
    data, origins = _env_overrides({}, os.environ)
    try:
        model = GuardianConfig.model_validate(data)
    except ValidationError as exc:
        empty = Document(source="(no configuration file)", data={})
        raise validation_error(
            empty, exc, "the environment", data=data, origins=origins
        ) from None
    return Config(model=model, base_dir=(base_dir or Path.cwd()).resolve())


def find_config(explicit: str | Path | None) -> Path | None:
    """The file to read: ``explicit``, else $GUARDIAN_CONFIG, else ./guardian.yml."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand, override and validate a configuration file."""
    env = os.environ if environ is None else environ
    if not path.exists():
        raise ConfigError(
            f"configuration file not found: {path}",
            hint="give -c FILE or set GUARDIAN_CONFIG; without either, "
            f"./{DEFAULT_CONFIG_NAME} is read if it exists",
        )
    doc = load_file(path)
    data = expand_env(doc, env)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise doc.error((), "a configuration file is a mapping of settings")
    data, origins = _env_overrides(data, env)
    try:
        model = GuardianConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(
            doc, exc, str(path), data=data, origins=origins
        ) from None
    _check_references(model, doc)
    return Config(model=model, base_dir=path.resolve().parent, path=path)


def _check_references(model: GuardianConfig, doc: Document) -> None:
    for name, job in model.jobs.items():
        if job.target not in model.targets:
            known = ", ".join(sorted(model.targets)) or "none are configured"
            raise doc.error(
                ("jobs", name, "target"),
                f"job {name!r} names target {job.target!r}, which is not defined "
                f"(known: {known})",
            )


def _env_overrides(
    data: dict[str, Any], env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[tuple[str | int, ...], str]]:
    """Apply ``GUARDIAN_A__B__C=value`` as ``data["a"]["b"]["c"] = value``.

    A top-level setting is one part (``GUARDIAN_SUITES``). Parts match keys
    of the file whatever their case, so ``GUARDIAN_TARGETS__SHOP__URL`` sets
    the URL of a target written ``Shop``. A value in brackets or braces is
    read as YAML (``[a.yml, b.yml]``); ``suites`` also takes a comma list.
    Also returns, for each path set this way, the variable that set it, so
    that an error in an overridden value names the variable, not the file.
    """
    result: dict[str, Any] = _deep_copy(data)
    origins: dict[tuple[str | int, ...], str] = {}
    for name, value in sorted(env.items()):
        path = _override_path(name)
        if path is None:
            continue
        node = result
        for part in path[:-1]:
            key = _matching_key(node, part)
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        key = _matching_key(node, path[-1])
        node[key] = _override_value(path, value)
        origins[tuple(path)] = f"environment variable {name}"
    return result, origins


def _override_path(name: str) -> list[str] | None:
    if not name.startswith(ENV_PREFIX):
        return None
    path = [part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_NESTING)]
    if not all(path):
        return None
    if len(path) == 1 and path[0] not in GuardianConfig.model_fields:
        # GUARDIAN_CONFIG and friends are not settings of the file.
        return None
    return path


def _matching_key(node: dict[str, Any], part: str) -> str:
    if part in node:
        return part
    same = [key for key in node if isinstance(key, str) and key.lower() == part]
    return same[0] if len(same) == 1 else part


def _override_value(path: list[str], value: str) -> Any:
    text = value.strip()
    if text[:1] in ("[", "{"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return value
    if path == ["suites"]:
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make the file of a relative ``sqlite:///`` URL absolute against ``base_dir``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith("sqlite:////"):
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith(":memory:") or rest.startswith("file:"):
        return url
    return prefix + str((base_dir / rest).resolve())


def _validate_cron(expression: str, timezone: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from None
