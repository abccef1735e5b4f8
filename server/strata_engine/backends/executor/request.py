"""The `POST /v1/execute` request body (SPEC 13), streamed: inputs are read from the blob
store in chunks, so a large DataFrame input is never held in memory twice."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from strata_engine.backends.jobs import CellJob
from strata_engine.backends.remote import RemoteFailure
from strata_engine.mounts.for_job import local_mount_problem
from strata_engine.worker.bundle import STRATA_BLOBS

if TYPE_CHECKING:
    from strata_engine.store import BlobStore

PROTOCOL = "v1"
TRANSFORM = "notebook_cell@v1"
# The reference worker names an input's file after the variable and this extension.
EXTENSIONS = {
    "arrow/ipc": ".arrow",
    "json/object": ".json",
    "pickle/object": ".pickle",
    "module/import": ".module.json",
}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class _Part:
    field: str
    filename: str
    content_type: str
    data: bytes | None = None
    path: str | None = None
    size: int = 0


class ExecuteRequest:
    """One multipart body; `chunks()` may be called again to resend it (503 retries)."""

    def __init__(self, job: CellJob, blobs: BlobStore, *, strata_blobs: bool = False) -> None:
        """`strata_blobs`: the worker is ours (it advertised `STRATA_BLOBS`), so `blobs`
        holds the inputs as they are and the worker is asked to answer with our blobs."""
        problem = local_mount_problem(job)
        if problem is not None:
            raise RemoteFailure(problem)
        self.boundary = "strata-" + os.urandom(12).hex()
        descriptors = []
        parts: list[_Part] = []
        for name, value in job.inputs.items():
            file = name + EXTENSIONS.get(value.content_type, ".bin")
            descriptors.append({"name": name, "format": value.content_type, "file": file})
            path = str(blobs.path(value.digest))
            parts.append(_Part(file, file, "application/octet-stream", path=path, size=value.size))
        metadata = {
            "protocol_version": PROTOCOL,
            "transform": {
                "ref": TRANSFORM,
                "params": {
                    "source": job.source,
                    "timeout_seconds": job.timeout,
                    "mounts": [mount.to_params() for mount in job.mounts],
                    "env": dict(job.env),
                    **({STRATA_BLOBS: True} if strata_blobs else {}),
                },
            },
            "inputs": descriptors,
        }
        data = json.dumps(metadata).encode("utf-8")
        # A file part with a filename: the reference worker refuses a plain form field.
        self._parts = [_Part("metadata", "metadata.json", "application/json", data, size=len(data))]
        self._parts.extend(parts)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _head(self, part: _Part) -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{part.field}"; filename="{part.filename}"\r\n'
            f"Content-Type: {part.content_type}\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def length(self) -> int:
        total = len(self._tail())
        for part in self._parts:
            total += len(self._head(part)) + part.size + 2
        return total

    def chunks(self) -> Iterator[bytes]:
        for part in self._parts:
            yield self._head(part)
            if part.data is not None:
                yield part.data
            elif part.path is not None:
                yield from _read_exactly(part.path, part.size)
            yield b"\r\n"
        yield self._tail()


def _read_exactly(path: str, size: int) -> Iterator[bytes]:
    # Content-Length was promised from the StoredValue's size: a blob that changed size
    # underneath (it cannot, blobs are immutable, but a truncated one can) must not desync.
    sent = 0
    with open(path, "rb") as handle:
        while sent < size:
            chunk = handle.read(min(_CHUNK, size - sent))
            if not chunk:
                raise OSError(f"input blob {os.path.basename(path)} is shorter than recorded")
            sent += len(chunk)
            yield chunk
