"""Local copies of a mount's objects, reused across runs.

One directory per mount identity (URI + options): `files/` holds the copies the cell sees,
`meta/` one small JSON per copy: the source version it was fetched at and the copy's own
size and mtime. A copy is reused only while both still match, so an object changed at the
source is fetched again, and so is a copy something wrote over (root ignores the 0444 mode).
Each fetch goes to a temporary file renamed into place: concurrent cells never see half a
file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid

from strata_engine.mounts.sources import Source


def mount_cache_dir(cache_root: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]
    return os.path.join(cache_root, digest)


class MountCache:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.files = os.path.join(directory, "files")
        self._meta = os.path.join(directory, "meta")
        os.makedirs(self.files, exist_ok=True)
        self.fetched: list[str] = []
        """Keys fetched from the source by this process (the rest were reused)."""

    def ensure(self, source: Source, key: str, version: str) -> str:
        """The local copy of `key` at `version`, fetched only when missing or outdated."""
        local = os.path.join(self.files, *key.split("/"))
        meta = os.path.join(self._meta, *key.split("/")) + ".json"
        if _current(local, meta, version):
            return local
        os.makedirs(os.path.dirname(local), exist_ok=True)
        temporary = f"{local}.{uuid.uuid4().hex}.part"
        try:
            source.fetch(key, temporary)
            os.chmod(temporary, 0o444)
            os.replace(temporary, local)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        info = os.stat(local)
        record = {"version": version, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        os.makedirs(os.path.dirname(meta), exist_ok=True)
        meta_tmp = f"{meta}.{uuid.uuid4().hex}.part"
        with open(meta_tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(meta_tmp, meta)
        self.fetched.append(key)
        return local

    def forget(self, key: str) -> None:
        """Drop the copy of an object the source no longer has."""
        for path in (
            os.path.join(self.files, *key.split("/")),
            os.path.join(self._meta, *key.split("/")) + ".json",
        ):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
                os.unlink(path)


def _current(local: str, meta: str, version: str) -> bool:
    try:
        with open(meta, encoding="utf-8") as handle:
            record = json.load(handle)
        info = os.stat(local)
    except (OSError, ValueError):
        return False
    return bool(
        record.get("version") == version
        and record.get("size") == info.st_size
        and record.get("mtime_ns") == info.st_mtime_ns
    )
