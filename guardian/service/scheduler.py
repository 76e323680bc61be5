"""The scheduled service: every configured job on its cron or interval.

:class:`Service` owns an APScheduler background scheduler and a stop event.
``start`` and ``stop`` are separate from ``run_forever`` so that tests run the
service in-process, and so that leader election, a health endpoint and
metrics can hook into the same life cycle later.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from guardian.config import Config
from guardian.errors import ConfigError
from guardian.service.jobs import ScheduledJob
from guardian.service.schedules import describe_schedule, trigger_for
from guardian.state.store import StateStore
from guardian.targets import Target

log = logging.getLogger(__name__)

# A run that starts late (the host was suspended, the pool was busy) still
# starts if it is no later than this; older ones are skipped, not piled up.
MISFIRE_GRACE_SECONDS = 300
MAX_WORKERS = 10
# How often a standing-by instance tries to take the lead, and the leader
# checks that it still holds it.
LEADER_CHECK_SECONDS = 5.0

NO_JOBS_HINT = (
    "for example:\n"
    "        jobs:\n"
    "          nightly:\n"
    "            target: main\n"
    "            suites: [checks]\n"
    "            cron: '0 3 * * *'"
)


def no_jobs_error(config: Config) -> ConfigError:
    """The error for a configuration the service has nothing to do with."""
    where = str(config.path) if config.path else "the configuration (none found)"
    return ConfigError(
        f"no jobs configured in {where}: add a jobs: section", hint=NO_JOBS_HINT
    )


class Service:
    """Runs each configured job on its schedule until asked to stop.

    A job never runs twice at once; a run that overruns its interval makes
    the next one be skipped rather than queued. A job that fails, however
    it fails, never stops the others. Of several services sharing one state
    store, only the one holding the store's leader lock runs jobs; the
    others stand by and take over when it goes.
    """

    def __init__(self, config: Config, store: StateStore) -> None:
        if not config.model.jobs:
            raise no_jobs_error(config)
        self.config = config
        self.store = store
        self._targets: dict[str, Target] = {}
        self.jobs = {
            name: ScheduledJob(name, spec, self._target(spec.target), config, store)
            for name, spec in config.model.jobs.items()
        }
        self._stop_requested = threading.Event()
        self._stopping = threading.Event()
        self._active = 0
        self._idle = threading.Condition()
        self._scheduler: Any = None
        self._leadership = store.leadership()
        self.leading = False

    def _target(self, name: str) -> Target:
        if name not in self._targets:
            self._targets[name] = self.config.target(name)
        return self._targets[name]

    def start(self) -> None:
        """Mark runs of dead processes as crashed, then start the scheduler."""
        crashed = self.store.mark_crashed_runs()
        if crashed:
            log.warning(
                "left running by a guardian that stopped, marked crashed: run %s",
                ", ".join(str(run_id) for run_id in crashed),
            )

        self._scheduler = self._build_scheduler()
        self.leading = self._leadership.acquire()
        self._scheduler.start(paused=not self.leading)

        log.info(
            "guardian service started with %s: %s",
            "1 job" if len(self.jobs) == 1 else f"{len(self.jobs)} jobs",
            "; ".join(self._describe(name) for name in self.jobs),
        )
        if self.leading:
            self._saved_next_runs()
        else:
            log.info(
                "another guardian service runs the jobs of the state store at %s; "
                "standing by to take over",
                self.store.display_url,
            )

    def check_leadership(self) -> None:
        """Take the lead if it is free; stop running jobs if it was lost."""
        if self.leading and not self._leadership.held():
            self.leading = False
            self._scheduler.pause()
            log.warning(
                "lost the lead (the state store connection dropped); standing by"
            )
        elif not self.leading and self._leadership.acquire():
            self.leading = True
            self._scheduler.resume()
            self._saved_next_runs()
            log.info("took the lead: running the jobs from now on")

    def _saved_next_runs(self) -> None:
        for name in self.jobs:
            self._save_next_run(name)

    def stop(self) -> None:
        """Stop scheduling, wait for running jobs to finish, release targets."""
        log.info("guardian service stopping")
        self._stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()
            # APScheduler's shutdown(wait=True) holds its job-store lock while
            # it waits for running jobs, and a job that touches the scheduler
            # on its way out would wait for that lock forever. So the runs
            # under way are waited for here, before shutting down.
            with self._idle:
                self._idle.wait_for(lambda: self._active == 0)
            self._scheduler.shutdown(wait=True)
        self._leadership.release()
        self.leading = False
        for target in self._targets.values():
            target.dispose()
        log.info("guardian service stopped")

    def request_stop(self) -> None:
        """Ask ``run_forever`` to stop; safe from a signal handler or a thread."""
        self._stop_requested.set()

    def run_forever(self) -> None:
        """Start, wait until a stop is requested, then stop cleanly."""
        self.start()
        try:
            # The timeout keeps the main thread responsive to signals, and
            # paces the leader checks.
            while not self._stop_requested.wait(timeout=LEADER_CHECK_SECONDS):
                self.check_leadership()
        finally:
            self.stop()

    def next_run_at(self, name: str) -> dt.datetime | None:
        """When the scheduler will next run job ``name``, if it is scheduled."""
        job = self._scheduler.get_job(name) if self._scheduler else None
        when: dt.datetime | None = getattr(job, "next_run_time", None)
        return when.astimezone(dt.UTC) if when is not None else None

    def _build_scheduler(self) -> Any:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ThreadPoolExecutor(min(len(self.jobs), MAX_WORKERS))},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        for name, job in self.jobs.items():
            scheduler.add_job(
                self._execute, trigger_for(job.spec), args=[name], id=name, name=name
            )
        scheduler.add_listener(
            self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED
        )
        return scheduler

    def _execute(self, name: str) -> None:
        with self._idle:
            if self._stopping.is_set():
                return
            self._active += 1
        try:
            try:
                self.jobs[name].execute()
            finally:
                if not self._stopping.is_set():
                    self._save_next_run(name)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _save_next_run(self, name: str) -> None:
        job = self.jobs[name]
        try:
            self.store.save_job(
                name,
                target=job.spec.target,
                suites=job.spec.suites,
                schedule=describe_schedule(job.spec),
                next_run_at=self.next_run_at(name),
            )
        except Exception:
            log.exception("job %s: cannot record its next run", name)

    def _on_skipped(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        if event.code == EVENT_JOB_MAX_INSTANCES:
            reason = "its previous run is still going"
        else:
            reason = "it was due too long ago"
        log.warning("job %s skipped a run: %s", event.job_id, reason)

    def _describe(self, name: str) -> str:
        when = self.next_run_at(name)
        shown = when.isoformat(timespec="seconds") if when else "not scheduled"
        return f"{name} ({describe_schedule(self.jobs[name].spec)}, next {shown})"


@contextmanager
def stop_on_signals(service: Service) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT ask ``service`` to stop cleanly."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        service.request_stop()

    previous = {
        sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
