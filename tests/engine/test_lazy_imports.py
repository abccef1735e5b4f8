"""A fully cached `strata run` imports only what a lookup needs (issue [11], Speed).

Checked in a fresh interpreter through `sys.modules`, never by timing: the cell libraries
(pandas, pyarrow, numpy, matplotlib, cloudpickle, openai, duckdb) and the environment-sync
machinery (importlib.metadata, tomlkit, packaging) must stay out of a run that executes
nothing, whatever the cells' outputs are.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import NotebookFactory

CELL_LIBRARIES = ("pandas", "pyarrow", "numpy", "matplotlib", "cloudpickle", "openai", "duckdb")
SYNC_MACHINERY = ("importlib.metadata", "tomlkit", "packaging")
EXECUTION_ONLY = (
    # what only executing, serving or editing needs: none of it is a lookup's business
    "strata_engine.backends.local.executor",
    "strata_engine.backends.local.zygote_client",
    "strata_engine.backends.local.harness",
    "strata_engine.worker.command",
    "strata_engine.snapshots.command",
    "strata_engine.editor",
    "strata_engine.jupyter",
    "strata_engine.agent",
    "strata_engine.promote",
    "strata_engine.library",
    "strata_engine.store.gc",  # a run never collects garbage
    "logging",  # imported by the few modules that log, when they do
    "subprocess",  # a lookup starts no process (the interpreter probe, the zygote)
    "tempfile",  # and writes no file atomically
    "shutil",  # argparse's default help formatter imports it for the terminal width
)
SETTLED_FREE = (
    # dataclasses imports inspect (and ast, dis, tokenize): ~12 ms of a ~140 ms cached run,
    # so what the settled record builds (store rows, the report) is no dataclass
    "dataclasses",
    "inspect",
)


def _modules_after_run(nb: object) -> tuple[int, dict[str, object], list[str]]:
    probe = (
        "import json, sys\nfrom strata_engine.cli import main\n"
        f"code = main(['run', {str(nb)!r}, '--format', 'json'])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.returncode, json.loads(proc.stdout), modules


def test_fully_cached_run_imports_no_cell_library(make_notebook: NotebookFactory) -> None:
    nb = make_notebook(
        {
            "intro.md": "# A table and a figure\n",
            "load": "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})\n",
            "arr": "import numpy as np\nv = np.arange(3)\n",
            "plot": "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots()\nax.plot(v)\nn = len(df)\n",
            "fn": "def double(x):\n    return 2 * x\ntwice = double(n)\n",
        }
    )
    first, _, _ = _modules_after_run(nb)
    assert first == 0
    settled = nb / ".strata" / "settled.json"
    assert settled.is_file()
    settled.unlink()  # the full path first: load, analyze, key and look up every cell
    for path in ("full", "settled"):
        code, report, modules = _modules_after_run(nb)
        assert code == 0
        assert all(cell["cache_hit"] for cell in report["cells"] if cell["id"] != "intro")
        loaded = {m.partition(".")[0] for m in modules}
        assert [m for m in CELL_LIBRARIES if m in loaded] == []
        assert [m for m in SYNC_MACHINERY if m in modules] == []
        assert [m for m in EXECUTION_ONLY if m in modules] == []
        analyzed = "strata_engine.analysis.snapshot" in modules
        assert analyzed == (path == "full"), path  # the settled record spares the analysis
        if path == "settled":
            assert [m for m in SETTLED_FREE if m in modules] == []
