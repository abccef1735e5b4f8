"""RemoteExecutor: runs one cell at a time on an executor-protocol-v1 HTTP worker.

Every failure (unreachable, rejected, timed out, busy for too long, a malformed answer)
becomes the cell's error naming the worker and its URL; `run` never raises for them, and
never falls back to running the cell locally.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit, urlunsplit

from strata_engine.backends.executor.bundle import Bundle, MalformedBundle, read_bundle
from strata_engine.backends.executor.health import health_url
from strata_engine.backends.executor.request import ExecuteRequest
from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.backends.remote import AnswersOnce, RemoteFailure
from strata_engine.worker.bundle import STRATA_BLOBS

if TYPE_CHECKING:
    from strata_engine.store import BlobStore, StoredValue

BUSY_WAIT = 60.0
"""Seconds a busy worker (503 + Retry-After) is waited for, in total, before giving up."""
MAX_RETRY_DELAY = 10.0
ANSWER_GRACE = 30.0
"""Seconds beyond the cell's timeout to wait for the worker's answer (it enforces the timeout)."""
CONNECT_TIMEOUT = 10.0
HEALTH_TIMEOUT = 5.0
"""Seconds to wait for /health when learning what the worker offers (once per executor)."""
MAX_BUNDLE_BYTES = 16 * 1024**3
_SPOOL = 16 * 1024 * 1024
_DETAIL = 64 * 1024


class WorkerFailure(RemoteFailure):
    """Why the worker produced no result; the message completes "worker 'x' at URL ..."."""


class RemoteExecutor(AnswersOnce):
    """`run` calls are serialised; `cancel` and `close` may come from any thread."""

    def __init__(
        self,
        worker: str,
        url: str,
        blobs: BlobStore,
        *,
        token_env: str | None = None,
        busy_wait: float = BUSY_WAIT,
        max_bundle_bytes: int = MAX_BUNDLE_BYTES,
    ) -> None:
        self.worker = worker
        self.url = url
        self._blobs = blobs
        self._token_env = token_env
        self._busy_wait = busy_wait
        self._max_bundle = max_bundle_bytes
        self._run_lock = threading.Lock()
        self._conn_lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None
        self._cancelled = threading.Event()
        self._closed = False
        self._strata_blobs: bool | None = None
        """Whether the worker reads and writes our blobs as they are (learnt from /health
        before the first cell; None: not known yet)."""

    @property
    def shown_url(self) -> str:
        """The URL for messages: any `user:password@` is dropped."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def _attempt(self, job: CellJob) -> CellResult:
        return self._to_result(self._execute(job), job)

    def _describe(self, failure: RemoteFailure) -> str:
        return f"worker '{self.worker}' at {self.shown_url} {failure}"

    def _to_result(self, bundle: Bundle, job: CellJob) -> CellResult:
        status, error = ("ok" if bundle.success else "error"), bundle.error
        if not bundle.success and not error:
            error = f"the cell failed on worker '{self.worker}' ({self.shown_url})"
        missing = sorted(job.required - bundle.outputs.keys()) if bundle.success else []
        if missing:
            status = "error"
            why = bundle.unreadable.get(missing[0])
            error = (
                f"worker '{self.worker}' at {self.shown_url} did not return variable "
                f"{missing[0]!r}, which a downstream cell reads" + (f" ({why})" if why else "")
            )
        outputs = bundle.outputs if status == "ok" else {}
        return CellResult(
            status, outputs, bundle.displays, bundle.stdout, bundle.stderr, error,
            bundle.traceback, 0.0,
        )  # fmt: skip

    def _execute(self, job: CellJob) -> Bundle:
        if not self.url:
            raise WorkerFailure("has no url: set [workers.config] url in notebook.toml")
        if job.language != "python":
            raise WorkerFailure(f"runs Python cells only, not {job.language} cells")
        headers = self._headers()
        if self._strata_blobs is None:
            self._strata_blobs = _offers_strata_blobs(self.url)
        try:
            if self._strata_blobs:
                # Our worker: the blob files go into the body as they are, no conversion.
                return self._send(ExecuteRequest(job, self._blobs, strata_blobs=True), headers, job)
            with _wire_inputs(job, self._blobs) as (wire_job, wire_files):
                request = ExecuteRequest(wire_job, cast("BlobStore", wire_files))
                return self._send(request, headers, job)
        except WorkerFailure:
            # Ask again next time: another worker may have been started at this URL.
            self._strata_blobs = None
            raise

    def _send(self, request: ExecuteRequest, headers: dict[str, str], job: CellJob) -> Bundle:
        waited, backoff = 0.0, 0.5
        while True:
            if self._closed:
                raise WorkerFailure("is closed")
            answer = self._post(request, headers, job)
            if isinstance(answer, Bundle):
                return answer
            retry_after = answer
            delay = min(retry_after if retry_after >= 0 else backoff, MAX_RETRY_DELAY)
            backoff = min(backoff * 2, MAX_RETRY_DELAY)
            if waited + delay > self._busy_wait:
                raise WorkerFailure(
                    f"stayed busy (503) for {waited:.3g}s; gave up after waiting "
                    f"up to {self._busy_wait:g}s. Try again when it is free"
                )
            if self._cancelled.wait(max(delay, 0.01)):
                raise WorkerFailure("cancelled")
            waited += max(delay, 0.01)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/x-tar"}
        if self._token_env:
            token = os.environ.get(self._token_env)
            if not token:
                raise WorkerFailure(
                    f"needs a token, but the environment variable ${self._token_env} "
                    "(its [workers.config] token_env) is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _endpoint(self) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WorkerFailure("has a url that is not http(s)://host[:port]")
        path = parts.path.rstrip("/")
        if not path.endswith("/v1/execute"):
            path += "/v1/execute"
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        try:
            port = parts.port
        except ValueError as exc:
            raise WorkerFailure("has a url with an invalid port") from exc
        return cls(parts.hostname, port), path

    def _post(
        self, request: ExecuteRequest, headers: dict[str, str], job: CellJob
    ) -> Bundle | float:
        """A bundle, or the seconds to wait before retrying (-1: unspecified)."""
        conn, path = self._endpoint()
        answer_timeout = job.timeout + ANSWER_GRACE
        conn.timeout = CONNECT_TIMEOUT
        with self._conn_lock:
            self._conn = conn
        try:
            if self._cancelled.is_set():  # cancel() came before there was a socket to shut
                raise WorkerFailure("cancelled")
            # A host that drops packets must fail in seconds, not after the cell's timeout.
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(answer_timeout)
            headers = {
                **headers,
                "Content-Type": request.content_type,
                "Content-Length": str(request.length()),
            }
            conn.request("POST", path, body=request.chunks(), headers=headers)
            response = conn.getresponse()
            if response.status == 200:
                return self._bundle(response, job)
            return self._refusal(response, job)
        except TimeoutError as exc:
            raise WorkerFailure(
                f"did not connect within {CONNECT_TIMEOUT:g}s or answer within "
                f"{answer_timeout:g}s (the cell's timeout plus {ANSWER_GRACE:g}s)"
            ) from exc
        except ConnectionRefusedError as exc:
            raise WorkerFailure("is unreachable (connection refused); is it running?") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise WorkerFailure(f"is unreachable or dropped the connection ({exc})") from exc
        finally:
            with self._conn_lock:
                self._conn = None
            conn.close()

    def _bundle(self, response: http.client.HTTPResponse, job: CellJob) -> Bundle:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
            total = 0
            while chunk := response.read(1024 * 1024):
                total += len(chunk)
                if total > self._max_bundle:
                    raise WorkerFailure(
                        f"sent an output bundle over the {self._max_bundle}-byte limit"
                    )
                spool.write(chunk)
            spool.seek(0)
            try:
                return read_bundle(spool, self._blobs, frozenset(job.publish))
            except MalformedBundle as exc:
                raise WorkerFailure(f"sent a malformed output bundle: {exc}") from exc

    def _refusal(self, response: http.client.HTTPResponse, job: CellJob) -> float:
        status = response.status
        detail = _detail(response.read(_DETAIL))
        if status == 503:
            retry_after = response.getheader("Retry-After")
            if retry_after is not None:
                return _seconds(retry_after)
            raise WorkerFailure(f"is unavailable (503){detail}")
        if status == 401:
            if self._token_env:
                hint = f"check the token in ${self._token_env}"
            else:
                hint = "set [workers.config] token_env to the variable holding its token"
            raise WorkerFailure(f"refused the request as unauthorized (401): {hint}")
        if status == 408:
            raise WorkerFailure(f"timed out the cell after {job.timeout:g}s (408){detail}")
        if status == 400:
            raise WorkerFailure(f"rejected the request as malformed (400){detail}")
        if status >= 500:
            raise WorkerFailure(f"failed with HTTP {status}{detail}")
        raise WorkerFailure(f"answered HTTP {status}{detail}")

    def preload(self, modules: Iterable[str]) -> None:
        """Nothing to warm: the worker's interpreter is its own."""

    def cancel(self) -> None:
        """Abandon the running request (thread-safe); run() returns "cancelled"."""
        self._cancelled.set()
        with self._conn_lock:
            conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            # Wakes the thread blocked reading the answer; close() alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self.cancel()


class _WireFiles:
    """Stands in for the BlobStore `ExecuteRequest` reads inputs from: each input's file as
    the wire carries it (`worker.wire.to_wire`), looked up by the input's digest."""

    def __init__(self) -> None:
        self.paths: dict[str, Path] = {}

    def path(self, digest: str) -> Path:
        return self.paths[digest]


@contextlib.contextmanager
def _wire_inputs(job: CellJob, blobs: BlobStore) -> Iterator[tuple[CellJob, _WireFiles]]:
    """The job with its inputs re-encoded the way the original Strata's worker reads them
    (an Arrow stream, a module as JSON); converted copies live in a directory removed after."""
    from strata_engine.worker.wire import WireError, to_wire

    files = _WireFiles()
    inputs: dict[str, StoredValue] = {}
    with tempfile.TemporaryDirectory(prefix="strata-wire-") as workdir:
        for name, value in job.inputs.items():
            try:
                path = to_wire(value.content_type, blobs.path(value.digest), Path(workdir))
            except (WireError, OSError, ValueError) as exc:
                raise WorkerFailure(f"cannot be sent input {name!r}: {exc}") from exc
            files.paths[value.digest] = path
            inputs[name] = value._replace(size=path.stat().st_size)
        yield dataclasses.replace(job, inputs=inputs), files


def _offers_strata_blobs(url: str) -> bool | None:
    """Whether the worker at `url` advertises `STRATA_BLOBS` in its /health features (only
    a strata worker does); None if /health did not answer (ask again next run). Anything
    unexpected means no: the original Strata's encodings work with every worker."""
    target = urlsplit(health_url(url))
    if target.scheme not in ("http", "https") or not target.hostname:
        return None  # _endpoint() says what is wrong with the url
    cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    try:
        conn = cls(target.hostname, target.port, timeout=HEALTH_TIMEOUT)
        try:
            conn.request("GET", target.path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read(_DETAIL)
        finally:
            conn.close()
        answer = json.loads(body) if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    capabilities = answer.get("capabilities") if isinstance(answer, dict) else None
    features = capabilities.get("features") if isinstance(capabilities, dict) else None
    return isinstance(features, dict) and features.get(STRATA_BLOBS) is True


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return -1.0  # an HTTP date: fall back to our own backoff


def _detail(body: bytes) -> str:
    """The worker's explanation, short: FastAPI's {"detail": ...} or plain text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and (payload.get("detail") or payload.get("error")):
        # FastAPI's {"detail"}; the original Strata's worker answers {"success", "error"}.
        text = str(payload.get("detail") or payload["error"])
    text = " ".join(text.split())[:300]
    return f": {text}" if text else ""
