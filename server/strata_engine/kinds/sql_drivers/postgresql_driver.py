"""PostgreSQL through psycopg 3. Read cells run in a `READ ONLY` transaction (the server
refuses any write in it, SQLSTATE 25006) that is rolled back; write cells autocommit each
statement in order. Binds are sent as server parameters (`%(name)s`), never formatted in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from strata_engine.kinds.sql_drivers.base import (
    ConnectionConfig,
    SqlCellError,
    SqlDriver,
    Statement,
    arrow_from_rows,
)

_CONNECT_KEYS = ("host", "port", "database", "dbname", "user")
_TABLES = re.compile(
    r"""\b(?:from|join|into|update|table)\s+((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)""",
    re.IGNORECASE,
)
_PROBE = """
SELECT s.relid::bigint, s.schemaname, s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_del,
       pg_relation_size(s.relid)
FROM pg_stat_user_tables AS s
WHERE %(all)s OR s.relname = ANY(%(names)s)
ORDER BY s.schemaname, s.relname
"""


def connect_args(config: ConnectionConfig, timeout: float | None = None) -> dict[str, Any]:
    """psycopg.connect keyword arguments: `uri` as the conninfo, the driver keys, options
    (sslmode, application_name...) and the auth values read from the environment now."""
    args: dict[str, Any] = {"conninfo": str(config.params.get("uri", ""))}
    for key in _CONNECT_KEYS:
        if key in config.params:
            args["dbname" if key == "database" else key] = config.params[key]
    args.update({str(k): v for k, v in config.options.items()})
    args.update(config.secrets())
    if timeout is not None:
        args["connect_timeout"] = max(1, int(timeout))
    return args


class PostgresqlDriver(SqlDriver):
    name = "postgresql"
    module = "psycopg"
    install_hint = "pip install 'strata-vscode-server[postgresql]'"
    placeholder = "%({name})s"
    escape_percent = True

    def connect(self, config: ConnectionConfig, *, write: bool, base: str) -> Any:
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(**connect_args(config), autocommit=write)
        except psycopg.OperationalError as exc:
            raise SqlCellError(
                f"connection '{config.name}': cannot connect to PostgreSQL: {_first_line(exc)}"
            ) from exc
        if not write:
            conn.read_only = True  # every transaction: BEGIN READ ONLY
        return conn

    def query(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> Any:
        with conn.cursor() as cursor:
            cursor.execute(statement.text, dict(params) or None)
            if cursor.description is None:
                return arrow_from_rows([], [])
            columns = [d.name for d in cursor.description]
            return arrow_from_rows(columns, cursor.fetchall())

    def execute(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> int | None:
        with conn.cursor() as cursor:
            cursor.execute(statement.text, dict(params) or None)
            return cursor.rowcount if cursor.rowcount >= 0 else None

    def read_only_violation(self, exc: BaseException) -> str | None:
        if getattr(exc, "sqlstate", None) == "25006":  # read_only_sql_transaction
            return _first_line(exc)
        return None

    def commit(self, conn: Any) -> None:
        if not conn.autocommit:
            conn.rollback()  # a read cell: nothing to keep
        else:
            # Statistics reach pg_stat_user_tables when the backend goes idle; ask for it
            # now so the next probe (a downstream cell's key) sees this cell's writes.
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_stat_force_next_flush() "
                    "WHERE current_setting('server_version_num')::int >= 150000"
                )

    def probe(self, config: ConnectionConfig, base: str, sql: str) -> object:
        # Per referenced table: its identity, the insert/update/delete counters and its size
        # (TRUNCATE and DROP/CREATE change those), from the statistics views: no table scan.
        psycopg = _psycopg()
        names = sorted({_unquote(m.group(1)).rsplit(".", 1)[-1] for m in _TABLES.finditer(sql)})
        with psycopg.connect(**connect_args(config, timeout=5), autocommit=True) as conn:
            rows = conn.execute(_PROBE, {"all": not names, "names": names}).fetchall()
        return [list(row) for row in rows]

    def schema(self, config: ConnectionConfig, base: str, timeout: float) -> dict[str, list[str]]:
        psycopg = _psycopg()
        with psycopg.connect(**connect_args(config, timeout=timeout), autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = on")
            conn.execute(f"SET statement_timeout = {int(timeout * 1000)}")
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') "
                "ORDER BY table_name, ordinal_position"
            ).fetchall()
        out: dict[str, list[str]] = {}
        for table, column in rows:
            out.setdefault(str(table), []).append(str(column))
        return out


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise SqlCellError(
            "PostgreSQL connections need psycopg, which is not installed: "
            + PostgresqlDriver.install_hint
        ) from exc
    return psycopg


def _unquote(name: str) -> str:
    """How PostgreSQL stores a name: quoted parts as written, unquoted ones folded to lower."""
    parts = re.findall(r'"[^"]+"|[^.]+', name)
    return ".".join(p[1:-1] if p.startswith('"') else p.lower() for p in parts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
