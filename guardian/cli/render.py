"""Text and JSON renderings of run reports and suite problems.

Rendering happens once, here, at the edge: the core hands over typed records
and these functions turn them into what a person reads in a terminal or a CI
log, or into the stable JSON that scripts read. Text output must read well
piped (rich drops colour when the output is not a terminal) and in a narrow
terminal (cells wrap; keys are already kept short).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from guardian.checks.results import CheckResult, RunReport, json_value

# How many sample keys a row shows before "+N more": enough to look a few
# rows up by hand, few enough to fit a terminal line.
SHOWN_KEYS = 3
_LONGEST_VALUE = 32
# A narrow terminal folds check names longer than this rather than the keys.
_NAME_WIDTH = 28
# Below this many columns, keys move under the check's name.
_WIDE = 100
# Piped output (a CI log, a file) is read whole: fold only very long lines.
PIPE_WIDTH = 160

_STATUS_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "red",
    "error": "bold red",
}
_VERDICT_WORD = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR"}


class Problem(Protocol):
    """What a suite problem offers to be rendered (see checks.validate)."""

    @property
    def suite(self) -> str: ...

    @property
    def check(self) -> str | None: ...

    @property
    def location(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def severity(self) -> str: ...


def report_console() -> Console:
    """The console for reports on standard output.

    A terminal is used at its own width; piped output gets a wide line so
    that tables do not fold for no reader's benefit.
    """
    width = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(file=sys.stdout, highlight=False, width=width)


def render_report(
    console: Console, report: RunReport, *, verbose: bool = False
) -> None:
    """Print a run as text: verdict line, a row per failing check, summary line.

    Passing checks get a row only when ``verbose`` is true.
    """
    console.print(
        verdict_line(report), style=_STATUS_STYLE[report.verdict], soft_wrap=True
    )

    # A passing check with a note (a newest value in the future) still has
    # something to say.
    shown = [r for r in report.results if verbose or r.status != "pass" or r.note]
    if shown:
        wide = console.width >= _WIDE
        console.print(results_table(report, shown, wide=wide))

    for action in report.actions:
        console.print(f"action: {action['summary']}", soft_wrap=True, markup=False)
    console.print(summary_line(report), soft_wrap=True)


def verdict_line(report: RunReport) -> str:
    """One line that says how the run went, e.g. ``FAIL  3 of 14 checks failed…``."""
    counts = report.counts()
    total = len(report.results)
    where = f"on target {report.target}"
    if report.run_id is not None:
        where += f" (run {report.run_id})"
    word = _VERDICT_WORD[report.verdict]

    if report.error is not None:
        return f"{word}  the run could not complete {where}: {report.error}"
    if report.verdict == "error":
        failed = f" ({counts['fail']} failed)" if counts["fail"] else ""
        return (
            f"{word}  {counts['error']} of {_checks(total)} could not be "
            f"evaluated{failed} {where}"
        )
    if report.verdict == "fail":
        return f"{word}  {counts['fail']} of {_checks(total)} failed {where}"
    if report.verdict == "warn":
        return f"{word}  {counts['warn']} of {_checks(total)} warned {where}"
    return f"{word}  {_checks(total)} passed {where}"


def summary_line(report: RunReport) -> str:
    """``14 checks: 11 passed, 1 warned, 2 failed, 0 errors in 0.42 s``."""
    counts = report.counts()
    errors = "error" if counts["error"] == 1 else "errors"
    return (
        f"{_checks(len(report.results))}: {counts['pass']} passed, "
        f"{counts['warn']} warned, {counts['fail']} failed, "
        f"{counts['error']} {errors} in {format_seconds(report.duration_ms)}"
    )


def results_table(
    report: RunReport, results: Sequence[CheckResult], *, wide: bool = True
) -> Table:
    """A light table of ``results``, one row per check.

    Wide, the keys (or an error's reason) have a column of their own and a
    note sits in that column on the row below. Narrow, they go on lines of
    their own under the check's name, which is the only cell that wraps.
    """
    qualify = len({r.suite for r in report.results}) > 1 or len(report.suites) > 1
    names = [f"{r.suite}.{r.name}" if qualify else r.name for r in results]

    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True
    )
    table.add_column("status", no_wrap=True)
    longest = max(map(len, names))
    table.add_column("check", overflow="fold", min_width=min(_NAME_WIDTH, longest))
    table.add_column("severity", no_wrap=True)
    table.add_column("violating rows" if wide else "rows", justify="right")
    if wide:
        table.add_column("sample keys", overflow="fold")
    table.add_column("time", justify="right", no_wrap=True)

    for name, result in zip(names, results, strict=True):
        status = Text(result.status.upper(), style=_STATUS_STYLE[result.status])
        count = format_count(result.violations)
        time = format_seconds(result.duration_ms)
        if wide:
            table.add_row(status, name, result.severity, count, _details(result), time)
            if result.note:
                table.add_row("", "", "", "", _note(result.note), "")
        else:
            cell = Text(name)
            for extra in (_details(result), _note(result.note)):
                if extra.plain:
                    cell.append("\n  ").append_text(extra)
            table.add_row(status, cell, result.severity, count, time)
    return table


def _note(note: str | None) -> Text:
    return Text(f"note: {note}", style="dim") if note else Text("")


def _details(result: CheckResult) -> Text:
    if result.status == "error":
        return Text(result.error or "could not be evaluated", style="red")
    if result.sample_keys:
        return Text(format_keys(result.sample_keys, result.violations))
    if result.observed:
        return Text(format_observed(result.observed), style="dim")
    return Text("")


def format_keys(
    keys: Sequence[Mapping[str, Any]], total: int | None, shown: int = SHOWN_KEYS
) -> str:
    """Compact sample keys: ``id=12, id=98, +8 more`` or ``(a=1, b=2), …``.

    ``total`` is the number of violating rows; the rows not shown are
    counted in the ``+N more`` tail.
    """
    parts = [_format_key(key) for key in keys[:shown]]
    rest = (total if total is not None else len(keys)) - len(parts)
    if rest > 0:
        parts.append(f"+{format_count(rest)} more")
    return ", ".join(parts)


def _format_key(key: Mapping[str, Any]) -> str:
    pairs = ", ".join(f"{column}={_format_value(v)}" for column, v in key.items())
    return f"({pairs})" if len(key) > 1 else pairs


def _format_value(value: Any) -> str:
    plain = json_value(value)
    if plain is None:
        return "NULL"
    if isinstance(plain, bool | int):
        return str(plain)
    if isinstance(plain, float):
        return f"{plain:.2f}".rstrip("0").rstrip(".")
    text = str(plain)
    if isinstance(value, dt.date | dt.datetime):
        return text
    plain_text = bool(text) and all(ch.isalnum() or ch in "_-.:@/+" for ch in text)
    if len(text) > _LONGEST_VALUE:
        text = text[: _LONGEST_VALUE - 1] + "…"
    return text if plain_text else "'" + text.replace("'", "''") + "'"


def format_observed(observed: Mapping[str, Any]) -> str:
    """What a table-level check measured: ``row_count=0, newest=2024-01-02…``."""
    return ", ".join(f"{k}={_format_value(v)}" for k, v in observed.items())


def format_count(count: int | None) -> str:
    """An exact count with thousands separators; a dash when there is none."""
    return "-" if count is None else f"{count:,}"


def format_seconds(millis: float) -> str:
    """``12 ms`` below a second, else ``1.42 s``."""
    if millis < 1000:
        return f"{millis:.0f} ms"
    return f"{millis / 1000:.2f} s"


def _checks(count: int) -> str:
    return f"{count:,} check" if count == 1 else f"{count:,} checks"


def problem_line(problem: Problem) -> str:
    """``file:line: check 'name': message`` for one suite problem.

    A warning says so before its message.
    """
    message = problem.message
    if problem.severity == "warning":
        message = f"warning: {message}"
    if problem.check:
        return f"{problem.location}: check {problem.check!r}: {message}"
    return f"{problem.location}: {message}"


def render_problems(
    console: Console,
    problems: Sequence[Problem],
    *,
    target: str,
    checks: int,
    suites: int,
) -> None:
    """Print the outcome of a validation: an OK line, or one line per problem."""
    if not problems:
        console.print(
            f"OK  {_checks(checks)} in {suites} suite{'s' if suites != 1 else ''} "
            f"match target {target}",
            style="green",
            soft_wrap=True,
        )
        return
    for problem in problems:
        console.print(problem_line(problem), soft_wrap=True)
    errors = sum(1 for p in problems if p.severity != "warning")
    warnings = len(problems) - errors
    parts = [f"{errors} problem{'s' if errors != 1 else ''}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    console.print(
        f"{' and '.join(parts)} among {_checks(checks)} on target {target}",
        style="red" if errors else "yellow",
        soft_wrap=True,
    )


def problems_json(
    problems: Sequence[Problem], *, target: str, checks: int, suites: Sequence[str]
) -> dict[str, Any]:
    """The stable JSON form of a validation."""
    return {
        "target": target,
        "suites": list(suites),
        "checks": checks,
        "ok": not failing(problems),
        "problems": [
            {
                "suite": p.suite,
                "check": p.check,
                "location": p.location,
                "severity": p.severity,
                "message": p.message,
            }
            for p in problems
        ],
    }


def failing(problems: Sequence[Problem]) -> bool:
    """True when a problem is an error, not only a warning: validation fails."""
    return any(p.severity != "warning" for p in problems)
