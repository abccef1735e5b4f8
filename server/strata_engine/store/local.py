"""The directory store: blobs and the SQLite index under one local directory (the default,
`.strata/artifacts`, or a `[cache] store` path or `file://` URI)."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from strata_engine.store.blobs import BlobStore
from strata_engine.store.index import ArtifactIndex, IndexVersionError
from strata_engine.store.leases import LEASE_DIR, Lease, hold_lease
from strata_engine.store.protocol import StoreError

INDEX = "index.sqlite"


class LocalStore:
    """A store in a directory of this machine (see `protocol.Store`)."""

    local = True

    def __init__(self, root: Path, *, writable: bool) -> None:
        self.root = root
        self.location = str(root)
        self.writable = writable
        self.blobs = BlobStore(root)
        self.index = _open_index(root, self.blobs, writable=writable)

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
    """Opens directory stores: a plain path, or a `file://` URI."""

    def open(self, location: str, *, writable: bool) -> LocalStore:
        return LocalStore(local_path(location), writable=writable)


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


def _open_index(root: Path, blobs: BlobStore, *, writable: bool) -> ArtifactIndex:
    try:
        if not writable:
            return ArtifactIndex(root / INDEX, blobs, readonly=True)
        root.mkdir(parents=True, exist_ok=True)
        _check_writable(root)
        return ArtifactIndex(root / INDEX, blobs)
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
