"""The notebook as a library: any Python process reads a notebook's results, no editor needed.

    from strata_engine import open_notebook
    nb = open_notebook("samples/quickstart")
    nb["sales"]                    # the current artifact; Arrow tables memory-mapped
    nb.value("sales", run=True)    # runs the producer and its stale upstream first

A value is served only when its producing cell is `ready` (its current key is in the cache):
a stale or never-run producer raises `NotReadyError` instead of handing back an old result,
so a script can never mistake last week's table for today's. `states()` and `run()` are the
`Session` calls `strata status` and `strata run` make.

Nothing heavy is imported here: pyarrow and pandas load only when a value that needs them is
loaded (the codecs import them lazily).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from strata_engine.analysis.snapshot import Snapshot
from strata_engine.cache.state import CellStatus
from strata_engine.model.notebook import NotebookError
from strata_engine.run.events import EventSink, RunReport, ignore_events
from strata_engine.run.session import Session
from strata_engine.store import Entry, load_value

_FIX = "call nb.value({name!r}, run=True) or run `strata run {directory}` first"


class NotebookValueError(LookupError):
    """A variable cannot be served from the notebook's cache (base of the library's errors)."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class UnknownVariableError(NotebookValueError):
    """No cell of the notebook publishes the name."""


class NotReadyError(NotebookValueError):
    """The producing cell has no current result: it is stale, never ran, or failed."""

    def __init__(self, message: str, *, name: str, cell: str, status: CellStatus) -> None:
        super().__init__(message)
        self.name = name
        self.cell = cell
        self.state = status.state
        self.reasons = [r.describe() for r in status.reasons]


class CellRunError(NotebookValueError):
    """`run=True` ran the cells needed and one of them failed."""


class NotebookHandle:
    """One notebook opened for reading (and, on request, running). Close it, or use `with`."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.session = Session(self.directory)
        self.executed: list[str] = []
        """Cells whose code ran on behalf of `run=True` lookups (hits excluded), in order."""

    # -- the CLI's calls --------------------------------------------------------------------
    def states(self) -> dict[str, CellStatus]:
        """Every cell's state and staleness reasons (what `strata status` prints)."""
        return self.session.states()

    def run(
        self,
        mode: str = "all",
        cell_ids: Iterable[str] = (),
        *,
        on_event: EventSink = ignore_events,
        timeout: float | None = None,
        jobs: int | None = None,
    ) -> RunReport:
        """`Session.run`: mode all | stale | cells (these ids and their upstream) | force."""
        return self.session.run(mode, cell_ids, on_event=on_event, timeout=timeout, jobs=jobs)

    # -- values -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.value(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.variables()

    def value(self, name: str, *, run: bool = False) -> Any:
        """The current value of `name`. `run=True`: if its producer is not ready, run it and
        its upstream (ready cells are served from the cache, not executed) first."""
        snapshot = self._reading_snapshot()
        cell = self.producer(name, snapshot)
        entry = self._current_entry(cell, snapshot, run=run, name=name)
        stored = entry.outputs.get(name)
        if stored is None:  # defined only on some paths (inside an `if`), or deleted
            raise NotebookValueError(
                f"cell {cell!r} ran but did not publish {name!r} (it publishes "
                f"{', '.join(sorted(entry.outputs)) or 'nothing'}); check the cell's code"
            )
        return load_value(self.session.blobs, stored)

    def cell_entry(self, cell_id: str, *, run: bool = False) -> Entry:
        """The current cache entry of one cell (its published variables), as `value` finds it."""
        snapshot = self._reading_snapshot()
        if cell_id not in snapshot.cells:
            close = difflib.get_close_matches(cell_id, list(snapshot.cells), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownVariableError(
                f"no cell {cell_id!r} in {self.session.notebook.manifest_path}{hint}"
            )
        return self._current_entry(cell_id, snapshot, run=run, name=None)

    def load(self, entry: Entry, name: str) -> Any:
        return load_value(self.session.blobs, entry.outputs[name])

    def variables(self, snapshot: Snapshot | None = None) -> dict[str, str]:
        """Every published name -> the cell whose value `nb[name]` serves (the last definer
        in execution order, which is what a new cell at the end would read)."""
        snapshot = snapshot or self.session.snapshot()
        out: dict[str, str] = {}
        for cell_id in snapshot.graph.order:
            view = snapshot.cells[cell_id]
            if view.kind.executes:
                out.update(dict.fromkeys(view.analysis.defines, cell_id))
        return out

    def producer(self, name: str, snapshot: Snapshot | None = None) -> str:
        producers = self.variables(snapshot)
        if name in producers:
            return producers[name]
        close = difflib.get_close_matches(name, list(producers), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownVariableError(
            f"no cell of {self.session.notebook.manifest_path} publishes {name!r}{hint}"
        )

    def _reading_snapshot(self) -> Snapshot:
        # Reading runs nothing, so the cells' imports need not resolve here (a run checks).
        return self.session.snapshot(check_imports=False)

    def _current_entry(
        self, cell: str, snapshot: Snapshot, *, run: bool, name: str | None
    ) -> Entry:
        cone = {cell, *snapshot.graph.upstream(cell)}  # key only what the value depends on
        status = self.session.states(snapshot, only=cone)[cell]
        if status.state == "ready" and status.entry is not None:
            return status.entry
        if not run:
            raise NotReadyError(
                _not_ready_message(name, cell, status, self.directory),
                name=name or "",
                cell=cell,
                status=status,
            )
        report = self.session.run("cells", [cell])
        self.executed += [c.id for c in report.cells if c.executed]
        failed = [c for c in report.cells if c.status != "ok"]
        if failed:
            first = failed[0]
            why = first.error or first.reason or first.status
            raise CellRunError(f"running {cell!r} for {name or cell!r} failed: {first.id}: {why}")
        status = self.session.states()[cell]
        if status.entry is None:  # e.g. evicted by a concurrent garbage collection
            raise NotReadyError(
                _not_ready_message(name, cell, status, self.directory),
                name=name or "",
                cell=cell,
                status=status,
            )
        return status.entry

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> NotebookHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables())


def _not_ready_message(name: str | None, cell: str, status: CellStatus, directory: Path) -> str:
    what = f"{name!r} (from cell {cell!r})" if name else f"cell {cell!r}"
    if status.state == "never_run":
        state = "has never run"
    elif status.state == "error":
        state = f"failed: {status.message or _last_error(status) or 'see `strata status`'}"
    else:
        reasons = ", ".join(r.describe() for r in status.reasons) or "no reason recorded"
        state = f"is {status.state} ({reasons})"
    fix = _FIX.format(name=name or cell, directory=directory)
    if not name:
        fix = f"run `strata run {directory}` first, or pass run=True"
    return f"{what} {state}; {fix}"


def _last_error(status: CellStatus) -> str | None:
    entry = status.entry
    return entry.error if entry is not None else None


def open_notebook(directory: str | Path) -> NotebookHandle:
    """Open the notebook directory `directory` for reading its results. Raises
    `NotebookError` (a bad path, a malformed notebook.toml) with the file named."""
    return NotebookHandle(directory)


__all__ = [
    "CellRunError",
    "NotReadyError",
    "NotebookError",
    "NotebookHandle",
    "NotebookValueError",
    "UnknownVariableError",
    "open_notebook",
]
