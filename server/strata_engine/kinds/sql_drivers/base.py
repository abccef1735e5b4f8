"""The one interface every SQL driver implements, and what the drivers share.

A driver module defines one `SqlDriver` subclass; `sql_drivers/__init__.py` registers it by
its `[connections.<name>] driver` value. Driver libraries (duckdb, psycopg) are imported
inside the methods only: the engine imports this package to key and complete cells, and a
cached run must never load a database driver.

Two sides use a driver:
- the cell's process (`kinds/sql_harness.py`): `connect`, `statements`, `query`, `execute`;
- the engine (keys, completion): `probe` and `schema`, both read-only, cheap, never running
  cell code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from strata_engine.analysis.text import SQL_BINDS


class SqlCellError(Exception):
    """A failure of the cell as written (bad connection, refused write, missing variable):
    its message is the cell's error, shown without a harness traceback."""


class ReadOnlyRefusal(SqlCellError):
    """A read cell tried to change something; nothing was changed."""


WRITE_HINT = "add write=true to its @sql line (# @sql connection={name} write=true) to allow it"


def refusal(connection: str, detail: str) -> ReadOnlyRefusal:
    return ReadOnlyRefusal(
        f"this SQL cell is read-only and the statement would change connection "
        f"'{connection}' ({detail}); nothing was changed. If the cell is meant to write, "
        + WRITE_HINT.format(name=connection)
    )


@dataclass(frozen=True)
class ConnectionConfig:
    """One `[connections.<name>]` as a cell uses it. `auth` maps each auth key to the NAME of
    the environment variable holding it: values are read at connect time, never stored."""

    name: str
    driver: str
    params: Mapping[str, Any] = field(default_factory=dict)
    auth: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "driver": self.driver,
            "params": dict(self.params),
            "auth": dict(self.auth),
            "options": dict(self.options),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConnectionConfig:
        return cls(data["name"], data["driver"], data["params"], data["auth"], data["options"])

    def path(self, base: str | os.PathLike[str]) -> Path | None:
        """`path` (or `database` for file drivers) resolved against the notebook directory;
        None for an in-memory database."""
        raw = self.params.get("path")
        if raw is None or str(raw) in ("", ":memory:"):
            return None
        return Path(base, os.path.expanduser(str(raw)))

    def secrets(self) -> dict[str, str]:
        """The auth values from the environment (only in the cell's process or a probe)."""
        out = {}
        for key, variable in self.auth.items():
            value = os.environ.get(variable)
            if value is None:
                raise SqlCellError(
                    f"connection '{self.name}' needs the environment variable {variable} "
                    f"(its auth key '{key}'), which is not set; export {variable} before running"
                )
            out[key] = value
        return out


@dataclass(frozen=True)
class Statement:
    text: str
    kind: str
    """The statement's first keyword in upper case ("INSERT"), or the driver's own type."""


class SqlDriver:
    name: ClassVar[str]
    module: ClassVar[str]
    """The Python module the cell's process needs (preloaded by warm workers)."""
    install_hint: ClassVar[str] = ""
    tables_by_name: ClassVar[bool] = False
    """True when a DataFrame or Arrow table bound as `:name` can be queried as a table."""
    placeholder: ClassVar[str] = ":{name}"
    """How a scalar bind is written for this driver's parameter style."""
    escape_percent: ClassVar[bool] = False
    """True when a literal `%` must be doubled (pyformat parameter style)."""

    # -- cell side -------------------------------------------------------------------------
    def connect(self, config: ConnectionConfig, *, write: bool, base: str) -> Any:
        raise NotImplementedError

    def classify(self, conn: Any, text: str) -> str:
        """The kind of one statement ("INSERT"), for the write table and read checks."""
        return first_keyword(text)

    def register(self, conn: Any, name: str, table: Any) -> None:
        raise SqlCellError(f"the {self.name} driver cannot query a table bound as :{name}")

    def query(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> Any:
        """Run a read statement; its rows as a pyarrow Table."""
        raise NotImplementedError

    def execute(self, conn: Any, statement: Statement, params: Mapping[str, Any]) -> int | None:
        """Run one statement of a write cell; rows affected when the driver knows."""
        raise NotImplementedError

    def check_read(self, config: ConnectionConfig, statement: Statement) -> None:
        """Refuse, before it runs, a statement a read cell must not run (beyond what the
        read-only connection itself refuses)."""

    def read_only_violation(self, exc: BaseException) -> str | None:
        """The driver's own words when `exc` is its refusal of a write, else None."""
        return None

    def commit(self, conn: Any) -> None:
        conn.commit()

    def close(self, conn: Any) -> None:
        conn.close()

    # -- engine side -----------------------------------------------------------------------
    def probe(self, config: ConnectionConfig, base: str, sql: str) -> object:
        """A cheap, read-only token of the state the query reads: it changes when the data
        changes. JSON-able."""
        raise NotImplementedError

    def schema(self, config: ConnectionConfig, base: str, timeout: float) -> dict[str, list[str]]:
        """Table name -> column names, read-only, giving up after `timeout` seconds."""
        raise NotImplementedError


def split_statements(sql: str) -> list[str]:
    """`sql` cut at `;` outside strings, quoted names, comments and dollar-quoted bodies;
    blank pieces (and pieces holding only comments) dropped."""
    out: list[str] = []
    start = 0
    for match in _TOKENS.finditer(sql):
        if match.group("semi"):
            out.append(sql[start : match.start()])
            start = match.end()
    out.append(sql[start:])
    return [piece.strip() for piece in out if _has_code(piece)]


_TOKENS = re.compile(SQL_BINDS.pattern + r"| (?P<semi>;)", re.DOTALL | re.VERBOSE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)


def _has_code(piece: str) -> bool:
    return bool(_COMMENTS.sub("", piece).strip())


def first_keyword(statement: str) -> str:
    match = re.match(r"\s*(\w+)", _COMMENTS.sub(" ", statement))
    return match.group(1).upper() if match else ""


def rewrite_binds(sql: str, replace: Mapping[str, str], *, escape_percent: bool = False) -> str:
    """`sql` with each `:name` in `replace` rewritten (placeholders or table names), strings
    and comments untouched; `%` doubled everywhere else when the driver's style needs it."""

    def sub(match: re.Match[str]) -> str:
        name = match.group("bind")
        if name is not None and name in replace:
            return replace[name]
        text = match.group(0)
        return text.replace("%", "%%") if escape_percent else text

    if not escape_percent:
        return SQL_BINDS.sub(sub, sql)
    # `%` between tokens (SQL_BINDS matches only tokens) must be doubled too.
    pieces = []
    last = 0
    for match in SQL_BINDS.finditer(sql):
        pieces.append(sql[last : match.start()].replace("%", "%%"))
        pieces.append(sub(match))
        last = match.end()
    pieces.append(sql[last:].replace("%", "%%"))
    return "".join(pieces)


def binds_in(sql: str) -> list[str]:
    """The `:name` binds of one statement, in order of first use."""
    seen: dict[str, None] = {}
    for match in SQL_BINDS.finditer(sql):
        name = match.group("bind")
        if name is not None:
            seen.setdefault(name, None)
    return list(seen)


def arrow_from_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    """A pyarrow Table from DB-API rows. A column Arrow cannot type as one type (SQLite's
    dynamic typing allows mixed values) becomes strings rather than failing the cell."""
    import pyarrow as pa

    arrays = []
    for index in range(len(columns)):
        values = [row[index] for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in values]))
    return pa.Table.from_arrays(arrays, names=list(columns))


def file_state(path: Path | None, suffixes: Sequence[str]) -> list[object]:
    """(name, size, mtime_ns) of a database file and its companions (WAL...), or "missing":
    every committed write changes one of them."""
    if path is None:
        return ["memory"]
    out: list[object] = []
    for suffix in ("", *suffixes):
        candidate = Path(f"{path}{suffix}")
        try:
            info = candidate.stat()
        except FileNotFoundError:
            out.append([suffix, "missing"])
            continue
        out.append([suffix, info.st_size, info.st_mtime_ns])
    return out
