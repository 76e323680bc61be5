"""Alembic glue: the migration environment built in code, no ini file.

The scripts live in the ``guardian.migrations`` package, located through
importlib.resources so the same code works from a checkout and installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from guardian.state.models import TABLE_PREFIX

# Not Alembic's default name, so that guardian's revision cannot clash with
# the one of an application sharing the database.
VERSION_TABLE = "guardian_alembic_version"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Let Alembic see only guardian's tables in a possibly shared database."""
    if type_ == "table":
        return name is not None and name.startswith(TABLE_PREFIX)
    return True


def scripts_location() -> Path:
    """The folder of the migration scripts this guardian ships."""
    return Path(str(files("guardian.migrations")))


class Migrations:
    """The migration scripts in one folder, and how to apply them.

    ``location`` defaults to the scripts shipped with guardian.
    """

    def __init__(self, location: Path | None = None) -> None:
        self.location = location or scripts_location()

    def config(self, connection: Connection | None = None) -> AlembicConfig:
        """An Alembic configuration for these scripts.

        With ``connection``, the environment migrates through it instead of
        opening its own.
        """
        config = AlembicConfig()
        config.set_main_option("script_location", str(self.location))
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        """The newest revision of the scripts."""
        head = ScriptDirectory.from_config(self.config()).get_current_head()
        if head is None:
            raise RuntimeError(f"no migration scripts in {self.location}")
        return head

    def knows(self, revision: str) -> bool:
        """True when ``revision`` is one of the scripts."""
        script = ScriptDirectory.from_config(self.config())
        return any(rev.revision == revision for rev in script.walk_revisions())

    def upgrade(self, connection: Connection) -> None:
        """Upgrade the store behind ``connection`` to the head revision."""
        command.upgrade(self.config(connection), "head")


def current_revision(connection: Connection) -> str | None:
    """The revision the store is at, or None for a store never upgraded."""
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    )
    return context.get_current_revision()
