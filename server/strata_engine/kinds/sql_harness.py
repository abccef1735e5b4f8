"""What runs inside a SQL cell's process (the local backend's fork): connect, bind, run,
store the result as an Arrow table.

The job's `config` (prepared by `SqlKind.job_config`) holds the connection without secrets:
auth values are read from the environment here, at connect time, and scrubbed from any error
text. The result is stored as Arrow IPC marked as a DataFrame, so a downstream Python cell
gets a pandas DataFrame while the bytes stay the table DuckDB (or the driver) produced.
"""

from __future__ import annotations

import html
import json
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strata_engine.backends.local import display
from strata_engine.backends.local.harness import ResultChannel, describe_exception
from strata_engine.backends.local.protocol import Message
from strata_engine.kinds.sql_drivers import ConnectionConfig, SqlCellError, SqlDriver, driver_for
from strata_engine.kinds.sql_drivers.base import (
    Statement,
    binds_in,
    refusal,
    rewrite_binds,
    split_statements,
)

_TABLE_KINDS = frozenset({"table", "record_batch", "dataframe"})
PREVIEW_ROWS = 20


def run_job(job: Message, channel: ResultChannel) -> None:
    channel.send({"started": os.getpid()})
    display.set_sink(lambda bundle: channel.send({"display": bundle}))
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    config = ConnectionConfig.from_json(job["config"]["connection"])
    secrets = [v for v in (os.environ.get(var) for var in config.auth.values()) if v]
    try:
        result = _run(job, config)
    except SqlCellError as exc:
        result = _failure(str(exc))
    except Exception as exc:  # the driver's own error, or a bug here
        result = _failure(describe_exception(exc), "".join(traceback.format_exception(exc)))
    channel.send({"result": _scrub(result, secrets)})


def _run(job: Message, config: ConnectionConfig) -> Message:
    settings = job["config"]
    driver = driver_for(config.driver)
    if driver is None:
        raise SqlCellError(
            f"connection '{config.name}' is not declared in notebook.toml with a known driver; "
            f'add [connections.{config.name}] with driver = "duckdb", "sqlite" or "postgresql"'
        )
    blobs = _blobs(job)
    values = _load_inputs(job["inputs"], blobs, tables=driver.tables_by_name)
    conn = driver.connect(config, write=settings["write"], base=job["cwd"])
    try:
        table = _execute(driver, conn, config, settings, values)
        driver.commit(conn)
    finally:
        driver.close(conn)
    _preview(table)
    output = settings["output"]
    if output not in job["publish"]:
        return {"status": "ok", "outputs": {}, "unstored": {}}
    return {"status": "ok", "outputs": {output: _store(blobs, table)}, "unstored": {}}


def _execute(
    driver: SqlDriver,
    conn: Any,
    config: ConnectionConfig,
    settings: Mapping[str, Any],
    values: Mapping[str, Any],
) -> Any:
    tables = {name for name, value in values.items() if _is_table(value)}
    for name in sorted(tables):
        driver.register(conn, name, values[name])
    replace = {name: driver.placeholder.format(name=name) for name in values if name not in tables}
    replace.update({name: '"' + name.replace('"', '""') + '"' for name in tables})
    pieces = split_statements(settings["body"])
    if not pieces:
        raise SqlCellError("this SQL cell has no statement; write a query below its @sql line")
    write = bool(settings["write"])
    outcomes: list[tuple[str, str, int | None]] = []
    result: Any = None
    for number, piece in enumerate(pieces, 1):
        text = rewrite_binds(piece, replace, escape_percent=driver.escape_percent)
        statement = Statement(text, driver.classify(conn, text))
        params = {n: _scalar(values[n]) for n in binds_in(piece) if n in values and n not in tables}
        where = f"statement {number} of {len(pieces)} ({statement.kind or 'SQL'})"
        try:
            if write:
                outcomes.append((piece, statement.kind, driver.execute(conn, statement, params)))
            else:
                driver.check_read(config, statement)
                result = driver.query(conn, statement, params)
        except SqlCellError:
            raise
        except Exception as exc:
            violation = driver.read_only_violation(exc)
            if violation is not None and not write:
                raise refusal(config.name, violation) from exc
            raise SqlCellError(f"{where} failed: {describe_exception(exc)}") from exc
    return _statement_table(outcomes) if write else result


def _statement_table(outcomes: list[tuple[str, str, int | None]]) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "statement": pa.array([o[0] for o in outcomes], pa.string()),
            "kind": pa.array([o[1] for o in outcomes], pa.string()),
            "rows_affected": pa.array([o[2] for o in outcomes], pa.int64()),
        }
    )


# -- inputs and outputs ----------------------------------------------------------------
def _blobs(job: Message) -> Any:
    from strata_engine.store import BlobStore

    return BlobStore(Path(job["store"]["root"]), durable=job["store"]["durable"])


def _load_inputs(inputs: Mapping[str, Any], blobs: Any, *, tables: bool) -> dict[str, Any]:
    """Upstream values by name. With a driver that queries tables by name, Arrow tables and
    DataFrames are read as Arrow straight from the memory-mapped blob (no pandas)."""
    from strata_engine.store import StoredValue, load_value
    from strata_engine.store.codecs import ARROW

    out: dict[str, Any] = {}
    for name, raw in inputs.items():
        stored = StoredValue.from_json(raw)
        try:
            table = _arrow_table(blobs, stored) if tables and stored.content_type == ARROW else None
            out[name] = table if table is not None else load_value(blobs, stored)
        except Exception as exc:
            raise SqlCellError(f"could not load input {name!r}: {describe_exception(exc)}") from exc
    return out


def _arrow_table(blobs: Any, stored: Any) -> Any:
    import pyarrow as pa

    from strata_engine.store.arrow_codec import META_KEY

    reader = pa.ipc.open_file(pa.memory_map(str(blobs.path(stored.digest)), "r"))
    meta = json.loads((reader.schema.metadata or {}).get(META_KEY, b"{}"))
    if meta.get("kind") not in _TABLE_KINDS:
        return None
    return reader.read_all()


def _is_table(value: object) -> bool:
    module = type(value).__module__.partition(".")[0]
    return module in ("pyarrow", "pandas") and type(value).__name__ in (
        "Table",
        "RecordBatch",
        "DataFrame",
    )


def _scalar(value: object) -> object:
    """numpy and pandas scalars as the plain Python values drivers accept."""
    item = getattr(value, "item", None)
    if type(value).__module__.partition(".")[0] == "numpy" and callable(item):
        return item()
    to_py = getattr(value, "to_pydatetime", None)
    return to_py() if callable(to_py) else value


def _store(blobs: Any, table: Any) -> dict[str, Any]:
    """The table as Arrow IPC, marked so the store's codec rebuilds a pandas DataFrame."""

    from strata_engine.store.arrow_codec import META_KEY, write_ipc_file

    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps({"kind": "dataframe"}).encode("utf-8")
    table = table.replace_schema_metadata(meta)
    return write_ipc_file(blobs, table).to_json()


def _preview(table: Any) -> None:
    """A bounded preview built from Arrow directly: pandas' HTML rendering would cost more
    than many queries do."""
    rows, columns = table.num_rows, table.num_columns
    head = table.slice(0, PREVIEW_ROWS).to_pylist()
    names = table.column_names
    note = f"{rows:,} rows x {columns:,} columns"
    if rows > PREVIEW_ROWS:
        note = f"first {PREVIEW_ROWS} of {note}"
    cells = [[_cell_text(row[name]) for name in names] for row in head]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    header = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells
    )
    table_html = f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    display.emit(
        {
            "text/plain": "\n".join([*lines, note]),
            "text/html": f"{table_html}<p>{html.escape(note)}</p>",
        }
    )


def _cell_text(value: object) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _failure(error: str, tb: str | None = None) -> Message:
    return {"status": "error", "error": error, "traceback": tb, "outputs": {}, "unstored": {}}


def _scrub(result: Message, secrets: list[str]) -> Message:
    """No auth value in what leaves the process, whatever a driver put in its message."""
    for key in ("error", "traceback"):
        text = result.get(key)
        if isinstance(text, str):
            for secret in secrets:
                text = text.replace(secret, "***")
            result[key] = text
    return result
