"""An original-Strata SQLite notebook runs unchanged with `strata run`: SQL cells stored in
.py files (the kind comes from `language`), a leading block of `#` annotations followed by
`--` comments, a write cell that seeds the tables, read cells with binds and `@after`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

MANIFEST = """notebook_id = "sql-orders-report"
name = "SQL Orders Report"

[connections.warehouse]
driver = "sqlite"
path = "analytics.db"

[[cells]]
id = "seed"
file = "seed_database.py"
language = "sql"
order = 0

[[cells]]
id = "threshold"
file = "threshold.py"
language = "python"
order = 1

[[cells]]
id = "top_orders"
file = "top_orders.py"
language = "sql"
order = 2

[[cells]]
id = "category_summary"
file = "category_summary.py"
language = "sql"
order = 3

[[cells]]
id = "report"
file = "report.py"
language = "python"
order = 4
"""

CELLS = {
    "seed_database.py": """# @sql connection=warehouse write=true
-- Seed the warehouse. write=true opts this one cell into writes.
--
-- Other SQL cells stay read-only.

DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS products;

CREATE TABLE products (sku TEXT PRIMARY KEY, category TEXT NOT NULL);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer TEXT NOT NULL,
    sku TEXT NOT NULL REFERENCES products(sku),
    amount REAL NOT NULL
);

INSERT INTO products (sku, category) VALUES ('W-A', 'widgets'), ('G-A', 'gadgets');
INSERT INTO orders (id, customer, sku, amount) VALUES
    (1, 'alice', 'W-A', 25.50),
    (2, 'bob', 'G-A', 199.99),
    (3, 'carol', 'W-A', 75.00);
""",
    "threshold.py": "min_amount = 50\n",
    "top_orders.py": """# @sql connection=warehouse
# @name top_orders
# @after seed
-- Orders above the threshold, joined to the catalog.
SELECT o.customer, o.sku, p.category, o.amount
FROM orders AS o JOIN products AS p USING (sku)
WHERE o.amount > :min_amount
ORDER BY o.amount DESC
LIMIT 5
""",
    "category_summary.py": """# @sql connection=warehouse
# @name category_summary
# @cache forever
# @after seed
-- Reference data: only an edit of this SQL invalidates it.
SELECT p.category, COUNT(o.id) AS order_count, ROUND(SUM(o.amount), 2) AS total_revenue
FROM products AS p LEFT JOIN orders AS o USING (sku)
GROUP BY p.category
ORDER BY total_revenue DESC NULLS LAST
""",
    "report.py": """# @name report
lines = [f"top {len(top_orders)} above {min_amount}"]
for _, row in top_orders.iterrows():
    lines.append(f"{row['customer']} {row['sku']} {row['amount']:.2f}")
for _, row in category_summary.iterrows():
    lines.append(f"{row['category']} {int(row['order_count'])} {row['total_revenue']:.2f}")
report = "\\n".join(lines)
print(report)
""",
}


def strata(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "strata_engine.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def run(nb: Path) -> dict[str, Any]:
    proc = strata("run", str(nb), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return {c["id"]: c for c in report["cells"]}


def test_original_sqlite_example_runs_unchanged(tmp_path: Path) -> None:
    nb = tmp_path / "sql_orders_report"
    (nb / "cells").mkdir(parents=True)
    (nb / "notebook.toml").write_text(MANIFEST)
    for name, text in CELLS.items():
        (nb / "cells" / name).write_text(text)
    before = {p: p.read_bytes() for p in [nb / "notebook.toml", *(nb / "cells").iterdir()]}

    validate = strata("validate", str(nb), "--format", "json")
    assert validate.returncode == 0, validate.stdout

    cells = run(nb)
    assert cells["report"]["stdout"].splitlines() == [
        "top 2 above 50",
        "bob G-A 199.99",
        "carol W-A 75.00",
        "gadgets 1 199.99",
        "widgets 2 100.50",
    ]
    # A second `strata run` is a new session: the seed (a write cell, `session` by default)
    # runs again, so the cells `@after` it re-run too (SPEC 6); they produce the same rows,
    # so the report downstream is served from the cache (early cutoff).
    again = run(nb)
    assert again["seed"]["cache_hit"] is False
    assert again["top_orders"]["cache_hit"] is False
    assert again["threshold"]["cache_hit"] is True
    assert again["report"]["cache_hit"] is True
    # Running never changes a tracked file.
    assert before == {p: p.read_bytes() for p in before}
