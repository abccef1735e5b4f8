"""The local read-through cache of a shared store: a normal directory store (blobs + SQLite
index) under the notebook's `.strata/shared-cache/`, in front of the remote.

- A key found in the cache is served from it: no network at all.
- A key the cache lacks is looked up in the remote's listing (`RemoteIndex.present`, no
  round trip while the listing is fresh). A run copies a remote entry and its blobs into the
  cache once (blobs first, then the entry, as everywhere), then serves it locally for ever
  after. A read-only open (states, the editor) writes nothing: it holds the remote entry in
  memory and reads a display blob it lacks straight from the remote.
- A new result is stored in the cache, then uploaded (blobs, then entry). Until the upload
  succeeds a marker `unshared/<key>` says so; the next run uploads it before anything else.
  An upload that fails stops the run with a message naming the store: a result is never
  reported as shared when it is not.

Garbage collection sees only the cache (the index rows and blobs of this class's base): it
evicts locally and never deletes a remote object, which other checkouts may still need.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from strata_engine.store.blobs import BlobStore
from strata_engine.store.index import ArtifactIndex, Entry, blobs_intact
from strata_engine.store.protocol import StoreError
from strata_engine.store.remote import RemoteError, RemoteIndex

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    """Imported when something is logged: `logging` costs a cached `strata run` ~3 ms."""
    import logging

    return logging.getLogger(__name__)


UNSHARED = "unshared"
_HOW_TO_FIX = (
    "check [cache.options] in notebook.toml (endpoint_url, profile, ...), the credentials in "
    "your environment and the network, or remove [cache] store to use .strata/artifacts"
)


class ReadThroughBlobs(BlobStore):
    """The cache's blobs. A blob the cache lacks is read from the remote, in memory only:
    a read-only open (the editor replaying displays of a remote hit) stores nothing."""

    def __init__(self, root: Path, remote: RemoteIndex) -> None:
        super().__init__(root)
        self._remote = remote

    def get_bytes(self, digest: str) -> bytes:
        try:
            return super().get_bytes(digest)
        except FileNotFoundError:
            try:
                data = self._remote.read_blob(digest)
            except RemoteError as exc:
                raise StoreError(f"{exc}; {_HOW_TO_FIX}") from exc
            if data is None:
                raise
            return data


class ReadThroughIndex(ArtifactIndex):
    """The cache's index, answering a local miss from the remote (see the module doc)."""

    def __init__(
        self, path: Path, blobs: BlobStore, *, readonly: bool, remote: RemoteIndex
    ) -> None:
        super().__init__(path, blobs, readonly=readonly)
        self.remote = remote
        self._unshared = path.parent / UNSHARED
        self._held: dict[str, Entry] = {}
        """Read-only: remote entries read once and kept in memory (nothing is written)."""

    # -- reading --------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        wanted = list(keys)
        found = super().get_many(wanted)
        missing = [key for key in wanted if key not in found]
        if missing:
            found.update(self._read_through(missing))
        return found

    def _read_through(self, keys: list[str]) -> dict[str, Entry]:
        try:
            fetched = (self._fetch(key) for key in self.remote.present(keys))
            return {entry.key: entry for entry in fetched if entry is not None}
        except RemoteError as exc:
            if not self.readonly:
                raise StoreError(f"{exc}; {_HOW_TO_FIX}") from exc
            # States must still answer (the editor asks on every keystroke): what the cache
            # holds is served, and the listing's failure is retried after its time to live.
            _log().warning("%s; answering from the local cache only", exc)
            return {}

    def _fetch(self, key: str) -> Entry | None:
        if self.readonly:
            if key not in self._held:
                entry = self.remote.get_entry(key)
                if entry is None:
                    return None
                self._held[key] = entry
            return self._held[key]
        entry = self.remote.get_entry(key)
        if entry is None or not self._fetch_blobs(entry):
            return None  # written out of order or damaged by hand: a miss, not a crash
        super().put(entry)  # the cache's own put: this result is already on the remote
        return entry

    def _fetch_blobs(self, entry: Entry) -> bool:
        for digest, size in entry.required_blobs().items():
            if blobs_intact({digest: size}, self.blobs.size_if_present):
                continue
            if not self.remote.fetch_blob(digest, self.blobs):
                return False
        return True

    # -- writing --------------------------------------------------------------------------
    def put(self, entry: Entry) -> None:
        """Store in the cache, then upload. Raises `StoreError` if the upload fails (the
        result stays in the cache, marked unshared, and the next run uploads it)."""
        super().put(entry)
        marker = self._unshared / entry.key
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        self._share(entry, marker)

    def share_pending(self) -> int:
        """Upload the results earlier runs stored here but could not share; how many. No
        network when there are none (a fully cached run stays offline)."""
        try:
            names = sorted(os.listdir(self._unshared))
        except FileNotFoundError:
            return 0
        shared = 0
        for name in names:
            marker = self._unshared / name
            # The cache's own lookup: the remote is what this entry is missing from.
            entry = ArtifactIndex.get_many(self, [name]).get(name)
            if entry is None:  # evicted meanwhile: nothing left to share
                marker.unlink(missing_ok=True)
                continue
            self._share(entry, marker)
            shared += 1
        return shared

    def _share(self, entry: Entry, marker: Path) -> None:
        try:
            self.remote.upload(entry, self.blobs)
        except RemoteError as exc:
            raise StoreError(
                f"{exc}; the result of cell {entry.cell_id!r} is kept in this checkout's "
                f"cache ({self.path.parent}) but is not shared yet (the next run uploads it); "
                f"{_HOW_TO_FIX}"
            ) from exc
        marker.unlink(missing_ok=True)
