"""The fast way into Arrow for the commonest DataFrame: plain numeric columns.

`pa.Table.from_pandas` converts each float column with `from_pandas=True`, which scans every
value for NaN to build a validity bitmap (~0.8 ms per 200k-row column) even when there is
none, and arrow_codec then checks the conversion on a one-row probe (~1 ms). For a *plain*
frame neither is needed:

- columns of numpy bool, int, uint, float32 or float64 under unique `str` names, no `attrs`;
- a RangeIndex or an int64 Index, unnamed.

Each such dtype has an exact Arrow type and comes back as itself (a float NaN as a null,
which pandas reads as NaN), and the index comes back from pandas' own metadata: the probe
could not fail. So the table is built column by column, a float column scanned for NaN only if
its sum is NaN (any NaN makes the sum NaN; so can inf - inf, and then the scan runs as
before). The schema and pandas metadata come from converting the frame's empty slice, with the
RangeIndex's bounds put back. The result is the same table, byte for byte, as from_pandas
makes (tests/engine/test_arrow_plain.py): digests, and so cache keys, do not change.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

_PLAIN_KINDS = frozenset("biuf")
_PANDAS_META = b"pandas"


def plain_table(frame: pd.DataFrame) -> Any | None:
    """from_pandas's table for a plain frame (see above), or None if `frame` is not one."""
    import numpy as np
    import pandas as pd

    columns = _plain_columns(frame, np, pd)
    if columns is None:
        return None
    names = frame.columns.tolist()
    index = frame.index
    arrays = [_array(values, None, np) for values in columns]
    if not isinstance(index, pd.RangeIndex):  # from_pandas puts it last, as __index_level_0__
        arrays.append(_array(index.to_numpy(), None, np))
    try:
        schema = _schema(frame, names, columns, arrays)
    except (AttributeError, TypeError, ValueError, ImportError):  # another pyarrow's internals
        schema = _schema_of_empty_slice(frame)
    return pa.Table.from_arrays(arrays, schema=schema)


def _schema(frame: pd.DataFrame, names: list[str], columns: list[Any], arrays: list[Any]) -> Any:
    """The schema from_pandas gives the frame, from pyarrow's own metadata function without
    the rest of its conversion (which in a fresh cell process costs ~2.5 ms of first
    touches): what it would pass that function for a plain frame."""
    import pandas as pd
    from pyarrow import pandas_compat

    index = frame.index
    if isinstance(index, pd.RangeIndex):
        descriptors: list[Any] = [pandas_compat._get_range_index_descriptor(index)]
        field_names = names
    else:
        descriptors = ["__index_level_0__"]
        field_names = [*names, "__index_level_0__"]
    types = [array.type for array in arrays]
    metadata = pandas_compat.construct_metadata(
        columns, frame, names, [index], descriptors, None, types, column_field_names=names
    )
    return pa.schema(
        [pa.field(name, type_) for name, type_ in zip(field_names, types, strict=True)],
        metadata=metadata,
    )


def _schema_of_empty_slice(frame: pd.DataFrame) -> Any:
    """The same through from_pandas on the frame's empty slice, its RangeIndex put back."""
    import pandas as pd

    schema = pa.Table.from_pandas(frame.iloc[:0], preserve_index=None, nthreads=1).schema
    if isinstance(frame.index, pd.RangeIndex):
        schema = schema.with_metadata(_with_range(schema.metadata, frame.index))
    return schema


def _plain_columns(frame: pd.DataFrame, np: Any, pd: Any) -> list[Any] | None:
    """Each column's values in column order if the frame is plain, else None. Read from
    pandas' blocks (one 2-D array per dtype): no Series per column, no `frame.dtypes`,
    which in a fresh cell process cost ~2 ms of first touches."""
    columns, index = frame.columns, frame.index
    if type(columns) is not pd.Index or frame.attrs or index.name is not None:
        return None
    if not (type(index) is pd.RangeIndex or (type(index) is pd.Index and index.dtype == "int64")):
        return None
    names = columns.tolist()
    if not names or not all(type(n) is str for n in names) or len(set(names)) != len(names):
        return None  # no columns: from_pandas keeps the row count in the metadata
    located: list[tuple[int, Any]] = []
    try:
        for block in frame._mgr.blocks:
            values = block.values
            if not isinstance(values, np.ndarray) or not _plain_dtype(values.dtype):
                return None
            locs = block.mgr_locs.as_array.tolist()
            located += zip(locs, values, strict=True) if values.ndim == 2 else [(locs[0], values)]
    except AttributeError:
        return None  # another pandas' internals: the general path
    located.sort(key=lambda item: item[0])
    if [loc for loc, _values in located] != list(range(len(names))):
        return None
    return [values for _loc, values in located]


def _plain_dtype(dtype: Any) -> bool:
    import numpy as np

    if not isinstance(dtype, np.dtype) or dtype.kind not in _PLAIN_KINDS:
        return False
    return dtype.kind != "f" or dtype.itemsize in (4, 8)  # float16: Arrow's halffloat


def _array(values: Any, arrow_type: Any, np: Any) -> Any:
    # from_pandas=True is what from_pandas passes; it matters only where a NaN is.
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: no warning in the cell
        scan = values.dtype.kind == "f" and bool(np.isnan(values.sum()))
    return pa.array(values, type=arrow_type, from_pandas=scan)


def _with_range(metadata: dict[bytes, bytes], index: pd.RangeIndex) -> dict[bytes, bytes]:
    """The empty slice's pandas metadata with the frame's own RangeIndex bounds."""
    described = json.loads(metadata[_PANDAS_META])
    (range_index,) = described["index_columns"]
    range_index.update(start=index.start, stop=index.stop, step=index.step)
    # json.dumps with the defaults, as pyarrow writes it: the bytes stay from_pandas's own.
    return {**metadata, _PANDAS_META: json.dumps(described).encode("utf8")}
