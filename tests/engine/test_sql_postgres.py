"""SQL cells on a real PostgreSQL server (pg_server.py: initdb + pg_ctl on loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pg_server import PgServer, pg_server
from sql_nb import Runner, cell, executed, output, run_nb, states, write_sql_notebook

__all__ = ["pg_server", "run_nb"]

PW_VAR = "STRATA_TEST_PG_PASSWORD"

SEED = """# @sql connection=pg write=true
-- 50% off: a literal percent sign is not a placeholder
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric, note text);
INSERT INTO orders VALUES (1, 'alice', 25.5, '50%'), (2, 'bob', 199.99, 'x'), (3, 'carol', 75, 'y');
UPDATE orders SET note = 'vip' WHERE amount > 100;
"""
TOP = """# @sql connection=pg
# @name top
# @after seed
SELECT customer, amount::float8 AS amount, note, '100%' AS pct FROM orders
WHERE amount > :min_amount AND customer <> :skip ORDER BY amount DESC
"""


@pytest.fixture
def password(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(PW_VAR, pg_server.password)
    yield pg_server.password


def pg_notebook(
    root: Path, server: PgServer, extra: dict[str, tuple[str, str]] | None = None
) -> tuple[Path, str]:
    database = server.new_database()
    cells = {
        "seed": ("sql", SEED),
        "params": ("python", "min_amount = 50\nskip = \"nobody' OR 'a'='a\"\n"),
        "top": ("sql", TOP),
        "use": ("python", "names = list(top.customer)\n"),
        **(extra or {}),
    }
    header = server.connection_toml("pg", database, PW_VAR)
    return write_sql_notebook(root, cells, header=header), database


def count(server: PgServer, database: str) -> int:
    with psycopg.connect(**server.connect_args(database)) as conn:
        row = conn.execute("SELECT count(*) FROM orders").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.usefixtures("password")
def test_postgres_write_read_binds_and_refusal(
    tmp_path: Path, pg_server: PgServer, run_nb: Runner
) -> None:
    refused = {"bad": ("sql", "# @sql connection=pg\n# @after seed\nDELETE FROM orders\n")}
    nb, database = pg_notebook(tmp_path / "nb", pg_server, refused)
    report = run_nb(nb)
    assert cell(report, "top")["status"] == "ok", cell(report, "top")
    seeded = output(nb, "seed")
    assert list(seeded.kind) == ["DROP", "CREATE", "INSERT", "UPDATE"]
    assert list(seeded.rows_affected)[2:] == [3, 1]
    top = output(nb, "top")
    assert list(top.customer) == ["bob", "carol"] and list(top.pct) == ["100%", "100%"]
    assert output(nb, "use") == ["bob", "carol"]
    error = str(cell(report, "bad")["error"])
    assert "read-only" in error and "write=true" in error
    assert count(pg_server, database) == 3


@pytest.mark.usefixtures("password")
def test_postgres_fingerprint_sees_an_external_write(
    tmp_path: Path, pg_server: PgServer, run_nb: Runner
) -> None:
    nb, database = pg_notebook(tmp_path / "nb", pg_server)
    assert run_nb(nb).success
    assert states(nb)["top"] == "ready"
    with psycopg.connect(**pg_server.connect_args(database), autocommit=True) as conn:
        conn.execute("UPDATE orders SET amount = 80 WHERE customer = 'alice'")
    assert states(nb)["top"] == "stale"
    report = run_nb(nb)
    assert "top" in executed(report)
    assert list(output(nb, "top").customer) == ["bob", "alice", "carol"]


def test_secret_never_reaches_store_index_or_logs(
    tmp_path: Path, pg_server: PgServer, password: str
) -> None:
    nb, _ = pg_notebook(tmp_path / "nb", pg_server)
    env = {**os.environ, PW_VAR: password}
    argv = [sys.executable, "-m", "strata_engine.cli", "run", str(nb), "--format", "json"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert json.loads(proc.stdout)["success"], proc.stdout
    assert password not in proc.stdout + proc.stderr
    for path in (nb / ".strata").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert password not in (nb / "notebook.toml").read_text()


def test_missing_auth_variable_fails_only_that_cell(
    tmp_path: Path, pg_server: PgServer, run_nb: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PW_VAR, raising=False)
    nb, _ = pg_notebook(tmp_path / "nb", pg_server, {"free": ("python", "y = 1\n")})
    report = run_nb(nb)
    error = str(cell(report, "seed")["error"])
    assert cell(report, "seed")["status"] == "error"
    assert PW_VAR in error and "not set" in error
    assert cell(report, "free")["status"] == "ok" and cell(report, "params")["status"] == "ok"
    assert cell(report, "top")["status"] == "skipped"


@pytest.mark.usefixtures("password")
def test_wrong_password_is_the_cells_error_without_the_secret(
    tmp_path: Path, pg_server: PgServer, run_nb: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PW_VAR, "definitely-wrong-secret")
    nb, _ = pg_notebook(tmp_path / "nb", pg_server)
    report = run_nb(nb)
    error = str(cell(report, "seed")["error"])
    assert "cannot connect to PostgreSQL" in error
    assert "definitely-wrong-secret" not in error + str(cell(report, "seed").get("traceback"))
