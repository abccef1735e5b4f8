"""DaskExecutor: runs one cell at a time as a task on a dask.distributed cluster.

Every failure (scheduler unreachable, the task failing, no answer in time, cancel) becomes
the cell's error naming the worker and the scheduler's address; `run` never raises for
them, and never falls back to running the cell locally.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.backends.remote import AnswersOnce, RemoteFailure
from strata_engine.mounts.for_job import local_mount_problem

if TYPE_CHECKING:
    from distributed import Client, Future

    from strata_engine.store import BlobStore

ANSWER_GRACE = 30.0
"""Seconds beyond the cell's timeout to wait for the task (the worker enforces the timeout)."""
SCATTER_BYTES = 1024 * 1024
"""Inputs at least this large go to a worker directly (scatter), not through the scheduler."""


class DaskFailure(RemoteFailure):
    """Why the cluster produced no result; completes "worker 'x' (dask scheduler A) ..."."""


class DaskExecutor(AnswersOnce):
    """`run` calls are serialised; `cancel` and `close` may come from any thread."""

    def __init__(
        self, worker: str, scheduler: str, blobs: BlobStore, *, connect_timeout: float
    ) -> None:
        self.worker = worker
        self.scheduler = scheduler
        self._blobs = blobs
        self._connect_timeout = connect_timeout
        self._run_lock = threading.Lock()
        self._state_lock = threading.Lock()  # _client, _future, _closed
        self._client: Client | None = None
        self._future: Future[Any] | None = None
        self._cancelled = threading.Event()
        self._closed = False

    def _attempt(self, job: CellJob) -> CellResult:
        return self._to_result(self._execute(job), job)

    def _describe(self, failure: RemoteFailure) -> str:
        return f"worker '{self.worker}' (dask scheduler {self.scheduler}) {failure}"

    def _execute(self, job: CellJob) -> dict[str, Any]:
        if not self.scheduler:
            raise DaskFailure(
                'has no scheduler: set [workers.config] scheduler = "tcp://host:8786"'
            )
        if job.language != "python":
            raise DaskFailure(f"runs Python cells only, not {job.language} cells")
        problem = local_mount_problem(job)
        if problem is not None:
            raise DaskFailure(problem)
        client = self._connect()
        from strata_engine.backends.dask.task import run_cell

        inputs = self._inputs(client, job)
        args = (job.source, dict(job.env), job.timeout, inputs, list(job.publish))
        try:
            # pure=False: a re-run must run again (the engine's cache decides what is fresh).
            mounts = [mount.to_params() for mount in job.mounts]
            future = client.submit(run_cell, *args, sorted(job.required), mounts=mounts, pure=False)
        except Exception as exc:  # the client lost the scheduler between connect and submit
            raise DaskFailure(f"could not accept the cell ({type(exc).__name__}: {exc})") from exc
        with self._state_lock:
            self._future = future
        if self._cancelled.is_set():  # cancel() came before there was a future to cancel
            future.cancel()  # type: ignore[no-untyped-call]
            raise DaskFailure("cancelled")
        try:
            answer = future.result(timeout=job.timeout + ANSWER_GRACE)
        except TimeoutError as exc:
            future.cancel()  # type: ignore[no-untyped-call]
            raise DaskFailure(
                f"did not answer within {job.timeout + ANSWER_GRACE:g}s "
                f"(the cell's timeout plus {ANSWER_GRACE:g}s)"
            ) from exc
        except Exception as exc:  # the task raised, was cancelled, or its worker died
            if self._cancelled.is_set():
                raise DaskFailure("cancelled") from exc
            raise DaskFailure(f"failed the task: {type(exc).__name__}: {exc}") from exc
        finally:
            with self._state_lock:
                self._future = None
        if not isinstance(answer, dict):
            raise DaskFailure(f"returned {type(answer).__name__}, not a cell outcome")
        return answer

    def _connect(self) -> Client:
        with self._state_lock:
            if self._closed:
                raise DaskFailure("is closed")
            if self._client is not None:
                return self._client
        # Imported here: dask is heavy and only a dask cell needs it.
        from distributed import Client

        try:
            client = Client(  # type: ignore[no-untyped-call]
                self.scheduler,
                timeout=self._connect_timeout,
                set_as_default=False,
            )
        except (OSError, TimeoutError) as exc:
            raise DaskFailure(
                f"is unreachable: could not connect within {self._connect_timeout:g}s ({exc})"
            ) from exc
        except Exception as exc:  # a malformed address, a refused handshake
            raise DaskFailure(f"could not connect: {type(exc).__name__}: {exc}") from exc
        with self._state_lock:
            if self._closed:  # close() raced the connect
                client.close()
                raise DaskFailure("is closed")
            self._client = client
        return client

    def _inputs(self, client: Client, job: CellJob) -> list[Any]:
        """(name, content_type, bytes) per input; large bytes are scattered to a worker so
        they do not travel through the scheduler (the task receives them resolved)."""
        inputs: list[Any] = []
        for name, value in job.inputs.items():
            data = self._blobs.get_bytes(value.digest)
            if len(data) >= SCATTER_BYTES:
                try:
                    [scattered] = client.scatter([data], hash=False)  # type: ignore[no-untyped-call]
                except Exception as exc:
                    raise DaskFailure(
                        f"could not receive input {name!r} ({type(exc).__name__}: {exc})"
                    ) from exc
                inputs.append((name, value.content_type, scattered))
            else:
                inputs.append((name, value.content_type, data))
        return inputs

    def _to_result(self, answer: dict[str, Any], job: CellJob) -> CellResult:
        from strata_engine.store import StoredValue

        status = "ok" if answer.get("status") == "ok" else "error"
        error = answer.get("error")
        if status == "error" and not error:
            error = f"the cell failed on worker '{self.worker}' ({self.scheduler})"
        outputs: dict[str, StoredValue] = {}
        if status == "ok":
            for name, content_type, data in answer.get("outputs", []):
                if name in job.publish:  # the task stores only what we asked for
                    outputs[name] = StoredValue(
                        self._blobs.put_bytes(data), content_type, len(data)
                    )
        missing = sorted(job.required - outputs.keys()) if status == "ok" else []
        if missing:
            status, outputs = "error", {}
            error = (
                f"worker '{self.worker}' (dask scheduler {self.scheduler}) did not return "
                f"variable {missing[0]!r}, which a downstream cell reads"
            )
        return CellResult(
            status,
            outputs,
            list(answer.get("displays", [])),
            str(answer.get("stdout", "")),
            str(answer.get("stderr", "")),
            error,
            answer.get("traceback"),
            0.0,
            unstored=dict(answer.get("unstored") or {}),
        )

    def preload(self, modules: Iterable[str]) -> None:
        """Nothing to warm: the cluster's interpreters are their own."""

    def cancel(self) -> None:
        """Cancel the running task (thread-safe); run() returns "cancelled"."""
        self._cancelled.set()
        with self._state_lock:
            future = self._future
        if future is not None:
            future.cancel()  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.cancel()
        with self._state_lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()  # type: ignore[no-untyped-call]
