"""What the engine needs from an artifact store, whatever holds it (SPEC 2 `[cache] store`).

A store is named by a location: a directory path, or a URI whose scheme picks the module
that opens it (`location.py` keeps the registry). Each kind of store is one module providing
a `StoreOpener`; the engine sees only `Store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from strata_engine.store.blobs import BlobStore
from strata_engine.store.index import ArtifactIndex


class StoreError(Exception):
    """The store cannot be opened or written (unavailable kind, permissions, corruption).
    The message names the location and says what to do about it."""


class Store(Protocol):
    """One opened store: its blobs and index, and the lease a run holds on it."""

    @property
    def location(self) -> str:
        """The path or URI it was opened from (for messages)."""
        ...

    @property
    def local(self) -> bool:
        """Blobs are files on this machine: cell processes read and write them in place."""
        ...

    @property
    def writable(self) -> bool:
        """Opened for a run or a collection; a read-only open created nothing."""
        ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def index(self) -> ArtifactIndex: ...

    def current(self) -> bool:
        """False when this handle no longer matches the store (deleted, or created since a
        read-only open found nothing): reopen it. Cheap, asked before every state query."""
        ...

    def lease(self) -> AbstractContextManager[object]:
        """Held by a run for its lifetime: garbage collection spares what the run may use."""
        ...

    def close(self) -> None: ...


class StoreOpener(Protocol):
    """One kind of store, registered under the URI schemes that name it."""

    def open(
        self,
        location: str,
        *,
        writable: bool,
        options: Mapping[str, Any],
        cache_dir: Path | None,
    ) -> Store:
        """Open the store at `location`. Read-only (`writable` false) creates nothing, and a
        store that does not exist yet reads as empty. `options` is `[cache.options]`;
        `cache_dir` (the notebook's `.strata/`) is where a remote store keeps its local
        read-through cache. Raises `StoreError`."""
        ...

    def refusal(self, location: str, options: Mapping[str, Any]) -> str | None:
        """Why `open` would refuse this location and options, known without touching the
        store (no network, nothing created): `validate` reports it. None: it may open."""
        ...
