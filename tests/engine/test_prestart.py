"""The warm worker started ahead of a notebook's first run (backends/local/prestart.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.backends.local import prestart
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.store import BlobStore


def test_first_run_only_without_a_store_or_an_own_environment(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    assert prestart.first_run(nb)
    (nb / ".strata").mkdir()
    assert not prestart.first_run(nb)
    elsewhere = make_notebook({"a": "x = 1\n"}, header='[cache]\nstore = "/tmp/s"', name="e")
    assert not prestart.first_run(elsewhere)  # that store may well be warm
    own = make_notebook({"a": "x = 1\n"}, name="own")
    (own / "pyproject.toml").write_text('[project]\nname = "own"\nversion = "0"\n')
    assert not prestart.first_run(own)  # its interpreter is not ours
    assert not prestart.first_run(nb.parent / "missing")


def test_a_first_run_starts_a_worker_and_a_store_elsewhere_discards_it(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook({"a": "import json\nx = 1\n"})
    prestart.start_for_first_run(sys.executable, nb)
    started = prestart.take(sys.executable)
    assert started is not None and not started.lost
    started.close()
    # Spawned before notebook.toml is parsed: a store elsewhere (maybe warm) stops it.
    elsewhere = make_notebook({"a": "x = 1\n"}, header='[cache]\nstore = "/tmp/s"', name="e")
    prestart.start_for_first_run(sys.executable, elsewhere)
    assert prestart.take(sys.executable) is None
    prestart.start_for_first_run(sys.executable, nb.parent / "missing")
    assert prestart.take(sys.executable) is None


def test_the_first_executor_takes_the_started_zygote(tmp_path: Path) -> None:
    prestart.prestart(sys.executable)
    started = prestart._started[sys.executable]
    prestart.preload(["json"])
    with LocalExecutor(BlobStore(tmp_path / "blobs"), preload=["json"]) as executor:
        assert executor._ensure_zygote() is started
        assert prestart.take(sys.executable) is None  # only one taker
    assert started.lost or started._process.poll() is not None


def test_an_unclaimed_zygote_dies_with_the_engine() -> None:
    probe = (
        "import sys\nfrom strata_engine.backends.local import prestart\n"
        "prestart.prestart(sys.executable)\nprint(prestart._started[sys.executable].pid)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    pid = int(proc.stdout.split()[-1])
    # atexit killed and reaped it before the engine exited: the pid is no longer a process
    # (or, if the kernel reused it already, not our zygote).
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return
    assert b"zygote_server" not in cmdline


def test_early_imports_read_the_python_cells_text_and_nothing_else(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook(
        {
            "a": "import json\nfrom colorsys import rgb_to_hls\n",
            "b": "import json, csv.reader\nfrom . import sibling\n",
            "broken": "import decimal\nx = (\n",  # the analysis reports it; no hint from it
        }
    )
    outside = nb.parent / "outside.py"
    outside.write_text("import fractions\n")
    manifest = (nb / "notebook.toml").read_text()
    manifest += '\n[[cells]]\nid = "escape"\nfile = "../../outside.py"\norder = 9\n'
    manifest += '\n[[cells]]\nid = "q"\nfile = "q.sql"\nlanguage = "sql"\norder = 10\n'
    (nb / "notebook.toml").write_text(manifest)
    (nb / "cells" / "q.sql").write_text("import statistics\n")
    manifest = prestart.first_run_manifest(nb)
    assert manifest is not None
    assert prestart.early_imports(nb, manifest) == ["json", "colorsys", "csv"]
    (nb / ".strata").mkdir()
    assert prestart.first_run_manifest(nb) is None  # not a first run: the analysis decides


def test_strata_run_called_in_process_leaves_later_closes_waiting(
    make_notebook: NotebookFactory,
) -> None:
    # The CLI's "the process ends with the command" holds only while the command runs: a
    # library or test calling it keeps the usual close (wait for the worker's exit) after.
    from strata_engine.cli import main

    nb = make_notebook({"a": "x = 1\n"})
    assert main(["run", str(nb), "--quiet"]) == 0
    assert not prestart.ending()
