"""SQL drivers by `[connections.<name>] driver` value: one module each, one line below.

    driver = driver_for("duckdb")

Importing this package imports no database library (see `base.py`).
"""

from __future__ import annotations

from strata_engine.kinds.sql_drivers.base import (
    ConnectionConfig,
    ReadOnlyRefusal,
    SqlCellError,
    SqlDriver,
    Statement,
)
from strata_engine.kinds.sql_drivers.duckdb_driver import DuckdbDriver
from strata_engine.kinds.sql_drivers.postgresql_driver import PostgresqlDriver
from strata_engine.kinds.sql_drivers.sqlite_driver import SqliteDriver

__all__ = [
    "DRIVERS",
    "ConnectionConfig",
    "ReadOnlyRefusal",
    "SqlCellError",
    "SqlDriver",
    "Statement",
    "driver_for",
]

DRIVERS: dict[str, SqlDriver] = {}


def register(driver: SqlDriver) -> None:
    DRIVERS[driver.name] = driver


def driver_for(name: str | None) -> SqlDriver | None:
    return DRIVERS.get((name or "").lower())


register(DuckdbDriver())
register(SqliteDriver())
register(PostgresqlDriver())
