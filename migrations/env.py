"""The Alembic environment of guardian's state store.

guardian runs migrations through a connection it hands over in
``config.attributes["connection"]``; without one (a developer running the
``alembic`` command against a URL), a connection is opened from
``sqlalchemy.url``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from guardian.state.migrate import VERSION_TABLE, include_name
from guardian.state.models import Base

# Serialises concurrent upgrades of one PostgreSQL store by several guardian
# instances starting at once; the value only has to be unique to guardian.
_UPGRADE_LOCK_KEY = 0x6775617264

config = context.config


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": Base.metadata,
        "version_table": VERSION_TABLE,
        "include_name": include_name,
        "compare_type": True,
        # SQLite can alter a table only by copying it.
        "render_as_batch": dialect_name == "sqlite",
    }


def _run_offline() -> None:
    url = sa.make_url(config.get_main_option("sqlalchemy.url") or "sqlite://")
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("select pg_advisory_xact_lock(:key)"),
                {"key": _UPGRADE_LOCK_KEY},
            )
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url to the state store's URL")
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as opened:
        _run_on(opened)
        opened.commit()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
