"""The variables view: what each cell published, described from the store alone.

Nothing here loads a value. Arrow blobs are described from their IPC footer and schema over a
read-only memory mapping (`describe_arrow` touches the footer and the record-batch headers,
never a column buffer); small JSON values are parsed, larger ones only peeked at; a pickle's
top-level type is read from the first opcodes of its stream. So the view of a notebook
holding a 10-GB table costs a few page reads, and no cell process is needed.

A cell with a current entry shows it; a stale cell shows its last run's entry (`current`
false), so the user sees what the cell held before the change.
"""

from __future__ import annotations

import json
import pickletools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from strata_engine.cache.state import CellStatus
from strata_engine.store import BlobStore, Entry, StoredValue
from strata_engine.store.codecs import ARROW, JSON, MODULE, PICKLE

JSON_PARSE_LIMIT = 1024 * 1024
"""JSON values up to this size are parsed for their length; larger ones only peeked at."""
_PICKLE_PEEK = 64 * 1024
# Arrow value kinds (arrow_codec's `strata.codec` kind) the data viewer can page through.
TABLE_KINDS = frozenset({"table", "record_batch", "dataframe", "series"})
_ARROW_TYPE_NAMES = {
    "table": "pyarrow.Table",
    "record_batch": "pyarrow.RecordBatch",
    "dataframe": "pandas.DataFrame",
    "series": "pandas.Series",
    "ndarray": "numpy.ndarray",
}
_JSON_TYPES = {"{": "dict", "[": "list", '"': "str", "t": "bool", "f": "bool", "n": "NoneType"}
# First opcodes that build a builtin container or scalar: the pickle's top-level type.
_PICKLE_OPS = {
    "EMPTY_DICT": "dict",
    "DICT": "dict",
    "EMPTY_LIST": "list",
    "LIST": "list",
    "EMPTY_TUPLE": "tuple",
    "TUPLE": "tuple",
    "TUPLE1": "tuple",
    "TUPLE2": "tuple",
    "TUPLE3": "tuple",
    "EMPTY_SET": "set",
    "FROZENSET": "frozenset",
    "BINFLOAT": "float",
    "BINBYTES": "bytes",
    "SHORT_BINBYTES": "bytes",
    "BINBYTES8": "bytes",
    "BYTEARRAY8": "bytearray",
    "LONG1": "int",
    "LONG4": "int",
}
_PICKLE_SKIP = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"})


@dataclass(frozen=True, slots=True)
class VariableInfo:
    """One published variable as the view shows it."""

    name: str
    content_type: str
    digest: str
    size: int
    type: str
    """The Python type it loads as ("pandas.DataFrame", "list", ...); "object" if unknown."""
    shape: tuple[int, ...] | None = None
    length: int | None = None
    columns: tuple[tuple[str, str], ...] = ()
    """(name, Arrow type) of a table's columns (a DataFrame's index columns excluded)."""
    table: bool = False
    """Opens in the data viewer (an Arrow table, DataFrame or Series, or a 1-D array)."""
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "contentType": self.content_type,
            "digest": self.digest,
            "size": self.size,
            "type": self.type,
            "table": self.table,
        }
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.length is not None:
            out["length"] = self.length
        if self.columns:
            out["columns"] = [{"name": n, "type": t} for n, t in self.columns]
        if self.note:
            out["note"] = self.note
        return out


@dataclass(slots=True)
class CellVariables:
    cell_id: str
    state: str
    key: str
    """The key of the entry shown (the current one, or the last run's)."""
    current: bool
    variables: list[VariableInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "cellId": self.cell_id,
            "state": self.state,
            "key": self.key,
            "current": self.current,
            "variables": [v.to_json() for v in self.variables],
        }


def notebook_variables(
    states: Mapping[str, CellStatus],
    entry_of: Callable[[str], Entry | None],
    blobs: BlobStore,
) -> list[CellVariables]:
    """Every cell with a stored result, in notebook order: its current entry, else (a stale
    cell) its last run's entry, if the store still holds it."""
    cells: list[CellVariables] = []
    for cell_id, status in states.items():
        entry, current = status.entry, True
        if entry is None and status.last_run is not None:
            entry, current = entry_of(status.last_run.key), False
        if entry is None:
            continue
        described = [describe(blobs, name, stored) for name, stored in entry.outputs.items()]
        cells.append(CellVariables(cell_id, status.state, entry.key, current, described))
    return cells


def table_digests(cells: Iterable[CellVariables]) -> dict[str, VariableInfo]:
    """The variables the data viewer may open, by digest."""
    return {v.digest: v for cell in cells for v in cell.variables if v.table}


def describe(blobs: BlobStore, name: str, stored: StoredValue) -> VariableInfo:
    """Describe one stored value without loading it; a damaged blob says so in `note`."""
    base = VariableInfo(name, stored.content_type, stored.digest, stored.size, "object")
    describer = _DESCRIBERS.get(stored.content_type)
    if describer is None:
        return _replace(base, note=f"unknown content type {stored.content_type!r}")
    try:
        return describer(blobs, base)
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors/OSErrors too
        return _replace(base, note=f"cannot read the stored value: {exc}")


def _replace(info: VariableInfo, **changes: Any) -> VariableInfo:
    values = {slot: getattr(info, slot) for slot in VariableInfo.__slots__}
    values.update(changes)
    return VariableInfo(**values)


def describe_arrow(blobs: BlobStore, info: VariableInfo) -> VariableInfo:
    import pyarrow as pa

    from strata_engine.store.arrow_codec import META_KEY

    with pa.memory_map(str(blobs.path(info.digest)), "r") as source:
        reader = pa.ipc.open_file(source)
        schema = reader.schema
        # get_batch over a mapping reads the batch header; its buffers stay unread slices.
        rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    meta = json.loads((schema.metadata or {}).get(META_KEY, b"{}"))
    kind = str(meta.get("kind", "table"))
    type_name = _ARROW_TYPE_NAMES.get(kind, "pyarrow.Table")
    if kind == "ndarray":
        shape = tuple(int(n) for n in meta.get("shape", [rows]))
        viewable = len(shape) == 1 and not pa.types.is_fixed_size_binary(schema.field(0).type)
        column = ((schema.field(0).name, str(schema.field(0).type)),)
        note = f"dtype {meta.get('dtype', '?')}"
        return _replace(
            info, type=type_name, shape=shape, columns=column, table=viewable, note=note
        )
    hidden = _pandas_index_columns(schema)
    columns = tuple((f.name, str(f.type)) for f in schema if f.name not in hidden)
    if kind == "series":
        return _replace(
            info, type=type_name, shape=(rows,), length=rows, columns=columns, table=True
        )
    return _replace(info, type=type_name, shape=(rows, len(columns)), columns=columns, table=True)


def _pandas_index_columns(schema: Any) -> set[str]:
    """Columns pandas stored for a DataFrame's index (shown by the viewer, not counted)."""
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return set()
    described = json.loads(raw)
    return {c for c in described.get("index_columns", []) if isinstance(c, str)}


def describe_json(blobs: BlobStore, info: VariableInfo) -> VariableInfo:
    path = blobs.path(info.digest)
    if info.size > JSON_PARSE_LIMIT:
        with open(path, "rb") as handle:
            first = handle.read(1).decode("ascii", "replace")
        kind = _JSON_TYPES.get(first, "float" if first not in "-0123456789" else "number")
        return _replace(info, type=kind, note="large JSON value: length not read")
    value = json.loads(path.read_bytes())
    length = len(value) if isinstance(value, (list, dict, str)) else None
    return _replace(info, type=type(value).__name__, length=length)


def describe_module(blobs: BlobStore, info: VariableInfo) -> VariableInfo:
    module = blobs.get_bytes(info.digest)[:200].decode("utf-8", "replace")
    return _replace(info, type="module", note=module)


def describe_pickle(blobs: BlobStore, info: VariableInfo) -> VariableInfo:
    with open(blobs.path(info.digest), "rb") as handle:
        head = handle.read(_PICKLE_PEEK)
    return _replace(info, type=pickle_top_type(head) or "object")


def pickle_top_type(head: bytes) -> str | None:
    """The type of a pickle's top-level object from the start of its stream: a builtin
    container's opcode, or the class a NEWOBJ/REDUCE is about to call. None when the stream
    starts with something else (a by-value class, a custom reducer)."""
    strings: list[str] = []
    try:
        for op, arg, _pos in pickletools.genops(head):
            if op.name in _PICKLE_SKIP:
                continue
            if op.name == "STOP":
                break
            if op.name in _PICKLE_OPS:
                return _PICKLE_OPS[op.name]
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8") and not strings:
                strings.append(str(arg))
                continue
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE") and len(strings) == 1:
                strings.append(str(arg))
                continue
            if op.name == "STACK_GLOBAL" and len(strings) == 2:
                return _class_name(*strings)
            if op.name == "GLOBAL" and isinstance(arg, str):
                return _class_name(*arg.split(" ", 1))
            if op.name in ("BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"):
                return "str"
            return None
    except (ValueError, EOFError):  # cut off by the peek, or not a pickle
        return None
    return "str" if len(strings) == 1 else None


def _class_name(module: str, name: str) -> str | None:
    # cloudpickle and copyreg reconstruct through private helpers: the class is not named here.
    if name.startswith("_") or module.startswith("cloudpickle"):
        return None
    return name if module == "builtins" else f"{module}.{name}"


_DESCRIBERS: dict[str, Callable[[BlobStore, VariableInfo], VariableInfo]] = {
    ARROW: describe_arrow,
    JSON: describe_json,
    MODULE: describe_module,
    PICKLE: describe_pickle,
}


def find_output(
    states: Mapping[str, CellStatus],
    entry_of: Callable[[str], Entry | None],
    *,
    digest: str | None = None,
    cell_id: str | None = None,
    name: str | None = None,
) -> tuple[str, str, StoredValue] | None:
    """The (cell, name, value) the view lists with `digest`, or named `name` in `cell_id`:
    what the data viewer may open. Nothing is described or loaded."""
    for cell, status in states.items():
        if cell_id is not None and cell != cell_id:
            continue
        entry = status.entry
        if entry is None and status.last_run is not None:
            entry = entry_of(status.last_run.key)
        for output_name, stored in (entry.outputs if entry is not None else {}).items():
            if (digest is None or stored.digest == digest) and name in (None, output_name):
                return cell, output_name, stored
    return None
