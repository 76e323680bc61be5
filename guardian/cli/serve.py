"""``guardian serve``: run the configured jobs on their schedules."""

from __future__ import annotations

import click

from guardian.cli.common import AppContext, pass_app


@click.command("serve")
@pass_app
def command(app: AppContext) -> None:
    """Run every job of the configuration on its cron or interval.

    Upgrades the state store first. Stops cleanly on SIGTERM or SIGINT once
    the runs under way have finished, and exits 0.
    """
    from guardian.logs import setup_logging
    from guardian.service.scheduler import Service, no_jobs_error, stop_on_signals
    from guardian.state.store import StateStore

    config = app.config()
    if not config.model.jobs:
        raise no_jobs_error(config)
    setup_logging(config.model.logging, base_dir=config.base_dir)

    store = StateStore(config.state_url)
    store.ensure_ready(upgrade=True)
    service = Service(config, store)
    with stop_on_signals(service):
        service.run_forever()
    store.dispose()
