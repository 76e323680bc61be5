"""One execution of a scheduled job: load its suites afresh, then run them.

Suites are read on every execution so that edits apply without a restart.
Nothing a job meets may escape: a broken suite or an unreachable target is
recorded as a failed run and logged, and the scheduler carries on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from guardian.checks.results import RunReport
from guardian.checks.suite import load_suites
from guardian.config import Config, JobConfig
from guardian.errors import GuardianError
from guardian.runs import record_failed_run, run_suites
from guardian.state.store import StateStore
from guardian.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledJob:
    """A configured job bound to its target and the store it records in.

    Jobs on one target share one Target, and so one connection pool.
    """

    name: str
    spec: JobConfig
    target: Target
    config: Config
    store: StateStore

    def execute(self) -> RunReport | None:
        """Run the job once; returns its report, or None when it could not run."""
        try:
            return self._run()
        except GuardianError:
            # Already recorded and logged by the run.
            return None
        except Exception:
            log.exception("job %s failed unexpectedly", self.name)
            return None

    def _run(self) -> RunReport | None:
        target = self.target
        paths = [self.config.resolve(path) for path in self.spec.suites]

        try:
            suites = load_suites(paths)
        except GuardianError as exc:
            log.error("job %s: its suites cannot be loaded", self.name)
            record_failed_run(
                self.store,
                target,
                self.spec.suites,
                str(exc),
                job=self.name,
                trigger="schedule",
            )
            return None

        return run_suites(
            target,
            suites,
            store=self.store,
            job=self.name,
            trigger="schedule",
            quarantine=self.config.model.quarantine,
        )
