"""Per-cell dispatch overhead to a loopback `strata worker`, beyond local execution.

The same cell runs many times through the engine's two executors against one store:
- local: `LocalExecutor` (a fork of the warm zygote, pandas preloaded);
- remote: the `executor` backend's `RemoteExecutor`, posting the cell and its inputs to a
  `strata worker` subprocess on 127.0.0.1 (SPEC 13) and unpacking the bundle it returns.

Cells: a trivial one, a small DataFrame in -> out (Arrow both ways), and a ~100 MB DataFrame
input (the cell reads it and returns a scalar). Figures are medians; the overhead is remote
minus local for the same cell (target: <= 50 ms for small inputs).

    .venv/bin/python bench/bench_dispatch.py [--runs 50] [--big-runs 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from strata_engine.backends.executor.client import RemoteExecutor  # noqa: E402
from strata_engine.backends.jobs import CellJob  # noqa: E402
from strata_engine.backends.local.executor import LocalExecutor  # noqa: E402
from strata_engine.store import BlobStore, StoredValue, store_value  # noqa: E402

TARGET_MS = 50.0
TRIVIAL = "x = 1 + 1\nprint(x)\n"
FRAME = "import pandas as pd\nout = df.assign(b=df.a * 2)\nlen(out)\n"
BIG = "rows = len(df)\ntotal = float(df['a'].sum())\n"
BIG_ROWS = 3_300_000  # 4 float64 columns: ~106 MB of column data


@contextmanager
def loopback_worker(home: Path) -> Iterator[str]:
    """A real `strata worker` on a free loopback port; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "strata_engine.cli", "worker", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=home,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once it listens
    if not line.startswith("strata worker listening on http://"):
        process.kill()
        raise SystemExit(f"strata worker did not start: {line!r}")
    try:
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def job(source: str, cwd: Path, inputs: dict[str, StoredValue]) -> CellJob:
    publish = [name for name in ("out", "rows", "total") if f"{name} =" in source]
    return CellJob(
        cell_id="bench",
        language="python",
        source=source,
        filename="cells/bench.py",
        inputs=inputs,
        publish=publish,
        required=frozenset(publish),
        env={},
        timeout=300.0,
        cwd=cwd,
    )


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000.0)
    return statistics.median(samples)


def run_ok(executor: LocalExecutor | RemoteExecutor, cell: CellJob) -> None:
    result = executor.run(cell)
    if result.status != "ok":
        raise SystemExit(f"the benchmark cell failed: {result.error}")


def measure(runs: int, big_runs: int) -> tuple[list[tuple[str, int, float, float]], float]:
    import numpy as np
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "worker").mkdir()
        blobs = BlobStore(cwd / "artifacts")
        small = store_value(blobs, "df", pd.DataFrame({"a": range(10_000)}))
        rng = np.random.default_rng(0)
        big_frame = pd.DataFrame(rng.random((BIG_ROWS, 4)), columns=["a", "b", "c", "d"])
        big_mb = big_frame.memory_usage(index=False).sum() / 1e6
        big = store_value(blobs, "df", big_frame)
        del big_frame
        cases = [
            ("trivial cell", TRIVIAL, {}, runs),
            ("DataFrame 10k rows in -> out", FRAME, {"df": small}, runs),
            (f"DataFrame {big_mb:.0f} MB in", BIG, {"df": big}, big_runs),
        ]
        with (
            loopback_worker(cwd / "worker") as url,
            LocalExecutor(blobs, preload=["pandas"]) as local,
        ):
            remote = RemoteExecutor("bench", url, blobs)
            try:
                for label, source, inputs, n in cases:
                    cell = job(source, cwd, inputs)
                    run_ok(local, cell)  # warm both sides outside the measurement
                    run_ok(remote, cell)
                    local_ms = median_ms(lambda c=cell: run_ok(local, c), n)  # type: ignore[misc]
                    remote_ms = median_ms(lambda c=cell: run_ok(remote, c), n)  # type: ignore[misc]
                    rows.append((label, n, local_ms, remote_ms))
            finally:
                remote.close()
    return rows, big_mb


def table(rows: list[tuple[str, int, float, float]]) -> str:
    lines = [
        "| cell | runs | local (LocalExecutor) | loopback `strata worker` | dispatch overhead |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, n, local_ms, remote_ms in rows:
        lines.append(
            f"| {label} | {n} | {local_ms:.1f} ms | {remote_ms:.1f} ms | "
            f"{remote_ms - local_ms:+.1f} ms |"
        )
    small = [remote - local for _, _, local, remote in rows[:2]]
    verdict = "met" if max(small) <= TARGET_MS else "NOT met"
    lines += [
        "",
        f"Small inputs: worst overhead {max(small):.1f} ms per cell (target <= {TARGET_MS:.0f} "
        f"ms: {verdict}). Medians; overhead = remote - local for the same cell.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--big-runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows, _ = measure(args.runs, args.big_runs)
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
