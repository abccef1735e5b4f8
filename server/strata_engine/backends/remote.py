"""What the remote backends (executor, dask) share: a cell's run is one request that answers
once, and every way it can fail becomes that cell's error naming where it was sent."""

from __future__ import annotations

import threading
import time

from strata_engine.backends.base import Backend, WorkerConfig
from strata_engine.backends.jobs import CellJob, CellResult, DisplayCallback, StreamCallback
from strata_engine.cache.provenance import digest_json


class RemoteBackend(Backend):
    """A backend whose interpreter is not ours to inspect."""

    runs_here = False  # its cells wait on the network, not on this machine's cores
    # The far side runs the Python harness; other kinds' drivers and keys live here.
    languages = frozenset({"python"})

    def environment_fingerprint(self, worker: WorkerConfig | None) -> str:
        # Called on every keystroke: no network. The worker's declared identity stands for
        # its environment; bumping `runtime_id` is how a user says the remote one changed.
        if worker is None:
            return f"{self.name}:"
        return f"{self.name}:" + digest_json([self.name, self.runtime_identity(worker)])


class RemoteFailure(Exception):
    """Why the remote side produced no result; its text completes "worker 'x' <where> ..."."""


class AnswersOnce:
    """`run` for a backend whose cell answers once, at the end. Subclasses provide
    `_attempt` (raising RemoteFailure) and `_describe`, and set `_run_lock` and `_cancelled`
    in their constructor. `run` calls are serialised; it never raises for a remote failure
    and never runs the cell anywhere else."""

    _run_lock: threading.Lock
    _cancelled: threading.Event

    def run(
        self,
        job: CellJob,
        on_stream: StreamCallback | None = None,
        on_display: DisplayCallback | None = None,
    ) -> CellResult:
        with self._run_lock:
            self._cancelled.clear()
            began = time.perf_counter()
            try:
                result = self._attempt(job)
            except RemoteFailure as failure:
                reason = "cancelled" if self._cancelled.is_set() else self._describe(failure)
                result = CellResult("error", {}, [], "", "", reason, None, 0.0)
            result.duration_ms = (time.perf_counter() - began) * 1000.0
        # The remote side answers once, at the end: console and displays are forwarded then.
        if on_stream is not None:
            for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                if text:
                    on_stream(stream, text)
        if on_display is not None:
            for bundle in result.displays:
                on_display(bundle)
        return result

    def _attempt(self, job: CellJob) -> CellResult:
        raise NotImplementedError

    def _describe(self, failure: RemoteFailure) -> str:
        raise NotImplementedError
