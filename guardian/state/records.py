"""What the state store hands back: typed summaries of runs and jobs.

Field names of the ``to_json`` forms are a stable interface (``guardian
status --format json``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from guardian.checks.results import json_value


@dataclass(frozen=True)
class RunSummary:
    """One run as recorded, without its check results."""

    id: int
    job: str | None
    target: str
    target_url: str
    suites: list[str]
    trigger: str
    status: str
    verdict: str | None
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    hostname: str = ""
    pid: int = 0

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form of this run."""
        return {
            "id": self.id,
            "job": self.job,
            "target": self.target,
            "target_url": self.target_url,
            "suites": list(self.suites),
            "trigger": self.trigger,
            "status": self.status,
            "verdict": self.verdict,
            "error": self.error,
            "started_at": json_value(self.started_at),
            "finished_at": json_value(self.finished_at),
            "counts": dict(self.counts),
            "hostname": self.hostname,
            "pid": self.pid,
        }


@dataclass(frozen=True)
class JobStatus:
    """Where a scheduled job stands: its last run, next run and failure streak.

    ``name`` is None for the ad-hoc entry of a target: its last run that no
    job started (``guardian check run``, the demo).
    """

    name: str | None
    target: str
    suites: list[str]
    schedule: str | None
    last_run: RunSummary | None
    next_run_at: dt.datetime | None
    failures_since_success: int

    @property
    def adhoc(self) -> bool:
        """True for a target's ad-hoc runs rather than a configured job."""
        return self.name is None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form of this job's status."""
        last = self.last_run
        return {
            "name": self.name,
            "target": self.target,
            "suites": list(self.suites),
            "schedule": self.schedule,
            "last_run": None
            if last is None
            else {
                "id": last.id,
                "status": last.status,
                "verdict": last.verdict,
                "started_at": json_value(last.started_at),
                "finished_at": json_value(last.finished_at),
            },
            "next_run_at": json_value(self.next_run_at),
            "failures_since_success": self.failures_since_success,
        }
