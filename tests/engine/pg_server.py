"""A real PostgreSQL server on loopback for tests: `initdb` in a temporary directory and
`pg_ctl start` on a free port, unix socket in the same directory, stopped at the end.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
`postgres` user (`scripts/setup-postgres.sh` installs the server and makes sure it exists)
and its commands run through `runuser`. Tests authenticate with a password (scram) that
they pass through an environment variable, as a notebook would.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "strata"
PASSWORD = f"pw-{uuid.uuid4().hex}"
"""Random per test session: tests grep the store and logs for it."""


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str

    def new_database(self) -> str:
        """A fresh database, so tests sharing the server never see each other's tables."""
        import psycopg

        name = f"db_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(**self.connect_args("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def connect_args(self, database: str) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": database,
        }

    def connection_toml(self, name: str, database: str, password_env: str) -> str:
        return (
            f"[connections.{name}]\n"
            'driver = "postgresql"\n'
            f'host = "{self.host}"\nport = {self.port}\ndatabase = "{database}"\n'
            f'user = "{self.user}"\n'
            f"[connections.{name}.auth]\n"
            f'password = "${{{password_env}}}"\n'
        )


def _bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    path = shutil.which(tool)
    if path is None:
        # The suite installs it (scripts/test.sh): missing here means the setup broke, which
        # must fail rather than quietly drop the PostgreSQL tests.
        message = f"PostgreSQL is not installed ({tool}); run scripts/setup-postgres.sh"
        if os.environ.get("STRATA_POSTGRES_OPTIONAL") == "1":
            pytest.skip(message)
        pytest.fail(message)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    root = Path(tempfile.mkdtemp(prefix="strata-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    subprocess.run(
        _as_owner(
            [
                _bin("initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
    subprocess.run(
        _as_owner(
            [_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield PgServer("127.0.0.1", port, USER, PASSWORD)
    finally:
        subprocess.run(
            _as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
