"""The scheduled service: configured jobs run as runs on their schedules.

``guardian.service.scheduler`` holds the service; ``guardian.service.schedules``
turns a job's cron or interval into triggers and text.
"""
