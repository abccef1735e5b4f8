"""Whole-process timings of `strata run` against the physical floor, measured in one run.

The floor is the same cells concatenated into one plain `python` script. Results are
ratios against that floor (these machines are shared and noisy), written as markdown.

    .venv/bin/python bench/bench_cli.py [--repeat 5] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STRATA = [PYTHON, "-m", "strata_engine.cli"]

PIPELINE7 = {
    "load": "import numpy as np\nimport pandas as pd\nrng = np.random.default_rng(1)\n"
    "raw = pd.DataFrame({'k': rng.integers(0, 50, 200_000), 'v': rng.normal(size=200_000)})\n",
    "clean": "clean = raw[raw['v'] > -2].copy()\nclean['v2'] = clean['v'] ** 2\n",
    "features": "features = clean.assign(z=(clean['v'] - clean['v'].mean()) / clean['v'].std())\n",
    "agg": "agg = features.groupby('k').agg(n=('v', 'size'), mean=('v', 'mean'))\n",
    "top": "top = agg.sort_values('mean', ascending=False).head(10)\n",
    "joined": "joined = features.merge(agg, left_on='k', right_index=True)\n",
    "report": "report = {'rows': len(joined), 'best': int(top.index[0])}\nprint(report)\n",
}

# The floor does the work the notebook shows, as a Jupyter kernel would: displays render
# their HTML, and after each cell every open figure is rendered to PNG the way the cell's
# process does (bbox_inches="tight", Jupyter's inline default), so neither side is timed
# without it. MPLBACKEND=Agg comes from the environment (main), as the zygote sets it:
# a notebook without plots imports no matplotlib on either side.
SHIMS = """\
import sys as _sys, io as _io
def _flush_figures():
    plt = _sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        for number in plt.get_fignums():
            plt.figure(number).savefig(_io.BytesIO(), format="png", bbox_inches="tight")
        plt.close("all")
def display(*objs):
    for o in objs:
        getattr(o, "_repr_html_", None) and o._repr_html_()
class Markdown:
    def __init__(self, text): self.text = text
    def _repr_markdown_(self): return self.text
"""


def write_pipeline(root: Path, cells: dict[str, str]) -> Path:
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "bench-pipeline"', 'name = "pipeline"', ""]
    for i, (cell_id, source) in enumerate(cells.items()):
        (root / "cells" / f"{cell_id}.py").write_text(source)
        lines += [
            "[[cells]]",
            f'id = "{cell_id}"',
            f'file = "{cell_id}.py"',
            'language = "python"',
            f"order = {i + 1}",
            "",
        ]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


def python_cells(notebook: Path) -> list[tuple[str, str]]:
    manifest = tomllib.loads((notebook / "notebook.toml").read_text())
    cells = sorted(manifest["cells"], key=lambda c: c.get("order", 0))
    return [
        (c["id"], (notebook / "cells" / c["file"]).read_text())
        for c in cells
        if c.get("language", "python") == "python"
    ]


def plain_script(notebook: Path, target: Path, passes: int = 1) -> Path:
    """The floor: every Python cell in order in one script, timing each cell's own work.

    With passes=2 the recorded timings are those of the second pass, when every module is
    already imported: a cell's own work as a warm worker (which preloads imports) sees it.
    """
    parts = [SHIMS, "import time as _t, json as _j\n_work = {}\n"]
    for _ in range(passes):
        for cell_id, source in python_cells(notebook):
            parts.append(
                f"_s = _t.perf_counter()\nexec(compile({source!r}, {cell_id!r}, 'exec'))\n"
                "_flush_figures()\n"
            )
            parts.append(f"_work[{cell_id!r}] = (_t.perf_counter() - _s) * 1000\n")
    parts.append("import sys\nprint(_j.dumps(_work), file=sys.stderr)\n")
    target.write_text("".join(parts))
    return target


def timed(
    command: list[str], cwd: Path | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise RuntimeError(f"{command} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc


def median_of(repeat: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(repeat))


def measure_notebook(
    label: str, notebook: Path, repeat: int, edit_cell: str, edit: str
) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="strata-bench-"))
    nb = work / "nb"
    shutil.copytree(notebook, nb, ignore=shutil.ignore_patterns(".strata"))
    script = plain_script(nb, work / "plain.py")
    plain = median_of(repeat, lambda: timed([PYTHON, str(script)], cwd=nb)[0])

    def cold() -> float:
        shutil.rmtree(nb / ".strata", ignore_errors=True)
        return timed([*STRATA, "run", str(nb), "--quiet"])[0]

    def warm() -> float:
        # The fixed cost of a run that executes cells: the full path, not the settled
        # notebook's shortcut (run/settled.py), which an edited notebook never takes.
        (nb / ".strata" / "settled.json").unlink(missing_ok=True)
        return timed([*STRATA, "run", str(nb), "--quiet"])[0]

    cold_s = median_of(repeat, cold)
    warm_s = median_of(repeat, warm)

    edit_path = nb / "cells" / f"{edit_cell}.py"
    original = edit_path.read_text()
    overheads: list[float] = []
    executed_counts: list[int] = []
    for i in range(repeat):
        edit_path.write_text(original + "\n" + edit.format(i=i) + "\n")
        elapsed, proc = timed([*STRATA, "run", str(nb), "--format", "json"])
        report = json.loads(proc.stdout)
        executed = [c for c in report["cells"] if not c["cache_hit"]]
        own_work = _own_work(nb, work, [c["id"] for c in executed])
        executed_counts.append(len(executed))
        overheads.append((elapsed - warm_s - own_work) * 1000 / max(len(executed), 1))
    edit_path.write_text(original)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "label": label,
        "plain_s": plain,
        "cold_s": cold_s,
        "warm_s": warm_s,
        "edit_executed": statistics.median(executed_counts),
        "edit_overhead_ms": statistics.median(overheads),
        "warm_overhead_ms": measure_warm_session(notebook, repeat, edit_cell, edit),
    }


def _own_work(nb: Path, work: Path, cell_ids: list[str]) -> float:
    """The executed cells' own work, timed inside the plain script (seconds)."""
    script = plain_script(nb, work / "plain_edit.py", passes=2)
    proc = subprocess.run([PYTHON, str(script)], cwd=nb, capture_output=True, text=True, check=True)
    per_cell = json.loads(proc.stderr.strip().splitlines()[-1])
    return sum(per_cell.get(c, 0.0) for c in cell_ids) / 1000


def measure_warm_session(notebook: Path, repeat: int, edit_cell: str, edit: str) -> float:
    """The editor's case: a session whose warm worker is already up. Per executed cell, the
    run's wall time beyond the cells' own work (ms)."""
    from strata_engine.run.session import Session

    work = Path(tempfile.mkdtemp(prefix="strata-bench-"))
    nb = work / "nb"
    shutil.copytree(notebook, nb, ignore=shutil.ignore_patterns(".strata"))
    edit_path = nb / "cells" / f"{edit_cell}.py"
    original = edit_path.read_text()
    overheads = []
    with Session(nb) as session:
        session.run("all")
        for i in range(repeat + 1):
            edit_path.write_text(original + "\n" + edit.format(i=i + 100) + "\n")
            session.reload()
            start = time.perf_counter()
            report = session.run("all")
            elapsed = time.perf_counter() - start
            ran = [c.id for c in report.cells if c.executed]
            if i > 0:  # the first edit run also warms the worker's imports of late cells
                own = _own_work(nb, work, ran)
                overheads.append((elapsed - own) * 1000 / max(len(ran), 1))
    shutil.rmtree(work, ignore_errors=True)
    return statistics.median(overheads)


def synthetic(n: int, root: Path) -> Path:
    cells = {"c0000": "x0000 = 0\n"}
    for i in range(1, n):
        # a chain with fan-in every 10 cells, so the graph is not trivially linear
        extra = f" + x{i - 10:04d}" if i >= 10 and i % 10 == 0 else ""
        cells[f"c{i:04d}"] = f"# cell {i}\nx{i:04d} = x{i - 1:04d} + 1{extra}\n"
    return write_pipeline(root, cells)


def measure_synthetic(n: int, repeat: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="strata-bench-"))
    nb = synthetic(n, work / "nb")
    timed([*STRATA, "run", str(nb), "--quiet"])
    out = {
        "validate_s": median_of(repeat, lambda: timed([*STRATA, "validate", str(nb)])[0]),
        "status_s": median_of(repeat, lambda: timed([*STRATA, "status", str(nb)])[0]),
        "warm_run_s": median_of(repeat, lambda: timed([*STRATA, "run", str(nb), "--quiet"])[0]),
    }
    shutil.rmtree(work, ignore_errors=True)
    return out


def report(rows: list[dict[str, object]], synth: dict[str, float], n: int) -> str:
    lines = [
        "| notebook | plain script | cold `strata run` | ratio (target <= 2x) "
        "| warm `strata run` | ratio (target <= 0.5x) | edit: cells run "
        "| CLI overhead/cell | warm-session overhead/cell (target <= 30 ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        plain, cold, warm = float(r["plain_s"]), float(r["cold_s"]), float(r["warm_s"])  # type: ignore[arg-type]
        lines.append(
            f"| {r['label']} | {plain:.3f} s | {cold:.3f} s | {cold / plain:.2f}x | {warm:.3f} s "
            f"| {warm / plain:.2f}x | {r['edit_executed']} | {float(r['edit_overhead_ms']):.1f} ms "  # type: ignore[arg-type]
            f"| {float(r['warm_overhead_ms']):.1f} ms |"  # type: ignore[arg-type]
        )
    lines += [
        "",
        f"Synthetic {n}-cell notebook (whole process): `validate` {synth['validate_s']:.3f} s "
        f"(target < 1 s), `status` {synth['status_s']:.3f} s (target < 1 s), warm `run` "
        f"{synth['warm_run_s']:.3f} s (target < 2 s).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cells", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    pipeline = write_pipeline(Path(tempfile.mkdtemp(prefix="strata-p7-")) / "nb", PIPELINE7)
    rows = [
        measure_notebook(
            "samples/quickstart",
            ROOT / "samples" / "quickstart",
            args.repeat,
            "clean",
            'orders["edit"] = {i}',
        ),
        measure_notebook(
            "7-cell pandas pipeline", pipeline, args.repeat, "features", 'features["edit"] = {i}'
        ),
    ]
    synth = measure_synthetic(args.cells, args.repeat)
    print(report(rows, synth, args.cells))


if __name__ == "__main__":
    main()
