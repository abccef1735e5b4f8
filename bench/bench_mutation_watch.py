"""The runtime mutation check's cost on a 10 MB DataFrame input (issue [11]).

    .venv/bin/python bench/bench_mutation_watch.py [--mb 10] [--repeat 20]

What a cell process adds per watched input: one digest after loading
(`mutation.watch`) and one after the cell (`mutation.changed`). Measured in this process on
the value the harness would load (stored and loaded through the store's Arrow codec), next to
the baseline of the same run: loading that input (`load_value`). Two frames: numeric columns
only, and half Arrow-backed strings. Last column: what a cell whose source provably cannot
change the input pays instead (`mutation_scope.unchangeable` on a pipeline cell's source, after
which nothing is digested). Prints one markdown table (medians).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _frames(mb: float) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    rows = int(mb * 1e6 / 32)  # four 8-byte columns
    rng = np.random.default_rng(0)
    numeric = pd.DataFrame(
        {
            "a": np.arange(rows),
            "b": rng.random(rows),
            "c": rng.random(rows),
            "d": np.arange(rows) % 7,
        }
    )
    strings = pd.DataFrame(
        {"a": np.arange(rows // 2), "s": pd.Series([f"item-{i}" for i in range(rows // 2)])}
    )
    return {"numeric (4 cols)": numeric, "numeric + str": strings}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from strata_engine.backends.local import mutation
    from strata_engine.backends.local.mutation_scope import unchangeable
    from strata_engine.store import BlobStore, load_value, store_value

    print(
        "| input | size MB | load ms (baseline) | watch + check ms | ratio "
        "| provably unchanged: scope ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    source = "features = df.assign(z=(df['a'] - df['a'].mean()) / df['a'].std())\n"
    with tempfile.TemporaryDirectory(prefix="strata-bench-") as scratch:
        blobs = BlobStore(Path(scratch))
        for label, frame in _frames(args.mb).items():
            stored = store_value(blobs, "df", frame)
            loaded = load_value(blobs, stored)
            size = loaded.memory_usage(deep=True).sum() / 1e6
            load_ms = _median_ms(lambda s=stored: load_value(blobs, s), args.repeat)

            def check(value: Any = loaded) -> None:
                watched = mutation.watch(["df"], {"df": value}, ())
                assert mutation.changed(watched, "x = len(df)\n") == []

            check_ms = _median_ms(check, args.repeat)
            namespace = {"df": loaded}
            assert unchangeable(source, ["df"], namespace) == {"df"}
            scope_ms = _median_ms(
                lambda ns=namespace: unchangeable(source, ["df"], ns), args.repeat
            )
            print(
                f"| {label} | {size:.1f} | {load_ms:.2f} | {check_ms:.2f} | "
                f"{check_ms / load_ms:.2f}x | {scope_ms:.2f} |"
            )


if __name__ == "__main__":
    main()
