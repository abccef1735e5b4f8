"""A real S3 endpoint on loopback for tests: moto in server mode (its HTTP server in a thread).

Tests and the subprocesses they start (the `strata` CLI, `strata worker`) reach it only
through `endpoint_url`, exactly as they would reach a real bucket.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            endpoint_url=self.endpoint_url,
            key="testing",
            secret="testing",
            skip_instance_cache=True,
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket, so tests sharing the server never see each other's objects."""
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)
        return name

    def options_toml(self) -> str:
        """The `[mounts.options]` / `[cache.options]` body that points fsspec at this server."""
        return f'endpoint_url = "{self.endpoint_url}"\n'


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
