"""``guardian check run`` and ``check validate`` end to end, on SQLite and PostgreSQL.

Each test builds a small shop database of its own, writes suites next to it
and drives the real command in-process; nothing under test is mocked.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from rich.console import Console

from guardian.checks.results import CheckResult, RunReport
from guardian.cli import _register, cli
from guardian.cli.check import progress
from guardian.cli.render import (
    format_count,
    format_keys,
    format_seconds,
    render_report,
    summary_line,
    verdict_line,
)
from guardian.targets import Target

SHOP = [
    "create table customers (id integer primary key, email text, country text)",
    "create table orders (id integer primary key, customer_id integer, amount integer)",
    "create table events (name text, amount integer)",
    "insert into customers values (1, 'a@example.com', 'FR'), "
    "(2, 'b@example.com', 'DE'), (3, NULL, 'XX'), (4, 'd@example.com', 'FR')",
    "insert into orders values (10, 1, 5), (11, 2, -1), (12, 9, 7), (13, 1, 3), "
    "(14, 8, 2)",
    "insert into events values ('a', 1), ('b', -4), ('c', -5)",
]

PASSING = """\
suite: basics
checks:
  - name: order_amount_known
    kind: not_null
    table: orders
    columns: amount
  - name: customer_count
    kind: row_count
    table: customers
    min: 1
"""

WARNING = """\
suite: housekeeping
checks:
  - name: country_known
    kind: accepted_values
    table: customers
    column: country
    values: [FR, DE]
    severity: warn
"""

FAILING = """\
suite: money
checks:
  - name: customer_email_present
    kind: not_null
    table: customers
    columns: email
  - name: order_customer_exists
    kind: references
    table: orders
    columns: customer_id
    parent_table: customers
    parent_columns: id
    severity: critical
  - name: order_amount_positive
    kind: range
    table: orders
    column: amount
    min: 0
    severity: warn
"""

NO_KEY = """\
suite: events
checks:
  - name: event_amount_positive
    kind: expression
    table: events
    expression: amount > 0
"""

MISSING = """\
suite: broken
checks:
  - name: order_amount_known
    kind: not_null
    table: orders
    columns: amount
  - name: invoice_total
    kind: not_null
    table: invoices
    columns: total
  - name: order_price
    kind: not_null
    table: orders
    columns: price
"""


def fill(url: str, statements: list[str]) -> None:
    engine = sa.create_engine(Target.from_url(url).url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def shop_url(
    request: pytest.FixtureRequest,
    sqlite_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The URL of a fresh shop database; the test runs in its own folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    if request.param == "sqlite":
        url = f"sqlite:///{sqlite_path}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    fill(url, SHOP)
    return url


@pytest.fixture
def sqlite_shop(
    sqlite_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A shop on SQLite alone, for behaviour that does not depend on the backend."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    url = f"sqlite:///{sqlite_path}"
    fill(url, SHOP)
    return url


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder without any configuration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDIAN_CONFIG", raising=False)
    return tmp_path


def suite_file(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def guardian(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = guardian("check", "run", "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_a_passing_run(shop_url: str) -> None:
    result = guardian(
        "check", "run", suite_file("basics.yml", PASSING), "--target", shop_url
    )

    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0].startswith("PASS  2 checks passed on target ")
    assert lines[0].endswith("(run 1)")
    assert lines[-1].startswith("2 checks: 2 passed, 0 warned, 0 failed, 0 errors in ")
    assert len(lines) == 2  # no row for passing checks without --verbose
    assert "\x1b[" not in result.stdout


def test_verbose_lists_passing_checks(sqlite_shop: str) -> None:
    result = guardian(
        "check", "run", suite_file("basics.yml", PASSING), "--target", sqlite_shop, "-v"
    )

    assert result.exit_code == 0
    assert "order_amount_known" in result.stdout
    assert "customer_count" in result.stdout
    assert "rows=4" in result.stdout


def test_a_warning_run_passes(shop_url: str) -> None:
    suite = suite_file("housekeeping.yml", WARNING)

    code, report = run_json(suite, "--target", shop_url, "--no-record")
    text = guardian("check", "run", suite, "--target", shop_url, "--no-record")

    assert code == 0
    assert report["verdict"] == "warn"
    assert report["run_id"] is None
    assert report["counts"] == {"pass": 0, "warn": 1, "fail": 0, "error": 0}
    (check,) = report["checks"]
    assert check["status"] == "warn"
    assert check["violations"] == 1
    assert check["sample_keys"] == [{"id": 3}]
    assert text.exit_code == 0
    assert text.stdout.splitlines()[0].startswith("WARN  1 of 1 check warned on target")
    assert "id=3" in text.stdout


def test_a_failing_run_in_json(shop_url: str) -> None:
    code, report = run_json(suite_file("money.yml", FAILING), "--target", shop_url)

    assert code == 1
    assert set(report) >= {
        "run_id",
        "job",
        "target",
        "suites",
        "verdict",
        "started_at",
        "finished_at",
        "duration_ms",
        "counts",
        "checks",
    }
    assert report["run_id"] == 1
    assert report["job"] is None
    assert report["suites"] == ["money"]
    assert report["verdict"] == "fail"
    assert report["counts"] == {"pass": 0, "warn": 1, "fail": 2, "error": 0}
    by_name = {c["name"]: c for c in report["checks"]}
    orphans = by_name["order_customer_exists"]
    assert set(orphans) >= {
        "suite",
        "name",
        "kind",
        "table",
        "severity",
        "status",
        "violations",
        "sample_keys",
        "duration_ms",
    }
    assert orphans["suite"] == "money"
    assert orphans["kind"] == "references"
    assert orphans["table"] == "orders"
    assert orphans["severity"] == "critical"
    assert orphans["status"] == "fail"
    assert orphans["violations"] == 2
    assert sorted(k["id"] for k in orphans["sample_keys"]) == [12, 14]
    assert by_name["customer_email_present"]["sample_keys"] == [{"id": 3}]
    assert by_name["order_amount_positive"]["status"] == "warn"


def test_a_failing_run_in_text(shop_url: str) -> None:
    result = guardian(
        "check", "run", suite_file("money.yml", FAILING), "--target", shop_url
    )

    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    assert lines[0].startswith("FAIL  2 of 3 checks failed on target")
    assert lines[-1].startswith("3 checks: 0 passed, 1 warned, 2 failed, 0 errors in ")
    row = next(line for line in lines if "order_customer_exists" in line)
    assert "FAIL" in row
    assert "critical" in row
    assert "id=12, id=14" in row
    warned = next(line for line in lines if "order_amount_positive" in line)
    assert "WARN" in warned
    assert "id=11" in warned


def test_runs_are_recorded_unless_told_not_to(sqlite_shop: str) -> None:
    suite = suite_file("basics.yml", PASSING)

    first = run_json(suite, "--target", sqlite_shop)[1]
    unrecorded = run_json(suite, "--target", sqlite_shop, "--no-record")[1]
    second = run_json(suite, "--target", sqlite_shop)[1]

    assert (first["run_id"], unrecorded["run_id"], second["run_id"]) == (1, None, 2)
    assert Path(".guardian/state.db").is_file()


def test_only_picks_checks_by_name_or_suite_and_name(sqlite_shop: str) -> None:
    files = [suite_file("money.yml", FAILING), suite_file("basics.yml", PASSING)]

    code, report = run_json(
        *files,
        "--target",
        sqlite_shop,
        "--only",
        "money.order_amount_positive,customer_count",
        "--only",
        "order_amount_known",
    )
    text = guardian(
        "check",
        "run",
        *files,
        "--target",
        sqlite_shop,
        "--only",
        "money.order_amount_positive",
    )

    assert code == 0
    names = sorted(f"{c['suite']}.{c['name']}" for c in report["checks"])
    assert names == [
        "basics.customer_count",
        "basics.order_amount_known",
        "money.order_amount_positive",
    ]
    assert "money.order_amount_positive" in text.stdout


def test_an_unknown_only_name_is_a_usage_error(sqlite_shop: str) -> None:
    result = guardian(
        "check",
        "run",
        suite_file("basics.yml", PASSING),
        "--target",
        sqlite_shop,
        "--only",
        "no_such_check",
    )

    assert result.exit_code == 2
    assert "no check named 'no_such_check'" in result.stderr
    assert "customer_count" in result.stderr
    assert not Path(".guardian").exists()


def test_a_missing_table_or_column_is_a_check_error(shop_url: str) -> None:
    suite = suite_file("broken.yml", MISSING)

    code, report = run_json(suite, "--target", shop_url)
    text = guardian("check", "run", suite, "--target", shop_url)

    assert code == 1
    assert report["verdict"] == "error"
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["order_amount_known"]["status"] == "pass"
    table = by_name["invoice_total"]
    assert table["status"] == "error"
    assert table["violations"] is None
    assert "invoices" in table["error"]
    column = by_name["order_price"]
    assert column["status"] == "error"
    assert "price" in column["error"]
    assert "orders" in column["error"]
    assert text.exit_code == 1
    assert text.stdout.startswith("ERROR  2 of 3 checks could not be evaluated")
    row = next(line for line in text.stdout.splitlines() if "order_price" in line)
    assert "price" in row.split("order_price", 1)[1]


def test_validate_reports_missing_tables_and_columns_at_their_lines(
    shop_url: str,
) -> None:
    suite = suite_file("broken.yml", MISSING)

    result = guardian("check", "validate", suite, "--target", shop_url)

    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    table = next(line for line in lines if "invoice_total" in line)
    assert table.startswith("broken.yml:7: check 'invoice_total': ")
    assert "invoices" in table
    column = next(line for line in lines if "order_price" in line)
    assert column.startswith("broken.yml:11: check 'order_price': ")
    assert "price" in column.split(":", 3)[3]
    assert not any("order_amount_known" in line for line in lines)


def test_validate_passes_a_fitting_suite(shop_url: str) -> None:
    files = [suite_file("basics.yml", PASSING), suite_file("money.yml", FAILING)]

    result = guardian("check", "validate", *files, "--target", shop_url)
    as_json = guardian(
        "check", "validate", *files, "--target", shop_url, "--format", "json"
    )

    assert result.exit_code == 0
    assert result.stdout.startswith("OK  5 checks in 2 suites match target ")
    data = json.loads(as_json.stdout)
    assert as_json.exit_code == 0
    assert data["ok"] is True
    assert data["checks"] == 5
    assert data["problems"] == []


def test_a_table_without_primary_key_gets_a_note_and_still_counts(
    shop_url: str,
) -> None:
    suite = suite_file("events.yml", NO_KEY)

    code, report = run_json(suite, "--target", shop_url)
    text = guardian("check", "run", suite, "--target", shop_url)
    validated = guardian("check", "validate", suite, "--target", shop_url)

    assert code == 1
    (check,) = report["checks"]
    assert check["violations"] == 2
    assert check["sample_keys"] == []
    assert "primary key" in check["note"]
    lines = text.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if "event_amount_positive" in line)
    assert "note:" in lines[row + 1]
    assert "primary key" in text.stdout
    assert "primary key" in validated.stdout


def test_suites_come_from_the_configuration_when_none_given(
    sqlite_shop: str, tmp_path: Path
) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "basics.yml").write_text(PASSING, encoding="utf-8")
    (tmp_path / "suites" / "money.yml").write_text(FAILING, encoding="utf-8")
    Path("guardian.yml").write_text(
        f"targets:\n  shop:\n    url: '{sqlite_shop}'\nsuites: [suites]\n"
        "state:\n  url: sqlite:///records/state.db\n",
        encoding="utf-8",
    )

    code, report = run_json()

    assert code == 1
    assert report["target"] == "shop"
    assert sorted(report["suites"]) == ["basics", "money"]
    assert len(report["checks"]) == 5
    assert (tmp_path / "records" / "state.db").is_file()


def test_an_unknown_target_name_lists_the_known_ones(in_tmp: Path) -> None:
    suite = suite_file("basics.yml", PASSING)
    Path("guardian.yml").write_text(
        "targets:\n  shop:\n    url: sqlite:///shop.db\n"
        "  crm:\n    url: sqlite:///crm.db\n",
        encoding="utf-8",
    )

    result = guardian("check", "run", suite, "--target", "warehouse")
    no_target = guardian("check", "run", suite)

    assert result.exit_code == 2
    assert "no target named 'warehouse' (known: crm, shop)" in result.stderr
    assert no_target.exit_code == 2
    assert "which target?" in no_target.stderr
    assert "crm, shop" in no_target.stderr


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:s3cret@db.internal/shop",
        "postgresql://u:s3cret@db.internal:notaport/shop",
        "postgresql://u:s3cret@",
    ],
)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_bad_url_is_a_usage_error_without_the_password(
    in_tmp: Path, url: str, command: str
) -> None:
    suite = suite_file("basics.yml", PASSING)

    result = guardian("check", command, suite, "--target", url)

    assert result.exit_code in (2, 3)
    assert "error:" in result.stderr
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["run", "validate"])
def test_an_unreachable_database_names_host_and_port(
    in_tmp: Path, command: str
) -> None:
    suite = suite_file("basics.yml", PASSING)
    url = "postgresql://u:s3cret@127.0.0.1:9/shop?connect_timeout=2"

    result = guardian("check", command, suite, "--target", url)

    assert result.exit_code == 3
    assert "127.0.0.1:9" in result.stderr
    assert "cannot connect to target shop" in result.stderr
    assert "s3cret" not in result.output
    assert result.stdout == ""


def test_an_unreachable_database_is_recorded_as_a_failed_run(in_tmp: Path) -> None:
    from guardian.state.store import StateStore

    suite = suite_file("basics.yml", PASSING)
    url = "postgresql://u:s3cret@127.0.0.1:9/shop"

    result = guardian("check", "run", suite, "--target", url)

    assert result.exit_code == 3
    store = StateStore(f"sqlite:///{in_tmp / '.guardian' / 'state.db'}")
    (run,) = store.recent_runs()
    store.dispose()
    assert run.verdict == "error"
    assert run.target_url == "postgresql+psycopg://u:***@127.0.0.1:9/shop"
    assert "127.0.0.1:9" in (run.error or "")
    assert "s3cret" not in (run.error or "")


def test_a_missing_sqlite_file_cannot_run(in_tmp: Path) -> None:
    suite = suite_file("basics.yml", PASSING)

    result = guardian("check", "run", suite, "--target", "sqlite:///nowhere.db")

    assert result.exit_code == 3
    assert "no SQLite database at nowhere.db" in result.stderr
    assert not Path("nowhere.db").exists()


# --- rendering, without a database -----------------------------------------


def result(status: str, **fields: Any) -> CheckResult:
    values: dict[str, Any] = {
        "suite": "shop",
        "name": f"check_{status}",
        "kind": "not_null",
        "table": "orders",
        "severity": "warn" if status == "warn" else "error",
        "status": status,
        "violations": 0 if status == "pass" else 1,
    }
    values.update(fields)
    return CheckResult(**values)


def report(*results: CheckResult, run_id: int | None = 7) -> RunReport:
    start = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    return RunReport(
        target="chinook",
        suites=["shop"],
        started_at=start,
        finished_at=start + dt.timedelta(milliseconds=420),
        results=list(results),
        run_id=run_id,
    )


def test_keys_are_compact_and_counted() -> None:
    single = [
        {"invoice_id": 12},
        {"invoice_id": 98},
        {"invoice_id": 143},
        {"invoice_id": 7},
    ]
    composite = [{"playlist_id": 1, "track_id": 2}]
    text = [{"code": "a b"}, {"code": None}, {"code": "x" * 50}]

    assert format_keys(single, 1_234_567) == (
        "invoice_id=12, invoice_id=98, invoice_id=143, +1,234,564 more"
    )
    assert format_keys(single[:2], 2) == "invoice_id=12, invoice_id=98"
    assert format_keys(composite, 1) == "(playlist_id=1, track_id=2)"
    assert format_keys(text, 3) == f"code='a b', code=NULL, code={'x' * 31}…"
    assert format_keys([], 5) == "+5 more"


def test_counts_and_times_read_easily() -> None:
    assert format_count(1234567) == "1,234,567"
    assert format_count(None) == "-"
    assert format_seconds(12.4) == "12 ms"
    assert format_seconds(1420) == "1.42 s"


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        (["pass", "pass"], "PASS  2 checks passed on target chinook (run 7)"),
        (["pass", "warn"], "WARN  1 of 2 checks warned on target chinook (run 7)"),
        (
            ["pass", "fail", "fail", "warn"],
            "FAIL  2 of 4 checks failed on target chinook (run 7)",
        ),
        (
            ["error", "fail", "pass"],
            "ERROR  1 of 3 checks could not be evaluated (1 failed) on target "
            "chinook (run 7)",
        ),
    ],
)
def test_the_verdict_line(statuses: list[str], verdict: str) -> None:
    results = [result(s, name=f"c{i}") for i, s in enumerate(statuses)]

    assert verdict_line(report(*results)) == verdict


def test_the_summary_line() -> None:
    run = report(result("pass"), result("warn"), result("fail"), result("error"))

    assert summary_line(run) == (
        "4 checks: 1 passed, 1 warned, 1 failed, 1 error in 420 ms"
    )


def test_a_report_in_a_narrow_terminal_keeps_keys_notes_and_errors() -> None:
    run = report(
        result("fail", violations=3, sample_keys=[{"id": 1}], note="no primary key"),
        result("error", violations=None, error="table 'x' does not exist"),
        run_id=None,
    )
    console = Console(width=60, record=True, file=io.StringIO())

    render_report(console, run)

    text = console.export_text()
    assert text.splitlines()[0] == (
        "ERROR  1 of 2 checks could not be evaluated (1 failed) on target chinook"
    )
    assert "id=1, +2 more" in text
    assert "note: no primary key" in text
    assert "table 'x' does not exist" in text
    assert max(len(line) for line in text.splitlines()[1:]) <= 60


def test_no_progress_bar_without_a_terminal() -> None:
    with progress(10, enabled=True) as on_result:
        assert on_result is None


def test_log_lines_go_to_the_configured_file_not_the_terminal(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table orders (id integer primary key, email text)")
        conn.execute("insert into orders values (1, null)")
    suite = tmp_path / "orders.yml"
    suite.write_text(
        "checks:\n  - name: email_present\n    table: orders\n"
        "    kind: not_null\n    columns: email\n"
    )
    config = tmp_path / "guardian.yml"
    config.write_text(
        "targets:\n  shop:\n    url: sqlite:///shop.db\n"
        "logging:\n  file: logs/guardian.log\n"
    )
    _register()
    result = CliRunner().invoke(
        cli, ["-c", str(config), "check", "run", str(suite), "--target", "shop"]
    )
    assert result.exit_code == 1, result.output
    log_text = (tmp_path / "logs" / "guardian.log").read_text()
    assert "started" in log_text
    assert "finished: fail" in log_text
    assert "started" not in result.stderr
