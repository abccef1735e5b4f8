"""Inside the cell's process: bind each mount of the job as a `MountPath`, and after the
cell, commit what a read-write mount staged (only if the cell succeeded) and clean up.

Read-only: the path is the mount's cache directory; objects are copied in on first use
(`cache.py`), so no path the cell gets leads into the source itself. Read-write: the path
is a fresh staging directory; objects the cell reads are copied in first, and on success
every staged file that is new or differs from the copy it started as is uploaded (or, for
`file://`, copied with a temporary file + rename). Nothing is ever deleted at the target.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from strata_engine.mounts.cache import MountCache, mount_cache_dir
from strata_engine.mounts.filesystems import MountError
from strata_engine.mounts.path import path_class
from strata_engine.mounts.sources import Listing, LocalSource, Source, open_source
from strata_engine.mounts.spec import JobMount, default_cache_root


class BoundMount:
    def __init__(self, job: JobMount) -> None:
        self.name = job.name
        self.uri = job.uri
        self.mode = job.mode
        self.source = open_source(job.uri, job.options)
        if self.mode == "ro":
            _require_directory(self.source)
        cache_root = job.cache or default_cache_root()
        self.cache = MountCache(mount_cache_dir(cache_root, _identity(job)))
        if self.mode == "rw":
            staging = os.path.join(self.cache.directory, "staging")
            os.makedirs(staging, exist_ok=True)
            self.root = tempfile.mkdtemp(prefix="run-", dir=staging)
        else:
            self.root = self.cache.files
        self._listing: Listing | None = None
        self._baseline: dict[str, tuple[int, int]] = {}
        """rw: staged copies of source objects, by key -> (size, mtime_ns) when copied."""

    # -- what the MountPath asks ---------------------------------------------------------
    def listing(self) -> Listing:
        if self._listing is None:
            self._listing = self.source.listing()
        return self._listing

    def visible(self) -> set[str]:
        keys = set(self.listing())
        if self.mode == "rw":
            keys.update(_walk(self.root))
        return keys

    def materialize(self, key: str | None) -> None:
        if key is None:
            return
        listing = self.listing()
        if key in listing:
            self._fetch(key, listing[key])
            return
        if self.mode == "ro" and key:
            self.cache.forget(key)  # gone at the source: a stale copy must not be read
        prefix = key + "/" if key else ""
        under = [k for k in listing if k.startswith(prefix)]
        for item in under:
            self._fetch(item, listing[item])
        if under or key == "":
            os.makedirs(os.path.join(self.root, key), exist_ok=True)
        elif self.mode == "rw":
            # Remote "directories" exist only through their objects: let a write land.
            os.makedirs(os.path.dirname(os.path.join(self.root, key)), exist_ok=True)

    def refuse_write(self, what: str, key: str | None) -> None:
        if self.mode == "ro" and key is not None:
            raise PermissionError(
                f"mount {self.name!r} ({self.uri}) is read-only: {what} of "
                f"{key or '.'!r} is refused; declare it rw "
                f"(`# @mount {self.name} {self.uri} rw`) to write to it"
            )

    def _fetch(self, key: str, version: str) -> None:
        local = self.cache.ensure(self.source, key, version)
        if self.mode == "ro":
            return
        staged = os.path.join(self.root, *key.split("/"))
        if key in self._baseline or os.path.lexists(staged):
            return  # already staged, or written by the cell: never overwrite its work
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        shutil.copyfile(local, staged)
        info = os.stat(staged)
        self._baseline[key] = (info.st_size, info.st_mtime_ns)

    # -- after the cell ------------------------------------------------------------------
    def commit(self) -> list[str]:
        """Upload what the cell wrote; returns the keys sent."""
        sent = []
        for key in _walk(self.root):
            info = os.stat(os.path.join(self.root, key))
            if self._baseline.get(key) == (info.st_size, info.st_mtime_ns):
                continue
            self.source.put(os.path.join(self.root, key), key)
            sent.append(key)
        return sent

    def close(self) -> None:
        if self.mode == "rw":
            shutil.rmtree(self.root, ignore_errors=True)


class CellMounts:
    """The mounts of one cell run, as the harness drives them."""

    def __init__(self, specs: Sequence[Mapping[str, Any]]) -> None:
        self._specs = [JobMount.from_json(s) for s in specs]
        self.bound: list[BoundMount] = []

    def bind(self, namespace: dict[str, Any]) -> tuple[str, str | None] | None:
        """Bind every mount into `namespace`; (error, traceback) if one cannot be."""
        for spec in self._specs:
            try:
                bound = BoundMount(spec)
            except Exception as exc:
                return _problem(spec, "cannot be mounted", exc)
            self.bound.append(bound)
            namespace[spec.name] = path_class(bound)(bound.root)
        return None

    def commit(self) -> tuple[str, str | None] | None:
        for bound in self.bound:
            if bound.mode != "rw":
                continue
            try:
                bound.commit()
            except Exception as exc:
                spec = next(s for s in self._specs if s.name == bound.name)
                return _problem(spec, "could not be written back", exc)
        return None

    def close(self) -> None:
        for bound in self.bound:
            bound.close()


def _require_directory(source: Source) -> None:
    """A read-only `file://` mount of nothing is a typo, not an empty data set."""
    if isinstance(source, LocalSource) and not os.path.isdir(source.directory):
        raise MountError(
            f"{source.directory} does not exist or is not a directory; "
            "create it or fix the mount's URI"
        )


def _problem(spec: JobMount, what: str, exc: Exception) -> tuple[str, str | None]:
    detail = str(exc) if isinstance(exc, MountError) else f"{type(exc).__name__}: {exc}"
    tb = None if isinstance(exc, MountError) else "".join(traceback.format_exception(exc))
    return f"mount {spec.name!r} ({spec.uri}) {what}: {detail}", tb


def _identity(job: JobMount) -> str:
    import json

    return json.dumps([job.uri, dict(job.options)], sort_keys=True, default=str)


def _walk(root: str) -> list[str]:
    out = []
    for parent, _dirs, files in os.walk(root):
        for name in files:
            out.append(os.path.relpath(os.path.join(parent, name), root).replace(os.sep, "/"))
    return out
