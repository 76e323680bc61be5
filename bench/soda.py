"""Soda Core 3 in its own virtual environment, driven from the bench.

Soda is never installed into guardian's environment: the bench makes
``bench/.venv-soda`` on first use (``python -m venv`` and pip) and talks to
:mod:`bench.soda_driver` running under that environment's Python through a
pipe, one scan per request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.common import BENCH_DIR, BenchError, BenchSetupError

SODA_VENV = BENCH_DIR / ".venv-soda"
SODA_REQUIREMENTS = ("soda-core>=3.5,<4", "soda-core-postgres>=3.5,<4")
_STAMP = SODA_VENV / ".installed"
_DRIVER = BENCH_DIR / "soda_driver.py"


def soda_python(log: Callable[[str], None] = print) -> Path:
    """The Python of Soda's environment, made and filled on first use."""
    python = SODA_VENV / "bin" / "python"
    wanted = "\n".join(SODA_REQUIREMENTS)
    if python.exists() and _STAMP.exists() and _STAMP.read_text() == wanted:
        return python

    log(f"installing Soda Core 3 into {SODA_VENV.relative_to(BENCH_DIR.parent)} …")
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(SODA_VENV)], "make the Soda venv")
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    _run([*pip, "--upgrade", "pip"], "upgrade pip in the Soda venv")
    _run([*pip, *SODA_REQUIREMENTS], "install Soda Core")
    _STAMP.write_text(wanted)
    return python


def soda_version(python: Path) -> str:
    """The installed version of soda-core, e.g. ``3.5.6``."""
    done = subprocess.run(
        [
            str(python),
            "-c",
            "from importlib.metadata import version; print(version('soda-core'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchSetupError(f"could not {what} (exit {done.returncode}):\n{tail}")


class SodaScanner:
    """A running driver process; each :meth:`scan` is one timed Soda scan."""

    def __init__(
        self, python: Path, configuration: Path, checks: Path, data_source: str
    ) -> None:
        self._process = subprocess.Popen(
            [
                # -I keeps this folder off sys.path: its soda.py would shadow Soda.
                str(python),
                "-I",
                str(_DRIVER),
                "--configuration",
                str(configuration),
                "--checks",
                str(checks),
                "--data-source",
                data_source,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._read()
        if not ready.get("ready"):
            raise BenchSetupError(f"the Soda driver did not start: {ready}")

    def scan(self) -> dict[str, Any]:
        """Run one scan; its JSON answer, ``seconds`` timing execute() only."""
        assert self._process.stdin is not None
        self._process.stdin.write("run\n")
        self._process.stdin.flush()
        answer = self._read()
        if "seconds" not in answer:
            raise BenchError(f"the Soda driver failed: {answer}")
        return answer

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            raise BenchSetupError(
                f"the Soda driver stopped (exit {code}); see its stderr"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """Ask the driver to stop and wait for it."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.write("quit\n")
            self._process.stdin.close()
            self._process.wait(timeout=60)

    def __enter__(self) -> SodaScanner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
