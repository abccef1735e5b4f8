"""LocalExecutor: runs Python cells on this machine through one warm zygote process."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from strata_engine.backends.jobs import CellJob, CellResult, DisplayCallback, StreamCallback
from strata_engine.backends.local import prestart
from strata_engine.backends.local.capture import DEFAULT_LIMIT
from strata_engine.backends.local.outcome import build_result
from strata_engine.backends.local.protocol import Message
from strata_engine.backends.local.supervisor import CellProcess, ProcessReport
from strata_engine.backends.local.zygote_client import ZygoteClient, ZygoteLost
from strata_engine.kinds import kind_for

if TYPE_CHECKING:
    from strata_engine.store import BlobStore

DEFAULT_START_TIMEOUT = 120.0
"""Seconds a freshly started zygote may take (imports, preloads) before a cell starts."""


class LocalExecutor:
    """Runs one cell at a time, each in a fresh fork of a warm worker (the zygote).

    The zygote is started lazily by the first run, and again by the next run if it died.
    `run` calls are serialised; `cancel`, `preload` and `close` may come from any thread.
    """

    def __init__(
        self,
        blobs: BlobStore,
        *,
        preload: Iterable[str] = (),
        python: str = sys.executable,
        output_limit: int = DEFAULT_LIMIT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self._blobs = blobs
        self._python = python
        self._output_limit = output_limit
        self._start_timeout = start_timeout
        self._preloads: list[str] = []
        self._run_lock = threading.Lock()  # one cell at a time
        self._state_lock = threading.Lock()  # _zygote, _current, _run_thread, _closed
        self._zygote: ZygoteClient | None = None
        self._current: CellProcess | None = None
        self._run_thread: int | None = None
        self._closed = False
        self._job_ids = 0
        self.preload(preload)

    @property
    def worker_pid(self) -> int | None:
        """The zygote's pid, if one is running."""
        with self._state_lock:
            return self._zygote.pid if self._zygote is not None else None

    def preload(self, modules: Iterable[str]) -> None:
        """Import these in the warm worker (missing ones are ignored); also after a restart."""
        new = [m for m in dict.fromkeys(modules) if m not in self._preloads]
        if not new:
            return
        with self._state_lock:
            self._preloads.extend(new)
            zygote = self._zygote
        if zygote is not None:
            # ZygoteLost: the next run starts a new zygote, which preloads everything.
            with contextlib.suppress(ZygoteLost):
                zygote.send({"op": "preload", "modules": new})

    def run(
        self,
        job: CellJob,
        on_stream: StreamCallback | None = None,
        on_display: DisplayCallback | None = None,
    ) -> CellResult:
        """Run one cell; failures of the cell are results, not exceptions.

        Exceptions raised by the callbacks (and KeyboardInterrupt) propagate, after the
        cell's processes are killed.
        """
        with self._run_lock:
            with self._state_lock:
                self._run_thread = threading.get_ident()
            began = time.perf_counter()
            try:
                report, worker_log = self._run_once_or_twice(job, on_stream, on_display)
            finally:
                with self._state_lock:
                    self._run_thread = None
                    closing = self._closed
                if closing:  # close() was called by a callback of this very run
                    self._stop_zygote()
            return build_result(
                report,
                timeout=job.timeout,
                start_timeout=self._start_timeout,
                duration_ms=(time.perf_counter() - began) * 1000.0,
                worker_log=worker_log,
            )

    def _run_once_or_twice(
        self, job: CellJob, on_stream: StreamCallback | None, on_display: DisplayCallback | None
    ) -> tuple[ProcessReport, str]:
        # A zygote found dead before the cell started (it crashed between runs, or a cell
        # killed it) is replaced once; the job never ran, so retrying is safe.
        for attempt in (1, 2):
            zygote = self._ensure_zygote()
            run = CellProcess(
                zygote,
                self._payload(job),
                timeout=job.timeout,
                start_timeout=self._start_timeout,
                output_limit=self._output_limit,
                on_stream=on_stream,
                on_display=on_display,
                on_iteration=job.on_iteration,
            )
            with self._state_lock:
                self._current = run
            try:
                report = run.execute()
            except ZygoteLost:
                report = ProcessReport(zygote_lost=True)
            except BaseException:
                if zygote.lost:  # interrupted mid-message, or unresponsive: start over
                    self._discard(zygote)
                raise
            finally:
                with self._state_lock:
                    self._current = None
            if not report.zygote_lost:
                return report, ""
            log = zygote.log_tail()
            self._discard(zygote)
            retry = not (report.started or report.cancelled or report.start_timed_out)
            if attempt == 2 or not retry or self._closed:
                return report, log
        raise AssertionError("unreachable")

    def _payload(self, job: CellJob) -> Message:
        self._job_ids += 1
        return {
            "id": self._job_ids,
            "cell_id": job.cell_id,
            "harness": self._harness(job),
            "source": job.source,
            "filename": job.filename,
            "inputs": {name: value.to_json() for name, value in job.inputs.items()},
            "publish": list(job.publish),
            "required": sorted(job.required),
            "env": dict(job.env),
            "config": dict(job.config),
            # Absolute: the zygote does not share the engine's working directory.
            "cwd": os.path.abspath(job.cwd),
            "mounts": [mount.to_json() for mount in job.mounts],
            "loop": dict(job.loop) if job.loop is not None else None,
            "store": {"root": os.path.abspath(self._blobs.root), "durable": self._blobs.durable},
        }

    @staticmethod
    def _harness(job: CellJob) -> str:
        harness = kind_for(job.language).local_harness
        if harness is None:  # the run refuses such cells first; this is the last guard
            raise ValueError(f"{job.language} cells cannot run on the local backend")
        return harness

    def _ensure_zygote(self) -> ZygoteClient:
        with self._state_lock:
            if self._closed:
                raise RuntimeError("LocalExecutor is closed")
            if self._zygote is None or self._zygote.lost:
                self._zygote = prestart.take(self._python)
                if self._zygote is None:
                    self._zygote = ZygoteClient(self._python, self._preloads)
                elif self._preloads:
                    with contextlib.suppress(ZygoteLost):  # the run reports a dead one
                        self._zygote.send({"op": "preload", "modules": self._preloads})
            return self._zygote

    def _discard(self, zygote: ZygoteClient) -> None:
        with self._state_lock:
            if self._zygote is zygote:
                self._zygote = None
        zygote.kill()
        zygote.close()

    def cancel(self) -> None:
        """Kill the running cell's process tree (thread-safe); run() returns "cancelled"."""
        with self._state_lock:
            current = self._current
        if current is not None:
            current.request_cancel()

    def close(self) -> None:
        """Stop the warm worker, killing a running cell first. Idempotent; any thread."""
        with self._state_lock:
            self._closed = True
            inside_run = self._run_thread == threading.get_ident()
        self.cancel()
        if inside_run:
            return  # called from a callback: run() stops the zygote on its way out
        # Wait for a run in another thread to wind down (it was just cancelled): stopping the
        # zygote under it would close the socket its loop is watching.
        with self._run_lock:
            self._stop_zygote()

    def _stop_zygote(self) -> None:
        with self._state_lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
