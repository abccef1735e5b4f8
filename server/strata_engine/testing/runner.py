"""Find a notebook's cell tests and run them under pytest in a subprocess.

`strata test` (output to the terminal, pytest's exit code) and the editor's Test Explorer
(output captured, outcomes read back from `--strata-report`) both call `pytest_command`.
pytest runs with the notebook's directory as rootdir and no ini file or cache directory of
its own, so a notebook inside a repository is not configured by the repository's pytest
settings, and running tests writes nothing into the notebook.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.model.fsutil import atomic_write
from strata_engine.model.notebook import NotebookError, load_notebook

TEST_SUFFIX = ".test.py"
PLUGIN = "strata_engine.testing.plugin"
CAPTURED_OPTIONS = ("-q", "--tb=short")
"""How a run whose output someone reads afterwards (the Test Explorer) asks pytest to print."""
NO_TESTS_COLLECTED = 5
"""pytest's exit code when nothing was collected; `strata test` uses it for no test files."""


def find_test_files(directory: Path) -> list[Path]:
    """`cells/<id>.test.py` of every cell of the notebook, in notebook order. A test file
    naming no cell is an error naming the file and the cell ids."""
    notebook = load_notebook(directory)
    cells_dir = notebook.directory / "cells"
    found = sorted(cells_dir.glob(f"*{TEST_SUFFIX}")) if cells_dir.is_dir() else []
    ids = [c.id for c in notebook.cells]
    for path in found:
        cell_id = path.name.removesuffix(TEST_SUFFIX)
        if cell_id not in ids:
            raise NotebookError(
                f"{path}: no cell {cell_id!r} in {notebook.manifest_path}; name a cell test "
                f"cells/<id>.test.py after a cell id ({', '.join(ids) or 'no cells'})"
            )
    order = {cell_id: i for i, cell_id in enumerate(ids)}
    return sorted(found, key=lambda p: order[p.name.removesuffix(TEST_SUFFIX)])


def pytest_command(
    directory: Path,
    files: Sequence[Path],
    *,
    keyword: str | None = None,
    report: Path | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """`python -m pytest ...` over `files` (paths, or `path::name` node ids)."""
    arguments = pytest_arguments(directory, files, keyword=keyword, report=report, extra=extra)
    return [sys.executable, "-m", "pytest", *arguments]


def pytest_arguments(
    directory: Path,
    files: Sequence[Path],
    *,
    keyword: str | None = None,
    report: Path | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """pytest's arguments for the cell tests: what follows `-m pytest`, or what
    `pytest.main` takes in a process that runs them itself (`python -m strata_engine.testing`,
    which the editor debugs)."""
    arguments = [
        *(str(f) for f in files),
        "-p",
        PLUGIN,
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        f"--rootdir={directory}",
        "-c",
        _empty_ini(),
    ]
    if keyword:
        arguments += ["-k", keyword]
    if report is not None:
        arguments += [f"--strata-report={report}"]
    return [*arguments, *extra]


def selected_targets(files: Sequence[Path], names: Sequence[str] = ()) -> list[Path]:
    """What pytest is given: `files` whole, or, for one file, its functions `names`
    (`path::name` node ids)."""
    if names and len(files) != 1:
        raise ValueError("names select test functions of exactly one file")
    return [Path(f"{files[0]}::{name}") for name in names] if names else list(files)


def _empty_ini() -> str:
    """Our ini file, outside the notebook, so no repository pytest.ini applies. It names the
    test files' pattern (their asserts are rewritten by the plugin: see testing/rewrite.py).
    Written atomically: concurrent test runs share it."""
    text = f"[pytest]\npython_files = *{TEST_SUFFIX}\n"
    path = Path(tempfile.gettempdir()) / "strata-cell-tests-v1.ini"
    if not path.exists() or path.read_text() != text:
        atomic_write(path, text, durable=False)
    return str(path)


@dataclass
class CellTestRun:
    exit_code: int
    results: list[dict[str, Any]] = field(default_factory=list)
    """The plugin's report: one dict per test (see plugin.py)."""
    output: str = ""


def run_cell_tests(
    directory: Path,
    files: Sequence[Path],
    *,
    names: Sequence[str] = (),
    timeout: float | None = None,
) -> CellTestRun:
    """Run `files` (all their tests, or, for one file, only the functions in `names`),
    output captured."""
    targets = selected_targets(files, names)
    with tempfile.TemporaryDirectory(prefix="strata-tests-") as scratch:
        report = Path(scratch) / "report.json"
        command = pytest_command(directory, targets, report=report)
        done = subprocess.run(
            [*command, *CAPTURED_OPTIONS],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=directory,
            check=False,
        )
        results = json.loads(report.read_text()) if report.exists() else []
    return CellTestRun(done.returncode, results, done.stdout + done.stderr)
