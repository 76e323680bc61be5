"""``guardian db``: the schema of guardian's own state store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from guardian.cli.common import (
    AppContext,
    format_option,
    out_console,
    pass_app,
    print_json,
)

if TYPE_CHECKING:
    from guardian.state.store import StateStore


@click.group("db")
def command() -> None:
    """Create, upgrade and inspect guardian's state store (state.url)."""


def _store(app: AppContext) -> StateStore:
    # Imported here so that `guardian --help` need not load Alembic.
    from guardian.state.store import StateStore

    return StateStore(app.config().state_url)


@command.command("upgrade")
@pass_app
def upgrade(app: AppContext) -> None:
    """Upgrade the state store's schema to what this guardian needs.

    A new store is created. Safe to run again: an up-to-date store is left
    as it is.
    """
    store = _store(app)
    before = store.current_revision()
    store.upgrade()
    after = store.current_revision()

    console = out_console()
    if before == after:
        console.print(f"state store at {store.display_url} is up to date ({after})")
    else:
        console.print(
            f"state store at {store.display_url} upgraded "
            f"from {before or 'empty'} to {after}"
        )


@command.command("current")
@format_option
@pass_app
def current(app: AppContext, output_format: str) -> None:
    """Show the state store's schema revision, and whether it is current."""
    store = _store(app)
    revision = store.current_revision()
    head = store.migrations.head()

    if output_format == "json":
        print_json(
            {
                "url": store.display_url,
                "revision": revision,
                "head": head,
                "up_to_date": revision == head,
            }
        )
        return
    if revision is None:
        state = "not created yet: run `guardian db upgrade` to create it"
    elif revision == head:
        state = "up to date"
    else:
        state = f"guardian needs {head}"
    out_console().print(f"{revision or 'none'} ({state})")
