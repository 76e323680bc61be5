"""Run Soda Core scans on request and report how long each took, as JSON.

This file runs under the Python of Soda's own virtual environment, never
under guardian's: it imports nothing from guardian or the bench package.
Started once, it reads one command per line on standard input:

- ``run``: build a scan from the configuration and check files given on
  the command line, time ``scan.execute()`` alone, and print one JSON line
  ``{"seconds": …, "exit": …, "checks": [{"name", "outcome", "value"}…]}``;
- ``quit`` (or the end of input): stop.

Interpreter start-up and imports happen once, before the first command, so
they are never part of a measured time; each repetition is a fresh scan, as
a scheduled job would run one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any, TextIO


def main() -> None:
    """Read commands until ``quit`` and answer each ``run`` with one JSON line."""
    args = _arguments()
    logging.disable(logging.CRITICAL)

    # Anything Soda prints goes to stderr, so that stdout carries only answers.
    answers = sys.stdout
    sys.stdout = sys.stderr

    # Imported before the first command on purpose: imports are not measured.
    from soda.scan import Scan  # type: ignore[import-not-found]

    _answer(answers, {"ready": True})
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "run":
            _answer(answers, {"error": f"unknown command {command!r}"})
            continue
        _answer(answers, _one_scan(Scan, args))


def _answer(stream: TextIO, answer: dict[str, Any]) -> None:
    stream.write(json.dumps(answer) + "\n")
    stream.flush()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configuration", required=True)
    parser.add_argument("--checks", required=True)
    parser.add_argument("--data-source", required=True)
    return parser.parse_args()


def _one_scan(scan_class: Any, args: argparse.Namespace) -> dict[str, Any]:
    scan = scan_class()
    scan.disable_telemetry()
    scan.set_data_source_name(args.data_source)
    scan.add_configuration_yaml_file(args.configuration)
    scan.add_sodacl_yaml_file(args.checks)

    start = time.perf_counter()
    exit_value = scan.execute()
    seconds = time.perf_counter() - start

    results = scan.get_scan_results()
    return {
        "seconds": seconds,
        "exit": exit_value,
        "errors": scan.get_error_logs_text(),
        "checks": [_check(c) for c in results.get("checks", [])],
    }


def _check(result: dict[str, Any]) -> dict[str, Any]:
    diagnostics = result.get("diagnostics") or {}
    value = diagnostics.get("value")
    if not (value is None or isinstance(value, int | float)):
        value = str(value)
    return {
        "name": result.get("name"),
        "outcome": result.get("outcome"),
        "value": value,
    }


if __name__ == "__main__":
    main()
