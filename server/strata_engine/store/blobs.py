"""Content-addressed blobs: `root/blobs/<2 hex>/<digest>`, written through `root/tmp`.

A blob's name is the xxh3-128 digest of its bytes, so a blob is immutable and stored once.
Every write goes to a temp file in `root/tmp` (same filesystem) and is renamed into place, so
a reader, or a store reopened after `kill -9`, sees a whole blob or none. Temp files carry the
writer's pid and host so garbage collection can tell an abandoned one from one in progress.

Blob data is not fsynced by default: `kill -9` is covered by the rename alone, and the
index checks a blob's size before serving it, so a blob truncated by a power loss reads as a
cache miss, never as wrong data. Pass `durable=True` to pay for fsync anyway.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import xxhash

# Big enough to amortize syscalls, small enough that hashing never shows up in RSS.
_CHUNK = 8 * 1024 * 1024
_DIGEST = re.compile(r"[0-9a-f]{32}")
_TEMP_SUFFIX = ".tmp"


def digest_bytes(data: bytes | bytearray | memoryview) -> str:
    """The store's content digest (xxh3-128, hex) of an in-memory buffer."""
    return xxhash.xxh3_128_hexdigest(data)


def new_hasher() -> xxhash.xxh3_128:
    """An incremental hasher whose hexdigest() is the store's content digest."""
    return xxhash.xxh3_128()


def digest_file(path: Path) -> str:
    """The digest of a file's bytes, streamed through one reused buffer (constant memory)."""
    hasher = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            hasher.update(view[:n])
    return hasher.hexdigest()


def _host_tag() -> str:
    # os.uname, not socket.gethostname: importing socket costs more than this whole module.
    try:
        host = os.uname().nodename
    except AttributeError:  # Windows
        host = os.environ.get("COMPUTERNAME", "")
    return xxhash.xxh32_hexdigest(host.encode("utf-8"))


class BlobInfo(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """What garbage collection needs to know about one stored blob."""

    digest: str
    size: int
    mtime: float


class TempInfo(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """One file in `root/tmp`, and which process (if known) is writing it."""

    path: Path
    mtime: float
    pid: int | None
    same_host: bool


class BlobStore:
    """Immutable blobs addressed by content. Safe for concurrent writers in many processes."""

    def __init__(self, root: Path, *, durable: bool = False) -> None:
        # Nothing is created here: opening a store to read it must not write to disk.
        self.root = root
        self.durable = durable
        self._blob_dir = root / "blobs"
        self._blob_prefix = f"{self._blob_dir}{os.sep}"
        self._tmp_dir = root / "tmp"
        self._host = _host_tag()

    # -- writing --------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> str:
        digest = digest_bytes(data)
        if self._freshen(digest, len(data)):
            return digest
        temp = self.new_temp_path()
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                if self.durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            self._install(temp, digest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return digest

    def new_temp_path(self) -> Path:
        """A fresh, not yet existing path in `root/tmp`; the caller writes it, then `put_file`."""
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        token = os.urandom(8).hex()
        return self._tmp_dir / f"{os.getpid()}-{self._host}-{token}{_TEMP_SUFFIX}"

    def put_file(self, temp_path: Path, *, digest: str | None = None) -> str:
        """Adopt a finished temp file as a blob (or drop it if that blob exists). `digest`:
        its digest, if the writer hashed the bytes as it wrote them."""
        try:
            if self.durable:
                _fsync_path(temp_path)
            if digest is None:
                digest = digest_file(temp_path)
            if self._freshen(digest, temp_path.stat().st_size):
                temp_path.unlink()
            else:
                self._install(temp_path, digest)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
        return digest

    def _install(self, temp: Path, digest: str) -> None:
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Two writers racing on the same digest both rename identical bytes: harmless.
        os.replace(temp, final)

    def _freshen(self, digest: str, size: int) -> bool:
        """True if the blob is already stored intact. Its mtime is bumped so that GC, which
        spares recently modified orphans, cannot take it while the caller has not yet
        referenced it from an index entry. A blob of the wrong size (truncated by a power
        loss) counts as absent, so the caller's rewrite repairs it."""
        path = self.path(digest)
        try:
            if path.stat().st_size != size:
                return False
            os.utime(path)
        except FileNotFoundError:
            return False
        except PermissionError:
            pass  # someone else's blob in a shared store: it exists, we just cannot touch it
        return True

    def freshen(self, digests: Iterable[str]) -> None:
        """Mark blobs as just used (garbage collection spares young blobs); best effort."""
        for digest in digests:
            # Gone, not ours to touch, or not a digest: nothing to protect.
            with contextlib.suppress(OSError, ValueError):
                os.utime(self._location(digest))

    # -- reading --------------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        return Path(self._location(digest))

    def _location(self, digest: str) -> str:
        # A plain string: the index checks thousands of blobs per query, and building a
        # Path costs more than the stat itself.
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a blob digest: {digest!r} (expected 32 lowercase hex digits)")
        return f"{self._blob_prefix}{digest[:2]}{os.sep}{digest}"

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size_if_present(self, digest: str) -> int | None:
        """The blob's size, or None if it is missing (or `digest` is not a digest at all)."""
        try:
            return os.stat(self._location(digest)).st_size
        except (FileNotFoundError, ValueError):
            return None

    def get_bytes(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    # -- maintenance (used by gc) ---------------------------------------------------------
    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every blob on disk. Names that are not digests (strays) are skipped, never touched."""
        for shard in _scandir(self._blob_dir):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for item in _scandir(Path(shard.path)):
                if _DIGEST.fullmatch(item.name) and item.is_file(follow_symlinks=False):
                    try:
                        stat = item.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed by a concurrent collector
                    yield BlobInfo(item.name, stat.st_size, stat.st_mtime)

    def iter_temp_files(self) -> Iterator[TempInfo]:
        for item in _scandir(self._tmp_dir):
            if not item.is_file(follow_symlinks=False):
                continue
            try:
                mtime = item.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            pid, host = _parse_temp_name(item.name)
            yield TempInfo(Path(item.path), mtime, pid, host == self._host)

    def remove(self, digest: str, *, unless_modified_after: float | None = None) -> int | None:
        """Delete one blob and return its size; None if it was already gone, or was modified
        after `unless_modified_after` (as `_freshen` does when a writer reuses it)."""
        path = self.path(digest)
        try:
            stat = path.stat()
            if unless_modified_after is not None and stat.st_mtime > unless_modified_after:
                return None
            path.unlink()
        except FileNotFoundError:
            return None
        return stat.st_size


def _parse_temp_name(name: str) -> tuple[int | None, str | None]:
    parts = name.removesuffix(_TEMP_SUFFIX).split("-")
    if len(parts) != 3 or not parts[0].isdigit():
        return None, None
    return int(parts[0]), parts[1]


def _scandir(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
