"""Store and load a large Arrow table through the artifact store (SPEC 6, 8).

    .venv/bin/python bench/bench_arrow_store.py [--gib 1.0]

Each phase runs in a fresh process so its peak RSS (ru_maxrss) is its own:
- store: build a numeric table of about --gib GiB, then `store_value` it (Arrow IPC file
  streamed to a temp file, hashed in fixed-size chunks, renamed into place);
- load: `load_value` the blob in a new process and sum every column of every chunk with
  pyarrow.compute, so every byte is touched;
- baselines in the same run, on the same machine: a plain `pyarrow.ipc` file write (no
  hashing, no store), and a load that reads the file into memory instead of mapping it.
Loads read a file just written, so the page cache is warm: the figures measure the store's
own overhead, not the disk. Prints one markdown table; everything written goes to a
temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GIB = 1024**3
COLUMNS = 8  # float64/int64 columns, 8 bytes per value


def build_table(gib: float) -> Any:
    import numpy as np
    import pyarrow as pa

    rows = int(gib * GIB) // (COLUMNS * 8)
    rng = np.random.default_rng(0)
    columns = {}
    for i in range(COLUMNS):
        # Random data: nothing downstream may shortcut on runs or zeros.
        values = rng.random(rows) if i % 2 else rng.integers(0, 2**62, rows)
        columns[f"c{i}"] = values
    return pa.table(columns)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child_store(root: Path, gib: float, baseline: bool) -> dict[str, Any]:
    import pyarrow as pa

    from strata_engine.store import BlobStore, store_value

    table = build_table(gib)
    before = peak_rss_bytes()
    started = time.perf_counter()
    if baseline:
        target = root / "baseline.arrow"
        with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        digest = str(target)
    else:
        digest = store_value(BlobStore(root), "table", table).digest
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "bytes": table.nbytes,
        "rss_before": before,
        "rss_peak": peak_rss_bytes(),
        "digest": digest,
    }


def child_load(root: Path, digest: str, baseline: bool) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from strata_engine.store import BlobStore, StoredValue, load_value

    blobs = BlobStore(root)
    before = peak_rss_bytes()
    started = time.perf_counter()
    if baseline:
        with pa.OSFile(digest, "rb") as source:
            table = pa.ipc.open_file(source).read_all()
    else:
        size = blobs.size(digest)
        table = load_value(blobs, StoredValue(digest, "arrow/ipc", size))
    opened = time.perf_counter() - started
    for column in table.columns:
        for chunk in column.chunks:
            pc.sum(chunk)
    seconds = time.perf_counter() - started
    return {
        "open_seconds": opened,
        "seconds": seconds,
        "bytes": table.nbytes,
        "rss_before": before,
        "rss_peak": peak_rss_bytes(),
    }


def run_child(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{result.stderr}")
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def row(name: str, figures: dict[str, Any], versus: dict[str, Any] | None) -> str:
    gb_s = figures["bytes"] / figures["seconds"] / 1e9
    ratio = f"{versus['seconds'] / figures['seconds']:.2f}x" if versus else "-"
    peak = figures["rss_peak"] / figures["bytes"]
    growth = (figures["rss_peak"] - figures["rss_before"]) / figures["bytes"]
    return (
        f"| {name} | {figures['seconds']:.2f} | {gb_s:.2f} | {ratio} | "
        f"{peak:.2f}x | {growth:.2f}x |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="table size in GiB")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        phase, root, value, baseline = args.child
        if phase == "store":
            print(json.dumps(child_store(Path(root), float(value), baseline == "1")))
        else:
            print(json.dumps(child_load(Path(root), value, baseline == "1")))
        return

    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        root = Path(tmp) / "artifacts"
        store = run_child("store", str(root), str(args.gib), "0")
        store_base = run_child("store", str(root), str(args.gib), "1")
        load = run_child("load", str(root), store["digest"], "0")
        load_base = run_child("load", str(root), store_base["digest"], "1")

    size = store["bytes"] / GIB
    print(f"Arrow table of {size:.2f} GiB ({COLUMNS} numeric columns), warm page cache\n")
    print("| phase | seconds | GB/s | speed vs baseline | peak RSS / table | RSS growth / table |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(row("store_value (write + hash + rename)", store, store_base))
    print(row("baseline: plain pyarrow IPC write", store_base, None))
    print(row("load_value (memory-mapped) + sum all", load, load_base))
    print(row("baseline: read into memory + sum all", load_base, None))
    opened_ms = load["open_seconds"] * 1e3
    print(f"\nload_value itself (open + map, before touching data): {opened_ms:.1f} ms")


if __name__ == "__main__":
    main()
