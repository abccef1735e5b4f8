"""Per-cell overhead of LocalExecutor, against baselines measured in the same run.

Three ways to run the same cell, each many times:
- in-process: compile + exec in a fresh dict (the floor: no isolation at all);
- LocalExecutor: a fork of the warm zygote per cell (pandas preloaded), output captured;
- cold process: `python -c` per cell importing pandas (what a worker without a zygote pays).

Two cells: a trivial one, and one that loads a DataFrame input, transforms it and publishes
the result (so the store's Arrow round trip is included). Figures are medians; the overhead is
executor minus in-process, and ratios are against the in-process floor of the same cell.

    PYTHONPATH=server .venv/bin/python bench/bench_execution.py [--runs 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from strata_engine.backends.jobs import CellJob  # noqa: E402
from strata_engine.backends.local.executor import LocalExecutor  # noqa: E402
from strata_engine.store import BlobStore, StoredValue, load_value, store_value  # noqa: E402

TRIVIAL = "x = 1 + 1\nprint(x)\n"
FRAME = "import pandas as pd\nout = df.assign(b=df.a * 2)\nlen(out)\n"


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000.0)
    return statistics.median(samples)


def in_process(source: str, blobs: BlobStore, inputs: dict[str, StoredValue]) -> None:
    """The floor: the same work with no process, no isolation (output captured in memory)."""
    namespace: dict[str, object] = {"__name__": "__strata_cell__"}
    for name, stored in inputs.items():
        namespace[name] = load_value(blobs, stored)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, "cells/bench.py", "exec"), namespace)
    if "out" in namespace:
        store_value(blobs, "out", namespace["out"])


def job(source: str, cwd: Path, inputs: dict[str, StoredValue]) -> CellJob:
    publish = ["out"] if "out =" in source else []
    return CellJob(
        cell_id="bench",
        language="python",
        source=source,
        filename="cells/bench.py",
        inputs=inputs,
        publish=publish,
        required=frozenset(publish),
        env={},
        timeout=60.0,
        cwd=cwd,
    )


def cold_process() -> None:
    subprocess.run(
        [sys.executable, "-c", "import pandas; print(1 + 1)"], check=True, stdout=subprocess.DEVNULL
    )


def measure(runs: int) -> list[tuple[str, float, float, float]]:
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        blobs = BlobStore(cwd / "artifacts")
        frame = store_value(blobs, "df", pd.DataFrame({"a": range(10_000)}))
        with LocalExecutor(blobs, preload=["pandas"]) as executor:
            executor.run(job(TRIVIAL, cwd, {}))  # start the zygote outside the measurement
            for label, source, inputs in (
                ("trivial cell", TRIVIAL, {}),
                ("DataFrame in -> out", FRAME, {"df": frame}),
            ):
                cell = job(source, cwd, inputs)
                assert executor.run(cell).status == "ok"
                floor = median_ms(partial(in_process, source, blobs, inputs), runs)
                warm = median_ms(partial(executor.run, cell), runs)
                rows.append((label, floor, warm, warm - floor))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = measure(args.runs)
    cold = median_ms(cold_process, max(5, args.runs // 20))
    lines = [
        f"LocalExecutor per-cell cost, median of {args.runs} runs (ms)",
        "",
        "| cell | in-process exec | LocalExecutor | overhead | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, floor, warm, overhead in rows:
        lines.append(
            f"| {label} | {floor:.2f} | {warm:.2f} | {overhead:.2f} | {warm / floor:.1f}x |"
        )
    trivial_warm = rows[0][2]
    lines += [
        "",
        f"A cold `python -c 'import pandas'` per cell: {cold:.0f} ms "
        f"({cold / trivial_warm:.0f}x the warm executor's trivial cell).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
