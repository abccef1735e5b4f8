"""SQL cells: what a cached SQL cell costs, and what a DuckDB query pays for running in a cell.

1. Cached cells: a fully cached `strata run` of a one-cell notebook, SQL (SQLite, DuckDB)
   against Python, median wall time of the CLI; and, in a fresh process, that a cached run
   imports no database driver (`duckdb`, `psycopg` absent from sys.modules; sqlite3 is the
   artifact index's own).
   Target: a cached SQL cell costs no more than a cached Python cell.
2. A DuckDB aggregate over a large Parquet file (generated here, `--size-mb`, default 1024):
   DuckDB's own time in this process against the same query as a SQL cell forced to run in a
   warm Session (fork, connect, query, store the Arrow result, index). Target: <= 1.2x.

    .venv/bin/python bench/bench_sql.py [--size-mb 1024] [--runs 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from strata_engine.run.session import Session  # noqa: E402

QUERY = (
    "SELECT category, count(*) AS n, sum(amount) AS total, avg(score) AS score "
    "FROM read_parquet('big.parquet') GROUP BY category ORDER BY category"
)
DRIVERS = ("duckdb", "psycopg")
"""sqlite3 is not among them: the artifact index is SQLite, every run imports it."""


def notebook(root: Path, language: str, source: str, header: str = "") -> Path:
    (root / "cells").mkdir(parents=True, exist_ok=True)
    (root / "cells" / "c.sql").write_text(source)
    (root / "notebook.toml").write_text(
        f'notebook_id = "bench"\n{header}\n'
        f'[[cells]]\nid = "c"\nfile = "c.sql"\nlanguage = "{language}"\norder = 1\n'
    )
    return root


def cli_ms(nb: Path) -> float:
    argv = [sys.executable, "-m", "strata_engine.cli", "run", str(nb), "--quiet"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def cached_costs(work: Path, runs: int) -> dict[str, object]:
    """Medians of `runs` CLI runs per case, interleaved so machine load hits all alike."""
    cases = {
        "python": notebook(work / "py", "python", "x = 1 + 1\n"),
        "sqlite": notebook(
            work / "sqlite",
            "sql",
            "# @sql connection=db\nSELECT 1 AS one\n",
            '[connections.db]\ndriver = "sqlite"\npath = ":memory:"\n',
        ),
        "duckdb": notebook(
            work / "duck",
            "sql",
            "# @sql connection=db\nSELECT 42 AS answer\n",
            '[connections.db]\ndriver = "duckdb"\n',
        ),
    }
    out: dict[str, object] = {}
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for nb in cases.values():
        cli_ms(nb)  # execute once: every later run is a hit
    for _ in range(runs):
        for name, nb in cases.items():
            timings[name].append(cli_ms(nb))
    for name, nb in cases.items():
        out[f"cached_{name}_ms"] = round(statistics.median(timings[name]), 1)
        out[f"cached_{name}_drivers_imported"] = drivers_after_cached_run(nb)
    for name in ("sqlite", "duckdb"):
        ratio = statistics.median(timings[name]) / statistics.median(timings["python"])
        out[f"cached_{name}_vs_python"] = round(ratio, 3)
    return out


def drivers_after_cached_run(nb: Path) -> list[str]:
    """Which database drivers a fully cached run imported, in a fresh process."""
    probe = (
        "import sys, json\n"
        "from pathlib import Path\nfrom strata_engine.run.session import Session\n"
        f"with Session(Path({str(nb)!r})) as s:\n"
        "    r = s.run()\n"
        "assert all(c.cache_hit for c in r.cells)\n"
        f"print(json.dumps([m for m in {DRIVERS!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def make_parquet(path: Path, size_mb: int) -> int:
    import duckdb

    rows = size_mb * 1024 * 1024 // 11  # ~11 bytes per row as written (measured)
    with duckdb.connect() as conn:
        conn.execute(
            f"COPY (SELECT (hash(i) % 50)::INT AS category, "
            f"(hash(i * 7) % 1000000)::DOUBLE / 100 AS amount, "
            f"(hash(i * 13) % 1000003)::BIGINT AS score "
            f"FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)"
        )
    return rows


def parquet_ratio(work: Path, size_mb: int, runs: int) -> dict[str, object]:
    import duckdb

    nb = notebook(
        work / "parquet",
        "sql",
        f"# @sql connection=db\n# @name totals\n{QUERY}\n",
        '[connections.db]\ndriver = "duckdb"\n',
    )
    rows = make_parquet(nb / "big.parquet", size_mb)
    actual_mb = (nb / "big.parquet").stat().st_size / 2**20
    direct: list[float] = []
    query = QUERY.replace("'big.parquet'", f"'{nb / 'big.parquet'}'")
    for _ in range(runs + 1):
        # DuckDB's own cost of the query: a connection, the query, the Arrow result.
        started = time.perf_counter()
        with duckdb.connect() as conn:
            conn.sql(query).to_arrow_table()
        direct.append((time.perf_counter() - started) * 1000)
    cell: list[float] = []
    with Session(nb) as session:
        for _ in range(runs + 1):
            started = time.perf_counter()
            report = session.run("force")
            cell.append((time.perf_counter() - started) * 1000)
            assert report.success, [c.to_json() for c in report.cells]
    # The first of each warms the page cache (and the zygote): not counted.
    direct_ms, cell_ms = statistics.median(direct[1:]), statistics.median(cell[1:])
    return {
        "parquet_mb": round(actual_mb, 1),
        "parquet_rows": rows,
        "duckdb_direct_ms": round(direct_ms, 1),
        "sql_cell_ms": round(cell_ms, 1),
        "ratio": round(cell_ms / direct_ms, 3),
        "target_ratio": 1.2,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-bench-sql-") as tmp:
        work = Path(tmp)
        results = cached_costs(work, args.runs)
        if args.size_mb > 0:  # 0: only the cached-cell figures
            results.update(parquet_ratio(work, args.size_mb, args.runs))
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
