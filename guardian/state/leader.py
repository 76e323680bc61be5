"""Which of several services sharing one state store runs the jobs.

Every instance pointed at the same store competes for one lock; the holder
schedules the jobs and the others stand by, ready to take over when it goes.
On PostgreSQL the lock is a session advisory lock, held by a connection kept
open for it, so it vanishes the moment its holder's connection does. A SQLite
store lives on one machine, so an exclusive ``flock`` on a file beside it
does the same job.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# An arbitrary constant that names "the guardian service" among the advisory
# locks of a shared database: the bytes of "guardian" read as a signed int64.
ADVISORY_KEY = int.from_bytes(b"guardian", "big", signed=True)


class Leadership(Protocol):
    """The lock that makes one service the leader."""

    def acquire(self) -> bool:
        """Take the lock if it is free; True when this instance holds it."""

    def held(self) -> bool:
        """True while this instance still holds the lock."""

    def release(self) -> None:
        """Give the lock up, if held."""


class AdvisoryLock:
    """Leadership through a PostgreSQL session advisory lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        try:
            conn = self._engine.connect()
            got = conn.execute(
                sa.select(sa.func.pg_try_advisory_lock(ADVISORY_KEY))
            ).scalar()
            conn.commit()
        except DBAPIError as exc:
            log.warning("cannot reach the state store to take the lead: %s", exc.orig)
            return False
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.select(1))
            self._conn.commit()
        except DBAPIError:
            # The lock went with the connection; another instance may lead now.
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(DBAPIError):
            self._conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))
            self._conn.commit()
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None


class FileLock:
    """Leadership through an exclusive flock on a file beside a SQLite store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leadership_for(engine: Engine) -> Leadership:
    """The kind of lock that fits the store behind ``engine``."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(engine)
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return SoleLeader()
    return FileLock(Path(database + ".service-lock"))


class SoleLeader:
    """For a store no other process can open (in memory): always the leader."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None
