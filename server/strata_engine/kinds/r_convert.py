"""Values between Python and embedded R, column by column without per-row Python work.

Python -> R: a DataFrame becomes a data.frame (compact row names; a non-default index
becomes columns first), int columns R integer (double beyond 32 bits), floats double, bools
logical, strings character (factorized in C by pandas, expanded by R), categoricals factors,
datetimes POSIXct. Numbers and numeric arrays are copied from their buffers. Scalars become
length-1 vectors, lists and tuples vectors (or lists when mixed), dicts named lists.

R -> Python: a data.frame becomes a DataFrame (integer -> int64, or nullable Int64 with NA;
logical -> bool or nullable boolean; character -> str; factor -> category; Date and POSIXct
-> datetime64), a length-1 atomic vector a Python scalar (NA -> None), a longer one a numpy
array (character: a list of str) or, when named, a dict; a matrix a 2-D array; a list a list
or dict; NULL None. Anything else (a model, a function) travels as `RSerialized`: R's own
serialization, unserialized when it reaches another R cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import rpy2.rinterface as ri  # type: ignore[import-untyped]

from strata_engine.kinds import r_runtime
from strata_engine.kinds.r_values import RSerialized

_INT32 = np.iinfo(np.int32)
_NA_INT = _INT32.min  # R's NA_integer_ and logical NA
r_runtime.start()  # the helpers below are R functions: R must be up
_SEP = "\x1f"  # joins many strings into one R string (checked absent from the values)
_split = ri.evalr(r'function(s) { x <- strsplit(s, "\x1f", fixed = TRUE)[[1L]]; x[-length(x)] }')
_join = ri.evalr(
    r'function(u) if (any(grepl("\x1f", u, fixed = TRUE))) NULL else '
    r'paste(c(u, "end"), collapse = "\x1f")'
)


class NoREquivalent(TypeError):
    pass


def _r(name: str) -> Any:
    return ri.globalenv.find(name)


# -- Python -> R ---------------------------------------------------------------------------
def to_r(value: object) -> Any:
    if isinstance(value, RSerialized):
        return _r("unserialize")(ri.ByteSexpVector(value.data))
    if isinstance(value, pd.DataFrame):
        return frame_to_r(value)
    if isinstance(value, pd.Series):
        return column_to_r(value)
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            return column_to_r(pd.Series(value))
        if value.ndim == 2:
            flat = column_to_r(pd.Series(value.ravel(order="F")))
            return _r("matrix")(flat, nrow=value.shape[0], ncol=value.shape[1])
    if value is None:
        return ri.NULL
    if isinstance(value, bool | int | float | str | np.generic):
        return column_to_r(pd.Series([value]))
    if isinstance(value, list | tuple):
        return _sequence_to_r(list(value))
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = ri.ListSexpVector([to_r(v) for v in value.values()])
        return _named(items, list(value))
    raise NoREquivalent(f"{type(value).__module__}.{type(value).__qualname__} has no R equivalent")


def _sequence_to_r(items: list[Any]) -> Any:
    scalars = (bool, int, float, str, type(None))
    if items and all(isinstance(v, scalars) for v in items):
        kinds = {type(v) for v in items if v is not None}
        if len(kinds) <= 1 or kinds <= {int, float}:
            return column_to_r(pd.Series(items, dtype=object if str in kinds else None))
    return ri.ListSexpVector([to_r(v) for v in items])


def frame_to_r(frame: pd.DataFrame) -> Any:
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index()
    elif frame.index.step != 1:
        frame = frame.reset_index(drop=True)
    columns = ri.ListSexpVector([column_to_r(frame.iloc[:, i]) for i in range(frame.shape[1])])
    columns = _named(columns, [str(c) for c in frame.columns])
    rows = ri.IntSexpVector([_NA_INT, -len(frame)])  # compact: no per-row names
    columns = _set_attr(columns, "row.names", rows)
    return _set_attr(columns, "class", ri.StrSexpVector(["data.frame"]))


def column_to_r(series: pd.Series) -> Any:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _factor(series.cat.codes.to_numpy(), [str(c) for c in dtype.categories])
    if pd.api.types.is_bool_dtype(dtype):
        mask = series.isna().to_numpy()
        values = series.fillna(False).to_numpy(dtype=np.int32)
        values[mask] = _NA_INT
        return ri.BoolSexpVector.from_memoryview(_view(values))
    if pd.api.types.is_integer_dtype(dtype):
        return _integers(series)
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return ri.FloatSexpVector.from_memoryview(_view(values))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetimes(series)
    return _strings(series)


def _integers(series: pd.Series) -> Any:
    mask = series.isna().to_numpy()
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[~mask]
    if finite.size and (finite.min() <= _INT32.min or finite.max() > _INT32.max):
        return ri.FloatSexpVector.from_memoryview(_view(values))  # like R: a double
    ints = series.to_numpy(dtype=np.int64, na_value=0).astype(np.int32)
    ints[mask] = _NA_INT
    return ri.IntSexpVector.from_memoryview(_view(ints))


def _datetimes(series: pd.Series) -> Any:
    tz = getattr(series.dtype, "tz", None)
    stamps = series.dt.tz_convert("UTC") if tz is not None else series
    nanos = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    seconds = np.where(series.isna().to_numpy(), np.nan, nanos / 1e9)
    vector = ri.FloatSexpVector.from_memoryview(_view(seconds))
    vector = _set_attr(vector, "tzone", ri.StrSexpVector([str(tz) if tz is not None else "UTC"]))
    return _set_attr(vector, "class", ri.StrSexpVector(["POSIXct", "POSIXt"]))


def _strings(series: pd.Series) -> Any:
    """pandas factorizes in C; R expands `levels[codes]` in C: no per-row Python loop."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object)  # from Arrow-backed strings: in C
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        texts = values.tolist()
    else:  # mixed objects: their str()
        texts = [v if isinstance(v, str) else str(v) for v in values]
    levels = _string_vector(texts)
    index = (codes + 1).astype(np.int32)
    index[codes < 0] = _NA_INT
    return _r("[")(levels, ri.IntSexpVector.from_memoryview(_view(index)))


def _string_vector(texts: list[str]) -> Any:
    """An R character vector made by one `strsplit` of one joined string: rpy2 makes R
    strings one call each (~50 us), which dominates any frame with many distinct strings."""
    joined = _SEP.join([*texts, "end"])  # the sentinel keeps trailing empty strings
    if joined.count(_SEP) != len(texts):  # a value holds the separator: the slow way
        return ri.StrSexpVector(texts)
    return _split(ri.StrSexpVector([joined]))


def _factor(codes: np.ndarray, levels: list[str]) -> Any:
    index = (codes.astype(np.int32) + 1).astype(np.int32)
    index[codes < 0] = _NA_INT
    vector = ri.IntSexpVector.from_memoryview(_view(index))
    vector = _set_attr(vector, "levels", ri.StrSexpVector(levels))
    return _set_attr(vector, "class", ri.StrSexpVector(["factor"]))


def _view(values: np.ndarray) -> memoryview:
    """The array's buffer, which R copies in one memcpy."""
    return np.ascontiguousarray(values).data


def _set_attr(vector: Any, name: str, value: Any) -> Any:
    """R's `attr<-`: unlike a slot assignment it marks classed values as objects (so
    methods dispatch) and stores compact row names."""
    return _r("attr<-")(vector, name, value)


def _named(vector: Any, names: list[str]) -> Any:
    vector.do_slot_assign("names", ri.StrSexpVector(names))
    return vector


# -- R -> Python ---------------------------------------------------------------------------
def from_r(value: Any) -> object:
    if value is ri.NULL or value.typeof == ri.RTYPES.NILSXP:
        return None
    classes = set(_classes(value))
    if "data.frame" in classes:
        return frame_from_r(value)
    if value.typeof == ri.RTYPES.VECSXP and not classes - {"list"}:
        items = [from_r(v) for v in value]
        names = _names(value)
        return dict(zip(names, items, strict=True)) if names else items
    if _is_atomic(value) and _attr(value, "dim") is None:
        return _vector_from_r(value)
    if _is_atomic(value) and len(_attr(value, "dim")) == 2 and not classes - {"matrix", "array"}:
        rows, cols = list(_attr(value, "dim"))
        flat = column_from_r(_r("as.vector")(value))  # column-major, without its dim
        return flat.to_numpy().reshape((rows, cols), order="F")
    raw = _r("serialize")(value, ri.NULL)
    return RSerialized(bytes(raw), "/".join(_classes(value)) or str(value.typeof))


def _vector_from_r(value: Any) -> object:
    column = column_from_r(value)
    names = _names(value)
    if len(value) == 1 and names is None:
        item = column.iloc[0]
        return None if pd.isna(item) else _plain(item)
    if names is not None:
        return {n: (None if pd.isna(v) else _plain(v)) for n, v in zip(names, column, strict=True)}
    if value.typeof == ri.RTYPES.STRSXP:
        return [None if pd.isna(v) else v for v in column]
    return column.to_numpy()


def _plain(item: Any) -> Any:
    to_python = getattr(item, "item", None)
    return to_python() if callable(to_python) else item


def frame_from_r(frame: Any) -> pd.DataFrame:
    names = _names(frame) or [f"V{i + 1}" for i in range(len(frame))]
    data = {name: column_from_r(column) for name, column in zip(names, frame, strict=True)}
    result = pd.DataFrame(data)
    if _r(".row_names_info")(frame)[0] > 0:  # real row names, not 1..n
        labels = _r("attr")(frame, "row.names")
        result.index = pd.Index([str(v) for v in labels])
    return result


def column_from_r(column: Any) -> pd.Series:
    kind = column.typeof
    classes = set(_classes(column))
    if kind == ri.RTYPES.INTSXP:
        ints = np.asarray(column.memoryview(), dtype=np.int32)
        missing = ints == _NA_INT
        if "factor" in classes:
            levels = list(_attr(column, "levels") or [])
            codes = np.where(missing, -1, ints - 1)
            return pd.Series(pd.Categorical.from_codes(codes.astype(np.int64), pd.Index(levels)))
        if missing.any():
            return pd.Series(pd.array(np.where(missing, 0, ints), dtype="Int64")).mask(missing)
        return pd.Series(ints.astype(np.int64))
    if kind == ri.RTYPES.REALSXP:
        values = np.array(column.memoryview(), dtype=np.float64)
        if "POSIXct" in classes:
            return _posixct(values, _attr(column, "tzone"))
        if "Date" in classes:
            return pd.Series(pd.to_datetime(values, unit="D"))
        return pd.Series(values)
    if kind == ri.RTYPES.LGLSXP:
        flags = np.asarray(column.memoryview(), dtype=np.int32)
        missing = flags == _NA_INT
        if missing.any():
            return pd.Series(pd.array(flags == 1, dtype="boolean")).mask(missing)
        return pd.Series(flags == 1)
    if kind == ri.RTYPES.STRSXP:
        return _strings_from_r(column)
    raise NoREquivalent(f"an R {kind.name} column has no pandas equivalent")


def _posixct(seconds: np.ndarray, tzone: Any) -> pd.Series:
    stamps = pd.to_datetime(seconds, unit="s", utc=True)
    tz = str(tzone[0]) if tzone is not None and len(tzone) else ""
    if tz in ("", "UTC"):
        return pd.Series(stamps.tz_localize(None))
    return pd.Series(stamps.tz_convert(tz))


def _strings_from_r(column: Any) -> pd.Series:
    """R finds the distinct values and their positions in C and joins them into one string;
    Python splits it in C."""
    uniques = _r("unique")(column)
    positions = np.asarray(_r("match")(column, uniques).memoryview(), dtype=np.int32) - 1
    joined = _join(uniques)
    if joined is ri.NULL:  # a value holds the separator: one rpy2 call per distinct value
        texts: list[str | None] = [str(v) for v in uniques]
    else:
        texts = list(str(joined[0]).split(_SEP)[:-1])
    missing = np.asarray(_r("is.na")(uniques).memoryview(), dtype=np.int32).astype(bool)
    table = np.array(texts, dtype=object)
    table[missing] = None
    return pd.Series(table[positions])  # pandas infers its default string dtype


def _classes(value: Any) -> list[str]:
    found = _attr(value, "class")
    return [str(c) for c in found] if found is not None else []


def _names(value: Any) -> list[str] | None:
    found = _attr(value, "names")
    return [str(n) for n in found] if found is not None else None


def _attr(value: Any, name: str) -> Any:
    found = value.do_slot(name) if name in value.list_attrs() else None
    return None if found is None or found is ri.NULL else found


def _is_atomic(value: Any) -> bool:
    atomic = (ri.RTYPES.INTSXP, ri.RTYPES.REALSXP, ri.RTYPES.LGLSXP, ri.RTYPES.STRSXP)
    return value.typeof in atomic
