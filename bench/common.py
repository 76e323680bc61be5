"""What every benchmark shares: timing, the bench database, machine facts, reports.

A benchmark measures several *cases* (guardian and the things it is compared
with) on the same data in the same process run. Cases are measured
interleaved: one warm-up round, then rounds in which every case runs once, in
an order that rotates from round to round so that no case always follows the
same neighbour. Each case keeps its own list of timings; reports give the
median and the spread (min-max).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "guardian_bench"

# Settings that change how fast a scan runs; the report shows each of them.
PG_SETTINGS = (
    "max_parallel_workers_per_gather",
    "max_parallel_workers",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "jit",
)


@dataclass(frozen=True)
class Options:
    """What the user asked for on the command line."""

    rows: int
    server_url: str
    database: str
    repeats: int
    warmups: int
    command: str


class BenchError(Exception):
    """A benchmark's results are wrong: the cases disagree, or the data does."""

    exit_code = 1


class BenchSetupError(BenchError):
    """A benchmark cannot run: a tool would not install or start."""

    exit_code = 3


@dataclass
class Timings:
    """The wall times of one case, in seconds, warm-up excluded."""

    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """The median time; what every ratio is taken of."""
        return statistics.median(self.seconds)

    @property
    def low(self) -> float:
        """The fastest repetition."""
        return min(self.seconds)

    @property
    def high(self) -> float:
        """The slowest repetition."""
        return max(self.seconds)

    def to_json(self) -> dict[str, object]:
        """The raw figures, for the results file."""
        return {
            "label": self.label,
            "seconds": self.seconds,
            "median": self.median,
            "min": self.low,
            "max": self.high,
        }


Case = Callable[[], float | None]
"""One measured action. It returns its own time when it measured it itself
(a subprocess that excludes its start-up), else None and is timed outside."""


def measure(
    cases: dict[str, Case],
    *,
    repeats: int,
    warmups: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Timings]:
    """Run every case ``warmups`` + ``repeats`` times, interleaved and rotated."""
    names = list(cases)
    timings = {name: Timings(name) for name in names}

    for round_no in range(warmups + repeats):
        shift = round_no % len(names)
        order = names[shift:] + names[:shift]
        warm = round_no < warmups
        for name in order:
            seconds = _time_one(cases[name])
            if not warm:
                timings[name].seconds.append(seconds)
            if progress is not None:
                kind = "warm-up" if warm else f"round {round_no - warmups + 1}"
                progress(f"  {kind:>9}  {name:<28} {seconds * 1000:9.1f} ms")

    return timings


def _time_one(case: Case) -> float:
    start = time.perf_counter()
    reported = case()
    elapsed = time.perf_counter() - start
    return elapsed if reported is None else reported


def bench_database_url(server_url: str, database: str) -> str:
    """Create ``database`` on the server when missing; return a URL to it.

    ``server_url`` is a libpq URL to any database of the server (usually
    ``postgres``); the bench database gets the same user, host and port.
    """
    with psycopg.connect(server_url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return replace_database(server_url, database)


def replace_database(url: str, database: str) -> str:
    """The libpq URL ``url`` pointing at ``database`` instead."""
    head, _, query = url.partition("?")
    scheme, _, rest = head.partition("://")
    authority = rest.split("/", 1)[0]
    result = f"{scheme}://{authority}/{database}"
    return f"{result}?{query}" if query else result


@dataclass(frozen=True)
class Machine:
    """Where a benchmark ran: the figures a reader needs to compare runs."""

    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    postgres: str
    settings: dict[str, str]


def machine_facts(url: str) -> Machine:
    """CPU, memory, Python, and the PostgreSQL version and settings at ``url``."""
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = {
            name: str(row[0])
            for name in PG_SETTINGS
            if (
                row := conn.execute(
                    sql.SQL("SHOW {}").format(sql.Identifier(name))
                ).fetchone()
            )
        }
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        memory_gib=_memory_gib(),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        postgres=str(version[0]) if version else "unknown",
        settings=settings,
    )


def load_average() -> float:
    """The system's one-minute load average; 0 where the system has none.

    Reports show it before and after a run: other work on the machine
    (above about the number of cores) makes every figure noisier.
    """
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return 0.0


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return round(int(found.group(1)) / 1024 / 1024, 1) if found else 0.0


def machine_markdown(machine: Machine) -> str:
    """The machine as a short Markdown list."""
    settings = ", ".join(f"{k} = {v}" for k, v in machine.settings.items())
    return "\n".join(
        [
            f"- CPU: {machine.cpu}, {machine.cores} cores; "
            f"memory: {machine.memory_gib} GiB",
            f"- System: {machine.system}; Python {machine.python}",
            f"- PostgreSQL {machine.postgres}: {settings}",
        ]
    )


def today() -> str:
    """Today's date in UTC, as the reports show it."""
    return dt.datetime.now(dt.UTC).date().isoformat()


def milliseconds(seconds: float) -> str:
    """A time for a table cell: milliseconds with sensible precision."""
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; columns after the first are right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the markers of section ``name`` in ``path``.

    Only that section changes: text outside it, and other benchmarks'
    sections, stay as they are. A missing file or section is created, the
    section going at the end.
    """
    start = f"<!-- bench:{name}:start -->"
    end = f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else _BENCHMARKS_HEADER

    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"

    path.write_text(text if text.endswith("\n") else text + "\n")


_BENCHMARKS_HEADER = """# Benchmarks

Every figure below is written by the benchmark itself (`./dev bench …`, see
`bench/README.md`); nothing is edited by hand. Each section says the machine,
the date and the command that produced it. Run the command again to check.
"""
