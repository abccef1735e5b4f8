"""A small client for `strata worker` in tests: start one, build multipart bodies, unpack
bundles. Standard library only, so it exercises the protocol rather than a library."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from strata_engine.worker.bundle import BUNDLE_SCHEMA

Field = tuple[str, str | None, bytes]  # part name, filename (None: a plain field), bytes


@dataclass
class Worker:
    process: subprocess.Popen[str]
    host: str
    port: int

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def start_worker(*args: str, env: dict[str, str] | None = None) -> Iterator[Worker]:
    process = subprocess.Popen(
        [sys.executable, "-m", "strata_engine.cli", "worker", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the worker prints its URL once it listens
    assert line.startswith("strata worker listening on http://"), line
    host, port = line.rsplit("/", 1)[1].strip().rsplit(":", 1)
    try:
        yield Worker(process, host, int(port))
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0  # SIGTERM is a clean stop


def multipart(fields: list[Field]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = []
    for name, filename, data in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def metadata(source: str, inputs: list[dict[str, str]] | None = None, **params: Any) -> bytes:
    return json.dumps(
        {
            "protocol_version": "v1",
            "transform": {
                "ref": "notebook_cell@v1",
                "params": {"source": source, "timeout_seconds": 60, "mounts": [], "env": {}}
                | params,
            },
            "inputs": inputs or [],
        }
    ).encode()


def execute(
    worker: Worker,
    fields: list[Field],
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    body, content_type = multipart(fields)
    return worker.request(
        "POST", "/v1/execute", body, {"Content-Type": content_type, **(headers or {})}
    )


def run_cell(worker: Worker, source: str, **params: Any) -> tuple[int, bytes]:
    status, _, body = execute(worker, [("metadata", "metadata.json", metadata(source, **params))])
    return status, body


def unpack(body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    manifest = json.loads(files.pop("manifest.json"))
    assert manifest["schema_version"] == BUNDLE_SCHEMA
    return manifest, files
