"""The on_violation action in suites, the quarantine settings, and the budget rule."""

from __future__ import annotations

import pytest

from guardian.checks.suite import load_suite_text
from guardian.config import GuardianConfig
from guardian.errors import SuiteError
from guardian.quarantine.plan import over_budget
from guardian.quarantine.spec import OnViolation


def test_on_violation_word_and_mapping() -> None:
    suite = load_suite_text(
        """
checks:
  - {name: a, table: t, kind: not_null, columns: x}
  - {name: b, table: t, kind: not_null, columns: x, on_violation: quarantine}
  - name: c
    table: t
    kind: unique
    columns: x
    on_violation: {action: quarantine, mode: copy, dependents: cascade, max_rows: 5}
"""
    )

    a, b, c = suite.checks
    assert a.on_violation is None
    assert b.on_violation == OnViolation(action="quarantine")
    assert c.on_violation == OnViolation(
        action="quarantine", mode="copy", dependents="cascade", max_rows=5
    )


def test_suite_default_skips_table_level_checks() -> None:
    suite = load_suite_text(
        """
defaults:
  on_violation: {action: quarantine, mode: copy}
checks:
  - {name: rows, table: t, kind: not_null, columns: x}
  - {name: count, table: t, kind: row_count, min: 1}
  - {name: fresh, table: t, kind: freshness, column: at, max_age: 1h}
"""
    )

    actions = {c.name: c.on_violation for c in suite.checks}
    assert actions["rows"] == OnViolation(action="quarantine", mode="copy")
    assert actions["count"] is None
    assert actions["fresh"] is None


@pytest.mark.parametrize("kind", ["row_count: {min: 1}", "sql: {query: select 1}"])
def test_table_level_check_cannot_quarantine(kind: str) -> None:
    name, _, extra = kind.partition(": ")
    fields = extra.strip("{}")
    text = f"""
checks:
  - {{name: bad, table: t, kind: {name}, {fields}, on_violation: quarantine}}
"""

    with pytest.raises(SuiteError, match=f"a {name} check cannot quarantine"):
        load_suite_text(text, "s.yml")


def test_unknown_mode_is_refused_with_its_place() -> None:
    text = """
checks:
  - name: a
    table: t
    kind: not_null
    columns: x
    on_violation: {action: quarantine, mode: shred}
"""

    with pytest.raises(SuiteError, match=r"s.yml:\d+: .*mode"):
        load_suite_text(text, "s.yml")


def test_configuration_section_defaults_and_overrides() -> None:
    default = GuardianConfig().quarantine
    assert (default.schema_name, default.max_rows, default.max_share) == (
        "guardian_quarantine",
        1000,
        0.05,
    )

    given = GuardianConfig.model_validate(
        {"quarantine": {"schema": "held", "read_roles": ["auditor"], "max_rows": 9}}
    ).quarantine
    assert (given.schema_name, given.read_roles, given.max_rows) == (
        "held",
        ["auditor"],
        9,
    )


@pytest.mark.parametrize(
    ("violations", "rows", "refused"),
    [
        (10, 1000, None),
        (1001, 10**9, "exceed the budget of 1000 rows"),
        (51, 1000, "over the budget of 5.0%"),
        (50, 1000, None),
        (3, 0, None),
    ],
)
def test_budget(violations: int, rows: int, refused: str | None) -> None:
    reason = over_budget(violations, rows, 1000, 0.05)

    if refused is None:
        assert reason is None
    else:
        assert reason is not None
        assert refused in reason
        assert "nothing was quarantined" in reason
