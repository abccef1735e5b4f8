"""`strata/run` and `strata/cancel`: runs happen in a worker thread, their events go back to
the client as notifications.

The request returns a run id at once. The engine calls back from the worker thread; every
notification is handed to the event loop with `post` (thread-safe), so messages leave in
the order the engine produced them and never interleave with the loop's own writes. Runs of
one notebook are serialized (its `Session` and warm worker run one thing at a time); a second
request waits for the first.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.model.notebook import NotebookError
from strata_engine.run.events import (
    CellDisplay,
    CellFinished,
    CellProgress,
    CellRun,
    CellStarted,
    CellStream,
    Event,
    RunReport,
)
from strata_engine.run.session import Session

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]
Notify = Callable[[str, dict[str, Any]], None]


@dataclass(eq=False)
class RunHandle:
    run_id: str
    directory: Path
    session: Session
    cancelled: threading.Event = field(default_factory=threading.Event)
    streamed: set[str] = field(default_factory=set)
    """Cells whose console was streamed live (the rest is sent when they finish)."""
    shown: set[str] = field(default_factory=set)
    """Cells whose displays were sent live, as the cell showed them."""

    def base(self, cell_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"runId": self.run_id, "notebook": str(self.directory)}
        if cell_id is not None:
            payload["cellId"] = cell_id
        return payload


class Runs:
    def __init__(
        self,
        post: Post,
        notify: Notify,
        on_cell: Callable[[Path, str, bool], None],
        on_done: Callable[[Path], None],
        on_executed: Callable[[Path, CellRun], None] | None = None,
    ) -> None:
        """`on_cell(directory, cell_id, running)`, `on_done(directory)` and
        `on_executed(directory, cell)` (a cell whose code ran) run on the loop."""
        self._post, self._notify = post, notify
        self._on_cell, self._on_done = on_cell, on_done
        self._on_executed = on_executed
        self._runs: dict[str, RunHandle] = {}
        self._locks: dict[Path, threading.Lock] = {}

    def active(self, directory: Path) -> bool:
        return any(h.directory == directory for h in self._runs.values())

    def start(
        self,
        directory: Path,
        session: Session,
        mode: str,
        cell_ids: Sequence[str],
        overrides: Mapping[str, str],
    ) -> str:
        handle = RunHandle(uuid.uuid4().hex[:12], directory, session)
        self._runs[handle.run_id] = handle
        lock = self._locks.setdefault(directory, threading.Lock())
        thread = threading.Thread(
            target=self._work,
            args=(handle, lock, mode, list(cell_ids), dict(overrides)),
            name=f"strata-run-{handle.run_id}",
            daemon=True,
        )
        thread.start()
        return handle.run_id

    def cancel(self, run_id: str) -> bool:
        handle = self._runs.get(run_id)
        if handle is None:
            return False
        handle.cancelled.set()
        handle.session.cancel()
        return True

    # -- the worker thread ---------------------------------------------------------------------
    def _work(
        self,
        handle: RunHandle,
        lock: threading.Lock,
        mode: str,
        cell_ids: list[str],
        overrides: dict[str, str],
    ) -> None:
        report, error = None, None
        with lock:
            if not handle.cancelled.is_set():
                try:
                    report = handle.session.run(
                        mode,
                        cell_ids,
                        overrides=overrides,
                        on_event=lambda e: self._event(handle, e),
                    )
                except NotebookError as exc:
                    error = str(exc)
                except Exception as exc:
                    log.exception("run %s failed", handle.run_id)
                    error = f"internal error in Strata: {exc!r}"
        finished = _finished(handle, report, error)
        self._post(lambda: self._done(handle, finished))

    def _done(self, handle: RunHandle, finished: dict[str, Any]) -> None:
        # One callback, and the run forgotten before the client hears it finished: a request
        # sent on hearing so (run the cell tests) must never find the run in progress.
        self._runs.pop(handle.run_id, None)
        self._notify("strata/runFinished", finished)
        self._on_done(handle.directory)

    def _send(self, method: str, payload: dict[str, Any]) -> None:
        self._post(lambda: self._notify(method, payload))

    def _event(self, handle: RunHandle, event: Event) -> None:
        if isinstance(event, CellStarted):
            # The engine's placement, so "dispatching -> NAME" is never a guess in the editor.
            payload = {
                **handle.base(event.cell_id),
                "worker": event.worker,
                "backend": event.backend,
            }
            self._send("strata/cellStarted", payload)
            self._post(lambda: self._on_cell(handle.directory, event.cell_id, True))
        elif isinstance(event, CellStream):
            handle.streamed.add(event.cell_id)
            payload = {**handle.base(event.cell_id), "stream": event.stream, "text": event.text}
            self._send("strata/cellStream", payload)
        elif isinstance(event, CellDisplay):
            handle.shown.add(event.cell_id)
            self._send("strata/cellOutput", {**handle.base(event.cell_id), "output": event.bundle})
        elif isinstance(event, CellProgress):
            self._send("strata/cellProgress", _progress(handle, event))
        elif isinstance(event, CellFinished):
            self._cell_finished(handle, event.run)

    def _cell_finished(self, handle: RunHandle, cell: CellRun) -> None:
        base = handle.base(cell.id)
        if cell.cache_hit:
            self._send("strata/cellCacheHit", {**base, "key": cell.key})
        if cell.id not in handle.streamed:
            # A hit replays its console; an executor that did not stream sends it now.
            for stream in ("stdout", "stderr"):
                text = getattr(cell, stream)
                if text:
                    payload = {**base, "stream": stream, "text": text, "replayed": cell.cache_hit}
                    self._send("strata/cellStream", payload)
        if cell.id not in handle.shown:  # a hit replays its displays now
            for display in cell.displays:
                self._send("strata/cellOutput", {**base, "output": display})
        if cell.status == "error":
            payload = {**base, "error": cell.error, "traceback": cell.traceback}
            self._send("strata/cellError", payload)
        self._send("strata/cellFinished", {**base, **cell.to_event_json()})
        on_executed = self._on_executed
        if cell.executed and on_executed is not None:
            self._post(lambda: on_executed(handle.directory, cell))
        self._post(lambda: self._on_cell(handle.directory, cell.id, False))


def _progress(handle: RunHandle, event: CellProgress) -> dict[str, Any]:
    return {
        **handle.base(event.cell_id),
        "iteration": event.iteration,
        "maxIter": event.max_iter,
        "stopped": event.stopped,
        "durationMs": round(event.duration_ms, 1),
    }


def _finished(handle: RunHandle, report: RunReport | None, error: str | None) -> dict[str, Any]:
    payload = handle.base()
    payload["cancelled"] = handle.cancelled.is_set()
    if report is None:
        payload.update(success=False, durationMs=0.0, cells=[])
    else:
        payload.update(
            success=report.success,
            durationMs=round(report.duration_ms, 1),
            cells=[c.to_event_json() for c in report.cells],
        )
    if error is not None:
        payload["error"] = error
    elif handle.cancelled.is_set() and report is None:
        payload["error"] = "cancelled before it started"
    return payload
