"""A PostgreSQL server for the tests: the one running here, or one we start.

Order of preference:

1. ``GUARDIAN_TEST_PG_URL``, when set, names a server to use as it is.
2. A server answering on 127.0.0.1:5432 as ``postgres`` (trust auth).
3. A Debian cluster that is installed but stopped: started with pg_ctlcluster.
4. A throwaway cluster made with ``initdb`` under ``.tmp/`` and started with
   ``pg_ctl`` on a free port, stopped when the tests end.

As root, server processes run as the ``postgres`` user, which PostgreSQL
requires.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent


def ensure_server() -> str:
    """A libpq URL of a reachable server's ``postgres`` database."""
    explicit = os.environ.get("GUARDIAN_TEST_PG_URL")
    if explicit:
        _wait_for(explicit, seconds=10)
        return explicit
    if _answers(DEFAULT_URL):
        return DEFAULT_URL
    if _start_debian_cluster() and _wait_for(DEFAULT_URL, seconds=20, strict=False):
        return DEFAULT_URL
    return _start_private_cluster()


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _wait_for(url: str, seconds: float, strict: bool = True) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _answers(url):
            return True
        time.sleep(0.3)
    if strict:
        raise RuntimeError(f"PostgreSQL at {url} did not answer within {seconds}s")
    return False


def _start_debian_cluster() -> bool:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return False
    started = False
    for version in sorted(os.listdir("/etc/postgresql")):
        result = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            text=True,
            check=False,
        )
        started = started or result.returncode == 0
    return started


def server_binary(name: str) -> str:
    """Path of a PostgreSQL server program such as initdb or pg_ctl."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise RuntimeError(f"{name} not found: install PostgreSQL's server binaries")


def as_postgres(command: list[str]) -> list[str]:
    """Run ``command`` as the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_private_cluster() -> str:
    base = ROOT / ".tmp" / f"pg-{os.getpid()}"
    data = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        as_postgres(
            [server_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        ),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = base / "server.log"
    subprocess.run(
        as_postgres(
            [
                server_binary("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -k {base}",
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            as_postgres(
                [server_binary("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    _wait_for(url, seconds=30)
    return url
