"""The data viewer's pages: DuckDB over the memory-mapped Arrow blob, checked against pandas;
user text (filters, column names) never reaches SQL as code."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from strata_engine.editor.table_pages import MAX_LIMIT, PageError, PageRequest, TablePages
from strata_engine.store import BlobStore, load_value, store_value

N = 2_000


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "id": np.arange(N),
            "score": rng.integers(0, 50, N),  # many ties: paging must stay consistent
            "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv", None], N),
            'odd "name"; DROP': rng.random(N),
        }
    )


@pytest.fixture
def stored(tmp_path: Path, frame: pd.DataFrame) -> tuple[str, Path, BlobStore]:
    blobs = BlobStore(tmp_path / "store")
    value = store_value(blobs, "frame", frame)
    assert value.content_type == "arrow/ipc"
    return value.digest, blobs.path(value.digest), blobs


@pytest.fixture
def pages() -> Iterator[TablePages]:
    opened = TablePages()
    yield opened
    opened.close()


def page(pages: TablePages, stored: tuple[str, Path, BlobStore], **params: Any) -> dict[str, Any]:
    digest, path, _ = stored
    return pages.page(digest, path, PageRequest.from_json(params))


def ids(result: dict[str, Any]) -> list[int]:
    return [row[0] for row in result["rows"]]


def test_first_page_in_table_order(pages: TablePages, stored: Any, frame: pd.DataFrame) -> None:
    result = page(pages, stored, offset=0, limit=50)
    assert [c["name"] for c in result["columns"]] == list(frame.columns)
    assert result["columns"][0]["type"] == "int64"
    assert result["total"] == result["filteredTotal"] == N
    assert ids(result) == list(range(50))
    last = page(pages, stored, offset=N - 10, limit=50)
    assert ids(last) == list(range(N - 10, N))


def test_sorted_pages_match_pandas(pages: TablePages, stored: Any, frame: pd.DataFrame) -> None:
    sort = [{"column": "score", "desc": True}, {"column": "city"}]
    seen: list[int] = []
    for offset in range(0, N, 500):
        seen += ids(page(pages, stored, offset=offset, limit=500, sort=sort))
    assert sorted(seen) == list(range(N))  # every row exactly once across the pages
    expected = frame.sort_values(["score", "city"], ascending=[False, True], na_position="last")
    got = frame.set_index("id").loc[seen]
    assert list(got["score"]) == list(expected["score"])
    assert list(got["city"].fillna("~")) == list(expected["city"].fillna("~"))


def test_search_and_structured_filters_match_pandas(
    pages: TablePages, stored: Any, frame: pd.DataFrame
) -> None:
    result = page(pages, stored, limit=MAX_LIMIT, filter="LIM")  # case-insensitive contains
    expected = frame[frame["city"].fillna("").str.lower().str.contains("lim")]
    assert result["filteredTotal"] == len(expected) and result["total"] == N
    assert ids(result) == list(expected["id"])[:MAX_LIMIT]

    numeric = page(pages, stored, limit=MAX_LIMIT, filter="7")  # a number: equal in number columns
    expected = frame[(frame["id"] == 7) | (frame["score"] == 7)]
    assert ids(numeric) == list(expected["id"]) and numeric["filteredTotal"] == len(expected)

    filters = [
        {"column": "score", "op": ">=", "value": 40},
        {"column": "city", "op": "=", "value": "Oslo"},
    ]
    result = page(pages, stored, limit=MAX_LIMIT, filters=filters, sort=[{"column": "id"}])
    expected = frame[(frame["score"] >= 40) & (frame["city"] == "Oslo")]
    assert ids(result) == list(expected["id"])
    assert result["filteredTotal"] == len(expected)

    nulls = page(pages, stored, limit=1, filters=[{"column": "city", "op": "is_null"}])
    assert nulls["filteredTotal"] == int(frame["city"].isna().sum())


def test_values_are_json_faithful(tmp_path: Path, pages: TablePages) -> None:
    blobs = BlobStore(tmp_path / "s")
    frame = pd.DataFrame(
        {
            "f": [math.nan, math.inf, 1.5],
            "big": [2**60, 1, 2],
            "t": pd.to_datetime(["2024-01-02", "2024-01-03", None]),
            "b": [b"\x00\x01", b"", b"z"],
        }
    )
    table = pa.Table.from_pandas(frame).set_column(0, "f", pa.array([math.nan, math.inf, 1.5]))
    value = store_value(blobs, "x", table)  # pandas would store NaN as null
    rows = pages.page(value.digest, blobs.path(value.digest), PageRequest())["rows"]
    assert rows[0][0] == "nan" and rows[1][0] == "inf" and rows[2][0] == 1.5
    assert rows[0][1] == str(2**60)  # JavaScript would round it
    assert rows[0][2] == dt.datetime(2024, 1, 2).isoformat() and rows[2][2] is None
    assert rows[0][3] == "0x0001"


def test_injection_attempts_are_harmless(
    pages: TablePages, stored: Any, frame: pd.DataFrame
) -> None:
    digest, path, blobs = stored
    hostile = "x') OR 1=1; DROP TABLE strata_table; --"
    assert page(pages, stored, filter=hostile)["filteredTotal"] == 0
    result = page(pages, stored, filters=[{"column": "city", "op": "=", "value": hostile}])
    assert result["filteredTotal"] == 0
    # A column whose name is SQL is just a column, sortable and filterable.
    odd = 'odd "name"; DROP'
    result = page(pages, stored, sort=[{"column": odd, "desc": True}], limit=5)
    assert [r[3] for r in result["rows"]] == sorted(frame[odd], reverse=True)[:5]
    with pytest.raises(PageError, match="no column"):
        page(pages, stored, sort=[{"column": 'id" DESC; DROP TABLE strata_table; --'}])
    with pytest.raises(PageError, match="no column"):
        page(pages, stored, filters=[{"column": "1=1 OR id", "op": "=", "value": 1}])
    with pytest.raises(PageError, match="op among"):
        page(pages, stored, filters=[{"column": "id", "op": "= 1 OR 1=", "value": 1}])
    assert page(pages, stored)["total"] == N  # the table is still there, and so is the blob
    assert len(load_value(blobs, blobs_value(blobs, digest, path))) == N


def blobs_value(blobs: BlobStore, digest: str, path: Path) -> Any:
    from strata_engine.store import StoredValue

    return StoredValue(digest, "arrow/ipc", path.stat().st_size)


def test_bad_requests_name_the_field() -> None:
    with pytest.raises(PageError, match="limit must be a whole number from 1 to 500"):
        PageRequest.from_json({"limit": 10_000})
    with pytest.raises(PageError, match="offset"):
        PageRequest.from_json({"offset": -1})
    with pytest.raises(PageError, match="needs a text, number or boolean"):
        PageRequest.from_json({"filters": [{"column": "a", "op": "=", "value": [1]}]})


def test_a_value_that_does_not_fit_the_column_is_a_page_error(
    pages: TablePages, stored: Any
) -> None:
    with pytest.raises(PageError, match="cannot be queried"):
        page(pages, stored, filters=[{"column": "id", "op": "=", "value": "not a number"}])


def test_open_tables_are_bounded(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "s")
    pages = TablePages(keep_open=2)
    try:
        for n in range(1, 5):
            value = store_value(blobs, "t", pd.DataFrame({"a": list(range(n))}))
            assert pages.page(value.digest, blobs.path(value.digest), PageRequest())["total"] == n
        assert len(pages._tables) == 2
    finally:
        pages.close()
