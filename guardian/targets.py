"""Targets: the databases guardian guards, and how to reach them.

A target is a name, a database URL and a few options. URLs may be written as
libpq and psql take them (``postgresql://user@host/db``, ``postgres://…``);
those use psycopg 3. Full SQLAlchemy URLs are taken as they are. Passwords
never leave this module unmasked: use :func:`mask_url` for anything shown.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError

from guardian.durations import parse_duration
from guardian.errors import ConfigError, GuardianError, TargetError

# user:password@ in a URL, with or without a scheme before it.
_PASSWORD_IN_TEXT = re.compile(r"((?:^|://|\s)[^:/@\s]*:)(?!//)[^@\s]*(@)")
# password=… in a URL's query or a libpq key=value string.
_PASSWORD_SETTING = re.compile(
    r"((?:^|[?&\s])(?:password|sslpassword|passwd)\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)",
    re.IGNORECASE,
)
_BAD_SETTING = re.compile(r"invalid (connection option|\w+ value)")
_DRIVERS = {"postgresql": "psycopg", "sqlite": "pysqlite"}


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except (TypeError, AttributeError):
        raise ValueError(f"{value!r} is not a duration") from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class TargetOptions(BaseModel):
    """How guardian treats one target. Every default is safe for production."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement_timeout: Duration = Field(
        default=timedelta(minutes=5),
        description="Longest a single check query may run (PostgreSQL).",
    )
    lock_timeout: Duration = Field(
        default=timedelta(seconds=5),
        description="Longest a query waits for a lock before giving up (PostgreSQL).",
    )
    connect_timeout: Duration = Field(
        default=timedelta(seconds=10), description="Longest a connection attempt waits."
    )
    max_parallel: int = Field(
        default=4, ge=1, le=64, description="Tables checked at once."
    )
    sample_size: int = Field(
        default=10, ge=0, le=10_000, description="Keys kept per failing check."
    )
    timezone: str = Field(
        default="UTC", description="Zone in which naive timestamps are read."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from guardian.checks.spec import validate_timezone

        validate_timezone(value)
        return value


def database_url(text: str) -> URL:
    """Parse a database URL, mapping libpq-style PostgreSQL URLs to psycopg 3.

    Raises ConfigError with the password masked when the URL is not usable.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("a database URL is required")
    text = text.strip()
    try:
        url = _conninfo_url(text) if _is_conninfo(text) else sa.make_url(text)
        port = url.port
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"not a database URL: {mask_url(text)}",
            hint="write e.g. postgresql://user@host:5432/dbname or sqlite:///path/to.db",
        ) from None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"port {port} is out of range in {mask_url(url)}")
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(
            f"unsupported database {backend!r} in {mask_url(url)}",
            hint="guardian guards PostgreSQL and SQLite databases",
        )
    if url.get_driver_name() != _DRIVERS[backend]:
        raise ConfigError(
            f"driver {url.get_driver_name()!r} in {mask_url(url)} is not supported",
            hint=(
                "guardian talks to PostgreSQL through psycopg 3: write "
                "postgresql://… or postgresql+psycopg://…"
                if backend == "postgresql"
                else "write sqlite:///path/to.db"
            ),
        )
    return url


def _is_conninfo(text: str) -> bool:
    """A libpq ``key=value`` string, as psql also takes: ``host=db dbname=app``."""
    return "=" in text and "://" not in text and not text.startswith("sqlite:")


def _conninfo_url(text: str) -> URL:
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(text).items()}
    except Exception:
        raise ValueError("not a libpq connection string") from None
    port = params.pop("port", None)
    return URL.create(
        "postgresql+psycopg",
        username=params.pop("user", None),
        password=params.pop("password", None),
        host=params.pop("host", None),
        port=int(port) if port else None,
        database=params.pop("dbname", None),
        query=params,
    )


def mask_url(url: str | URL) -> str:
    """The URL (or any text that may hold one) with every password as ``***``."""
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=True)
    masked = _PASSWORD_IN_TEXT.sub(r"\1***\2", url)
    return _PASSWORD_SETTING.sub(r"\1***", masked)


def is_url(text: str) -> bool:
    """True when ``text`` is a database URL or libpq string, not a target name."""
    return "://" in text or text.startswith("sqlite:") or _is_conninfo(text)


@dataclass
class Target:
    """One guarded database."""

    name: str
    url: URL
    options: TargetOptions = field(default_factory=TargetOptions)
    _engine: Engine | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False
    )

    @classmethod
    def from_url(
        cls, text: str, name: str | None = None, options: TargetOptions | None = None
    ) -> Target:
        """A target from a URL alone, named after its database unless named."""
        url = database_url(text)
        label = name or url.database or url.host or "target"
        if url.get_backend_name() == "sqlite" and url.database:
            label = name or Path(url.database).stem
        return cls(name=label, url=url, options=options or TargetOptions())

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return self.url.get_backend_name()

    @property
    def display_url(self) -> str:
        """The URL fit for logs and reports: password masked."""
        return mask_url(self.url)

    @property
    def address(self) -> str:
        """Where the target lives, for error messages: host:port or the file."""
        if self.dialect == "sqlite":
            return self.url.database or ":memory:"
        return f"{self.url.host or 'localhost'}:{self.url.port or 5432}"

    def engine(self) -> Engine:
        """The target's engine, created once and shared by threads."""
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:" and not Path(database).is_file():
                raise TargetError(
                    f"target {self.name}: no SQLite database at {database}",
                    hint="check the path in the URL (sqlite:///relative or sqlite:////absolute)",
                )
            engine = sa.create_engine(self.url)
            # Pattern checks and case-insensitive comparisons call functions
            # of guardian's own, so that they mean on SQLite what they mean
            # on PostgreSQL.
            sa.event.listen(engine, "connect", _sqlite_functions)
            return engine
        seconds = max(1, int(self.options.connect_timeout.total_seconds()))
        return sa.create_engine(
            self.url,
            pool_pre_ping=True,
            pool_size=self.options.max_parallel,
            max_overflow=2,
            connect_args={"connect_timeout": seconds, "application_name": "guardian"},
        )

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection; failures to connect become a TargetError naming the host."""
        try:
            conn = self.engine().connect()
        except DBAPIError as exc:
            raise self.connection_error(exc) from None
        try:
            yield conn
        finally:
            conn.close()

    def connection_error(self, exc: BaseException) -> GuardianError:
        """The error for a failure to reach this target, password-free.

        A connection setting the driver refuses (a bad sslmode, say) is a
        configuration error; anything else means the target cannot be reached.
        """
        import psycopg

        orig = getattr(exc, "orig", None)
        reason = str(orig or exc).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        # libpq refuses a bad setting before it tries the network, and says so
        # in these words; nothing else in the URL has to change but the setting.
        refused = _BAD_SETTING.search(detail) is not None
        if isinstance(orig, psycopg.ProgrammingError) or refused:
            return ConfigError(
                f"target {self.name}: bad connection setting in "
                f"{self.display_url}: {mask_url(detail)}"
            )
        return TargetError(
            f"cannot connect to target {self.name} at {self.address}: "
            f"{mask_url(detail)}",
            hint="is the server running and the URL right?",
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


def _sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    from guardian.checks.patterns import register_sqlite_functions

    register_sqlite_functions(dbapi_connection)
