"""The remote half of a shared store (SPEC 2 `[cache] store = "s3://bucket/prefix"`), via fsspec.

Layout under the prefix:
  blobs/<digest>     immutable bytes named by their xxh3-128 digest, so an upload is idempotent
  index/<key>.json   one cell key's entry: exactly what the local index stores for that key

Write order is the crash-safety rule: every blob an entry names is uploaded before the entry,
and the entry is a single PUT (atomic on object stores: whole or absent), so a reader never
sees an entry whose blobs were not completely written. Readers check anyway: a blob that is
missing, or whose bytes do not hash to its name, makes the entry a plain miss.

Nothing here deletes a remote object: other checkouts, on other machines, may be about to
read it, and no lease reaches across machines.

Which keys exist is answered from one listing of `index/`, reused for `ttl` seconds: the
editor recomputes states on every keystroke and must not pay a round trip per cell per
keystroke. A run expires the listing when it starts, so it sees what others stored since.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from strata_engine.store.blobs import BlobStore, digest_bytes
from strata_engine.store.codecs import StoredValue
from strata_engine.store.index import Entry

ENTRY_FORMAT = "strata-shared-entry@1"
LISTING_TTL_S = 15.0
# Keys become object names: only these characters, so no key can climb out of index/.
_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
_DIGEST = re.compile(r"[0-9a-f]{32}")
_ENTRY_SUFFIX = ".json"
_REASON_CHARS = 300
# Asking whether a blob is there costs a round trip or two (s3fs: HEAD, then a listing);
# below this size re-sending identical bytes is cheaper, and harmless (same name, same bytes).
_CHECK_BEFORE_UPLOAD = 1024 * 1024


class RemoteError(Exception):
    """The remote store could not be reached or written; the message names its URI."""


class RemoteIndex:
    """Entries and blobs of one shared store's remote side. Thread safe."""

    def __init__(
        self,
        connect: Callable[[], Any],
        root: str,
        location: str,
        *,
        ttl: float = LISTING_TTL_S,
    ) -> None:
        """`connect`: makes the fsspec filesystem (raising `RemoteError`), called on first
        use: importing s3fs and botocore takes over a second, which a fully cached run
        served from the local cache never pays. `root`: "bucket/prefix" as the filesystem
        names it; `location`: the URI as written (for messages: it holds no credentials)."""
        self._connect = connect
        self._fs: Any = None
        self._fs_lock = threading.Lock()
        self.root = root.rstrip("/")
        self.location = location
        self.ttl = ttl
        self._lock = threading.Lock()
        self._listed: set[str] = set()
        self._listed_at: float | None = None
        self._known_blobs: set[str] = set()

    @property
    def fs(self) -> Any:
        with self._fs_lock:
            if self._fs is None:
                self._fs = self._connect()
            return self._fs

    # -- which keys exist -----------------------------------------------------------------
    def present(self, keys: Sequence[str]) -> list[str]:
        """Those of `keys` with an entry on the remote, per a listing at most `ttl` old. A
        failed listing counts as empty for `ttl` too (and raises), so an unreachable store
        costs one attempt per `ttl`, not one per keystroke."""
        with self._lock:
            now = time.monotonic()
            if self._listed_at is None or now - self._listed_at > self.ttl:
                self._listed, self._listed_at = set(), now
                self._listed = self._list_keys()
            return [key for key in keys if key in self._listed]

    def expire(self) -> None:
        """The next `present` lists afresh (a run starts: it should see others' results)."""
        with self._lock:
            self._listed_at = None

    def _list_keys(self) -> set[str]:
        with self._remote("list its index"):
            try:
                names = self.fs.ls(f"{self.root}/index", detail=False, refresh=True)
            except FileNotFoundError:
                return set()  # nothing stored yet
        keys = set()
        for name in names:
            stem = str(name).rsplit("/", 1)[-1]
            if stem.endswith(_ENTRY_SUFFIX) and _KEY.fullmatch(stem[: -len(_ENTRY_SUFFIX)]):
                keys.add(stem[: -len(_ENTRY_SUFFIX)])
        return keys

    # -- reading --------------------------------------------------------------------------
    def get_entry(self, key: str) -> Entry | None:
        """The entry stored for `key`; None when absent or not readable by this engine."""
        if not _KEY.fullmatch(key):
            return None
        with self._remote(f"read the entry of key {key}"):
            try:
                data = self.fs.cat_file(self._entry_path(key))
            except FileNotFoundError:
                return None
        return decode_entry(data, key)

    def fetch_blob(self, digest: str, blobs: BlobStore) -> bool:
        """Copy one blob into the local `blobs`; False when the remote has no intact copy
        (missing, or bytes that do not hash to `digest`: a miss, never wrong data)."""
        temp = blobs.new_temp_path()
        try:
            with self._remote(f"read the blob {digest}"):
                try:
                    self.fs.get_file(self._blob_path(digest), str(temp))
                except FileNotFoundError:
                    return False
            got = blobs.put_file(temp)  # hashes what arrived; the temp file is consumed
        finally:
            temp.unlink(missing_ok=True)
        return got == digest

    def read_blob(self, digest: str) -> bytes | None:
        """One blob's bytes without storing them (a read-only open writes nothing)."""
        with self._remote(f"read the blob {digest}"):
            try:
                data: bytes = self.fs.cat_file(self._blob_path(digest))
            except FileNotFoundError:
                return None
        return data if digest_bytes(data) == digest else None

    # -- writing --------------------------------------------------------------------------
    def upload(self, entry: Entry, blobs: BlobStore) -> None:
        """Blobs first (each skipped if already there), then the entry in one PUT."""
        if not _KEY.fullmatch(entry.key):
            raise RemoteError(f"the key {entry.key!r} cannot name an object in {self.location}")
        for digest in entry.required_blobs():
            self._upload_blob(digest, blobs)
        with self._remote(f"write the entry of cell {entry.cell_id!r}", absence_answers=False):
            self.fs.pipe_file(self._entry_path(entry.key), encode_entry(entry))
        with self._lock:
            self._listed.add(entry.key)

    def _upload_blob(self, digest: str, blobs: BlobStore) -> None:
        if digest in self._known_blobs:
            return
        path = self._blob_path(digest)
        size = blobs.size(digest)
        with self._remote(f"write the blob {digest}", absence_answers=False):
            present = False
            # Absent: not uploaded yet (or no bucket, which the upload then reports).
            with contextlib.suppress(FileNotFoundError):
                present = size >= _CHECK_BEFORE_UPLOAD and int(self.fs.info(path)["size"]) == size
            if not present:
                self.fs.put_file(str(blobs.path(digest)), path)
        self._known_blobs.add(digest)

    # -- names and errors -------------------------------------------------------------------
    def _entry_path(self, key: str) -> str:
        return f"{self.root}/index/{key}{_ENTRY_SUFFIX}"

    def _blob_path(self, digest: str) -> str:
        if not _DIGEST.fullmatch(digest):  # an entry from the remote is untrusted input
            raise RemoteError(f"{digest!r} in an entry of {self.location} is not a blob digest")
        return f"{self.root}/blobs/{digest}"

    @contextmanager
    def _remote(self, action: str, *, absence_answers: bool = True) -> Iterator[None]:
        """Any failure of the remote (network, permissions, a missing bucket, a driver's own
        exception types) as one `RemoteError` naming the store and what was being done.
        `absence_answers`: a reader handles FileNotFoundError itself (a miss); for a writer
        it means the bucket is missing, an error like any other."""
        try:
            yield
        except RemoteError:
            raise
        except FileNotFoundError as exc:
            if absence_answers:
                raise
            raise RemoteError(
                f"the shared store {self.location} failed to {action}: {describe(exc)}"
            ) from exc
        except Exception as exc:  # drivers raise their own types
            raise RemoteError(
                f"the shared store {self.location} failed to {action}: {describe(exc)}"
            ) from exc


def describe(exc: BaseException) -> str:
    """A bounded one-line reason. Driver messages name endpoints and buckets, never the
    credentials (those come from the environment or a profile, never from options)."""
    text = " ".join(str(exc).split()) or "no detail"
    if len(text) > _REASON_CHARS:
        text = text[: _REASON_CHARS - 3] + "..."
    return f"{type(exc).__name__}: {text}"


def encode_entry(entry: Entry) -> bytes:
    """The entry as stored remotely: what the local index's row holds, as JSON."""
    record = {
        "format": ENTRY_FORMAT,
        "key": entry.key,
        "cell_id": entry.cell_id,
        "status": entry.status,
        "outputs": {name: value.to_json() for name, value in entry.outputs.items()},
        "displays_digest": entry.displays_digest,
        "stdout": entry.stdout,
        "stderr": entry.stderr,
        "error": entry.error,
        "traceback": entry.traceback,
        "duration_ms": entry.duration_ms,
        "created_at": entry.created_at,
    }
    return json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")


def decode_entry(data: bytes, key: str) -> Entry | None:
    """None for anything but a well-formed entry of this `key` (a miss, not a crash)."""
    try:
        record = json.loads(data)
        if record.get("format") != ENTRY_FORMAT or record.get("key") != key:
            return None
        entry = Entry(
            key=key,
            cell_id=_typed(record, "cell_id", str),
            status=_typed(record, "status", str),
            outputs={
                str(name): StoredValue.from_json(value)
                for name, value in dict(record["outputs"]).items()
            },
            displays_digest=_optional(record, "displays_digest"),
            stdout=_typed(record, "stdout", str),
            stderr=_typed(record, "stderr", str),
            error=_optional(record, "error"),
            traceback=_optional(record, "traceback"),
            duration_ms=float(record["duration_ms"]),
            created_at=float(record["created_at"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    # Digests become object names and local paths: an untrusted entry must name only digests.
    return entry if all(_DIGEST.fullmatch(d) for d in entry.required_blobs()) else None


def _typed(record: dict[str, Any], name: str, kind: type[str]) -> str:
    value = record[name]
    if not isinstance(value, kind):
        raise TypeError(f"{name} is not a {kind.__name__}")
    return value


def _optional(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value
