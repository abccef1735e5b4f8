"""Where a mount's data lives: a local directory or an fsspec filesystem. Both answer the
same three questions: what is there (a listing: relative key -> version), fetch one object
into a local file, and upload one local file.

A version changes whenever the object's content may have: (size, mtime_ns) for a local
file, the ETag (else size and modification time) for a remote object. The listing is what
the key hashes (SPEC 6 item 6) and what the local cache compares its copies against.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any, Protocol

from strata_engine.mounts.filesystems import MountError, open_filesystem
from strata_engine.mounts.spec import local_directory, uri_scheme

Listing = dict[str, str]
"""Relative POSIX key -> version, files only."""


class Source(Protocol):
    uri: str

    def listing(self) -> Listing: ...

    def fetch(self, key: str, destination: str) -> None: ...

    def put(self, local: str, key: str) -> None: ...


class LocalSource:
    def __init__(self, uri: str, directory: str) -> None:
        self.uri = uri
        self.directory = directory

    def listing(self) -> Listing:
        if not os.path.exists(self.directory):
            return {}
        if not os.path.isdir(self.directory):
            raise MountError(f"mount URI {self.uri!r} is not a directory ({self.directory})")
        out: Listing = {}
        for parent, dirs, files in os.walk(self.directory):
            dirs.sort()
            for name in files:
                path = os.path.join(parent, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # removed while listing
                key = os.path.relpath(path, self.directory).replace(os.sep, "/")
                out[key] = f"{info.st_size}:{info.st_mtime_ns}"
        return out

    def fetch(self, key: str, destination: str) -> None:
        shutil.copyfile(os.path.join(self.directory, key), destination)

    def put(self, local: str, key: str) -> None:
        target = os.path.join(self.directory, key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temporary = f"{target}.strata-{os.getpid()}.tmp"
        shutil.copyfile(local, temporary)
        os.replace(temporary, target)


class RemoteSource:
    def __init__(self, uri: str, fs: Any, root: str) -> None:
        self.uri = uri
        self.fs = fs
        self.root = root

    def listing(self) -> Listing:
        # The filesystem object is shared (fsspec caches instances) and so is its directory
        # cache: a listing must see what changed since the last one.
        self.fs.invalidate_cache(self.root)
        try:
            found: Mapping[str, Mapping[str, Any]] = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise MountError(
                f"cannot list mount {self.uri!r}: {type(exc).__name__}: {exc}"
            ) from exc
        out: Listing = {}
        prefix = self.root + "/"
        for path, info in found.items():
            if info.get("type") == "directory" or not path.startswith(prefix):
                continue
            out[path[len(prefix) :]] = _remote_version(info)
        return out

    def fetch(self, key: str, destination: str) -> None:
        self.fs.get_file(f"{self.root}/{key}", destination)

    def put(self, local: str, key: str) -> None:
        self.fs.put_file(local, f"{self.root}/{key}")


def _remote_version(info: Mapping[str, Any]) -> str:
    etag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("etag_")
    if etag:
        return f"etag:{str(etag).strip(chr(34))}:{info.get('size')}"
    modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    return f"{info.get('size')}:{modified}"


def open_source(
    uri: str, options: Mapping[str, Any], base: str | os.PathLike[str] | None = None
) -> Source:
    """The source of a mount URI; `base` resolves a relative `file://` path."""
    if uri_scheme(uri) == "file":
        return LocalSource(uri, local_directory(uri, base))
    fs, root = open_filesystem(uri, options)
    return RemoteSource(uri, fs, root)
