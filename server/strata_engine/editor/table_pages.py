"""The data viewer's pages: sort, filter and page through a stored Arrow table in DuckDB.

The table is the Arrow IPC blob memory-mapped (`pa.ipc.open_file(pa.memory_map(path))`,
zero copy) and registered with an in-memory DuckDB connection; DuckDB reads only what a query
needs. A page is at most `MAX_LIMIT` rows, so the editor never receives a whole table.
Connections stay open for the last `KEEP_OPEN` tables (paging through one table repeats the
same scan setup), together with the filtered counts they computed.

User text never becomes SQL: column names must be columns of the table and are quoted; filter
values are bound parameters; operators come from a fixed table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_LIMIT = 500
KEEP_OPEN = 4
_MAX_SAFE_INT = 2**53  # beyond this a JSON number loses digits in JavaScript
_MAX_TEXT = 10_000
_TABLE = "strata_table"
_COMPARISONS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
OPS = (*_COMPARISONS, "contains", "is_null", "not_null")
_TEXT_TYPES = frozenset({"string", "large_string", "string_view"})
_NUMBER_TYPES = frozenset(
    {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float", "double"}
)


class PageError(ValueError):
    """A page request that cannot be answered: the message says what to change."""


@dataclass(frozen=True, slots=True)
class SortKey:
    column: str
    desc: bool = False


@dataclass(frozen=True, slots=True)
class ColumnFilter:
    column: str
    op: str
    value: object = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    offset: int = 0
    limit: int = 100
    sort: tuple[SortKey, ...] = ()
    search: str | None = None
    """Free text: rows where a text column contains it (any case), or a numeric column
    equals it if it is a number."""
    filters: tuple[ColumnFilter, ...] = ()

    @staticmethod
    def from_json(params: Mapping[str, Any]) -> PageRequest:
        """Parse the `strata/tablePage` parameters; raises PageError naming the bad field."""
        offset, limit = params.get("offset", 0), params.get("limit", 100)
        if type(offset) is not int or offset < 0:
            raise PageError(f"offset must be a whole number >= 0, not {offset!r}")
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise PageError(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
        search = params.get("filter")
        if search is not None and not isinstance(search, str):
            raise PageError(f"filter must be text, not {search!r}")
        return PageRequest(
            offset, limit, _sort_keys(params.get("sort") or []), search or None,
            _filters(params.get("filters") or []),
        )  # fmt: skip


def _sort_keys(raw: object) -> tuple[SortKey, ...]:
    if not isinstance(raw, list):
        raise PageError("sort must be a list of {column, desc}")
    keys = []
    for item in raw:
        column = item.get("column") if isinstance(item, dict) else None
        if not isinstance(column, str):
            raise PageError(f"each sort key needs a column name: {item!r}")
        keys.append(SortKey(column, bool(item.get("desc", False))))
    return tuple(keys)


def _filters(raw: object) -> tuple[ColumnFilter, ...]:
    if not isinstance(raw, list):
        raise PageError("filters must be a list of {column, op, value}")
    out = []
    for item in raw:
        column = item.get("column") if isinstance(item, dict) else None
        op = item.get("op") if isinstance(item, dict) else None
        if not isinstance(column, str) or op not in OPS:
            raise PageError(f"each filter needs a column and an op among {', '.join(OPS)}")
        value = item.get("value")
        if op not in ("is_null", "not_null") and not isinstance(value, (str, int, float, bool)):
            raise PageError(f"filter {column!r} {op} needs a text, number or boolean value")
        out.append(ColumnFilter(column, op, value))
    return tuple(out)


@dataclass
class _OpenTable:
    connection: Any
    data: Any
    """The Arrow table over the mapping: unsorted, unfiltered pages are slices of it."""
    columns: list[tuple[str, str]]
    total: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[tuple[object, ...], int] = field(default_factory=dict)


class TablePages:
    """Open tables by digest (the last `keep_open`), answering page requests. Thread-safe."""

    def __init__(self, keep_open: int = KEEP_OPEN) -> None:
        self.keep_open = keep_open
        self._tables: OrderedDict[str, _OpenTable] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, digest: str, path: Path, request: PageRequest) -> dict[str, Any]:
        table = self._open(digest, path)
        with table.lock:
            return _page(table, request)

    def close(self) -> None:
        with self._lock:
            for table in self._tables.values():
                table.connection.close()
            self._tables.clear()

    def _open(self, digest: str, path: Path) -> _OpenTable:
        with self._lock:
            table = self._tables.get(digest)
            if table is not None:
                self._tables.move_to_end(digest)
                return table
            table = self._tables[digest] = _register(path)
            while len(self._tables) > self.keep_open:
                _, old = self._tables.popitem(last=False)
                with old.lock:
                    old.connection.close()
            return table


def _register(path: Path) -> _OpenTable:
    import duckdb
    import pyarrow as pa

    reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
    data = reader.read_all()  # over the mapping: buffers are slices of it, nothing is read
    data = data.replace_schema_metadata(None)
    connection = duckdb.connect(":memory:")
    connection.register(_TABLE, data)
    columns = [(f.name, str(f.type)) for f in data.schema]
    return _OpenTable(connection, data, columns, data.num_rows)


def _page(table: _OpenTable, request: PageRequest) -> dict[str, Any]:
    names = {name for name, _ in table.columns}
    where, params = _where(request, table.columns, names)
    order = _order_by(request.sort, [name for name, _ in table.columns], names)
    sql = f"SELECT * FROM {_TABLE}{where}{order} LIMIT ? OFFSET ?"
    try:
        if not where and not order:  # a slice is exact and costs nothing, however deep
            part = table.data.slice(request.offset, request.limit)
            rows = list(zip(*(column.to_pylist() for column in part.columns), strict=True))
        else:
            rows = table.connection.execute(sql, [*params, *_page_params(request)]).fetchall()
        filtered = _filtered_count(table, request, where, params)
    except Exception as exc:  # duckdb.Error: e.g. a value that does not convert to the column
        raise PageError(f"the table cannot be queried that way: {exc}") from exc
    return {
        "columns": [{"name": n, "type": t} for n, t in table.columns],
        "rows": [[_jsonable(v) for v in row] for row in rows],
        "offset": request.offset,
        "total": table.total,
        "filteredTotal": filtered,
    }


def _page_params(request: PageRequest) -> list[int]:
    return [request.limit, request.offset]


def _filtered_count(
    table: _OpenTable, request: PageRequest, where: str, params: list[object]
) -> int:
    if not where:
        return table.total
    key = (request.search, request.filters)
    if key not in table.counts:
        row = table.connection.execute(f"SELECT count(*) FROM {_TABLE}{where}", params).fetchone()
        table.counts[key] = int(row[0]) if row else 0
    return table.counts[key]


def quote(name: str) -> str:
    """A SQL identifier for a column name, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def _checked(column: str, names: set[str]) -> str:
    if column not in names:
        raise PageError(f"the table has no column {column!r}")
    return quote(column)


def _search(text: str, columns: Sequence[tuple[str, str]]) -> tuple[str, list[object]]:
    """Rows where a text column contains `text` (any case), or, when `text` is a number, a
    numeric column equals it. Casting every number and timestamp of a 10-million-row table
    to text would cost seconds per search; nobody searches floats by substring."""
    anyone: list[str] = []
    params: list[object] = []
    number = _number(text)
    for name, kind in columns:
        if kind in _TEXT_TYPES or kind.startswith("dictionary<values=string"):
            anyone.append(f"contains(lower({quote(name)}), ?)")
            params.append(text.lower())
        elif number is not None and kind in _NUMBER_TYPES:
            if isinstance(number, float) and kind.startswith(("int", "uint")):
                continue
            anyone.append(f"{quote(name)} = ?")
            params.append(number)
    return ("(" + " OR ".join(anyone) + ")" if anyone else "FALSE"), params


def _number(text: str) -> int | float | None:
    for parse in (int, float):
        try:
            value = parse(text.strip())
        except ValueError:
            continue
        return value if math.isfinite(value) else None
    return None


def _where(
    request: PageRequest, columns: Sequence[tuple[str, str]], names: set[str]
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if request.search:
        clause, values = _search(request.search, columns)
        clauses.append(clause)
        params += values
    for f in request.filters:
        column = _checked(f.column, names)
        if f.op == "is_null":
            clauses.append(f"{column} IS NULL")
        elif f.op == "not_null":
            clauses.append(f"{column} IS NOT NULL")
        elif f.op == "contains":
            clauses.append(f"contains(lower(CAST({column} AS VARCHAR)), ?)")
            params.append(str(f.value).lower())
        else:
            clauses.append(f"{column} {_COMPARISONS[f.op]} ?")
            params.append(f.value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _order_by(sort: Sequence[SortKey], columns: Sequence[str], names: set[str]) -> str:
    if not sort:
        return ""  # DuckDB keeps the table's order (preserve_insertion_order)
    keys = [f"{_checked(k.column, names)} {'DESC' if k.desc else 'ASC'} NULLS LAST" for k in sort]
    # Ties broken by every other column: pages of one sort never repeat or skip a row that
    # differs from another (fully equal rows are interchangeable anyway).
    chosen = {k.column for k in sort}
    keys += [f"{quote(c)} ASC NULLS LAST" for c in columns if c not in chosen]
    return " ORDER BY " + ", ".join(keys)


def _jsonable(value: object) -> object:
    """A cell value as JSON the editor shows faithfully: no NaN tokens, no silently rounded
    integers, dates as ISO text."""
    if value is None or isinstance(value, (bool, str)):
        return (
            value
            if not isinstance(value, str) or len(value) <= _MAX_TEXT
            else value[:_MAX_TEXT] + "…"
        )
    if isinstance(value, int):
        return value if abs(value) < _MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dt.timedelta, decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return "0x" + data[:64].hex() + ("…" if len(data) > 64 else "")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
