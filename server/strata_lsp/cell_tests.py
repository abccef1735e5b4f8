"""`strata/runCellTests` (docs/lsp-protocol.md, "Cell tests"): the editor's Test Explorer runs a
notebook's `cells/<id>.test.py` through the engine's runner, the same pytest subprocess as
`strata test`, and gets one result per test back.

The run leaves the event loop (pytest may compute stale cells first). It is refused while a
run of the notebook is in progress, and while another test run of it is, so two processes
never compute the same stale cells at once from one editor. Only parameter checks and the
translation of the plugin's report live here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.uris import to_fs_path

from strata_engine.model.notebook import CELLS_DIR, NotebookError
from strata_engine.testing.runner import (
    NO_TESTS_COLLECTED,
    TEST_SUFFIX,
    CellTestRun,
    find_test_files,
    run_cell_tests,
)

from .notebooks import Host, Notebooks

log = logging.getLogger(__name__)


class CellTests:
    def __init__(self, notebooks: Notebooks, running: Callable[[Path], bool]) -> None:
        """`running(directory)`: whether a run of that notebook is in progress."""
        self._notebooks = notebooks
        self._running = running
        self._busy: set[Path] = set()

    async def run(self, host: Host, params: dict[str, Any]) -> dict[str, Any]:
        """{notebook, file?, names?} -> {tests, exitCode, output}."""
        directory = host.directory
        files, names = _selection(directory, params)
        if self._running(directory):
            raise JsonRpcInvalidRequest(
                f"{directory}: a run of this notebook is in progress; "
                "run its cell tests when it has finished"
            )
        if directory in self._busy:
            raise JsonRpcInvalidRequest(f"{directory}: its cell tests are already running")
        self._busy.add(directory)
        try:
            loop = asyncio.get_running_loop()
            done = await loop.run_in_executor(None, _run, directory, files, names)
        finally:
            self._busy.discard(directory)
        if host.session is not None:
            host.session.forget_lookups()  # the tests may have computed stale cells
        self._notebooks.schedule(host)
        return _payload(directory, done)


def _run(directory: Path, files: list[Path] | None, names: list[str]) -> CellTestRun:
    try:
        found = find_test_files(directory) if files is None else files
        if not found:
            return CellTestRun(NO_TESTS_COLLECTED, [], f"{directory}: no cells/<id>.test.py")
        return run_cell_tests(directory, found, names=names)
    except NotebookError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    except Exception as exc:
        log.exception("cell tests of %s failed", directory)
        raise JsonRpcInternalError(f"internal error in Strata: {exc!r}") from exc


def _selection(directory: Path, params: dict[str, Any]) -> tuple[list[Path] | None, list[str]]:
    """The test file asked for (None: every one of the notebook) and the test names in it."""
    value, names = params.get("file"), params.get("names") or []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise JsonRpcInvalidParams("names must be a list of test function names")
    if value is None:
        if names:
            raise JsonRpcInvalidParams("names select tests of one file: give file too")
        return None, []
    if not isinstance(value, str) or not value:
        raise JsonRpcInvalidParams("file must be a path or file: URI of a cells/<id>.test.py")
    path = Path(to_fs_path(value) or value) if value.startswith("file:") else Path(value)
    path = path.resolve()
    if path.parent != directory / CELLS_DIR or not path.name.endswith(TEST_SUFFIX):
        raise JsonRpcInvalidParams(
            f"{value} is not a cell test of {directory}: give {directory / CELLS_DIR}/<id>"
            f"{TEST_SUFFIX}"
        )
    if not path.is_file():
        raise JsonRpcInvalidParams(f"{path} does not exist")
    return [path], list(names)


def _payload(directory: Path, done: CellTestRun) -> dict[str, Any]:
    return {
        "tests": [_test(directory, result) for result in done.results],
        "exitCode": done.exit_code,
        "output": done.output,
    }


def _test(directory: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The plugin's report entry (paths relative to the notebook) in the protocol's terms."""
    test: dict[str, Any] = {
        "file": str(directory / str(result["file"])),
        "name": result["name"],
        "line": result["line"],
        "outcome": result["outcome"],
    }
    optional: Sequence[tuple[str, str]] = (
        ("message", "message"),
        ("failureLine", "failure_line"),
        ("when", "when"),
        ("durationMs", "duration_ms"),
    )
    for key, source in optional:
        if result.get(source) is not None:
            test[key] = result[source]
    return test
