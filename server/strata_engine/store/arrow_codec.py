"""Arrow IPC codec for tables, record batches, DataFrames, Series and ndarrays (SPEC 8).

Imported lazily by `codecs`, and only for values whose type comes from pyarrow, pandas or
numpy, because importing pyarrow costs more than a fully cached `strata run` may spend.

Blobs are uncompressed Arrow IPC *files*, so loads memory-map them and read no data up front.
The schema metadata key `strata.codec` records which Python type to rebuild. What comes back:

- Table / RecordBatch: zero-copy over the mapping (private, as for every kind: a blob is
  opened once; Arrow data is immutable anyway).
- ndarray: zero-copy over a private (copy-on-write) mapping, so it is writable like the
  original and a write never reaches the blob. Stored as one flat column plus dtype, shape
  and memory order; dtypes Arrow lacks (complex, unicode, odd datetime units) travel as
  fixed-size binary, so the bytes are exact. Object, structured and byte-swapped arrays go
  to pickle.
- DataFrame / Series: zero-copy where Arrow allows (numeric columns without nulls), over a
  private mapping like an ndarray: pandas writes in place into its blocks, so each block
  Arrow hands over read-only is swapped for a writable view of the same private pages.
  Columns Arrow must convert (strings, nulls, booleans) are fresh copies anyway; datetime
  and categorical columns are copied once more to be writable. Should pandas' internals not
  allow this, the frame is converted with a full copy as before.

A pandas value is stored as Arrow only if it comes back exactly: the conversion is checked on
a one-row slice (dtypes, categories, index and column layout) before anything is written,
otherwise the caller pickles it. Object columns qualify only when they hold strings or bytes
(a list column would come back as arrays); in them, missing values come back as None, which
pandas treats like NaN.
"""

from __future__ import annotations

import io
import json
import math
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import pyarrow as pa

from strata_engine.store.arrow_plain import plain_table
from strata_engine.store.blobs import BlobStore, new_hasher
from strata_engine.store.codecs import ARROW, StoredValue, is_json_exact

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

META_KEY = b"strata.codec"
# Below this, reading the blob into memory is cheaper than a mapping (and holds no file
# descriptor, which Python's mmap keeps open for the mapping's lifetime).
_MAP_THRESHOLD = 1024 * 1024
_ARROW_TIME_UNITS = frozenset({"s", "ms", "us", "ns"})
_VALUES_COLUMN = "values"

Meta = dict[str, Any]


# -- store ---------------------------------------------------------------------------------
def try_store(blobs: BlobStore, value: object) -> StoredValue | None:
    """Store `value` as Arrow IPC, or return None if it is not a supported type or would not
    round-trip exactly (the caller then falls back to pickle)."""
    prepared = _prepare(value)
    if prepared is None:
        return None
    data, meta = prepared
    return write_ipc_file(blobs, _with_meta(data, meta))


def round_trip_frame_steps(frame: pd.DataFrame) -> Iterator[pd.DataFrame | None]:
    """`frame` stored and loaded as a blob would be, in memory, in steps: the last item is
    the loaded frame (None if it would be pickled). A spare cell process runs this on a tiny
    frame while it waits for its job, stopping between steps once the job is there
    (backends/local/prewarm.py)."""
    prepared = _prepare(frame)
    if prepared is None:
        yield None
        return
    yield None
    data, meta = prepared
    raw = io.BytesIO()
    write_ipc(raw, _with_meta(data, meta))
    yield None
    table, converted = frame_over(bytearray(raw.getbuffer()))
    yield _rebuild_frame(table, meta, converted)


def _prepare(value: object) -> tuple[Any, Meta] | None:
    if isinstance(value, pa.Table):
        return value, {"kind": "table"}
    if isinstance(value, pa.RecordBatch):
        return value, {"kind": "record_batch"}
    package = type(value).__module__.partition(".")[0]
    if package == "pandas":
        import pandas as pd

        if type(value) is pd.DataFrame:
            return _prepare_frame(value)
        if type(value) is pd.Series:
            return _prepare_series(value)
    if package == "numpy":
        import numpy as np

        if type(value) is np.ndarray:
            return _prepare_ndarray(value)
    return None


def write_ipc_file(blobs: BlobStore, data: Any) -> StoredValue:
    """Store an Arrow table or record batch as one IPC file blob (what ARROW values are);
    the temp file is removed if writing fails."""
    temp = blobs.new_temp_path()
    try:
        with open(temp, "wb", buffering=0) as raw:
            hashing = write_ipc(raw, data)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    # Hashed as written (Arrow hands its buffers over without copying): the file is not
    # read back for its digest.
    digest = blobs.put_file(temp, digest=hashing.hasher.hexdigest())
    return StoredValue(digest, ARROW, hashing.size)


def write_ipc(raw: BinaryIO, data: Any) -> _HashingSink:
    """Write `data` as an IPC file into `raw`, hashing it on the way (see the sink)."""
    hashing = _HashingSink(raw)
    with pa.ipc.new_file(pa.PythonFile(hashing, mode="w"), data.schema) as writer:
        writer.write(data)
    return hashing


class _HashingSink:
    """A file for pyarrow's PythonFile that hashes what goes through it (the blob digest)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hasher = new_hasher()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hasher.update(view)
        self.size += view.nbytes
        while view:  # a raw file may write less than asked
            view = view[self._raw.write(view) or 0 :]
        return self.size

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True  # the caller closes the real file


def _with_meta(data: Any, meta: Meta) -> Any:
    metadata = dict(data.schema.metadata or {})
    metadata[META_KEY] = json.dumps(meta, sort_keys=True).encode("utf-8")
    return data.replace_schema_metadata(metadata)


def _without_meta(data: Any) -> Any:
    rest = {k: v for k, v in (data.schema.metadata or {}).items() if k != META_KEY}
    return data.replace_schema_metadata(rest or None)


# -- pandas --------------------------------------------------------------------------------
def _prepare_frame(frame: pd.DataFrame) -> tuple[Any, Meta] | None:
    try:
        plain = plain_table(frame)
    except Exception:
        plain = None  # the general way below decides
    if plain is not None:  # it round-trips by construction: no probe
        return plain, {"kind": "dataframe"}
    if frame.shape[1] == 0 and len(frame.index):
        return None  # rows without columns: an IPC file would keep no rows (the probe cannot tell)
    meta = _layout_extras(frame)
    if meta is None:
        return None
    try:
        # One thread: numeric columns convert without copying, and a cell's fresh process
        # would first have to start Arrow's pool (measured slower, also for 200k rows).
        table = pa.Table.from_pandas(frame, preserve_index=None, nthreads=1)
    except Exception:
        return None  # mixed-type object columns, duplicate names, exotic extension dtypes...
    if not _object_columns_exact(table):
        return None
    try:
        probe = _rebuild_frame(table.slice(0, 1), meta)
    except Exception:
        return None  # pandas cannot rebuild it at all
    if not _same_layout(frame, probe):
        return None
    return table, meta


def _prepare_series(series: pd.Series[Any]) -> tuple[Any, Meta] | None:
    name = series.name
    if isinstance(name, (list, dict)) or not is_json_exact(name):
        return None
    prepared = _prepare_frame(series.to_frame(name=_VALUES_COLUMN))
    if prepared is None:
        return None
    table, meta = prepared
    return table, {**meta, "kind": "series", "name": name}


def _layout_extras(frame: pd.DataFrame) -> Meta | None:
    """What pyarrow's pandas metadata loses: RangeIndex columns (they come back as an int
    Index) and the freq of a DatetimeIndex/TimedeltaIndex. None if not JSON-recordable."""
    import pandas as pd

    meta: Meta = {"kind": "dataframe"}
    columns = frame.columns
    if isinstance(columns, pd.RangeIndex):
        if not is_json_exact(columns.name) or isinstance(columns.name, (list, dict)):
            return None
        meta["columns_range"] = [columns.start, columns.stop, columns.step, columns.name]
    index = frame.index
    if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and index.freq is not None:
        meta["index_freq"] = index.freqstr
    return meta


def _object_columns_exact(table: Any) -> bool:
    described = json.loads(table.schema.metadata[b"pandas"])
    return all(
        column["numpy_type"] != "object" or column["pandas_type"] in ("unicode", "bytes")
        for column in described["columns"]
    )


def _rebuild_frame(table: Any, meta: Meta, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The DataFrame `table` holds (`frame`: its conversion already made by the caller)."""
    import pandas as pd

    if frame is None:
        frame = table.to_pandas()
    if "columns_range" in meta:
        start, stop, step, name = meta["columns_range"]
        frame.columns = pd.RangeIndex(start, stop, step, name=name)
    freq = meta.get("index_freq")
    if isinstance(frame.index, pd.DatetimeIndex) and freq is not None:
        frame.index = pd.DatetimeIndex(frame.index, freq=freq)
    elif isinstance(frame.index, pd.TimedeltaIndex) and freq is not None:
        frame.index = pd.TimedeltaIndex(frame.index, freq=freq)
    return frame


def _same_layout(original: pd.DataFrame, rebuilt: pd.DataFrame) -> bool:
    """Dtypes (categories included), index and column structure agree. Values are Arrow's
    job; the one-row probe cannot compare them, and need not."""
    return (
        list(original.dtypes) == list(rebuilt.dtypes)
        and _same_index_layout(original.index, rebuilt.index)
        and _same_index_layout(original.columns, rebuilt.columns)
        and original.columns.equals(rebuilt.columns)
        and original.attrs == rebuilt.attrs
    )


def _same_index_layout(original: pd.Index, rebuilt: pd.Index) -> bool:
    import pandas as pd

    if type(original) is not type(rebuilt) or list(original.names) != list(rebuilt.names):
        return False
    if isinstance(original, pd.MultiIndex) and isinstance(rebuilt, pd.MultiIndex):
        return list(original.dtypes) == list(rebuilt.dtypes)
    return bool(original.dtype == rebuilt.dtype)


# -- numpy ---------------------------------------------------------------------------------
def _prepare_ndarray(array: np.ndarray[Any, Any]) -> tuple[Any, Meta] | None:
    import numpy as np

    dtype = array.dtype
    if (
        dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.itemsize == 0
        or not dtype.isnative
    ):
        return None
    # Keep Fortran-ordered arrays Fortran-ordered (and uncopied); anything else is stored C.
    order: Literal["C", "F"] = (
        "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    )
    flat = np.ascontiguousarray(array.ravel(order=order))
    raw = pa.py_buffer(flat.view(np.uint8))  # a byte view: datetime64 refuses buffer export
    column = pa.Array.from_buffers(_arrow_type(dtype), flat.size, [None, raw])
    meta = {"kind": "ndarray", "dtype": dtype.str, "shape": list(array.shape), "order": order}
    return pa.record_batch([column], names=[_VALUES_COLUMN]), meta


def _arrow_type(dtype: np.dtype[Any]) -> Any:
    """The Arrow type whose buffer holds `dtype`'s bytes unchanged (fixed-size binary when
    Arrow has no exact equivalent)."""
    import numpy as np

    if dtype.kind == "b":
        return pa.uint8()  # Arrow booleans are bit-packed: not zero-copy, so store bytes
    if dtype.kind in "iuf":
        try:
            return pa.from_numpy_dtype(dtype)
        except (pa.ArrowNotImplementedError, TypeError):
            pass  # longdouble
    if dtype.kind in "mM":
        unit, count = np.datetime_data(dtype)
        if count == 1 and unit in _ARROW_TIME_UNITS:
            return pa.timestamp(unit) if dtype.kind == "M" else pa.duration(unit)
    return pa.binary(dtype.itemsize)


# -- load ----------------------------------------------------------------------------------
def load(path: Path) -> object:
    # The blob is opened and its footer read once, whatever its kind (in a fresh cell
    # process a second open costs ~1 ms).
    backing = _private_bytes(path)
    reader = pa.ipc.open_file(pa.py_buffer(backing))
    meta: Meta = json.loads(reader.schema.metadata[META_KEY])
    kind = meta["kind"]
    if kind == "ndarray":
        return _load_ndarray(backing, reader, meta)
    if kind == "record_batch":
        return _without_meta(reader.get_batch(0))
    if kind == "table":
        return _without_meta(reader.read_all())
    table, converted = frame_over(backing, reader)
    frame = _rebuild_frame(table, meta, converted)
    if kind == "dataframe":
        return frame
    if kind == "series":
        series = frame[_VALUES_COLUMN]
        series.name = meta["name"]
        return series
    raise ValueError(f"{path}: unknown Arrow value kind {kind!r}")


def _load_ndarray(backing: mmap.mmap | bytearray, reader: Any, meta: Meta) -> np.ndarray[Any, Any]:
    import numpy as np

    dtype = np.dtype(meta["dtype"])
    shape = tuple(meta["shape"])
    order = meta["order"]
    count = math.prod(shape)
    if count == 0:
        return np.empty(shape, dtype=dtype, order=order)
    column = reader.get_batch(0).column(0)
    start = pa.py_buffer(backing).address
    offset = column.buffers()[1].address - start + column.offset * dtype.itemsize
    flat = np.frombuffer(backing, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order=order)


def _private_bytes(path: Path) -> mmap.mmap | bytearray:
    """The blob's bytes, writable without touching the blob: a copy-on-write mapping when
    large (pages are shared with the page cache until written), a plain copy when small."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size < _MAP_THRESHOLD:
            handle.seek(0)
            return bytearray(handle.read())
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)


def frame_over(
    backing: mmap.mmap | bytearray, reader: Any = None
) -> tuple[Any, pd.DataFrame | None]:
    """The table in a blob's bytes (in private, writable memory; `reader`: an IPC file reader
    already open on them), and its zero-copy writable conversion (None if pandas' internals
    are not what this knows: the caller then converts with a copy)."""
    base = pa.py_buffer(backing)
    table = (reader if reader is not None else pa.ipc.open_file(base)).read_all()
    # One block per column: no consolidating copy. One thread, as in _prepare_frame.
    frame = table.to_pandas(split_blocks=True, use_threads=False)
    try:
        for block in frame._mgr.blocks:
            _writable_block(block, backing, base.address)
    except (AttributeError, TypeError, ValueError):  # another pandas' internals
        return table, None
    return table, frame


def _writable_block(block: Any, backing: Any, start: int) -> None:
    """Make a block Arrow handed over read-only writable: a view of the private mapping for
    a numpy block, a copy of the column for an extension array backed by a read-only one
    (datetimes, categorical codes)."""
    import numpy as np

    values = block.values
    if isinstance(values, np.ndarray):
        if not values.flags.writeable:
            address = values.__array_interface__["data"][0]
            block.values = np.ndarray(
                values.shape,
                values.dtype,
                buffer=backing,
                offset=address - start,
                strides=values.strides,
            )
        return
    inner = (getattr(values, attr, None) for attr in ("_ndarray", "_data", "_mask"))
    if any(isinstance(array, np.ndarray) and not array.flags.writeable for array in inner):
        block.values = values.copy()
