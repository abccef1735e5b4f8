"""Our client and our worker move Arrow values as our blobs, byte for byte: the worker says so
in /health (`strata_blobs`), the client then sends the blob files unconverted and asks for
outputs the same way. Observed on the wire itself, through a recording TCP proxy on loopback
between a real RemoteExecutor and a real `strata worker` process. A worker whose /health
says nothing of it gets the original Strata's encodings (an Arrow stream), as before."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from worker_client import Worker, start_worker

from strata_engine.backends.executor.client import RemoteExecutor
from strata_engine.backends.jobs import CellJob
from strata_engine.store import BlobStore, StoredValue, store_value
from strata_engine.store.arrow_codec import load
from strata_engine.worker.wire import from_wire, is_our_arrow, to_wire

_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class RecordingProxy:
    """Forwards loopback connections to the worker and keeps every byte each way.
    `hide_health`: answer any GET with 404 instead, as a worker without /health would."""

    def __init__(self, port: int, *, hide_health: bool = False) -> None:
        self.port = port
        self.hide_health = hide_health
        self.sent = bytearray()  # client -> worker
        self.received = bytearray()  # worker -> client
        self.server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        first = client.recv(65536)
        if self.hide_health and first.startswith(b"GET "):
            client.sendall(_NOT_FOUND)
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.port))
        self.sent += first  # recorded before it is forwarded: complete once answered
        upstream.sendall(first)
        back = threading.Thread(target=_pump, args=(upstream, client, self.received))
        back.start()
        _pump(client, upstream, self.sent)
        back.join()
        client.close()
        upstream.close()

    def close(self) -> None:
        self.server.close()


def _pump(source: socket.socket, sink: socket.socket, record: bytearray) -> None:
    try:
        while chunk := source.recv(1024 * 1024):
            record += chunk  # before forwarding: the reader has nothing we did not keep
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    yield from start_worker()


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.random((20_000, 3)), columns=["a", "b", "c"])


def _job(cwd: Path, inputs: dict[str, StoredValue]) -> CellJob:
    return CellJob(
        cell_id="fast",
        language="python",
        source="out = df.assign(d=df.a * 2)\n",
        filename="cells/fast.py",
        inputs=inputs,
        publish=["out"],
        required=frozenset({"out"}),
        env={},
        timeout=120.0,
        cwd=cwd,
    )


def _run(
    proxy: RecordingProxy, tmp_path: Path
) -> tuple[BlobStore, StoredValue, StoredValue, pd.DataFrame]:
    blobs = BlobStore(tmp_path / "store")
    frame = _frame()
    value = store_value(blobs, "df", frame)
    executor = RemoteExecutor("fast", proxy.url, blobs)
    try:
        result = executor.run(_job(tmp_path, {"df": value}))
    finally:
        executor.close()
    assert result.status == "ok", result.error
    out = result.outputs["out"]
    loaded = load(blobs.path(out.digest))
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, frame.assign(d=frame.a * 2))
    return blobs, value, out, loaded


def test_worker_advertises_strata_blobs(worker: Worker) -> None:
    status, _, body = worker.request("GET", "/health")
    assert status == 200
    assert b'"strata_blobs": true' in body


def test_our_worker_gets_and_returns_arrow_blobs_unchanged(worker: Worker, tmp_path: Path) -> None:
    proxy = RecordingProxy(worker.port)
    try:
        blobs, value, out, _ = _run(proxy, tmp_path)
    finally:
        proxy.close()
    # The input's part is the engine's blob file itself, and the worker was told so.
    assert blobs.get_bytes(value.digest) in proxy.sent
    assert b'"strata_blobs": true' in proxy.sent
    # The output came back as the worker's blob and was stored exactly as it arrived.
    assert blobs.get_bytes(out.digest).startswith(b"ARROW1")
    assert blobs.get_bytes(out.digest) in proxy.received


def test_a_worker_without_health_gets_the_original_encoding(worker: Worker, tmp_path: Path) -> None:
    proxy = RecordingProxy(worker.port, hide_health=True)
    try:
        blobs, value, out, _ = _run(proxy, tmp_path)
    finally:
        proxy.close()
    blob = blobs.get_bytes(value.digest)
    assert blob not in proxy.sent  # converted: an Arrow stream went instead
    assert blob[8:4096] not in proxy.sent
    assert b"strata_blobs" not in proxy.sent
    assert blobs.get_bytes(out.digest) not in proxy.received


def test_is_our_arrow_tells_our_blob_from_the_original_stream(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    value = store_value(blobs, "df", _frame())
    path = blobs.path(value.digest)
    stream = to_wire(value.content_type, path, tmp_path)
    assert is_our_arrow(path) and is_our_arrow(path.read_bytes())
    assert not is_our_arrow(stream) and not is_our_arrow(stream.read_bytes())
    assert not is_our_arrow(path.read_bytes()[:-64])  # truncated: no footer
    # Our metadata with the original's added (or a plain Arrow file) is converted, not kept.
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    theirs = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"strata.arrow.shape": b"table"}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, theirs.schema) as writer:
        writer.write_table(theirs)
    assert not is_our_arrow(sink.getvalue().to_pybytes())
    # The fast path stores our blob as it is.
    other = BlobStore(tmp_path / "other")
    assert from_wire(other, "df", value.content_type, path.read_bytes()).digest == value.digest
