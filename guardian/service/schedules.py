"""Schedules of configured jobs: APScheduler triggers and their plain text.

Kept apart from the scheduler so that ``guardian status`` can say when a job
runs next without starting anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from guardian.config import JobConfig
from guardian.durations import format_duration, parse_duration


def describe_schedule(job: JobConfig) -> str:
    """The schedule as one short text: ``cron 0 3 * * *`` or ``every 10m``."""
    if job.cron is not None:
        text = f"cron {job.cron}"
        return text if job.timezone == "UTC" else f"{text} ({job.timezone})"
    assert job.every is not None
    return f"every {format_duration(parse_duration(job.every))}"


def trigger_for(job: JobConfig) -> Any:
    """The APScheduler trigger of ``job``: a cron in its zone, or an interval."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if job.cron is not None:
        return CronTrigger.from_crontab(job.cron, timezone=job.timezone)
    assert job.every is not None
    interval = parse_duration(job.every)
    return IntervalTrigger(seconds=interval.total_seconds(), timezone=job.timezone)


def next_fire_time(job: JobConfig, now: dt.datetime | None = None) -> dt.datetime:
    """When ``job`` would next run if a scheduler started ``now``, in UTC."""
    moment = now or dt.datetime.now(dt.UTC)
    fire: dt.datetime = trigger_for(job).get_next_fire_time(None, moment)
    return fire.astimezone(dt.UTC)
