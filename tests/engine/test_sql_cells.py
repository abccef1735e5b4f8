"""SQL cells end to end on SQLite and DuckDB (PostgreSQL: test_sql_postgres.py): binds as
driver parameters, read-only enforced by the driver, write cells' per-statement tables,
DataFrames in and out, and the @cache policies in the key."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
from sql_nb import Runner, cell, executed, output, run_nb, states, write_sql_notebook

from strata_engine.kinds.sql_probe import SESSION_NONCE, live_token
from strata_engine.run.session import Session

__all__ = ["run_nb"]

SQLITE = '[connections.wh]\ndriver = "sqlite"\npath = "data/wh.db"\n'
DUCKDB = '[connections.duck]\ndriver = "duckdb"\npath = "wh.duckdb"\n'
MEMORY = '[connections.mem]\ndriver = "duckdb"\n'

SEED = """# @sql connection=wh write=true
-- Seed a table; "write=true" lets this cell change the database.
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL);
INSERT INTO orders VALUES (1, 'alice', 25.5), (2, 'bob', 199.99), (3, 'carol', 75.0);
UPDATE orders SET amount = amount + 1 WHERE customer = 'bob';
"""
TOP = """# @sql connection=wh
# @name top
# @after seed
-- ':min_amount' inside a string is text, the bare one a parameter
SELECT customer, amount, ':min_amount' AS literal FROM orders
WHERE amount > :min_amount ORDER BY amount DESC
"""


def sqlite_cells() -> dict[str, tuple[str, str]]:
    return {
        "seed": ("sql", SEED),
        "threshold": ("python", "min_amount = 50\n"),
        "top": ("sql", TOP),
        "report": ("python", "kind = type(top).__name__\ncustomers = list(top.customer)\n"),
    }


def make_sqlite(tmp_path: Path) -> Path:
    nb = write_sql_notebook(tmp_path / "nb", sqlite_cells(), header=SQLITE)
    (nb / "data").mkdir()
    return nb


def test_sqlite_write_read_bind_and_python_downstream(tmp_path: Path, run_nb: Runner) -> None:
    nb = make_sqlite(tmp_path)
    report = run_nb(nb)
    assert report.success, [c.to_json() for c in report.cells]
    seeded = output(nb, "seed")
    assert isinstance(seeded, pd.DataFrame)
    assert list(seeded.columns) == ["statement", "kind", "rows_affected"]
    assert list(seeded.kind) == ["DROP", "CREATE", "INSERT", "UPDATE"]
    assert list(seeded.rows_affected)[2:] == [3, 1]
    assert seeded.statement[2].startswith("INSERT INTO orders")
    top = output(nb, "top")
    assert isinstance(top, pd.DataFrame)
    assert list(top.customer) == ["bob", "carol"] and list(top.literal) == [":min_amount"] * 2
    assert top.amount[0] == 200.99
    assert output(nb, "report", "kind") == "DataFrame"
    # The kind came from the manifest: the original stores SQL cells in .py files.
    again = run_nb(nb)
    assert again.success and executed(again) == set()  # one process: the session holds


def test_a_bind_is_a_parameter_never_text(tmp_path: Path, run_nb: Runner) -> None:
    nb = make_sqlite(tmp_path)
    (nb / "cells" / "threshold.py").write_text('min_amount = "0 OR 1=1; DROP TABLE orders"\n')
    report = run_nb(nb)
    assert report.success, [c.to_json() for c in report.cells]
    # Compared as a value, the string sorts after every number (SQLite): no row, no drop.
    assert len(output(nb, "top")) == 0
    with sqlite3.connect(nb / "data" / "wh.db") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_sqlite_read_cell_cannot_write(tmp_path: Path, run_nb: Runner) -> None:
    cells = sqlite_cells()
    cells["sneaky"] = ("sql", "# @sql connection=wh\n# @after seed\nDELETE FROM orders\n")
    nb = write_sql_notebook(tmp_path / "nb", cells, header=SQLITE)
    (nb / "data").mkdir()
    report = run_nb(nb)
    error = str(cell(report, "sneaky")["error"])
    assert cell(report, "sneaky")["status"] == "error"
    assert "read-only" in error and "write=true" in error and "nothing was changed" in error
    assert cell(report, "top")["status"] == "ok"
    with sqlite3.connect(nb / "data" / "wh.db") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_a_read_cell_never_creates_the_database(tmp_path: Path, run_nb: Runner) -> None:
    nb = write_sql_notebook(
        tmp_path / "nb", {"q": ("sql", "# @sql connection=wh\nSELECT 1\n")}, header=SQLITE
    )
    report = run_nb(nb)
    assert "does not exist" in str(cell(report, "q")["error"])
    assert not (nb / "data" / "wh.db").exists()


def test_duckdb_file_write_read_and_refusal(tmp_path: Path, run_nb: Runner) -> None:
    cells = {
        "seed": (
            "sql",
            "# @sql connection=duck write=true\n"
            "CREATE TABLE t AS SELECT range AS x FROM range(10);\n"
            "INSERT INTO t VALUES (100), (200);\n",
        ),
        "lim": ("python", "lim = 5\n"),
        "big": (
            "sql",
            "# @sql connection=duck\n# @after seed\nSELECT count(*) AS n FROM t WHERE x > :lim\n",
        ),
        "bad": ("sql", "# @sql connection=duck\n# @after seed\nINSERT INTO t VALUES (1)\n"),
        "copy": ("sql", "# @sql connection=duck\n# @after seed\nCOPY t TO 'out.csv'\n"),
    }
    nb = write_sql_notebook(tmp_path / "nb", cells, header=DUCKDB)
    report = run_nb(nb)
    assert cell(report, "seed")["status"] == "ok" and cell(report, "big")["status"] == "ok"
    seeded = output(nb, "seed")
    assert list(seeded.kind) == ["CREATE", "INSERT"]
    assert list(seeded.rows_affected)[1] == 2
    assert output(nb, "big").n[0] == 6
    for refused in ("bad", "copy"):
        error = str(cell(report, refused)["error"])
        assert "read-only" in error and "write=true" in error, error
    assert not (nb / "out.csv").exists()
    with duckdb.connect(str(nb / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (12,)


def test_dataframe_bound_by_name_is_a_duckdb_table(tmp_path: Path, run_nb: Runner) -> None:
    cells = {
        "frame": ("python", "import pandas as pd\nsales = pd.DataFrame({'x': [1, 2, 3, 4]})\n"),
        "arrow": ("python", "import pyarrow as pa\nextra = pa.table({'x': [10, 20]})\n"),
        "lim": ("python", "lim = 1\n"),
        "q": (
            "sql",
            "# @sql connection=mem\n# @name total\n"
            "SELECT (SELECT sum(x) FROM :sales WHERE x > :lim) + (SELECT sum(x) FROM :extra)"
            " AS total\n",
        ),
        "write_mem": ("sql", "# @sql connection=mem\nCREATE TABLE t (a INT)\n"),
        "use": ("python", "doubled = total.total[0] * 2\n"),
    }
    nb = write_sql_notebook(tmp_path / "nb", cells, header=MEMORY)
    report = run_nb(nb)
    assert cell(report, "q")["status"] == "ok", cell(report, "q")
    assert output(nb, "use", "doubled") == 2 * (2 + 3 + 4 + 30)
    assert "write=true" in str(cell(report, "write_mem")["error"])


def test_fingerprint_makes_an_external_write_stale(tmp_path: Path, run_nb: Runner) -> None:
    cells = sqlite_cells()
    cells["pinned"] = (
        "sql",
        "# @sql connection=wh\n# @cache forever\n# @after seed\nSELECT count(*) AS n FROM orders\n",
    )
    nb = write_sql_notebook(tmp_path / "nb", cells, header=SQLITE)
    (nb / "data").mkdir()
    assert run_nb(nb).success
    assert states(nb)["top"] == "ready"
    with sqlite3.connect(nb / "data" / "wh.db") as conn:
        conn.execute("INSERT INTO orders VALUES (4, 'dave', 500.0)")
    now = states(nb)
    assert now["top"] == "stale" and now["pinned"] == "ready"
    with Session(nb) as session:
        snapshot = session.snapshot()
        snapshot.mount_max_age = 0.0  # probe afresh, as a run does
        reasons = [r.to_json() for r in session.states(snapshot)["top"].reasons]
    assert reasons == [{"reason": "data_changed", "variable": "sql wh @cache fingerprint"}]
    report = run_nb(nb)
    assert "top" in executed(report) and "pinned" not in executed(report)
    assert list(output(nb, "top").customer) == ["dave", "bob", "carol"]
    assert output(nb, "pinned").n[0] == 3  # forever: as cached


def test_a_write_by_another_cell_reaches_the_reader(tmp_path: Path, run_nb: Runner) -> None:
    nb = make_sqlite(tmp_path)
    assert run_nb(nb).success
    seed = nb / "cells" / "seed.sql"
    seed.write_text(
        seed.read_text().replace("(3, 'carol', 75.0)", "(3, 'carol', 75.0), (9, 'erin', 60.0)")
    )
    report = run_nb(nb)
    assert {"seed", "top"} <= executed(report)
    assert list(output(nb, "top").customer) == ["bob", "carol", "erin"]


def test_cache_policy_tokens() -> None:
    assert live_token("forever", None, None, "/", "", max_age=0) == "forever"
    assert live_token("session", None, None, "/", "", max_age=0) == f"session:{SESSION_NONCE}"
    assert live_token("ttl", 60, None, "/", "", max_age=0, now=119) == "ttl:1"
    assert live_token("ttl", 60, None, "/", "", max_age=0, now=120) == "ttl:2"


def test_ttl_and_forever_and_session_in_the_key(tmp_path: Path, run_nb: Runner) -> None:
    cells = sqlite_cells()
    cells["ttl"] = ("sql", "# @sql connection=mem\n# @cache ttl=3600\nSELECT 1 AS one\n")
    nb = write_sql_notebook(tmp_path / "nb", cells, header=SQLITE + MEMORY)
    (nb / "data").mkdir()
    assert run_nb(nb).success
    with sqlite3.connect(nb / "data" / "wh.db") as conn:
        conn.execute("INSERT INTO orders VALUES (4, 'dave', 500.0)")
    assert states(nb)["ttl"] == "ready"  # a change of data is not a ttl cell's concern
    # A new engine process is a new session: the seed (default `session`) runs again.
    strata = [sys.executable, "-m", "strata_engine.cli", "run", str(nb), "--format", "json"]
    first = json.loads(subprocess.run(strata, capture_output=True, text=True, check=True).stdout)
    hits = {c["id"]: c["cache_hit"] for c in first["cells"]}
    assert hits["seed"] is False and hits["ttl"] is True


def test_sql_result_is_arrow_in_the_store(tmp_path: Path, run_nb: Runner) -> None:
    nb = make_sqlite(tmp_path)
    assert run_nb(nb).success
    from strata_engine.run.session import Session

    with Session(nb) as session:
        stored = session.states()["top"].entry.outputs["top"]  # type: ignore[union-attr]
        assert stored.content_type == "arrow/ipc"
        table = pa.ipc.open_file(str(session.blobs.path(stored.digest))).read_all()
    assert table.column_names == ["customer", "amount", "literal"]
