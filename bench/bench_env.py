"""A fully cached run of a notebook with its own environment vs the same notebook without
one (issue 10, SPEC 7: at most 1.2x).

    .venv/bin/python bench/bench_env.py [--repeats 15] [--cells 7]

Two copies of one notebook of --cells small Python cells, in a temporary directory: `own`
has a pyproject.toml (dependency: tabulate; the cells do not import it, so both copies run
the same code) and is synced with uv by its first run; `embedded` has none. Both are run
once to fill their caches, then `strata run --format json` (a whole process, as in CI) is
timed --repeats times for each, alternating, and every timed run must be all cache hits.
The venv side is timed with a uv that records its calls (STRATA_UV): a cached run must not
invoke it. Also timed in-process: `Session.run` of a fully cached notebook (no interpreter
start-up, so the environment check's own cost stands out). Medians; the ratio is the claim.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STRATA = [sys.executable, "-m", "strata_engine.cli"]


def write(nb: Path, cells: int, *, pyproject: bool) -> Path:
    (nb / "cells").mkdir(parents=True)
    lines = ['notebook_id = "bench-env"', 'name = "bench env"', ""]
    for i in range(cells):
        source = "x0 = list(range(1000))\n" if i == 0 else f"x{i} = [v + 1 for v in x{i - 1}]\n"
        (nb / "cells" / f"c{i}.py").write_text(source)
        lines += ["[[cells]]", f'id = "c{i}"', f'file = "c{i}.py"', 'language = "python"']
        lines += [f"order = {i + 1}", ""]
    (nb / "notebook.toml").write_text("\n".join(lines))
    if pyproject:
        (nb / "pyproject.toml").write_text(
            '[project]\nname = "bench-env"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
            'dependencies = ["tabulate"]\n'
        )
    return nb


def run_cli(nb: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [*STRATA, "run", str(nb), "--format", "json"], capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"strata run {nb} failed:\n{proc.stdout}{proc.stderr}")
    cells = json.loads(proc.stdout)["cells"]
    if not all(c["cache_hit"] for c in cells):
        raise SystemExit(f"{nb}: a timed run was not fully cached")
    return elapsed


def run_in_process(nb: Path, repeats: int) -> float:
    from strata_engine.run.session import Session

    times = []
    with Session(nb) as session:
        for _ in range(repeats):
            started = time.perf_counter()
            report = session.run("all")
            times.append(time.perf_counter() - started)
            assert all(c.cache_hit for c in report.cells)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--cells", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-bench-env-") as tmp:
        base = Path(tmp)
        own = write(base / "own", args.cells, pyproject=True)
        embedded = write(base / "embedded", args.cells, pyproject=False)
        calls = base / "uv-calls"
        shim = base / "uv"
        shim.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
        shim.chmod(0o755)
        plain_env = dict(os.environ)
        started = time.perf_counter()
        run_first = subprocess.run([*STRATA, "run", str(own)], capture_output=True, text=True)
        sync_s = time.perf_counter() - started
        if run_first.returncode != 0:
            raise SystemExit(run_first.stderr)
        subprocess.run([*STRATA, "run", str(embedded)], capture_output=True, check=True)
        shim_env = {**plain_env, "STRATA_UV": str(shim)}
        cli: dict[str, list[float]] = {"own": [], "embedded": []}
        for _ in range(args.repeats):
            cli["own"].append(run_cli(own, shim_env))
            cli["embedded"].append(run_cli(embedded, plain_env))
        if calls.exists():
            raise SystemExit(f"a cached run invoked uv: {calls.read_text()}")
        own_in = run_in_process(own, args.repeats)
        embedded_in = run_in_process(embedded, args.repeats)
    own_s, embedded_s = statistics.median(cli["own"]), statistics.median(cli["embedded"])
    print(
        f"first run of the venv notebook (uv sync + harness + {args.cells} cells): {sync_s:.2f} s"
    )
    print(f"| fully cached run, {args.cells} cells | own .venv | embedded | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| strata run (process) | {own_s * 1000:.0f} ms | {embedded_s * 1000:.0f} ms "
        f"| {own_s / embedded_s:.2f}x |"
    )
    print(
        f"| Session.run (in process) | {own_in * 1000:.1f} ms | {embedded_in * 1000:.1f} ms "
        f"| {own_in / embedded_in:.2f}x |"
    )
    print("uv invoked by cached runs: never")


if __name__ == "__main__":
    main()
