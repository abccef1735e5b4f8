"""`nb["x"]` on a cached 1 GiB Arrow table, in a fresh process (issue [10], SPEC 12).

    .venv/bin/python bench/bench_library.py [--gib 1.0] [--repeat 5]

Builds its own notebook in a temporary directory: one cell making a numeric pyarrow table of
about --gib GiB, run once with `Session.run` so the table is a cached blob. Then, --repeat
times, a fresh interpreter:
- imports `strata_engine.library` and pyarrow (timed apart: "imports");
- times `open_notebook(dir)` and `nb["x"]` (notebook.toml read, every cell keyed, the index
  looked up, the blob memory-mapped): the target is under 10 ms beyond the imports;
- baseline in the same process: pyarrow alone mapping the same blob
  (`ipc.open_file(memory_map(path)).read_all()`), the floor any mapped load pays;
- contrast: reading the blob into memory instead (`pa.OSFile`), what a copy would cost.
Prints one markdown table (medians). Everything goes to a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

GIB = 1024**3

CELL = """\
import numpy as np
import pyarrow as pa

_rows = int({gib} * 2**30) // 32
x = pa.table({{f"c{{i}}": np.arange(_rows, dtype=np.int64) * (i + 1) for i in range(4)}})
"""

CHILD = """\
import importlib, json, sys, time
t0 = time.perf_counter()
import strata_engine.library
t1 = time.perf_counter()
import pyarrow as pa
import strata_engine.store.arrow_codec
for module in filter(None, sys.argv[2].split(",")):
    importlib.import_module(module)
t2 = time.perf_counter()
before = set(sys.modules)
nb = strata_engine.library.open_notebook(sys.argv[1])
t3 = time.perf_counter()
x = nb["x"]
t4 = time.perf_counter()
lazy = sorted(set(sys.modules) - before)
path = str(nb.session.blobs.path(nb.cell_entry("make").outputs["x"].digest))
t5 = time.perf_counter()
floor = pa.ipc.open_file(pa.memory_map(path, "r")).read_all()
t6 = time.perf_counter()
copied = pa.ipc.open_file(pa.OSFile(path, "r")).read_all()
t7 = time.perf_counter()
assert x.num_rows == floor.num_rows == copied.num_rows
print(json.dumps({
    "import_engine": t1 - t0, "import_pyarrow": t2 - t1, "open": t3 - t2,
    "lookup": t4 - t3, "floor": t6 - t5, "copy": t7 - t6,
    "allocated": pa.total_allocated_bytes() - copied.nbytes, "nbytes": x.nbytes,
}) + "\\n" + json.dumps(lazy))
"""


def make_notebook(root: Path, gib: float) -> Path:
    (root / "cells").mkdir(parents=True)
    (root / "cells" / "make.py").write_text(CELL.format(gib=gib))
    (root / "notebook.toml").write_text(
        textwrap.dedent(
            """\
            notebook_id = "bench-library"
            name = "bench library"

            [[cells]]
            id = "make"
            file = "make.py"
            language = "python"
            order = 1
            """
        )
    )
    return root


def child(directory: Path, preload: list[str]) -> tuple[dict[str, Any], list[str]]:
    """One fresh interpreter; `preload`: modules the lookup would import lazily, imported
    (and timed) with the imports so the lookup's figure is "beyond its imports"."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), ",".join(preload)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures, lazy = done.stdout.strip().splitlines()[-2:]
    return dict(json.loads(figures)), list(json.loads(lazy))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from strata_engine.run.session import Session

    with tempfile.TemporaryDirectory(prefix="bench-library-") as tmp:
        directory = make_notebook(Path(tmp) / "nb", args.gib)
        started = time.perf_counter()
        with Session(directory) as session:
            report = session.run("all")
        assert report.success, report.cells[0].error
        run_s = time.perf_counter() - started
        _, lazy = child(directory, [])  # which modules the lookup imports on first use
        runs = [child(directory, lazy)[0] for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ms = {k: v * 1000 for k, v in med.items()}
    print(f"table: {med['nbytes'] / GIB:.2f} GiB, built and stored by the cell in {run_s:.1f} s")
    print(f"fresh processes: {args.repeat}, medians; lazily imported by the lookup: {lazy}\n")
    print("| phase | ms |\n| --- | ---: |")
    print(f"| import strata_engine.library | {ms['import_engine']:.1f} |")
    imports = f"import pyarrow, the arrow codec, {len(lazy)} lazy modules"
    print(f"| {imports} | {ms['import_pyarrow']:.1f} |")
    print(f"| open_notebook(dir) | {ms['open']:.2f} |")
    print(f"| nb['x'] (key, index lookup, mmap) | {ms['lookup']:.2f} |")
    print(f"| **open + nb['x'], beyond imports** | **{ms['open'] + ms['lookup']:.2f}** |")
    print(f"| baseline: pyarrow mmap of the same blob | {ms['floor']:.2f} |")
    print(f"| contrast: pyarrow read into memory | {ms['copy']:.1f} |")
    ratio = (ms["open"] + ms["lookup"]) / ms["floor"]
    print(
        f"\nopen + nb['x'] / pyarrow mmap = {ratio:.1f}x; bytes copied by nb['x']: "
        f"{int(med['allocated'])} (target: < 10 ms beyond imports)"
    )
    return 0 if ms["open"] + ms["lookup"] < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
