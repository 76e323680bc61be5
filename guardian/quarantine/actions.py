"""The actions a run's results call for: quarantine of the rows of failed checks.

Called by a run after its checks, never by a check. Each quarantine is
planned, executed and recorded in the ledger on its own; one that fails
(the table changed, the connection dropped) is reported with its reason
and the others still happen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guardian.checks.results import CheckResult
from guardian.checks.suite import Suite
from guardian.errors import GuardianError
from guardian.quarantine import ledger
from guardian.quarantine.move import execute_move, plan_move
from guardian.quarantine.plan import MoveResult
from guardian.quarantine.spec import QuarantineConfig
from guardian.state.store import StateStore
from guardian.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionOutcome:
    """What the action of one failed check did, or why it could not."""

    suite: str
    check: str
    action: str
    result: MoveResult | None = None
    error: str | None = None

    @property
    def summary(self) -> str:
        """One line for a report."""
        if self.error:
            return f"{self.suite}.{self.check}: quarantine failed: {self.error}"
        assert self.result is not None
        return f"{self.suite}.{self.check}: {self.result.summary()}"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        data: dict[str, Any] = {
            "suite": self.suite,
            "check": self.check,
            "action": self.action,
            "summary": self.summary,
        }
        if self.result is not None:
            data["result"] = self.result.to_json()
        if self.error is not None:
            data["error"] = self.error
        return data


def quarantine_failed(
    target: Target,
    suites: Sequence[Suite],
    results: Sequence[CheckResult],
    *,
    config: QuarantineConfig | None = None,
    store: StateStore | None = None,
    run_id: int | None = None,
) -> list[ActionOutcome]:
    """Quarantine the violating rows of every failed check that asks for it."""
    checks = {(s.name, c.name): c for s in suites for c in s.checks}
    outcomes = []
    for result in results:
        check = checks.get((result.suite, result.name))
        action = check.on_violation if check is not None else None
        if check is None or action is None or not action.quarantines:
            continue
        if result.status not in ("fail", "warn") or not result.violations:
            continue
        outcome = _quarantine(target, result, check, config, store, run_id)
        log.info("action %s", outcome.summary)
        outcomes.append(outcome)
    return outcomes


def _quarantine(
    target: Target,
    result: CheckResult,
    check: Any,
    config: QuarantineConfig | None,
    store: StateStore | None,
    run_id: int | None,
) -> ActionOutcome:
    try:
        plan = plan_move(
            target,
            result.suite,
            check,
            violations=result.violations,
            config=config,
            run_id=run_id,
        )
        moved = execute_move(target, plan, config=config)
    except GuardianError as exc:
        return ActionOutcome(result.suite, result.name, "quarantine", error=exc.message)
    if store is not None:
        ledger.record_move(store, target.name, moved, run_id)
    return ActionOutcome(result.suite, result.name, "quarantine", result=moved)
