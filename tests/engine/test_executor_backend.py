"""The `executor` backend against a real loopback HTTP worker run by the fixture (SPEC 13).

The fake worker implements just enough of protocol v1: it parses the multipart request,
executes JSON-only cells in-process and answers with a tar bundle; each test can replace
the answer to provoke 401, 408, 5xx, 503 + Retry-After, garbage or hostile bundles.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from strata_engine.backends.executor import ExecutorBackend
from strata_engine.backends.executor.client import RemoteExecutor
from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.backends.registry import place
from strata_engine.store import BlobStore, load_value, store_value

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Received:
    headers: dict[str, str]
    metadata: dict[str, object]
    metadata_part: Message
    files: dict[str, bytes]


@dataclass
class FakeWorker:
    url: str
    token: str | None = None
    answers: list[Callable[[Received], Answer]] = field(default_factory=list)
    """Answers to the next requests, in order; after them, the cell is executed."""
    received: list[Received] = field(default_factory=list)
    answered: threading.Event = field(default_factory=threading.Event)


def tar_bundle(members: dict[str, bytes], *, kinds: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if kinds and name in kinds:
                info.type = kinds[name]
                info.linkname = "/etc/passwd"
                info.size = 0
                data = b""
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def manifest(**fields: object) -> bytes:
    body: dict[str, object] = {
        "schema_version": "notebook-output-bundle@v1",
        "success": True,
        "variables": {},
        "displays": [],
        "error": None,
        "traceback": None,
    }
    body.update(fields)
    return json.dumps(body).encode()


def execute(received: Received) -> Answer:
    """Run the cell here: JSON inputs in, JSON-exact outputs out."""
    params = received.metadata["transform"]["params"]  # type: ignore[index]
    namespace: dict[str, object] = {}
    for spec in received.metadata["inputs"]:  # type: ignore[attr-defined]
        namespace[spec["name"]] = json.loads(received.files[spec["file"]])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(params["source"], namespace)
    members: dict[str, bytes] = {"stdout.txt": out.getvalue().encode(), "stderr.txt": b""}
    variables: dict[str, object] = {}
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, (int, str, list, dict)):
            continue
        data = json.dumps(value).encode()
        members[f"files/{name}.json"] = data
        variables[name] = {
            "content_type": "json/object",
            "file": f"{name}.json",
            "bytes": len(data),
        }
    displays = [{"text/plain": "shown"}]
    members["manifest.json"] = manifest(variables=variables, displays=displays)
    return 200, {"Content-Type": "application/x-tar"}, tar_bundle(members)


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        worker: FakeWorker = self.server.worker  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received = parse(dict(self.headers.items()), body)
        worker.received.append(received)
        if (
            worker.token is not None
            and self.headers.get("Authorization") != f"Bearer {worker.token}"
        ):
            answer: Answer = (401, {}, b'{"detail": "Invalid or missing token"}')
        elif worker.answers:
            answer = worker.answers.pop(0)(received)
        else:
            answer = execute(received)
        status, headers, payload = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        # The client may hang up first (cancelled, or it refused an oversized bundle).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)
        worker.answered.set()


def parse(headers: dict[str, str], body: bytes) -> Received:
    head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    files: dict[str, bytes] = {}
    metadata_part: Message | None = None
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "metadata":
            metadata_part = part
            metadata = json.loads(payload)
        else:
            files[name] = payload
    assert metadata_part is not None
    return Received(headers, metadata, metadata_part, files)


@pytest.fixture
def worker() -> Iterator[FakeWorker]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeWorker(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.worker = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store")


def job(blobs: BlobStore, source: str, **inputs: object) -> CellJob:
    stored = {name: store_value(blobs, name, value) for name, value in inputs.items()}
    return CellJob(
        cell_id="c",
        language="python",
        source=source,
        filename="cells/c.py",
        inputs=stored,
        publish=["y", "z"],
        required=frozenset({"y"}),
        env={"MODE": "test"},
        timeout=7.0,
        cwd=Path("."),
    )


def run(executor: RemoteExecutor, cell: CellJob) -> tuple[CellResult, list[object]]:
    seen: list[object] = []
    result = executor.run(cell, lambda s, t: seen.append((s, t)), seen.append)
    return result, seen


def test_runs_the_cell_remotely_and_stores_its_outputs(
    worker: FakeWorker, blobs: BlobStore
) -> None:
    executor = RemoteExecutor("remote", worker.url, blobs)
    cell = job(blobs, "y = x + 1\nprint('hi')", x=41)
    result, seen = run(executor, cell)
    assert result.status == "ok", result.error
    assert load_value(blobs, result.outputs["y"]) == 42
    assert result.outputs["y"].content_type == "json/object"
    assert set(result.outputs) == {"y"}  # `x` came back too, but the cell does not define it
    assert result.stdout == "hi\n"
    assert result.displays == [{"text/plain": "shown"}]
    assert seen == [("stdout", "hi\n"), {"text/plain": "shown"}]


def test_sends_protocol_v1_with_metadata_as_a_file_part(
    worker: FakeWorker, blobs: BlobStore
) -> None:
    cell = job(blobs, "y = x", x={"a": [1, 2]})
    RemoteExecutor("remote", worker.url, blobs).run(cell)
    sent = worker.received[0]
    assert sent.metadata_part.get_filename() == "metadata.json"
    assert sent.metadata_part.get_content_type() == "application/json"
    assert sent.metadata == {
        "protocol_version": "v1",
        "transform": {
            "ref": "notebook_cell@v1",
            "params": {
                "source": "y = x",
                "timeout_seconds": 7.0,
                "mounts": [],
                "env": {"MODE": "test"},
            },
        },
        "inputs": [{"name": "x", "format": "json/object", "file": "x.json"}],
    }
    assert sent.files["x.json"] == blobs.get_bytes(cell.inputs["x"].digest)


def test_bearer_token_comes_from_the_named_variable(
    worker: FakeWorker, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.token = "s3cret-value"
    monkeypatch.setenv("REMOTE_TOKEN", "s3cret-value")
    executor = RemoteExecutor("remote", worker.url, blobs, token_env="REMOTE_TOKEN")
    assert run(executor, job(blobs, "y = 1"))[0].status == "ok"


def test_401_names_the_token_variable_never_the_token(
    worker: FakeWorker, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.token = "the-right-one"
    monkeypatch.setenv("REMOTE_TOKEN", "a-wrong-token")
    result, _ = run(
        RemoteExecutor("remote", worker.url, blobs, token_env="REMOTE_TOKEN"), job(blobs, "y = 1")
    )
    assert result.status == "error"
    assert f"worker 'remote' at {worker.url}" in (result.error or "")
    assert "check the token in $REMOTE_TOKEN" in (result.error or "")
    assert "a-wrong-token" not in (result.error or "")


def test_unset_token_variable_is_an_error_before_any_request(
    worker: FakeWorker, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMOTE_TOKEN", raising=False)
    result, _ = run(
        RemoteExecutor("remote", worker.url, blobs, token_env="REMOTE_TOKEN"), job(blobs, "y = 1")
    )
    assert "$REMOTE_TOKEN" in (result.error or "") and "not set" in (result.error or "")
    assert worker.received == []


def test_unreachable_worker_is_the_cells_error(blobs: BlobStore) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result, _ = run(RemoteExecutor("remote", url, blobs), job(blobs, "y = 1"))
    assert result.status == "error" and result.outputs == {}
    assert (
        result.error
        == f"worker 'remote' at {url} is unreachable (connection refused); is it running?"
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "rejected the request as malformed (400): bad metadata"),
        (408, "timed out the cell after 7s (408)"),
        (500, "failed with HTTP 500: bad metadata"),
        (502, "failed with HTTP 502"),
        (503, "is unavailable (503)"),  # no Retry-After: not a busy signal to wait out
    ],
)
def test_http_failures_name_the_worker(
    worker: FakeWorker, blobs: BlobStore, status: int, expected: str
) -> None:
    worker.answers.append(lambda _: (status, {}, b'{"detail": "bad metadata"}'))
    result, _ = run(RemoteExecutor("remote", worker.url, blobs), job(blobs, "y = 1"))
    assert result.status == "error"
    assert (result.error or "").startswith(f"worker 'remote' at {worker.url} ")
    assert expected in (result.error or "")


def test_busy_worker_is_retried_after_retry_after(worker: FakeWorker, blobs: BlobStore) -> None:
    def busy(_: Received) -> Answer:
        return (503, {"Retry-After": "0"}, b"busy")

    worker.answers += [busy, busy]
    result, _ = run(RemoteExecutor("remote", worker.url, blobs), job(blobs, "y = 2"))
    assert result.status == "ok", result.error
    assert len(worker.received) == 3
    assert load_value(blobs, result.outputs["y"]) == 2


def test_busy_for_too_long_gives_up(worker: FakeWorker, blobs: BlobStore) -> None:
    worker.answers += [lambda _: (503, {"Retry-After": "5"}, b"busy")] * 3
    executor = RemoteExecutor("remote", worker.url, blobs, busy_wait=1.0)
    result, _ = run(executor, job(blobs, "y = 2"))
    assert "stayed busy (503)" in (result.error or "")
    assert len(worker.received) == 1  # the 5 s it asked for exceed the 1 s budget


def test_cancel_while_waiting_out_a_busy_worker(worker: FakeWorker, blobs: BlobStore) -> None:
    worker.answers += [lambda _: (503, {"Retry-After": "60"}, b"busy")]
    executor = RemoteExecutor("remote", worker.url, blobs, busy_wait=600.0)
    results: list[CellResult] = []
    thread = threading.Thread(target=lambda: results.append(executor.run(job(blobs, "y = 1"))))
    thread.start()
    assert worker.answered.wait(10)
    executor.cancel()
    thread.join(10)
    assert results[0].error == "cancelled"


def test_cancel_while_the_cell_runs(worker: FakeWorker, blobs: BlobStore) -> None:
    release = threading.Event()
    arrived = threading.Event()

    def slow(received: Received) -> Answer:
        arrived.set()
        release.wait(10)
        return execute(received)

    worker.answers.append(slow)
    executor = RemoteExecutor("remote", worker.url, blobs)
    results: list[CellResult] = []
    thread = threading.Thread(target=lambda: results.append(executor.run(job(blobs, "y = 1"))))
    thread.start()
    assert arrived.wait(10)
    executor.cancel()
    thread.join(10)
    release.set()
    assert not thread.is_alive()
    assert results[0].status == "error" and results[0].error == "cancelled"


def _bad_bundle(members: dict[str, bytes], **kinds: bytes) -> Callable[[Received], Answer]:
    return lambda _: (200, {"Content-Type": "application/x-tar"}, tar_bundle(members, kinds=kinds))


def _variables(file: str) -> bytes:
    return manifest(variables={"y": {"content_type": "json/object", "file": file, "bytes": 1}})


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            lambda _: (200, {}, b"this is not a tar archive at all" * 40),
            "not a readable tar archive",
        ),
        (_bad_bundle({"stdout.txt": b""}), "manifest.json is missing"),
        (_bad_bundle({"manifest.json": b"{not json"}), "manifest.json is not JSON"),
        (
            _bad_bundle({"manifest.json": manifest(schema_version="other@v9")}),
            "schema_version 'other@v9'",
        ),
        (
            _bad_bundle({"manifest.json": manifest(), "../escape.txt": b"x"}),
            "'../escape.txt' leaves the bundle",
        ),
        (_bad_bundle({"manifest.json": manifest(), "/etc/cron.d/x": b"x"}), "leaves the bundle"),
        (
            _bad_bundle(
                {"manifest.json": manifest(), "files/link": b""}, **{"files/link": tarfile.SYMTYPE}
            ),
            "not a regular file",
        ),
        (_bad_bundle({"manifest.json": _variables("../../y.json")}), "leaves the bundle"),
        (_bad_bundle({"manifest.json": _variables("y.json")}), "which is not in the bundle"),
        (
            _bad_bundle({"manifest.json": _variables("y.json"), "files/y.json": b"12"}),
            "declares 1 bytes",
        ),
    ],
)
def test_malformed_bundles_are_the_cells_error(
    worker: FakeWorker,
    blobs: BlobStore,
    tmp_path: Path,
    answer: Callable[[Received], Answer],
    expected: str,
) -> None:
    worker.answers.append(answer)
    result, _ = run(RemoteExecutor("remote", worker.url, blobs), job(blobs, "y = 1"))
    assert result.status == "error" and result.outputs == {}
    assert (result.error or "").startswith(
        f"worker 'remote' at {worker.url} sent a malformed output bundle"
    )
    assert expected in (result.error or "")
    assert not (tmp_path / "escape.txt").exists()


def test_a_failing_cell_keeps_its_error_console_and_traceback(
    worker: FakeWorker, blobs: BlobStore
) -> None:
    body = manifest(
        success=False, error="ZeroDivisionError: division by zero", traceback="Traceback ..."
    )
    worker.answers.append(_bad_bundle({"manifest.json": body, "stderr.txt": b"oops\n"}))
    result, seen = run(RemoteExecutor("remote", worker.url, blobs), job(blobs, "y = 1 / 0"))
    assert (result.status, result.error, result.traceback) == (
        "error",
        "ZeroDivisionError: division by zero",
        "Traceback ...",
    )
    assert result.stderr == "oops\n" and seen == [("stderr", "oops\n")]


def test_a_required_output_the_bundle_lacks_fails_the_cell(
    worker: FakeWorker, blobs: BlobStore
) -> None:
    result, _ = run(RemoteExecutor("remote", worker.url, blobs), job(blobs, "z = 1"))
    assert result.status == "error" and result.outputs == {}
    assert result.error == (
        f"worker 'remote' at {worker.url} did not return variable 'y', "
        "which a downstream cell reads"
    )


def test_url_may_name_the_endpoint_and_credentials_in_it_are_not_shown(
    worker: FakeWorker, blobs: BlobStore
) -> None:
    url = worker.url.replace("http://", "http://user:pw@") + "/v1/execute"
    worker.answers.append(lambda _: (500, {}, b""))
    result, _ = run(RemoteExecutor("remote", url, blobs), job(blobs, "y = 1"))
    assert result.error == f"worker 'remote' at {worker.url}/v1/execute failed with HTTP 500"


@dataclass(frozen=True)
class Spec:
    name: str = "remote"
    backend: str = "executor"
    runtime_id: str | None = None
    config: dict[str, object] = field(default_factory=lambda: {"url": "http://127.0.0.1:9"})


def test_fingerprint_is_the_declared_identity_without_network() -> None:
    backend = ExecutorBackend()
    # Port 9 (discard) on loopback: any network I/O would fail or hang; none happens.
    first = backend.environment_fingerprint(Spec())
    assert first == backend.environment_fingerprint(Spec())
    assert first != backend.environment_fingerprint(Spec(runtime_id="gpu-v2"))
    assert first != backend.environment_fingerprint(Spec(config={"url": "http://127.0.0.1:10"}))


def test_executor_workers_are_placed_not_refused() -> None:
    placement = place("remote", lambda name: Spec() if name == "remote" else None)
    assert placement.problem is None
    assert isinstance(placement.backend, ExecutorBackend)


def test_backend_opens_an_executor_from_the_config(
    worker: FakeWorker, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.token = "t0ken"
    monkeypatch.setenv("W_TOKEN", "t0ken")
    spec = Spec(config={"url": worker.url, "token_env": "W_TOKEN"})
    executor = ExecutorBackend().open(spec, blobs)
    assert executor.run(job(blobs, "y = 3")).status == "ok"
    executor.close()


def test_non_python_cells_are_refused_by_name(blobs: BlobStore) -> None:
    cell = job(blobs, "select 1")
    cell = CellJob(**{**cell.__dict__, "language": "sql"})
    result, _ = run(RemoteExecutor("remote", "http://127.0.0.1:9", blobs), cell)
    assert (
        result.error
        == "worker 'remote' at http://127.0.0.1:9 runs Python cells only, not sql cells"
    )


def test_an_oversized_bundle_is_refused(worker: FakeWorker, blobs: BlobStore) -> None:
    executor = RemoteExecutor("remote", worker.url, blobs, max_bundle_bytes=1024)
    result, _ = run(executor, job(blobs, "y = 'x' * 5000"))
    assert result.status == "error" and result.outputs == {}
    assert result.error == (
        f"worker 'remote' at {worker.url} sent an output bundle over the 1024-byte limit"
    )


def test_retry_after_as_a_date_falls_back_to_backoff(worker: FakeWorker, blobs: BlobStore) -> None:
    def busy(_: Received) -> Answer:
        return (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"busy")

    worker.answers.append(busy)
    result, _ = run(RemoteExecutor("remote", worker.url, blobs), job(blobs, "y = 2"))
    assert result.status == "ok", result.error
    assert len(worker.received) == 2
