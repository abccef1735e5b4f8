"""The plain-frame fast path into Arrow (store/arrow_plain.py) makes from_pandas's table, byte
for byte, so digests and cache keys do not change; frames it does not know take the general
path, and every frame still round-trips exactly."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pytest

from strata_engine.store import BlobStore, load_value, store_value
from strata_engine.store.arrow_plain import _schema_of_empty_slice, plain_table
from strata_engine.store.codecs import ARROW

_RNG = np.random.default_rng(7)
_RAW = pd.DataFrame({"k": _RNG.integers(0, 50, 500), "v": _RNG.normal(size=500)})

PLAIN: dict[str, Callable[[], pd.DataFrame]] = {
    "range index": lambda: _RAW,
    "filtered (int64 index)": lambda: _RAW[_RAW["v"] > -0.5],
    "stepped range": lambda: pd.DataFrame({"a": [1, 2, 3]}, index=pd.RangeIndex(10, 40, 10)),
    "nan and dtypes": lambda: pd.DataFrame(
        {
            "f": [0.5, np.nan, 1.0],
            "f32": np.array([1, np.nan, 3], "float32"),
            "b": [True, False, True],
            "u8": np.array([1, 2, 3], "uint8"),
            "i16": np.array([-1, 0, 1], "int16"),
        }
    ),
    "all nan": lambda: pd.DataFrame({"f": [np.nan, np.nan]}),
    "infinities": lambda: pd.DataFrame({"f": [np.inf, -np.inf, 1.0], "g": [np.inf, 1.0, 2.0]}),
    "empty": lambda: _RAW.iloc[:0],
    "fortran block": lambda: pd.DataFrame(
        np.asfortranarray(_RNG.normal(size=(6, 3))), columns=["a", "b", "c"]
    ),
    "strided rows": lambda: _RAW.iloc[::3],
}

NOT_PLAIN: dict[str, Callable[[], pd.DataFrame]] = {
    "string column": lambda: pd.DataFrame({"s": ["a", "b"]}),
    "named index": lambda: _RAW.rename_axis("row"),
    "float16": lambda: pd.DataFrame({"h": np.array([1, 2], "float16")}),
    "integer column names": lambda: pd.DataFrame({0: [1, 2]}),
    "range columns": lambda: pd.DataFrame(np.zeros((2, 2))),
    "duplicate names": lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]),
    "nullable ints": lambda: pd.DataFrame({"i": pd.array([1, None], dtype="Int64")}),
    "datetimes": lambda: pd.DataFrame({"t": pd.date_range("2020", periods=2)}),
    "float index": lambda: pd.DataFrame({"a": [1, 2]}, index=[0.5, 1.5]),
    "multi index": lambda: _RAW.set_index(["k", _RAW.index]),
    "attrs": lambda: _with_attrs(pd.DataFrame({"a": [1]})),
    "rows but no columns": lambda: pd.DataFrame(index=pd.RangeIndex(3), columns=pd.Index([])),
}


def _with_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    frame.attrs["unit"] = "m"
    return frame


def _ipc(table: Any) -> bytes:
    out = io.BytesIO()
    with pa.ipc.new_file(out, table.schema) as writer:
        writer.write(table)
    return out.getvalue()


@pytest.mark.parametrize("make", PLAIN.values(), ids=PLAIN.keys())
def test_a_plain_frame_gives_from_pandas_table_byte_for_byte(make: Callable[[], Any]) -> None:
    frame = make()
    fast = plain_table(frame)
    assert fast is not None
    assert _ipc(fast) == _ipc(pa.Table.from_pandas(frame, preserve_index=None, nthreads=1))


@pytest.mark.parametrize("make", PLAIN.values(), ids=PLAIN.keys())
def test_a_plain_frame_round_trips_through_the_store(
    make: Callable[[], Any], tmp_path: Path
) -> None:
    frame = make()
    blobs = BlobStore(tmp_path)
    stored = store_value(blobs, "df", frame)
    assert stored.content_type == ARROW
    pdt.assert_frame_equal(load_value(blobs, stored), frame)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_other_frames_take_the_general_path_and_still_round_trip(
    make: Callable[[], Any], tmp_path: Path
) -> None:
    frame = make()
    assert plain_table(frame) is None
    blobs = BlobStore(tmp_path)
    loaded = load_value(blobs, store_value(blobs, "df", frame))
    pdt.assert_frame_equal(loaded, frame)  # type: ignore[arg-type]
    assert loaded.attrs == frame.attrs  # type: ignore[attr-defined]


def test_infinities_raise_no_warning_in_the_cell() -> None:
    frame = pd.DataFrame({"f": [np.inf, -np.inf]})
    with np.errstate(all="raise"):
        assert plain_table(frame) is not None


def test_a_plain_series_is_stored_the_fast_way_and_comes_back(tmp_path: Path) -> None:
    series = pd.Series([0.5, np.nan, 2.0], name="x")
    blobs = BlobStore(tmp_path)
    pdt.assert_series_equal(load_value(blobs, store_value(blobs, "s", series)), series)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", PLAIN.values(), ids=PLAIN.keys())
def test_the_fallback_schema_is_the_same(make: Callable[[], Any]) -> None:
    """Should pyarrow's metadata function change, the empty slice's schema is used instead."""
    frame = make()
    fast = plain_table(frame)
    assert fast is not None
    assert _schema_of_empty_slice(frame).equals(fast.schema, check_metadata=True)
