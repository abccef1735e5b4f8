"""DuckDB. A file database is opened with `read_only=True` for read cells, so DuckDB refuses
writes to it; an in-memory database has nothing to protect but the files around it, so a read
cell runs only query statements there (DuckDB's own parser classifies them). Tables bound as
`:name` (DataFrames, Arrow tables) are registered and queried in place."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from typing import Any

from strata_engine.kinds.sql_drivers.base import (
    ConnectionConfig,
    SqlCellError,
    SqlDriver,
    Statement,
    file_state,
    refusal,
)

READ_TYPES = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "SET", "VARIABLE_SET", "CALL"})
"""Statement types a read cell may run: they read, or change only this connection's settings."""

_STRINGS = re.compile(r"'((?:[^']|'')*)'")


class DuckdbDriver(SqlDriver):
    name = "duckdb"
    module = "duckdb"
    tables_by_name = True
    placeholder = "${name}"

    def connect(self, config: ConnectionConfig, *, write: bool, base: str) -> Any:
        import duckdb

        path = config.path(base)
        settings = {str(k): v for k, v in config.options.items()}
        if path is None:
            return duckdb.connect(":memory:", config=settings)
        if not write and not path.exists():
            raise SqlCellError(
                f"connection '{config.name}': DuckDB database {path} does not exist, and a "
                "read cell never creates it; run the cell that creates it (write=true) first"
            )
        return duckdb.connect(str(path), read_only=not write, config=settings)

    def classify(self, conn: Any, text: str) -> str:
        try:
            parsed = conn.extract_statements(text)
        except Exception as exc:  # a syntax error: DuckDB's message names the position
            raise SqlCellError(str(exc).strip()) from exc
        return str(parsed[0].type.name) if parsed else ""

    def check_read(self, config: ConnectionConfig, statement: Statement) -> None:
        if statement.kind not in READ_TYPES:
            raise refusal(config.name, f"a {statement.kind} statement")

    def register(self, conn: Any, name: str, table: Any) -> None:
        conn.register(name, table)

    def query(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> Any:
        relation = conn.sql(statement.text, params=dict(params) or None)
        if relation is None:  # SET, PRAGMA without a result
            import pyarrow as pa

            return pa.table({})
        to_table = getattr(relation, "to_arrow_table", None) or relation.arrow
        return to_table()

    def execute(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> int | None:
        cursor = conn.execute(statement.text, dict(params) or None)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
        if columns == ["Count"] and len(rows) == 1:
            return int(rows[0][0])
        return None

    def read_only_violation(self, exc: BaseException) -> str | None:
        text = str(exc)
        return text if "read-only mode" in text else None

    def commit(self, conn: Any) -> None:
        """Autocommit: each statement of a write cell is committed as it runs."""

    def probe(self, config: ConnectionConfig, base: str, sql: str) -> object:
        # The database file and its WAL, plus every file a string literal of the query
        # names (read_parquet('data/*.parquet')): stats only, no driver.
        state: list[object] = [file_state(config.path(base), (".wal",))]
        for literal in sorted({m.group(1).replace("''", "'") for m in _STRINGS.finditer(sql)}):
            state.extend(_files_named(base, literal))
        return state

    def schema(self, config: ConnectionConfig, base: str, timeout: float) -> dict[str, list[str]]:
        path = config.path(base)
        if path is None or not path.exists():
            return {}
        import duckdb

        conn = duckdb.connect(str(path), read_only=True)
        try:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') "
                "ORDER BY table_name, ordinal_position"
            ).fetchall()
        finally:
            conn.close()
        out: dict[str, list[str]] = {}
        for table, column in rows:
            out.setdefault(str(table), []).append(str(column))
        return out


def _files_named(base: str, literal: str) -> list[object]:
    if "://" in literal or len(literal) > 4096 or "\n" in literal:
        return []
    pattern = os.path.join(base, os.path.expanduser(literal))
    matches = sorted(glob.glob(pattern)) if glob.has_magic(literal) else [pattern]
    out: list[object] = []
    for match in matches[:10000]:
        try:
            info = os.stat(match)
        except OSError:
            continue
        if os.path.isfile(match):
            out.append([os.path.relpath(match, base), info.st_size, info.st_mtime_ns])
    return out
