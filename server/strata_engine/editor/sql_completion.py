"""Completion in the body of a SQL cell: table and column names from the connection's
schema, and `:name` binds from the variables earlier cells define.

The schema is read read-only with a short timeout, never by running a cell, and kept for
`SCHEMA_MAX_AGE` seconds (per connection, and per database file state for file drivers), so
typing costs one read per connection at most every few seconds.
"""

from __future__ import annotations

import json
import re
import threading
import time

from strata_engine.analysis.annotations import leading_block_end, split_lines
from strata_engine.analysis.snapshot import Snapshot
from strata_engine.editor.completion import Completion, name_completions
from strata_engine.kinds.sql_drivers import ConnectionConfig, driver_for
from strata_engine.kinds.sql_drivers.base import file_state
from strata_engine.kinds.sql_probe import connection_config
from strata_engine.model.diagnostics import Span

SCHEMA_TIMEOUT = 2.0
SCHEMA_MAX_AGE = 30.0

Schema = dict[str, list[str]]
_schemas: dict[str, tuple[float, Schema]] = {}
_lock = threading.Lock()

_WORD = re.compile(r"(?:(?P<qualifier>[A-Za-z_][\w$]*)\.)?(?P<partial>[A-Za-z_][\w$]*|)$")
_BIND = re.compile(r"(?<![:\w]):(?P<partial>[A-Za-z_]\w*|)$")
_ALIAS = r"\b(?:from|join)\s+(?P<table>[A-Za-z_][\w$]*)\s+(?:as\s+)?{alias}\b"


def complete_sql(snapshot: Snapshot, cell_id: str, line: int, col: int) -> list[Completion]:
    """Completions at (1-based `line`, 0-based `col`) in the body of SQL cell `cell_id`."""
    view = snapshot.cells.get(cell_id)
    if view is None or view.language != "sql":
        return []
    lines = split_lines(view.source or "")
    if not 0 < line <= len(lines) or line - 1 < leading_block_end(lines):
        return []
    prefix = lines[line - 1][:col]
    bind = _BIND.search(prefix)
    if bind is not None:
        partial = bind.group("partial")
        span = Span.on_line(line, col - len(partial), col)
        return name_completions(snapshot, cell_id, span)  # what preceding cells define
    word = _WORD.search(prefix)
    if word is None:
        return []
    partial = word.group("partial")
    span = Span.on_line(line, col - len(partial), col)
    config = connection_config(
        view.annotations.sql_connection, snapshot.notebook.manifest.connections
    )
    if config is None:
        return []
    schema = read_schema(config, str(snapshot.notebook.directory))
    qualifier = word.group("qualifier")
    if qualifier is not None:
        table = _resolve(qualifier, "\n".join(lines), schema)
        columns = schema.get(table or "", [])
        return [Completion(c, "column", span, detail=f"column of {table}") for c in columns]
    items = [Completion(t, "table", span, detail=f"table ({config.name})") for t in sorted(schema)]
    for table, columns in sorted(schema.items()):
        items += [Completion(c, "column", span, detail=f"column of {table}") for c in columns]
    return items


def _resolve(qualifier: str, text: str, schema: Schema) -> str | None:
    """The table a `qualifier.` names: itself, or the table it aliases in FROM/JOIN."""
    if qualifier in schema:
        return qualifier
    alias = re.search(_ALIAS.format(alias=re.escape(qualifier)), text, re.IGNORECASE)
    return alias.group("table") if alias else None


def read_schema(config: ConnectionConfig, base: str) -> Schema:
    """Table -> columns of the connection, from a recent read when there is one. Any failure
    (unreachable server, locked file, missing variable) completes nothing, quietly."""
    driver = driver_for(config.driver)
    if driver is None:
        return {}
    identity = json.dumps([config.to_json(), base, file_state(config.path(base), (".wal", "-wal"))])
    with _lock:
        known = _schemas.get(identity)
    if known is not None and time.monotonic() - known[0] <= SCHEMA_MAX_AGE:
        return known[1]
    try:
        schema = driver.schema(config, base, SCHEMA_TIMEOUT)
    except Exception:
        schema = {}
    with _lock:
        _schemas[identity] = (time.monotonic(), schema)
    return schema
