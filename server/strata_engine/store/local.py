"""The directory store: blobs and the SQLite index under one local directory (the default,
`.strata/artifacts`, or a `[cache] store` path or `file://` URI)."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from strata_engine.store.blobs import BlobStore
from strata_engine.store.index import ArtifactIndex, IndexVersionError
from strata_engine.store.leases import LEASE_DIR, Lease, hold_lease
from strata_engine.store.protocol import StoreError

INDEX = "index.sqlite"


class LocalStore:
    """A store in a directory of this machine (see `protocol.Store`)."""

    local = True

    def __init__(
        self,
        root: Path,
        *,
        writable: bool,
        blobs: BlobStore | None = None,
        index_factory: IndexFactory | None = None,
    ) -> None:
        """`blobs`, `index_factory`: a shared store's read-through cache brings its own."""
        self.root = root
        self.location = str(root)
        self.writable = writable
        self.blobs = blobs if blobs is not None else BlobStore(root)
        self.index = open_index(
            root, self.blobs, writable=writable, factory=index_factory or _plain_index
        )

    def current(self) -> bool:
        return (self.root / INDEX).is_file() == self.index.found

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        stack = ExitStack()
        try:
            lease = stack.enter_context(hold_lease(self.root))
        except OSError as exc:
            raise StoreError(_cannot_write(self.root, exc)) from exc
        with stack:
            yield lease

    def close(self) -> None:
        self.index.close()


class LocalStores:
    """Opens directory stores: a plain path, or a `file://` URI. `[cache.options]` mean
    nothing to a directory, and it needs no separate cache."""

    def open(
        self,
        location: str,
        *,
        writable: bool,
        options: Mapping[str, Any],
        cache_dir: Path | None,
    ) -> LocalStore:
        return LocalStore(local_path(location), writable=writable)

    def refusal(self, location: str, options: Mapping[str, Any]) -> str | None:
        try:
            local_path(location)
        except StoreError as exc:
            return str(exc)
        return None


def local_path(location: str) -> Path:
    if not location.lower().startswith("file://"):
        return Path(location)
    parts = urllib.parse.urlsplit(location)
    if parts.netloc not in ("", "localhost"):
        raise StoreError(
            f"[cache] store {location!r} names the host {parts.netloc!r}; a file:// store is "
            f"a directory of this machine: write it file:///absolute/path"
        )
    return Path(urllib.parse.unquote(parts.path))


IndexFactory = Callable[[Path, BlobStore, bool], ArtifactIndex]
"""(index path, blobs, read-only) -> the index; a shared store's cache opens its own kind."""


def _plain_index(path: Path, blobs: BlobStore, readonly: bool) -> ArtifactIndex:
    return ArtifactIndex(path, blobs, readonly=readonly)


def open_index(
    root: Path, blobs: BlobStore, *, writable: bool, factory: IndexFactory = _plain_index
) -> ArtifactIndex:
    """The index of the directory store at `root`; damage and permissions as `StoreError`."""
    try:
        if not writable:
            return factory(root / INDEX, blobs, True)
        root.mkdir(parents=True, exist_ok=True)
        _check_writable(root)
        return factory(root / INDEX, blobs, False)
    except IndexVersionError as exc:
        raise StoreError(str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise StoreError(
                f"the artifact index {root / INDEX} is damaged ({exc}); delete the directory "
                f"{root} to start an empty cache"
            ) from exc
        if not writable:
            raise StoreError(f"cannot read the artifact store {root} ({exc})") from exc
        raise StoreError(_cannot_write(root, exc)) from exc
    except OSError as exc:
        if not writable:
            raise StoreError(f"cannot read the artifact store {root} ({exc})") from exc
        raise StoreError(_cannot_write(root, exc)) from exc


def _check_writable(root: Path) -> None:
    """Fail before a run starts rather than after its first cell: SQLite would only say
    "attempt to write a readonly database" at the first write."""
    index = root / INDEX
    for path in (root, root / "blobs", root / "tmp", root / LEASE_DIR):
        if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable", str(path))
    for path in (index, Path(f"{index}-wal"), Path(f"{index}-shm")):
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "not writable", str(path))


def _cannot_write(root: Path, exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    where = exc.filename if isinstance(exc, OSError) and exc.filename else root
    return (
        f"cannot write the artifact store {root} ({reason}: {where}); make it writable "
        f"(chmod -R u+w {root}), or set [cache] store in notebook.toml to a writable directory"
    )
