"""The pytest plugin of cell tests: `python -m pytest FILES -p strata_engine.testing.plugin`.

The `cell` fixture of a test in `cells/<id>.test.py` is cell `<id>`'s namespace: `cell.sales`
or `cell["sales"]` loads the published value from the cache (Arrow memory-mapped). A cell that
is not ready is run first, with its stale upstream (ready cells are hits), so a warm cache runs
nothing. Values are loaded per test, so a test that mutates one cannot affect another.

`--strata-report PATH` writes every test's outcome as JSON (the editor's Test Explorer reads
it): `[{"nodeid", "name", "file", "line", "outcome", "message", "failure_line", "duration_ms"}]`,
lines 1-based.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strata_engine.library import NotebookHandle, open_notebook
from strata_engine.store import Entry
from strata_engine.testing import rewrite
from strata_engine.testing.runner import TEST_SUFFIX


def cell_id_for(path: Path) -> str:
    """`cells/load_data.test.py` -> `load_data`."""
    return path.name.removesuffix(TEST_SUFFIX)


class CellNamespace:
    """One cell's published variables, loaded on first access."""

    def __init__(self, notebook: NotebookHandle, cell_id: str, entry: Entry) -> None:
        self._notebook = notebook
        self._entry = entry
        self._values: dict[str, Any] = {}
        self.id = cell_id

    @property
    def names(self) -> list[str]:
        return sorted(self._entry.outputs)

    @property
    def key(self) -> str:
        return self._entry.key

    def __getitem__(self, name: str) -> Any:
        if name not in self._entry.outputs:
            raise KeyError(self._missing(name))
        if name not in self._values:
            self._values[name] = self._notebook.load(self._entry, name)
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entry.outputs

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __repr__(self) -> str:
        return f"<cell {self.id!r}: {', '.join(self.names)}>"

    def _missing(self, name: str) -> str:
        published = ", ".join(self.names) or "nothing"
        return f"cell {self.id!r} does not publish {name!r} (it publishes {published})"


class _Notebooks:
    """One open notebook per directory for the whole pytest session; the cells' entries are
    looked up once (a test file's tests share them)."""

    def __init__(self) -> None:
        self.handles: dict[Path, NotebookHandle] = {}
        self.entries: dict[tuple[Path, str], Entry] = {}

    def namespace(self, test_file: Path) -> CellNamespace:
        directory = test_file.resolve().parent.parent
        cell_id = cell_id_for(test_file)
        handle = self.handles.get(directory)
        if handle is None:
            handle = self.handles[directory] = open_notebook(directory)
        entry = self.entries.get((directory, cell_id))
        if entry is None:
            entry = self.entries[(directory, cell_id)] = handle.cell_entry(cell_id, run=True)
        return CellNamespace(handle, cell_id, entry)

    def executed(self) -> list[str]:
        return [cell for handle in self.handles.values() for cell in handle.executed]

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


_NOTEBOOKS = pytest.StashKey[_Notebooks]()
_FINDER = pytest.StashKey["rewrite.CellTestFinder | None"]()


class _Reporter:
    """Collects each test's outcome for `--strata-report` and says which cells ran."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.failed or report.skipped:
            self.results.append(_result(report))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        executed = self.config.stash[_NOTEBOOKS].executed()
        ran = f"ran {len(executed)} cell(s): {', '.join(executed)}" if executed else "ran no cell"
        terminalreporter.write_line(f"strata: {ran}; every other value came from the cache")

    def pytest_sessionfinish(self) -> None:
        path = self.config.getoption("--strata-report")
        if path:
            Path(path).write_text(json.dumps(self.results, indent=1))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--strata-report", metavar="PATH", help="write outcomes as JSON to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_NOTEBOOKS] = _Notebooks()
    config.stash[_FINDER] = rewrite.install()
    config.pluginmanager.register(_Reporter(config), "strata-cell-tests-reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    rewrite.uninstall(config.stash[_FINDER])
    config.stash[_NOTEBOOKS].close()


@pytest.fixture
def cell(request: pytest.FixtureRequest) -> CellNamespace:
    """The namespace of the cell this test file tests (`cells/<id>.test.py` -> `<id>`)."""
    path = Path(str(request.node.path))
    if not path.name.endswith(TEST_SUFFIX):
        raise pytest.UsageError(f"{path}: the `cell` fixture works in cells/<id>.test.py files")
    return request.config.stash[_NOTEBOOKS].namespace(path)


def _result(report: pytest.TestReport) -> dict[str, Any]:
    file, line, name = report.location
    outcome = report.outcome if report.when == "call" else f"{report.outcome} in {report.when}"
    message, failure_line = None, None
    if report.failed or report.skipped:
        message = report.longreprtext
        failure_line = _line_in(report, file)
    return {
        "nodeid": report.nodeid,
        "name": name.split("[")[0],
        "file": file,
        "line": (line or 0) + 1,
        "outcome": outcome.split(" ")[0] if report.when == "call" else "error",
        "when": report.when,
        "message": message,
        "failure_line": failure_line,
        "duration_ms": round(report.duration * 1000, 1),
    }


def _line_in(report: pytest.TestReport, file: str) -> int | None:
    """The innermost traceback line inside the test file itself (1-based)."""
    entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", [])
    for entry in reversed(entries):
        location = getattr(entry, "reprfileloc", None)
        if location is not None and Path(location.path).name == Path(file).name:
            return int(location.lineno)
    return None
