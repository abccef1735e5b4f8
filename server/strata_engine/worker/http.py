"""The worker's HTTP server (standard library only): GET /health and POST /v1/execute."""

from __future__ import annotations

import dataclasses
import hmac
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from strata_engine import __version__
from strata_engine.store.codecs import ARROW
from strata_engine.worker.bundle import (
    BUNDLE_SCHEMA,
    EXECUTE_PATH,
    HEALTH_PATH,
    NOTEBOOK_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    STRATA_BLOBS,
    TRANSFORM_REF,
)
from strata_engine.worker.multipart import RequestError
from strata_engine.worker.requests import ExecuteRequest, InputValue, parse_execute
from strata_engine.worker.runner import Busy, CellRunner
from strata_engine.worker.wire import WireError, from_wire, is_our_arrow

# The reference worker's path for the same request; served so its clients work here too.
_EXECUTE_PATHS = frozenset({EXECUTE_PATH, "/v1/notebook-execute"})
_CHUNK = 1024 * 1024
# After refusing a body we read (and discard) at most this much of it, so a client that
# sends everything before reading the answer sees the status instead of a reset.
_DRAIN_LIMIT = 64 * 1024 * 1024
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class WorkerConfig:
    token: str | None = None
    max_request_bytes: int = 1024 * 1024 * 1024
    max_part_bytes: int = 1024 * 1024 * 1024


class WorkerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], config: WorkerConfig) -> None:
        # Before binding: a failed bind calls server_close(), which closes the runner.
        self.config = config
        self.runner = CellRunner()
        self.started = time.monotonic()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[0], self.server_address[1]
        text = host.decode("ascii") if isinstance(host, bytes) else host
        return f"http://{text}:{port}"

    def health(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "capabilities": {
                "protocol_versions": [PROTOCOL_VERSION],
                "transform_refs": [TRANSFORM_REF],
                "features": {
                    "notebook_protocol_version": NOTEBOOK_PROTOCOL_VERSION,
                    "output_format": BUNDLE_SCHEMA,
                    "languages": ["python"],
                    "mounts": True,
                    "max_request_bytes": self.config.max_request_bytes,
                    STRATA_BLOBS: True,
                },
            },
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "active_executions": 1 if self.runner.busy else 0,
        }

    def handle_error(self, request: Any, client_address: Any) -> None:
        # One line, not a traceback: a client hanging up mid-response is routine.
        error = sys.exc_info()[1]
        print(f"strata worker: {client_address}: {type(error).__name__}: {error}", file=sys.stderr)

    def server_close(self) -> None:
        super().server_close()
        self.runner.close()


class _Handler(BaseHTTPRequestHandler):
    server: WorkerServer
    timeout = 120  # seconds a silent client may hold a connection (slow-body clients)
    server_version = f"strata-worker/{__version__}"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request on stderr is noise for a worker driven by the engine

    _consumed = False  # whether the request body has been read (nothing left to drain)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != HEALTH_PATH:
            self._json(404, {"detail": f"no such endpoint: GET {self.path[:100]}"})
            return
        self._json(200, self.server.health())

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] not in _EXECUTE_PATHS:
            self._refuse(RequestError(404, f"no such endpoint: POST {self.path[:100]}"))
            return
        try:
            self._authorize()
            body = self._read_body()
            request = parse_execute(
                body,
                self.headers.get("Content-Type", ""),
                max_part_bytes=self.server.config.max_part_bytes,
            )
        except RequestError as exc:
            self._refuse(exc)
            return
        except OSError:  # the client stalled past `timeout` or went away mid-body
            self.close_connection = True
            return
        del body
        try:
            request = _inputs_from_wire(request)
        except WireError as exc:
            self._refuse(RequestError(400, f"input {exc}"))
            return
        self._execute(request)

    def _execute(self, request: ExecuteRequest) -> None:
        try:
            outcome = self.server.runner.run(request)
        except Busy:
            self._json(503, {"detail": "worker is busy with another cell"}, retry_after=True)
            return
        except Exception as exc:  # the worker itself failed (not the cell): say so, stay up
            self._json(500, {"detail": f"strata worker failed: {type(exc).__name__}: {exc}"})
            return
        try:
            if outcome.timed_out:
                self._json(408, {"detail": outcome.error})
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Length", str(outcome.bundle.stat().st_size))
            self.end_headers()
            with open(outcome.bundle, "rb") as handle:
                shutil.copyfileobj(handle, self.wfile, _CHUNK)
        finally:
            outcome.bundle.unlink(missing_ok=True)

    def _authorize(self) -> None:
        token = self.server.config.token
        if token is None:
            return
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise RequestError(401, "missing Authorization: Bearer <token> header")
        # Bytes: a non-ASCII str makes compare_digest raise instead of answering False.
        presented = header[len("Bearer ") :].strip().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(presented, token.encode("utf-8")):
            raise RequestError(401, "invalid worker token")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise RequestError(411, "chunked requests are not accepted; send Content-Length")
        text = self.headers.get("Content-Length")
        if text is None or not text.strip().isdigit():
            raise RequestError(411, "a Content-Length header is required")
        length = int(text)
        limit = self.server.config.max_request_bytes
        if length > limit:
            raise RequestError(413, f"request of {length} bytes exceeds the limit of {limit}")
        body = self.rfile.read(length)
        self._consumed = True
        if len(body) != length:
            raise RequestError(400, "request body ended before Content-Length bytes")
        return body

    def _refuse(self, error: RequestError) -> None:
        self._json(error.status, {"detail": error.message})
        self._drain()

    def _drain(self) -> None:
        text = "" if self._consumed else self.headers.get("Content-Length", "")
        remaining = min(int(text), _DRAIN_LIMIT) if text.strip().isdigit() else 0
        try:
            while remaining > 0 and (chunk := self.rfile.read1(min(remaining, _CHUNK))):
                remaining -= len(chunk)
        except OSError:
            pass  # the client gave up: nothing left to protect

    def _json(self, status: int, value: Any, *, retry_after: bool = False) -> None:
        data = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after:
            self.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
        self.end_headers()
        self.wfile.write(data)


def _inputs_from_wire(request: ExecuteRequest) -> ExecuteRequest:
    """Inputs as our blobs: the original Strata's client sends Arrow streams, enveloped
    pickles and modules as JSON (`wire`). Our own client's bytes are our blobs already: they
    go to the scratch store as they arrived (an Arrow input that is not one is converted)."""
    if not request.inputs:
        return request
    ours = (v.format != ARROW or is_our_arrow(v.data) for v in request.inputs)
    if request.strata_blobs and all(ours):
        return request
    from strata_engine.store import BlobStore

    with tempfile.TemporaryDirectory(prefix="strata-wire-") as root:
        blobs = BlobStore(Path(root))
        inputs = []
        for value in request.inputs:
            stored = from_wire(blobs, value.name, value.format, value.data)
            data = blobs.get_bytes(stored.digest)
            inputs.append(InputValue(value.name, stored.content_type, data))
    return dataclasses.replace(request, inputs=tuple(inputs))
