"""The data viewer on a large table: pages, sorted pages and filtered pages (issue 11).

    .venv/bin/python bench/bench_data_viewer.py [--rows 10000000] [--repeats 5]

Builds a table of --rows rows (id, a random float, a category string of ~1000 values, a
timestamp), stores it with `store_value` (an Arrow IPC blob) and asks `TablePages` for pages
the way `strata/tablePage` does: DuckDB over the memory-mapped blob, at most 500 rows back.

- open: the first page of a table not opened yet (mapping + registering with DuckDB);
- first page, last page (offset rows-100): table order, no sort;
- sorted page: ORDER BY the float column, descending, at offset 5,000 (ties broken by every
  other column, as the viewer does);
- search page: the free-text filter across all columns, a different needle each repeat (the
  filtered count is cached per filter, so a repeat would only measure the page);
- filtered page: a structured `category = value` filter plus a sort on id.

Baselines in the same run, on the same machine: reading the whole blob into memory
(`pa.ipc.open_file(OSFile).read_all()`, what a viewer that loads the table pays before
showing anything) and pyarrow's own in-memory sort of the float column. Medians of
--repeats; everything written goes to a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))


def build(rows: int) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(0)
    categories = pa.array([f"cat-{i:04d}" for i in range(1000)])
    return pa.table(
        {
            "id": np.arange(rows),
            "x": rng.random(rows),
            "category": categories.take(pa.array(rng.integers(0, 1000, rows))),
            "ts": pa.array(
                np.datetime64("2024-01-01") + rng.integers(0, 10**9, rows).astype("timedelta64[s]")
            ),
        }
    )


def median_s(action: Callable[[int], object], repeats: int) -> float:
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.compute as pc

    from strata_engine.editor.table_pages import PageRequest, TablePages
    from strata_engine.store import BlobStore, store_value

    with tempfile.TemporaryDirectory() as tmp:
        blobs = BlobStore(Path(tmp))
        table = build(args.rows)
        stored = store_value(blobs, "big", table)
        del table
        path = blobs.path(stored.digest)
        rows, repeats = args.rows, args.repeats

        def opened(i: int) -> object:
            fresh = TablePages()
            try:
                return fresh.page(stored.digest, path, PageRequest(limit=100))
            finally:
                fresh.close()

        pages = TablePages()

        def ask(**params: Any) -> Callable[[int], object]:
            return lambda i: pages.page(stored.digest, path, PageRequest.from_json(params))

        def search(i: int) -> object:
            request = PageRequest.from_json({"limit": 100, "filter": f"cat-{i:03d}7"})
            return pages.page(stored.digest, path, request)

        filtered = ask(
            limit=100,
            filters=[{"column": "category", "op": "=", "value": "cat-0042"}],
            sort=[{"column": "id", "desc": True}],
        )
        results = {
            "open + first page": median_s(opened, repeats),
            "first page": median_s(ask(limit=100), repeats),
            "last page": median_s(ask(offset=rows - 100, limit=100), repeats),
            "sorted page (x desc, offset 5000)": median_s(
                ask(offset=5000, limit=100, sort=[{"column": "x", "desc": True}]), repeats
            ),
            "search page (text across columns)": median_s(search, repeats),
            "filtered page (category = v, sort id)": median_s(filtered, repeats),
        }
        pages.close()
        read_all = median_s(lambda i: pa.ipc.open_file(pa.OSFile(str(path))).read_all(), repeats)
        loaded = pa.ipc.open_file(pa.OSFile(str(path))).read_all()
        arrow_sort = median_s(
            lambda i: loaded.take(
                pc.sort_indices(loaded["x"], sort_keys=[("x", "descending")])[:100]
            ),
            repeats,
        )
        size_mb = path.stat().st_size / 1e6

    print(f"data viewer, {rows:,} rows, blob {size_mb:,.0f} MB, median of {repeats}\n")
    print("| request | median | vs read whole table | vs pyarrow sort |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in results.items():
        ratios = f"{seconds / read_all:.2f}x | {seconds / arrow_sort:.2f}x"
        print(f"| {name} | {seconds * 1000:,.1f} ms | {ratios} |")
    print(f"| baseline: read whole table | {read_all * 1000:,.1f} ms | 1.00x | |")
    print(f"| baseline: pyarrow sort of x, top 100 | {arrow_sort * 1000:,.1f} ms | | 1.00x |")


if __name__ == "__main__":
    main()
