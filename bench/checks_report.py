"""The checks benchmark's section of BENCHMARKS.md, rendered from its outcome."""

from __future__ import annotations

from bench import orders
from bench.checks import (
    BARE_COUNT,
    GUARDIAN,
    ONE_SCAN,
    SEPARATE,
    SODA,
    Outcome,
    Phase,
    case_labels,
    case_order,
    goals,
)
from bench.common import machine_markdown, markdown_table, milliseconds, today
from bench.handwritten import count_sql, keys_sql, one_scan_sql


def section_name(rows: int) -> str:
    """The marker name of the section; one section per table size."""
    return f"checks-{rows}"


def render(outcome: Outcome) -> str:
    """The whole section as Markdown."""
    options = outcome.options
    parts = [
        f"## Ten row-level checks on {options.rows:,} rows",
        f"Measured {today()} with `{options.command}`: {options.warmups} warm-up "
        f"round, then {options.repeats} rounds in which every case runs once, "
        "in an order that rotates each round; times are the median and the "
        "range (min-max) over the rounds, in milliseconds. Ratios are "
        "guardian's median divided by the case's median (below 1: guardian "
        "is faster); in brackets, the range of the same ratio taken round by "
        "round.",
        machine_markdown(outcome.machine) + "\n" + _load_text(outcome),
        _table_text(outcome),
    ]
    parts += [_phase_text(phase) for phase in outcome.phases]
    parts += [_goals_text(outcome), _cases_text(outcome)]
    return "\n\n".join(parts)


def _load_text(outcome: Outcome) -> str:
    text = (
        f"- Load average (1 min) before the run: {outcome.load_before}, "
        f"after: {outcome.load_after}"
    )
    if max(outcome.load_before, outcome.load_after) > outcome.machine.cores:
        text += (
            ". Other work ran on the machine meanwhile (load above the number "
            "of cores), so these figures are noisier than usual"
        )
    return text


def _table_text(outcome: Outcome) -> str:
    checks = ", ".join(f"{c.name} ({c.guardian['kind']})" for c in orders.CHECKS)
    return (
        f"The table `{orders.TABLE}` ({outcome.table_size} with its primary key) "
        "has a bigint primary key and ten columns: customer_id, status, amount, "
        "quantity, discount_pct, email, country, created_at, shipped_at, note. "
        f"It is generated in SQL and vacuumed and analysed before measuring. "
        f"The checks: {checks}. Soda Core {outcome.soda_version} runs the "
        "same ten checks as SodaCL (missing_count, invalid_count with valid "
        "values, valid min/max and valid regex, a failed rows check with a "
        "fail condition, row_count), samples limited to "
        f"{orders.SAMPLE_SIZE} rows like guardian's."
    )


def _phase_text(phase: Phase) -> str:
    labels = case_labels()
    if phase.name == "clean":
        title = "### Clean data: every check passes"
    else:
        broken = ", ".join(
            f"{name} {phase.counts[name]:,}" for name in orders.DIRTY_CHECKS
        )
        title = (
            f"### Dirty data: {phase.changed_rows:,} rows (about 0.1%) break "
            f"three checks ({broken} violating rows), so the keys of failing "
            "rows are fetched"
        )
    rows = []
    for case in case_order():
        timing = phase.timings[case]
        ratio = "1.00" if case == GUARDIAN else _ratio_cell(phase, case)
        rows.append(
            [
                labels[case],
                milliseconds(timing.median),
                f"{milliseconds(timing.low)}-{milliseconds(timing.high)}",
                ratio,
            ]
        )
    header = ["case", "median ms", "min-max ms", "guardian ÷ case (per round)"]
    table = markdown_table(header, rows)
    return f"{title}\n\n{table}"


def _ratio_cell(phase: Phase, case: str) -> str:
    rounds = phase.round_ratios(case)
    return f"{phase.ratio(case):.2f} ({min(rounds):.2f}-{max(rounds):.2f})"


def _goals_text(outcome: Outcome) -> str:
    rows = [
        [
            goal.text,
            goal.phase,
            f"{goal.ratio:.3f}",
            f"{goal.floor_ratio:.3f}",
            "met" if goal.met else "**missed**",
        ]
        for goal in goals(outcome)
    ]
    header = ["goal for guardian", "data", "guardian", "one-scan query", ""]
    table = markdown_table(header, rows)
    note = (
        "The one-scan column gives the same ratio for the hand-written "
        "one-scan query: the best any tool could reach on this data."
    )
    return f"### Goals\n\n{table}\n\n{note}"


def _cases_text(outcome: Outcome) -> str:
    labels = case_labels()
    example = next(c for c in orders.CHECKS if c.name == orders.DIRTY_CHECKS[0])
    lines = [
        "### What each case runs",
        "",
        f"- **{labels[GUARDIAN]}**: `guardian.checks.runner.run_checks(target, "
        "[suite])` in the bench's process, on a target made with "
        "`Target.from_url` (default options, engine kept between rounds), "
        "for the suite in `bench/results/checks/suite.yml`; "
        f"{len(outcome.guardian_sql)} statements per run on dirty data (they "
        "are in the results file).",
        f"- **{labels[ONE_SCAN]}**: one query over psycopg, every predicate as "
        "`count(*) FILTER (WHERE …)` plus `count(*)` for the row count; then, "
        "for each check whose count is not 0, one key query like "
        f"`{keys_sql(example)}`. On clean data that is the one query alone.",
        f"- **{labels[SEPARATE]}**: ten queries like `{count_sql(example)}` "
        "(and `SELECT count(*)` for the row count), then the same key queries.",
        f"- **{labels[BARE_COUNT]}**: `SELECT count(*) FROM {orders.TABLE}`, "
        "what reading the table costs.",
        f"- **{labels[SODA]}**: `scan.execute()` of a fresh `Scan` per round "
        "in a separate Python process with Soda's own environment; only "
        "`execute()` is timed, not start-up and imports. Soda folds all ten "
        "checks into one aggregate query (`COUNT(CASE WHEN … THEN 1 END)`), "
        "then on dirty data fetches `SELECT * … LIMIT 10` for each failing "
        "invalid_count check and every failing row (`SELECT *` without a "
        "limit) for the failed rows check; it opens a new connection per scan.",
        "",
        "Every round, the counts of guardian, both hand-written cases and Soda "
        "are checked against the one-scan query; the bench stops on any "
        "difference.",
        "",
        "<details><summary>The one-scan query</summary>",
        "",
        "```sql",
        one_scan_sql(),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines)
