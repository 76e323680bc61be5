"""``guardian demo``: faults go into quarantine; one comes back fixed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from guardian.cli import _register, cli


def test_demo_quarantines_fixes_and_releases(tmp_path: Path) -> None:
    _register()
    folder = tmp_path / "demo"
    runner = CliRunner()

    result = runner.invoke(cli, ["demo", "--dir", str(folder), "--format", "json"])

    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)["quarantine"]
    statuses = sorted((e["table"], e["status"]) for e in steps["held"])
    assert statuses == [
        ("Customer", "held_in_place"),
        ("Customer", "held_in_place"),
        ("Customer", "held_in_place"),
        ("Invoice", "held_in_place"),
        ("InvoiceLine", "held"),
        ("Track", "held_in_place"),
    ]
    assert steps["release"]["released"] == [steps["fixed"]]
    assert steps["back"]["InvoiceLineId"] == next(
        e["key"]["InvoiceLineId"] for e in steps["held"] if e["id"] == steps["fixed"]
    )

    config = str(folder / "guardian.yml")
    again = runner.invoke(cli, ["-c", config, "check", "run", "--format", "json"])
    failing = {
        c["name"] for c in json.loads(again.output)["checks"] if c["status"] != "pass"
    }
    assert "invoice_line_track_exists" not in failing
    assert len(failing) == 4
    listed = runner.invoke(
        cli, ["-c", config, "quarantine", "list", "--format", "json"]
    )
    assert len(json.loads(listed.output)["entries"]) == 5


def test_demo_without_quarantine_leaves_the_faults_in_place(tmp_path: Path) -> None:
    _register()
    folder = tmp_path / "demo"
    runner = CliRunner()

    result = runner.invoke(cli, ["demo", "--dir", str(folder), "--no-quarantine"])

    assert result.exit_code == 0, result.output
    assert "Quarantined" not in result.output
    config = str(folder / "guardian.yml")
    listed = runner.invoke(
        cli, ["-c", config, "quarantine", "list", "--format", "json"]
    )
    assert json.loads(listed.output)["entries"] == []
