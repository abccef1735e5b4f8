"""SQLite (stdlib sqlite3). Read cells open the file with `mode=ro` and `PRAGMA query_only`,
so SQLite itself refuses a write before anything changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from strata_engine.kinds.sql_drivers.base import (
    ConnectionConfig,
    SqlCellError,
    SqlDriver,
    Statement,
    arrow_from_rows,
    file_state,
)


class SqliteDriver(SqlDriver):
    name = "sqlite"
    module = "sqlite3"

    def connect(self, config: ConnectionConfig, *, write: bool, base: str) -> Any:
        path = _database(config, base)
        timeout = float(config.options.get("timeout", 5.0))
        if write:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            return conn
        if path != ":memory:" and not Path(path).exists():
            raise SqlCellError(
                f"connection '{config.name}': SQLite database {path} does not exist, and a "
                "read cell never creates it; run the cell that creates it (write=true) first"
            )
        uri = ":memory:" if path == ":memory:" else f"file:{quote(path)}?mode=ro"
        conn = sqlite3.connect(uri, timeout=timeout, uri=True, isolation_level=None)
        conn.execute("PRAGMA query_only = ON")
        return conn

    def query(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> Any:
        cursor = conn.execute(statement.text, dict(params))
        columns = [d[0] for d in cursor.description or ()]
        return arrow_from_rows(columns, cursor.fetchall())

    def execute(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> int | None:
        cursor = conn.execute(statement.text, dict(params))
        if cursor.description is not None:
            cursor.fetchall()
        return cursor.rowcount if cursor.rowcount >= 0 else None

    def read_only_violation(self, exc: BaseException) -> str | None:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in text.replace("-", ""):
            return text
        return None

    def commit(self, conn: Any) -> None:
        """Autocommit: each statement of a write cell is committed as it runs, in order."""

    def probe(self, config: ConnectionConfig, base: str, sql: str) -> object:
        # Every committed write changes the database file or its WAL (size or mtime), and a
        # stat costs microseconds: no connection, no driver, nothing to cache.
        path = _database(config, base)
        return file_state(None if path == ":memory:" else Path(path), ("-wal",))

    def schema(self, config: ConnectionConfig, base: str, timeout: float) -> dict[str, list[str]]:
        path = _database(config, base)
        if path == ":memory:" or not Path(path).exists():
            return {}
        uri = f"file:{quote(path)}?mode=ro"
        conn = sqlite3.connect(uri, timeout=timeout, uri=True)
        try:
            conn.execute("PRAGMA query_only = ON")
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            columns = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
            return {table: [row[0] for row in conn.execute(columns, (table,))] for table in tables}
        finally:
            conn.close()


def _database(config: ConnectionConfig, base: str) -> str:
    path = config.path(base)
    return ":memory:" if path is None else str(path)
