"""Arrow codec (SPEC 8): pandas, pyarrow and numpy values round-trip exactly, or fall back
to pickle when Arrow would change them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import roundtrip

from strata_engine.store import BlobStore, load_value, store_value
from strata_engine.store.codecs import ARROW, PICKLE

# -- pandas --------------------------------------------------------------------------------
FRAMES: dict[str, Callable[[], pd.DataFrame]] = {
    "numeric": lambda: pd.DataFrame({"i": [1, 2, 3], "f": [0.5, np.nan, -0.0], "b": [True] * 3}),
    "nullable": lambda: pd.DataFrame(
        {
            "Int64": pd.array([1, None, 3], dtype="Int64"),
            "Float64": pd.array([1.5, None, 2.0], dtype="Float64"),
            "boolean": pd.array([True, None, False], dtype="boolean"),
        }
    ),
    "categorical": lambda: pd.DataFrame(
        {"c": pd.Categorical(["x", "y", "x"], categories=["y", "x", "z"], ordered=True)}
    ),
    "tz_datetimes": lambda: pd.DataFrame(
        {
            "paris": pd.date_range("2020-03-28", periods=3, freq="D", tz="Europe/Paris"),
            "utc_ns": pd.date_range("2020", periods=3, tz="UTC", unit="ns"),
            "naive_s": pd.date_range("2020", periods=3, unit="s"),
            "delta": pd.to_timedelta([1, 2, 3], unit="s"),
        }
    ),
    "strings": lambda: pd.DataFrame(
        {
            "default": ["a", None, "ç"],
            "string": pd.array(["a", None, "c"], dtype="string[pyarrow]"),
        }
    ),
    "multiindex": lambda: pd.DataFrame(
        {"v": [1.0, 2.0, 3.0]},
        index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", "n"]),
    ),
    "named_index": lambda: pd.DataFrame({"v": [1, 2]}, index=pd.Index([10, 20], name="id")),
    "range_index": lambda: pd.DataFrame({"v": [1, 2, 3]}, index=pd.RangeIndex(5, 11, 2)),
    "string_index": lambda: pd.DataFrame({"v": [1, 2]}, index=pd.Index(["x", "y"], name="s")),
    "datetime_index_freq": lambda: pd.DataFrame(
        {"v": range(4)}, index=pd.date_range("2021", periods=4, freq="h", tz="UTC", name="t")
    ),
    "categorical_index": lambda: pd.DataFrame(
        {"v": [1, 2]}, index=pd.CategoricalIndex(["b", "a"], categories=["a", "b"])
    ),
    "int_columns": lambda: pd.DataFrame(np.arange(6.0).reshape(3, 2)),
    "multiindex_columns": lambda: pd.DataFrame(
        [[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])
    ),
    "period_interval": lambda: pd.DataFrame(
        {"p": pd.period_range("2020", periods=2, freq="M"), "i": pd.interval_range(0, 2)}
    ),
    "arrow_dtype": lambda: pd.DataFrame({"a": pd.array([1, None], dtype="int64[pyarrow]")}),
    "empty": pd.DataFrame,
    "no_rows": lambda: pd.DataFrame({"f": pd.Series([], dtype="float32")}),
}


def assert_frames_identical(expected: pd.DataFrame, actual: object) -> None:
    assert type(actual) is pd.DataFrame
    pd.testing.assert_frame_equal(
        expected, actual, check_exact=True, check_index_type=True, check_column_type=True
    )
    assert actual.attrs == expected.attrs
    assert actual.index.names == expected.index.names


@pytest.mark.parametrize("make", FRAMES.values(), ids=FRAMES.keys())
def test_dataframes_round_trip_exactly_through_arrow(
    blobs: BlobStore, make: Callable[[], pd.DataFrame]
) -> None:
    frame = make()
    stored, loaded = roundtrip(blobs, frame)
    assert stored.content_type == ARROW
    assert_frames_identical(frame, loaded)


def test_dataframe_attrs_round_trip(blobs: BlobStore) -> None:
    frame = pd.DataFrame({"v": [1]})
    frame.attrs = {"source": "sensor", "version": 2}
    stored, loaded = roundtrip(blobs, frame)
    assert stored.content_type == ARROW
    assert loaded.attrs == {"source": "sensor", "version": 2}


@pytest.mark.parametrize("name", [None, "price", 3, 2.5, True])
def test_series_round_trip_with_name_index_and_dtype(blobs: BlobStore, name: object) -> None:
    series = pd.Series(
        pd.Categorical(["a", "b", "a"]),
        index=pd.date_range("2020", periods=3, freq="D", name="day"),
        name=name,
    )
    stored, loaded = roundtrip(blobs, series)
    assert stored.content_type == ARROW
    assert type(loaded) is pd.Series
    pd.testing.assert_series_equal(series, loaded, check_exact=True, check_index_type=True)
    assert type(loaded.name) is type(name)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pd.DataFrame({"mixed": [1, "a", 2.5]}),
        lambda: pd.DataFrame({"lists": [[1, 2], [3]]}),  # would come back as ndarrays
        lambda: pd.DataFrame({"ints": pd.Series([1, None], dtype=object)}),  # float64 back
        lambda: pd.DataFrame({"objstr": pd.Series(["a", "b"], dtype=object)}),  # str back
        lambda: pd.DataFrame({"s": pd.array(["a", None], dtype="string[python]")}),
        lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]),  # duplicate names
        lambda: pd.DataFrame({"v": [1]}, index=pd.Index([(1, 2)], tupleize_cols=False)),
        lambda: pd.DataFrame(np.zeros((1, 2)), columns=pd.RangeIndex(2, name=("a", "b"))),
    ],
    ids=[
        "mixed",
        "lists",
        "object_ints",
        "object_str",
        "python_string",
        "dup_cols",
        "tuples",
        "tuple_named_range_columns",
    ],
)
def test_frames_arrow_cannot_rebuild_exactly_are_pickled(
    blobs: BlobStore, make: Callable[[], pd.DataFrame]
) -> None:
    frame = make()
    stored, loaded = roundtrip(blobs, frame)
    assert stored.content_type == PICKLE
    assert_frames_identical(frame, loaded)


def test_series_attrs_round_trip(blobs: BlobStore) -> None:
    series = pd.Series([1.5, 2.5], name="mass")
    series.attrs = {"unit": "kg"}
    stored, loaded = roundtrip(blobs, series)
    assert stored.content_type == ARROW
    assert loaded.attrs == {"unit": "kg"}


def test_series_with_a_tuple_name_is_pickled(blobs: BlobStore) -> None:
    series = pd.Series([1, 2], name=("a", "b"))
    stored, loaded = roundtrip(blobs, series)
    assert stored.content_type == PICKLE
    pd.testing.assert_series_equal(series, loaded)


def test_loaded_dataframes_are_writable(blobs: BlobStore) -> None:
    frame = pd.DataFrame({"v": np.arange(300_000, dtype="f8")})  # big enough to be mapped
    loaded = load_value(blobs, store_value(blobs, "df", frame))
    assert isinstance(loaded, pd.DataFrame)
    loaded.iloc[0, 0] = 42.0
    loaded["v"] += 1
    assert loaded["v"].iloc[0] == 43.0


@pytest.mark.parametrize("make", FRAMES.values(), ids=FRAMES.keys())
def test_every_loaded_column_is_writable_and_writes_do_not_reach_the_blob(
    blobs: BlobStore, make: Callable[[], pd.DataFrame]
) -> None:
    stored = store_value(blobs, "df", make())
    loaded = load_value(blobs, stored)
    assert isinstance(loaded, pd.DataFrame)
    for column in range(loaded.shape[1] if len(loaded) else 0):
        loaded.iloc[0, column] = loaded.iloc[-1, column]  # in place, into the blocks
    pd.testing.assert_frame_equal(load_value(blobs, stored), make())


def test_large_numeric_frames_load_over_the_mapping_without_copying(blobs: BlobStore) -> None:
    frame = pd.DataFrame({"i": np.arange(2_000_000), "f": np.arange(2_000_000, dtype="f8")})
    frame = frame[frame["i"] % 2 == 0]  # a non-range index, as filtering leaves
    stored = store_value(blobs, "df", frame)
    allocated = pa.total_allocated_bytes()
    loaded = load_value(blobs, stored)
    assert pa.total_allocated_bytes() - allocated < 1_000_000  # no 16 MB copy
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, frame)
    loaded.loc[0, "f"] = -1.0
    loaded["i"] *= 3
    again = load_value(blobs, stored)
    assert isinstance(again, pd.DataFrame)
    pd.testing.assert_frame_equal(again, frame)


def test_same_dataframe_stored_twice_has_the_same_digest(blobs: BlobStore) -> None:
    """Early cutoff: equal outputs must give equal digests."""
    first = store_value(blobs, "df", FRAMES["tz_datetimes"]())
    second = store_value(blobs, "df", FRAMES["tz_datetimes"]())
    assert first == second
    assert store_value(blobs, "other_name", FRAMES["tz_datetimes"]()).digest == first.digest


def test_digests_are_stable_across_processes(blobs: BlobStore) -> None:
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        import pandas as pd
        from strata_engine.store import BlobStore, store_value
        frame = pd.DataFrame({{"a": [1, 2], "s": ["x", "y"]}}, index=pd.Index([3, 4], name="k"))
        print(store_value(BlobStore(Path({str(blobs.root)!r})), "df", frame).digest)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    frame = pd.DataFrame({"a": [1, 2], "s": ["x", "y"]}, index=pd.Index([3, 4], name="k"))
    assert store_value(blobs, "df", frame).digest == result.stdout.strip()


# -- pyarrow -------------------------------------------------------------------------------
def test_tables_keep_type_chunks_and_schema_metadata(blobs: BlobStore) -> None:
    table = pa.concat_tables(
        [pa.table({"a": [1, 2], "s": ["x", None]}), pa.table({"a": [3], "s": ["z"]})]
    ).replace_schema_metadata({"owner": "me"})
    stored, loaded = roundtrip(blobs, table)
    assert stored.content_type == ARROW
    assert type(loaded) is pa.Table
    assert loaded.equals(table, check_metadata=True)
    assert loaded.column("a").num_chunks == 2


def test_record_batches_stay_record_batches(blobs: BlobStore) -> None:
    batch = pa.record_batch({"x": pa.array([1.5, None]), "d": pa.array([b"a", b"b"])})
    stored, loaded = roundtrip(blobs, batch)
    assert stored.content_type == ARROW
    assert type(loaded) is pa.RecordBatch
    assert loaded.equals(batch, check_metadata=True)
    assert loaded.schema.metadata is None


def test_large_tables_load_memory_mapped_without_copying(blobs: BlobStore) -> None:
    table = pa.table({"v": np.arange(2_000_000, dtype="i8")})
    stored = store_value(blobs, "t", table)
    allocated = pa.total_allocated_bytes()
    loaded = load_value(blobs, stored)
    assert isinstance(loaded, pa.Table)
    assert loaded.equals(table)
    assert pa.total_allocated_bytes() - allocated < 1_000_000  # no 16 MB copy
    if Path("/proc/self/maps").exists():
        assert str(blobs.path(stored.digest)) in Path("/proc/self/maps").read_text()


# -- numpy ---------------------------------------------------------------------------------
ARRAYS: dict[str, Callable[[], np.ndarray[Any, Any]]] = {
    "int2d": lambda: np.arange(12, dtype="i4").reshape(3, 4),
    "fortran": lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "strided": lambda: np.arange(20)[::3],
    "float_special": lambda: np.array([np.nan, np.inf, -0.0, 1e-310]),
    "float16": lambda: np.array([1.5, -2.0], dtype="f2"),
    "bool": lambda: np.array([[True, False], [False, True]]),
    "uint64": lambda: np.array([2**64 - 1, 0], dtype="u8"),
    "complex": lambda: np.array([1 + 2j, np.nan * 1j]),
    "unicode": lambda: np.array(["ab", "çé", ""]),
    "bytes": lambda: np.array([b"ab", b"\x00"]),
    "datetime_ns_nat": lambda: np.array(["2020-01-01", "NaT"], dtype="M8[ns]"),
    "datetime_days": lambda: np.array(["2020-01-01", "NaT"], dtype="M8[D]"),
    "timedelta": lambda: np.array([1, -2], dtype="m8[ms]"),
    "zero_d": lambda: np.array(7),
    "empty": lambda: np.zeros((0, 3)),
    "big": lambda: np.arange(500_000, dtype="f8").reshape(1000, 500),
}


@pytest.mark.parametrize("make", ARRAYS.values(), ids=ARRAYS.keys())
def test_ndarrays_round_trip_exactly(blobs: BlobStore, make: Callable[[], Any]) -> None:
    array = make()
    stored, loaded = roundtrip(blobs, array)
    assert stored.content_type == ARROW
    assert type(loaded) is np.ndarray
    assert loaded.dtype == array.dtype
    assert loaded.shape == array.shape
    assert loaded.tobytes() == array.tobytes()  # bit-exact: NaN payloads, -0.0, NaT
    if array.flags.f_contiguous and not array.flags.c_contiguous:
        assert loaded.flags.f_contiguous


@pytest.mark.parametrize("size", [10, 1_000_000])  # read into memory / memory-mapped
def test_loaded_ndarrays_are_writable_and_writes_do_not_reach_the_blob(
    blobs: BlobStore, size: int
) -> None:
    stored = store_value(blobs, "a", np.zeros(size))
    loaded = load_value(blobs, stored)
    assert isinstance(loaded, np.ndarray)
    loaded[0] = 1.0
    again = load_value(blobs, stored)
    assert isinstance(again, np.ndarray)
    assert again[0] == 0.0


@pytest.mark.parametrize(
    "array",
    [
        np.array([1, "a"], dtype=object),
        np.zeros(2, dtype=[("x", "i4"), ("y", "f8")]),
        np.arange(3, dtype=">i4"),
        np.ma.masked_array([1, 2], mask=[True, False]),
    ],
    ids=["object", "structured", "big_endian", "masked"],
)
def test_arrays_arrow_cannot_hold_are_pickled(blobs: BlobStore, array: Any) -> None:
    stored, loaded = roundtrip(blobs, array)
    assert stored.content_type == PICKLE
    assert type(loaded) is type(array)
    assert loaded.dtype == array.dtype
    assert loaded.tolist() == array.tolist()


def test_numpy_scalars_are_pickled_not_json(blobs: BlobStore) -> None:
    stored, loaded = roundtrip(blobs, np.float64(1.5))
    assert stored.content_type == PICKLE
    assert type(loaded) is np.float64
