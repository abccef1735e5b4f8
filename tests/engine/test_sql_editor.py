"""SQL diagnostics (SPEC 11) with their quick fixes, and completion of tables, columns and
binds from the connection's schema, read without running any cell."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sql_nb import write_sql_notebook

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.editor.fixes import quick_fixes
from strata_engine.editor.sql_completion import complete_sql
from strata_engine.model.notebook import load_notebook

HEADER = """[connections.wh]
driver = "sqlite"
path = "wh.db"

[connections.nodriver]
path = "x.db"

[connections.odd]
driver = "oracle"

[connections.pg]
driver = "postgresql"
[connections.pg.auth]
password = "hunter2"
"""


def test_sql_diagnostics_and_fixes(tmp_path: Path) -> None:
    cells = {
        "missing": ("sql", "SELECT 1\n"),
        "unknown": ("sql", "# @sql connection=wj\nSELECT 1\n"),
        "policy": ("sql", "# @sql connection=wh\n# @cache sometimes\nSELECT 1\n"),
        "ttl": ("sql", "# @sql connection=wh\n# @cache ttl=-5\nSELECT 1\n"),
    }
    nb = write_sql_notebook(tmp_path / "nb", cells, header=HEADER)
    snapshot = take_snapshot(load_notebook(nb))
    found = {(d.cell_id, d.code): d for d in snapshot.all_diagnostics()}
    expected = {
        ("missing", "sql_connection_missing"): "Use connection 'nodriver'",
        ("unknown", "sql_connection_unknown"): "Use connection 'wh'",
        ("policy", "cache_policy_unknown"): None,
        ("ttl", "cache_ttl_invalid"): None,
    }
    for where, title in expected.items():
        assert where in found, sorted(found)
        fixes = quick_fixes(snapshot, found[where])
        assert fixes, where
        if title is not None:
            assert title in [f.title for f in fixes], [f.title for f in fixes]
    codes = {d.code for d in snapshot.diagnostics}
    assert {"connection_malformed", "connection_driver_unknown"} <= codes
    assert "connection_auth_literal_secret" in codes
    # The literal never reaches a message.
    assert all("hunter2" not in d.message for d in snapshot.all_diagnostics())


def test_completion_of_tables_columns_and_binds(tmp_path: Path) -> None:
    cells = {
        "lim": ("python", "lim = 3\n"),
        "q": ("sql", "# @sql connection=wh\nSELECT o. FROM orders AS o WHERE o.amount > :l\n"),
    }
    nb = write_sql_notebook(tmp_path / "nb", cells, header=HEADER)
    with sqlite3.connect(nb / "wh.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
        conn.execute("CREATE TABLE products (sku TEXT)")
    snapshot = take_snapshot(load_notebook(nb))
    line = 2
    text = (nb / "cells" / "q.sql").read_text().splitlines()[1]
    columns = complete_sql(snapshot, "q", line, text.index("o.") + 2)
    assert [c.label for c in columns] == ["id", "amount"]
    anywhere = {c.label for c in complete_sql(snapshot, "q", line, len("SELECT "))}
    assert {"orders", "products", "sku"} <= anywhere
    binds = complete_sql(snapshot, "q", line, len(text))
    assert [c.label for c in binds] == ["lim"]
    assert complete_sql(snapshot, "q", 1, 5) == []  # the annotation block is not SQL
    assert not (nb / ".strata").exists()  # nothing ran, nothing was stored
