"""Parallel runs: two independent 2-second cells against one such cell, whole `strata run`.

- local: `strata run --jobs 2` on a notebook of two independent `time.sleep(2)` cells, against
  the same command on a notebook of one such cell;
- dask: the same two notebooks with every cell on a `backend = "dask"` worker, a LocalCluster
  on loopback with 2 worker processes of 1 thread each (a dask worker process runs one cell
  at a time), under `--jobs 1` to show that dask cells do not take local slots.

Each run forces every cell to execute. Two measures per case: a warm session (the editor's
case: `Session.run` in this process, warm workers and dask connections already up, so the
figure is the cells' own run) and whole `strata run --force` processes (start-up, imports
and, for dask, connecting one client per concurrent cell included). The dask workers are
warmed (their first task starts a warm process) before measuring. Figures are medians of
interleaved runs; the target is a warm-session ratio two-cells / one-cell of at most 1.2.

    .venv/bin/python bench/bench_parallel.py [--repeat 3] [--seconds 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from strata_engine.run.session import Session  # noqa: E402

TARGET = 1.2


def cell(name: str, seconds: float, worker: str | None) -> str:
    placement = f"# @worker {worker}\n" if worker else ""
    # Distinct bodies: cells with one key would wait for each other (the second is a hit).
    return f"{placement}import time\ntime.sleep({seconds})\nslept_{name} = {seconds}\n"


def notebook(root: Path, names: list[str], seconds: float, scheduler: str | None) -> Path:
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "bench-parallel"', ""]
    if scheduler:
        lines += ["[[workers]]", 'name = "cluster"', 'backend = "dask"', "[workers.config]"]
        lines += [f'scheduler = "{scheduler}"', ""]
    for order, name in enumerate(names, start=1):
        (root / "cells" / f"{name}.py").write_text(
            cell(name, seconds, "cluster" if scheduler else None)
        )
        lines += ["[[cells]]", f'id = "{name}"', f'file = "{name}.py"']
        lines += ['language = "python"', f"order = {order}", ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


def timed_run(nb: Path, jobs: int) -> float:
    began = time.perf_counter()
    command = ["run", str(nb), "--force", "--quiet", "--jobs", str(jobs)]
    proc = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"strata run {nb} failed:\n{proc.stdout}{proc.stderr}")
    return elapsed


def session_run(session: Session, jobs: int) -> float:
    began = time.perf_counter()
    report = session.run("force", jobs=jobs)
    elapsed = time.perf_counter() - began
    if not report.success:
        raise SystemExit(f"the benchmark cells failed: {[c.error for c in report.cells]}")
    return elapsed


def compare(one: Path, two: Path, jobs: int, repeat: int) -> list[tuple[str, float, float]]:
    """Median seconds of the one-cell and the two-cell notebook, runs interleaved, for a
    warm session and for whole processes."""
    with Session(one) as first, Session(two) as second:
        session_run(first, jobs)  # warm: start the cell processes, connect to the cluster
        session_run(second, jobs)
        ones, twos = [], []
        for _ in range(repeat):
            ones.append(session_run(first, jobs))
            twos.append(session_run(second, jobs))
    rows = [("warm session", statistics.median(ones), statistics.median(twos))]
    ones, twos = [], []
    for _ in range(repeat):
        ones.append(timed_run(one, jobs))
        twos.append(timed_run(two, jobs))
    return [*rows, ("whole `strata run`", statistics.median(ones), statistics.median(twos))]


Row = tuple[str, str, float, float]


def measure(repeat: int, seconds: float) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        one = notebook(base / "local-one", ["a"], seconds, None)
        two = notebook(base / "local-two", ["a", "b"], seconds, None)
        rows += [("local, jobs 2", *row) for row in compare(one, two, 2, repeat)]
        from distributed import LocalCluster

        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            address = str(cluster.scheduler_address)
            one = notebook(base / "dask-one", ["a"], seconds, address)
            two = notebook(base / "dask-two", ["a", "b"], seconds, address)
            timed_run(two, 1)  # warm both dask workers' cell processes
            label = "dask, 2 worker processes, jobs 1"
            rows += [(label, *row) for row in compare(one, two, 1, repeat)]
    return rows


def table(rows: list[Row], seconds: float) -> str:
    lines = [
        f"| where | measured as | one {seconds:g} s cell | two independent {seconds:g} s cells "
        "| ratio |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for label, how, one, two in rows:
        lines.append(f"| {label} | {how} | {one:.2f} s | {two:.2f} s | {two / one:.2f}x |")
    worst = max(two / one for _label, how, one, two in rows if how == "warm session")
    verdict = "met" if worst <= TARGET else "NOT met"
    lines += [
        "",
        f"Medians. Warm session: worst ratio {worst:.2f}x (target <= {TARGET}x: {verdict}).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = table(measure(args.repeat, args.seconds), args.seconds)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
