"""Shared stores: `[cache] store = "s3://bucket/prefix"` (also gs://, gcs://, az://, azure://)
through fsspec, so checkouts of one notebook on different machines reuse each other's results.

A shared store is the remote (`remote.py`: blobs and one entry per key) behind a local
read-through cache (`read_through.py`) in `.strata/shared-cache/<hash of URI and options>/`.
The engine sees a store like any other: its blobs are local files (cells read and write them
in place) and its index answers from the cache first.

`[cache.options]` are passed to the fsspec filesystem (`endpoint_url`, `profile`, `anon`,
...). Credentials never go there (they would be committed with notebook.toml): options that
look like one are refused, and the driver finds them in the environment or a profile.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xxhash

from strata_engine.store.blobs import BlobStore
from strata_engine.store.index import ArtifactIndex
from strata_engine.store.leases import Lease
from strata_engine.store.local import LocalStore
from strata_engine.store.protocol import StoreError
from strata_engine.store.read_through import ReadThroughBlobs, ReadThroughIndex
from strata_engine.store.remote import RemoteError, RemoteIndex, describe

CACHE_DIR = "shared-cache"
# Option names that carry a secret in fsspec drivers (s3fs key/secret/token, adlfs
# account_key/sas_token/connection_string, gcsfs token, ...), matched anywhere in the name.
_SECRET_WORDS = ("secret", "token", "password", "credential", "connection_string")
_SECRET_NAMES = frozenset({"key", "account_key", "access_key", "aws_access_key_id", "sas"})
# botocore's default (legacy mode, then s3fs's own loop on top) took 10 s to report a refused
# connection, 2 s with these; a retry still rides out one transient error or throttle.
# `config_kwargs` in [cache.options] replaces them.
S3_DEFAULTS = {
    "config_kwargs": {"connect_timeout": 10, "retries": {"max_attempts": 2, "mode": "standard"}}
}


class FsspecStores:
    """Opens shared stores of one fsspec protocol (see the module doc)."""

    def __init__(
        self,
        protocol: str,
        *,
        package: str,
        extra: str,
        defaults: Mapping[str, Any] | None = None,
        driver_retries: int | None = None,
    ) -> None:
        """`package`: the fsspec driver (`pip install 'strata-vscode-server[extra]'`);
        `defaults`: options used unless `[cache.options]` sets them; `driver_retries`: the
        driver's own retry loop on top of its client's (s3fs retries botocore's retries,
        so an unreachable endpoint took 10 s to report)."""
        self.protocol = protocol
        self.package = package
        self.extra = extra
        self.defaults = dict(defaults or {})
        self.driver_retries = driver_retries
        self._filesystems: dict[str, Any] = {}
        self._lock = threading.Lock()

    def refusal(self, location: str, options: Mapping[str, Any]) -> str | None:
        return (
            _uri_problem(location)
            or _secret_option(location, options)
            or self._missing_driver(location)
        )

    def open(
        self,
        location: str,
        *,
        writable: bool,
        options: Mapping[str, Any],
        cache_dir: Path | None,
    ) -> SharedStore:
        problem = self.refusal(location, options)
        if problem is not None:
            raise StoreError(problem)
        if cache_dir is None:
            raise StoreError(
                f"[cache] store {location!r}: a shared store needs the notebook's .strata "
                f"directory for its local cache"
            )
        remote = RemoteIndex(lambda: self._filesystem(location, options), _root(location), location)
        return SharedStore(location, cache_root(cache_dir, location, options), remote, writable)

    def _filesystem(self, location: str, options: Mapping[str, Any]) -> Any:
        """One filesystem per set of options for the process: a new s3fs client costs about
        half a second before its first answer, and the editor reopens its store (read-only
        for states, read-write for a run)."""
        merged = {**self.defaults, **options}
        identity = json.dumps(merged, sort_keys=True, default=str)
        with self._lock:
            if identity not in self._filesystems:
                self._filesystems[identity] = self._new_filesystem(location, merged)
            return self._filesystems[identity]

    def _new_filesystem(self, location: str, merged: dict[str, Any]) -> Any:
        import fsspec  # only a notebook with a shared store pays for it

        # Our own instance, not fsspec's cached one: the retry tuning below must not leak
        # into the filesystems of mounts.
        merged = {**merged, "skip_instance_cache": True}
        try:
            fs = fsspec.filesystem(self.protocol, **merged)
        except Exception as exc:  # drivers reject options their own way
            raise RemoteError(
                f"[cache] store {location!r}: the {self.package} driver rejected "
                f"[cache.options] ({describe(exc)}); fix or remove the option it names"
            ) from exc
        if self.driver_retries is not None and hasattr(fs, "retries"):
            fs.retries = self.driver_retries
        return fs

    def _missing_driver(self, location: str) -> str | None:
        if importlib.util.find_spec(self.package) is not None:
            return None
        return (
            f"[cache] store {location!r} needs the {self.package} package, which is not "
            f"installed: pip install 'strata-vscode-server[{self.extra}]'"
        )


class SharedStore:
    """A shared store as the engine sees it (`protocol.Store`): the local cache's blobs and
    read-through index, and the cache's lease (leases cannot reach across machines)."""

    local = True  # blobs are files in the local cache

    def __init__(self, location: str, cache: Path, remote: RemoteIndex, writable: bool) -> None:
        self.location = location
        self.remote = remote
        self._index: ReadThroughIndex | None = None

        def read_through(path: Path, blobs: BlobStore, readonly: bool) -> ArtifactIndex:
            self._index = ReadThroughIndex(path, blobs, readonly=readonly, remote=remote)
            return self._index

        self._cache = LocalStore(
            cache,
            writable=writable,
            blobs=ReadThroughBlobs(cache, remote),
            index_factory=read_through,
        )
        assert self._index is not None
        self.cache_root = cache

    @property
    def writable(self) -> bool:
        return self._cache.writable

    @property
    def blobs(self) -> BlobStore:
        return self._cache.blobs

    @property
    def index(self) -> ReadThroughIndex:
        assert self._index is not None
        return self._index

    def current(self) -> bool:
        return self._cache.current()

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        with self._cache.lease() as lease:
            # A run sees what other checkouts stored since the last listing, and first
            # shares what an earlier run here could not (no network if nothing is pending).
            self.remote.expire()
            self.index.share_pending()
            yield lease

    def close(self) -> None:
        self._cache.close()


def cache_root(cache_dir: Path, location: str, options: Mapping[str, Any]) -> Path:
    """`.strata/shared-cache/<hash>`: one cache per store URI and options (another endpoint
    with the same bucket name is another store)."""
    identity = json.dumps([location.rstrip("/"), dict(options)], sort_keys=True, default=str)
    return cache_dir / CACHE_DIR / xxhash.xxh3_64_hexdigest(identity.encode("utf-8"))


def _root(location: str) -> str:
    """ "bucket/prefix" for "s3://bucket/prefix/" (how fsspec drivers name paths)."""
    parts = urllib.parse.urlsplit(location)
    return f"{parts.netloc}{parts.path}".rstrip("/")


def _uri_problem(location: str) -> str | None:
    parts = urllib.parse.urlsplit(location)
    scheme = parts.scheme or location.split("://", 1)[0]
    if "@" in parts.netloc:
        return (
            f"[cache] store in notebook.toml holds credentials in its URI; write "
            f"{scheme}://BUCKET/PREFIX and let the driver find them in the environment"
        )
    if not parts.netloc:
        return (
            f"[cache] store {location!r} names no bucket or container; write "
            f"{scheme}://BUCKET/PREFIX"
        )
    if parts.query or parts.fragment:
        return f"[cache] store {location!r}: put settings in [cache.options], not in the URI"
    return None


def _secret_option(location: str, options: Mapping[str, Any]) -> str | None:
    for path in _option_names(options, ()):
        name = path[-1].lower()
        if name in _SECRET_NAMES or any(word in name for word in _SECRET_WORDS):
            shown = ".".join(path)
            return (
                f"[cache.options] {shown} in notebook.toml would commit a credential for "
                f"{location}; remove it and provide credentials through the environment or "
                f'a profile (e.g. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile = "NAME")'
            )
    return None


def _option_names(options: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for name, value in options.items():
        path = (*prefix, str(name))
        yield path
        if isinstance(value, Mapping):
            yield from _option_names(value, path)
