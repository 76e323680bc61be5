"""The checks benchmark: ten row-level checks on an orders table.

guardian's run of the suite is timed against hand-written SQL (one scan with
every predicate; one query per check; a bare count) and against Soda Core 3
running the equivalent SodaCL, first on clean data, then with about 0.1% of
the rows breaking three checks. Every case's counts are compared with the
one-scan query's before any figure is reported; a difference aborts the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bench import orders
from bench.common import (
    RESULTS_DIR,
    BenchError,
    Case,
    Machine,
    Options,
    Timings,
    bench_database_url,
    load_average,
    machine_facts,
    measure,
)
from bench.handwritten import Counts, HandWritten
from bench.soda import SodaScanner, soda_python, soda_version
from guardian.checks.suite import Suite, load_suite
from guardian.targets import Target, mask_url

Log = Callable[[str], None]

# Case names, in the order the report lists them; guardian first.
GUARDIAN = "guardian"
ONE_SCAN = "one_scan"
SEPARATE = "separate"
BARE_COUNT = "bare_count"
SODA = "soda"


@dataclass
class Phase:
    """One state of the data (clean or dirty): its counts and timings."""

    name: str
    counts: Counts
    timings: dict[str, Timings]
    changed_rows: int = 0

    def ratio(self, case: str) -> float:
        """guardian's median time divided by ``case``'s."""
        return self.timings[GUARDIAN].median / self.timings[case].median

    def round_ratios(self, case: str) -> list[float]:
        """guardian's time divided by ``case``'s, round by round.

        Both ran close together in each round, so their spread shows how
        much the ratio of medians can be trusted on a busy machine.
        """
        pairs = zip(
            self.timings[GUARDIAN].seconds, self.timings[case].seconds, strict=True
        )
        return [mine / theirs for mine, theirs in pairs]


@dataclass
class Outcome:
    """Everything a run of the benchmark measured, for the report."""

    options: Options
    machine: Machine
    table_size: str
    soda_version: str
    load_before: float
    load_after: float = 0.0
    phases: list[Phase] = field(default_factory=list)
    guardian_sql: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The raw results, for ``bench/results``."""
        return {
            "rows": self.options.rows,
            "repeats": self.options.repeats,
            "warmups": self.options.warmups,
            "command": self.options.command,
            "machine": self.machine.__dict__,
            "table_size": self.table_size,
            "soda_version": self.soda_version,
            "load_average": {"before": self.load_before, "after": self.load_after},
            "phases": {
                p.name: {
                    "changed_rows": p.changed_rows,
                    "counts": p.counts,
                    "timings": {k: t.to_json() for k, t in p.timings.items()},
                }
                for p in self.phases
            },
            "guardian_sql": self.guardian_sql,
        }


def run(options: Options, log: Log = print) -> Outcome:
    """Build the data, measure every case clean and dirty, verify, return it all."""
    load_before = load_average()
    url = bench_database_url(options.server_url, options.database)
    log(f"database: {mask_url(url)}; load average {load_before}")
    work = RESULTS_DIR / "checks"
    work.mkdir(parents=True, exist_ok=True)

    log(f"loading {options.rows:,} rows into {orders.TABLE} …")
    orders.load(url, options.rows)
    suite = load_suite(_write_yaml(work / "suite.yml", orders.suite_document()))
    python = soda_python(log)
    outcome = Outcome(
        options=options,
        machine=machine_facts(url),
        table_size=orders.table_size(url),
        soda_version=soda_version(python),
        load_before=load_before,
    )

    target = Target.from_url(url)
    soda_files = _write_soda_files(work, url)
    try:
        with HandWritten(url) as hand, SodaScanner(python, *soda_files) as soda:
            for name in ("clean", "dirty"):
                changed = orders.make_dirty(url) if name == "dirty" else 0
                if changed:
                    log(f"broke {changed:,} rows")
                log(f"{name} data:")
                phase = _measure_phase(name, options, target, suite, hand, soda, log)
                phase.changed_rows = changed
                outcome.phases.append(phase)
        outcome.guardian_sql = _guardian_sql(target, suite)
    finally:
        target.dispose()

    outcome.load_after = load_average()
    _write_json(RESULTS_DIR / f"checks-{options.rows}.json", outcome.to_json())
    return outcome


def _measure_phase(
    name: str,
    options: Options,
    target: Target,
    suite: Suite,
    hand: HandWritten,
    soda: SodaScanner,
    log: Log,
) -> Phase:
    expected = hand.one_scan()
    _sanity(name, expected)
    seen: dict[str, list[Counts]] = {}

    def recorded(case: str, work: Callable[[], Counts]) -> Case:
        def one() -> None:
            seen.setdefault(case, []).append(work())

        return one

    def soda_case() -> float:
        answer = soda.scan()
        seen.setdefault(SODA, []).append(_soda_counts(answer))
        return float(answer["seconds"])

    cases: dict[str, Case] = {
        GUARDIAN: recorded(GUARDIAN, lambda: _guardian_counts(target, suite)),
        ONE_SCAN: recorded(ONE_SCAN, hand.one_scan),
        SEPARATE: recorded(SEPARATE, hand.separate),
        BARE_COUNT: lambda: _discard(hand.bare_count()),
        SODA: soda_case,
    }
    timings = measure(
        cases, repeats=options.repeats, warmups=options.warmups, progress=log
    )

    for case, results in seen.items():
        for counts in results:
            _verify(name, case, expected, counts)
    return Phase(name=name, counts=expected, timings=timings)


def _discard(_: object) -> None:
    return None


def _guardian_counts(target: Target, suite: Suite) -> Counts:
    from guardian.checks.runner import run_checks

    results = run_checks(target, [suite])
    counts: Counts = {}
    for result in results:
        if result.status == "error" or result.violations is None:
            raise BenchError(
                f"guardian could not evaluate check {result.name}: {result.error}"
            )
        counts[result.name] = result.violations
    return counts


def _soda_counts(answer: dict[str, Any]) -> Counts:
    if answer.get("errors"):
        raise BenchError(f"Soda reported errors:\n{answer['errors']}")
    counts: Counts = {}
    for check in answer["checks"]:
        value = check["value"]
        if value is None:
            raise BenchError(f"Soda gave no value for check {check['name']}")
        if check["name"] == "row_count":
            value = 0 if value >= 1 else 1
        counts[str(check["name"])] = int(value)
    return counts


def _sanity(phase: str, counts: Counts) -> None:
    """The hand-written counts themselves must match how the data was built."""
    broken = {name for name, count in counts.items() if count}
    wanted = set(orders.DIRTY_CHECKS) if phase == "dirty" else set()
    if broken != wanted:
        raise BenchError(
            f"{phase} data: the checks that fail are {sorted(broken)}, "
            f"but the data was built so that {sorted(wanted)} fail"
        )


def _verify(phase: str, case: str, expected: Counts, got: Counts) -> None:
    if got == expected:
        return
    names = sorted(set(expected) | set(got))
    lines = [
        f"  {n:<24} expected {expected.get(n)!s:>8}  got {got.get(n)!s:>8}"
        for n in names
        if expected.get(n) != got.get(n)
    ]
    raise BenchError(
        f"{phase} data: {case} counts differ from the hand-written query:\n"
        + "\n".join(lines)
    )


def _guardian_sql(target: Target, suite: Suite) -> list[str]:
    """The statements one guardian run sends, for the results file."""
    from guardian.checks.runner import run_checks

    statements: list[str] = []

    def keep(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    engine = target.engine()
    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        run_checks(target, [suite])
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    return statements


def _write_soda_files(work: Path, url: str) -> tuple[Path, Path, str]:
    """Soda's data source configuration and checks; the data source's name."""
    parsed = sa.make_url(url)
    source = "bench"
    configuration = {
        f"data_source {source}": {
            "type": "postgres",
            "host": parsed.host or "localhost",
            "port": parsed.port or 5432,
            "username": parsed.username or "postgres",
            "password": parsed.password or "",
            "database": parsed.database,
            "schema": "public",
        }
    }
    config_path = _write_yaml(work / "soda-configuration.yml", configuration)
    os.chmod(config_path, 0o600)  # it may hold the password
    checks_path = _write_yaml(work / "soda-checks.yml", orders.soda_document())
    return config_path, checks_path, source


def _write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def case_labels() -> dict[str, str]:
    """How the report names each case."""
    return {
        GUARDIAN: "guardian `run_checks`",
        ONE_SCAN: "hand-written, one scan (the floor)",
        SEPARATE: "hand-written, one query per check",
        BARE_COUNT: "bare `SELECT count(*)`",
        SODA: "Soda Core",
    }


@dataclass(frozen=True)
class Goal:
    """One goal on one phase: guardian's ratio, and the floor's for scale.

    ``floor_ratio`` is the same ratio for the one-scan query, the best any
    tool can do; when it misses the goal too, the workload rather than
    guardian decides the outcome.
    """

    text: str
    phase: str
    ratio: float
    limit: float
    floor_ratio: float

    @property
    def met(self) -> bool:
        """True when guardian's ratio is within the limit."""
        return self.ratio <= self.limit


def goals(outcome: Outcome) -> list[Goal]:
    """The goals of the issue, checked on each phase that they apply to."""
    found: list[Goal] = []
    for phase in outcome.phases:
        wanted = [(SODA, "no slower than Soda Core", 1.0)]
        wanted.append((SEPARATE, "≤ 0.7x one query per check", 0.7))
        if phase.name == "clean":
            wanted.insert(0, (ONE_SCAN, "≤ 1.1x the one-scan query", 1.1))
        for case, text, limit in wanted:
            floor = phase.timings[ONE_SCAN].median / phase.timings[case].median
            found.append(Goal(text, phase.name, phase.ratio(case), limit, floor))
    return found


def case_order() -> Sequence[str]:
    """The cases in report order."""
    return (GUARDIAN, ONE_SCAN, SEPARATE, BARE_COUNT, SODA)
