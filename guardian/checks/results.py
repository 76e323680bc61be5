"""Results of checks and runs, as typed records.

Rendering (text, JSON, exit codes) reads these; nothing here prints.
The JSON field names produced by :meth:`CheckResult.to_json` and
:meth:`RunReport.to_json` are a stable interface.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from guardian.errors import ExitCode

Status = Literal["pass", "warn", "fail", "error"]
Verdict = Literal["pass", "warn", "fail", "error"]

# Worst first: a run's verdict is the worst status among its checks.
_RANK: dict[str, int] = {"error": 3, "fail": 2, "warn": 1, "pass": 0}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one target.

    ``violations`` is the exact number of violating rows (for table-level
    checks such as row_count and freshness: 1 when the rule is broken, else
    0), or None when the check could not be evaluated (status ``error``).
    ``sample_keys`` holds at most the configured sample size of keys, each a
    mapping of key column name to value. ``observed`` carries figures a
    table-level check measured (the row count, the newest timestamp).
    ``note`` explains something the reader should know, such as keys being
    unavailable for a table without a primary key.
    """

    suite: str
    name: str
    kind: str
    table: str | None
    severity: str
    status: Status
    violations: int | None
    sample_keys: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    error: str | None = None
    observed: dict[str, Any] | None = None
    note: str | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form of this result."""
        data: dict[str, Any] = {
            "suite": self.suite,
            "name": self.name,
            "kind": self.kind,
            "table": self.table,
            "severity": self.severity,
            "status": self.status,
            "violations": self.violations,
            "sample_keys": [
                {k: json_value(v) for k, v in key.items()} for key in self.sample_keys
            ],
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.error is not None:
            data["error"] = self.error
        if self.observed is not None:
            data["observed"] = {k: json_value(v) for k, v in self.observed.items()}
        if self.note is not None:
            data["note"] = self.note
        return data


def status_for(severity: str, violated: bool) -> Status:
    """The status of a check that ran: pass, or warn/fail by its severity."""
    if not violated:
        return "pass"
    return "warn" if severity == "warn" else "fail"


@dataclass
class RunReport:
    """One run of one or more suites against one target."""

    target: str
    suites: list[str]
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    results: list[CheckResult] = field(default_factory=list)
    run_id: int | None = None
    job: str | None = None
    error: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """The worst status among the checks; ``pass`` for no checks.

        A run that could not run at all (``error`` is set) is ``error``.
        """
        if self.error is not None:
            return "error"
        verdict: Verdict = "pass"
        for result in self.results:
            if _RANK[result.status] > _RANK[verdict]:
                verdict = result.status
        return verdict

    @property
    def exit_code(self) -> ExitCode:
        """0 unless a check of severity error or critical failed or errored."""
        if self.verdict in ("fail", "error"):
            return ExitCode.PROBLEMS
        return ExitCode.OK

    def counts(self) -> dict[str, int]:
        """How many checks ended in each status."""
        tally = {"pass": 0, "warn": 0, "fail": 0, "error": 0}
        for result in self.results:
            tally[result.status] += 1
        return tally

    @property
    def duration_ms(self) -> float:
        """Wall time of the run, or 0 while it is still going."""
        if self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds() * 1000

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form of this run."""
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "job": self.job,
            "target": self.target,
            "suites": list(self.suites),
            "verdict": self.verdict,
            "started_at": json_value(self.started_at),
            "finished_at": json_value(self.finished_at),
            "duration_ms": round(self.duration_ms, 3),
            "counts": self.counts(),
            "checks": [r.to_json() for r in self.results],
        }
        if self.error is not None:
            data["error"] = self.error
        if self.actions:
            data["actions"] = list(self.actions)
        return data


def json_value(value: Any) -> Any:
    """A JSON-safe form of a database value, exact where it matters.

    Decimals become strings so no digit is lost; times become ISO 8601.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)
