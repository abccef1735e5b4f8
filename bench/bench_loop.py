"""Loop cells: the overhead of one iteration beyond the body's own work, and whether a
1,000-iteration loop's stored iterations slow `strata status`.

- Overhead per iteration: a warm session (`Session.run("force")` in this process, the warm
  worker already up) runs a loop cell of N iterations and the same cell with 1 iteration;
  (T(N) - T(1)) / (N - 1) is what one more iteration costs through Strata: the body, a
  fresh namespace, the carry stored as a blob, the record, the index entry and the progress
  event. The body alone in a plain Python for-loop (fresh dict per iteration, as the loop
  driver gives it) is measured in the same run; the difference is the overhead. The carry is
  small (a dict of a few numbers). Target: at most 5 ms.
- Status: `strata status` (whole process) on a notebook whose loop cell stored 1 iteration,
  against the same notebook after a 1,000-iteration run of that cell. Target: ratio <= 1.2.

Figures are medians of interleaved runs.

    .venv/bin/python bench/bench_loop.py [--iterations 300] [--repeat 5] [--out FILE]
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

OVERHEAD_TARGET_MS = 5.0
STATUS_TARGET = 1.2
BODY = (
    "total = 0\n"
    "for i in range(2000):\n"
    "    total += i * i\n"
    "state = {'n': state['n'] + 1, 'total': total, 'last': float(total % 97)}\n"
)


def notebook(root: Path, iterations: int) -> Path:
    (root / "cells").mkdir(parents=True)
    (root / "cells" / "seed.py").write_text("state = {'n': 0, 'total': 0, 'last': 0.0}\n")
    (root / "cells" / "loop.py").write_text(f"# @loop max_iter={iterations} carry=state\n{BODY}")
    lines = ['notebook_id = "bench-loop"', ""]
    for order, cell in enumerate(("seed", "loop"), start=1):
        lines += ["[[cells]]", f'id = "{cell}"', f'file = "{cell}.py"', 'language = "python"']
        lines += [f"order = {order}", ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


def timed_run(session: Session) -> float:
    began = time.perf_counter()
    report = session.run("force")
    elapsed = time.perf_counter() - began
    assert report.success, [c.error for c in report.cells]
    return elapsed


def plain_loop(iterations: int) -> float:
    code = compile(BODY, "loop.py", "exec")
    state = {"n": 0, "total": 0, "last": 0.0}
    began = time.perf_counter()
    for _ in range(iterations):
        namespace = {"state": state}
        exec(code, namespace)
        state = namespace["state"]
    return time.perf_counter() - began


def measure_overhead(work: Path, iterations: int, repeat: int) -> dict[str, float]:
    many = Session(notebook(work / "many", iterations))
    one = Session(notebook(work / "one", 1))
    try:
        timed_run(many), timed_run(one)  # warm workers, imports
        per_iteration, plain = [], []
        for _ in range(repeat):
            t_many, t_one = timed_run(many), timed_run(one)
            per_iteration.append((t_many - t_one) / (iterations - 1))
            plain.append(plain_loop(iterations) / iterations)
    finally:
        many.close()
        one.close()
    strata_ms = statistics.median(per_iteration) * 1000
    plain_ms = statistics.median(plain) * 1000
    return {"strata_ms": strata_ms, "plain_ms": plain_ms, "overhead_ms": strata_ms - plain_ms}


def status_seconds(nb: Path) -> float:
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "status", str(nb)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return elapsed


def measure_status(work: Path, repeat: int) -> dict[str, float]:
    small, large = notebook(work / "s1", 1), notebook(work / "s1000", 1000)
    for nb in (small, large):
        with Session(nb) as session:
            timed_run(session)
    before, after = [], []
    status_seconds(small), status_seconds(large)
    for _ in range(repeat):
        before.append(status_seconds(small))
        after.append(status_seconds(large))
    b, a = statistics.median(before), statistics.median(after)
    return {"before_ms": b * 1000, "after_ms": a * 1000, "ratio": a / b}


def table(overhead: dict[str, float], status: dict[str, float], iterations: int) -> str:
    ok_overhead = overhead["overhead_ms"] <= OVERHEAD_TARGET_MS
    ok_status = status["ratio"] <= STATUS_TARGET
    return "\n".join(
        [
            "| measure | value |",
            "| --- | --- |",
            f"| one iteration through Strata ({iterations}-iteration loop, warm session) "
            f"| {overhead['strata_ms']:.3f} ms |",
            f"| the same body in a plain Python for-loop | {overhead['plain_ms']:.3f} ms |",
            f"| overhead per iteration | {overhead['overhead_ms']:.3f} ms "
            f"(target <= {OVERHEAD_TARGET_MS} ms: {'met' if ok_overhead else 'MISSED'}) |",
            f"| `strata status`, loop with 1 stored iteration | {status['before_ms']:.1f} ms |",
            f"| `strata status`, loop with 1,000 stored iterations | {status['after_ms']:.1f} ms |",
            f"| ratio after / before | {status['ratio']:.2f}x "
            f"(target <= {STATUS_TARGET}x: {'met' if ok_status else 'MISSED'}) |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-bench-loop-") as tmp:
        work = Path(tmp)
        overhead = measure_overhead(work, args.iterations, args.repeat)
        status = measure_status(work, args.repeat)
    text = table(overhead, status, args.iterations)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
