"""``python -m bench``: one subcommand per benchmark.

A benchmark prints its progress, writes its raw results to
``bench/results/`` and rewrites its own section of BENCHMARKS.md (unless
``--no-report``). It exits 1 when its results are wrong (the cases disagree),
2 on a bad command line, 3 when it cannot run (no server, no Soda).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import TypeVar

import click
import psycopg

from bench.common import (
    BENCH_DIR,
    DEFAULT_DATABASE,
    DEFAULT_SERVER_URL,
    BenchError,
    Options,
    write_section,
)

BENCHMARKS_MD = BENCH_DIR.parent / "BENCHMARKS.md"

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


@click.group()
def main() -> None:
    """Benchmarks of guardian; see bench/README.md."""


def _options(rows: int, repeats: int) -> Callable[[F], F]:
    """The options every benchmark takes, with its own default sizes."""

    def decorate(command: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--rows",
                    type=click.IntRange(min=100),
                    default=rows,
                    show_default=True,
                ),
                click.option(
                    "--url",
                    "server_url",
                    default=DEFAULT_SERVER_URL,
                    show_default=True,
                    help="libpq URL of any database on the PostgreSQL server to use.",
                ),
                click.option(
                    "--database",
                    default=DEFAULT_DATABASE,
                    show_default=True,
                    help="Database the bench creates (if missing) and fills.",
                ),
                click.option(
                    "--repeats",
                    type=click.IntRange(min=1),
                    default=repeats,
                    show_default=True,
                ),
                click.option(
                    "--warmups",
                    type=click.IntRange(min=0),
                    default=1,
                    show_default=True,
                ),
                click.option(
                    "--report/--no-report",
                    default=True,
                    show_default=True,
                    help="Rewrite this benchmark's section of BENCHMARKS.md.",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


@main.command()
@_options(rows=1_000_000, repeats=7)
def checks(
    rows: int,
    server_url: str,
    database: str,
    repeats: int,
    warmups: int,
    report: bool,
) -> None:
    """Ten row-level checks: guardian vs hand-written SQL and Soda Core."""
    from bench import checks as bench_checks
    from bench import checks_report

    options = Options(
        rows=rows,
        server_url=server_url,
        database=database,
        repeats=repeats,
        warmups=warmups,
        command=_command_line(),
    )
    outcome = _guarded(lambda: bench_checks.run(options, log=click.echo))

    _publish(checks_report.render(outcome), checks_report.section_name(rows), report)


@main.command()
@_options(rows=2_000_000, repeats=5)
def quarantine(
    rows: int,
    server_url: str,
    database: str,
    repeats: int,
    warmups: int,
    report: bool,
) -> None:
    """Move one row in 20 into quarantine: guardian vs hand-written SQL."""
    from bench import quarantine as bench_quarantine

    options = Options(
        rows=rows,
        server_url=server_url,
        database=database,
        repeats=repeats,
        warmups=warmups,
        command=_command_line(),
    )
    outcome = _guarded(lambda: bench_quarantine.run(options, log=click.echo))

    _publish(
        bench_quarantine.render(outcome), bench_quarantine.section_name(rows), report
    )


def _publish(text: str, section: str, report: bool) -> None:
    """Print a benchmark's report and, unless told not to, write its section."""
    click.echo("\n" + text)
    if report:
        write_section(BENCHMARKS_MD, section, text)
        click.echo(f"\nwrote {BENCHMARKS_MD.name}")


def _command_line() -> str:
    """The command as a user would type it from the repository root."""
    from guardian.targets import mask_url

    return mask_url(shlex.join(["./dev", "bench", *sys.argv[1:]]))


def _guarded(work: Callable[[], T]) -> T:
    """Run ``work``; known failures become a message and an exit code."""
    from guardian.errors import GuardianError
    from guardian.targets import mask_url

    try:
        return work()
    except BenchError as exc:
        click.echo(f"bench failed: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    except GuardianError as exc:
        click.echo(f"bench failed in guardian: {exc}", err=True)
        raise SystemExit(int(exc.exit_code)) from None
    except psycopg.OperationalError as exc:
        click.echo(f"bench cannot run: {mask_url(str(exc))}", err=True)
        raise SystemExit(3) from None


if __name__ == "__main__":
    main()
