"""The artifact index (SPEC 6): SQLite in WAL mode mapping a cell key to its execution result.

Blobs are written first and the index last, so an entry never names a blob that was not
completely written. The reverse can still happen (someone deletes files under `blobs/`, or a
power loss truncates a blob that was never fsynced): `get` checks that every blob an entry
references exists with the recorded size, and reports such an entry as absent, a plain cache
miss, rather than failing later in a consumer. The row stays until the key is stored again
(`put` replaces it) or `collect_garbage` drops it.

Least-recently-used order for eviction comes from `use_seq`, a counter bumped by `put` and
`touch` inside a write transaction: unlike wall-clock time, it orders two uses in the same
clock tick and cannot go backwards.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from strata_engine.store.blobs import BlobStore
from strata_engine.store.codecs import StoredValue

SCHEMA_VERSION = 1
# Keeps each statement's parameter list far below SQLite's limit, and a batch of keys to
# one query instead of one query per key.
_BATCH = 500
# Another process holding the write lock for longer than this is a bug worth surfacing.
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    cell_id TEXT NOT NULL,
    status TEXT NOT NULL,
    outputs TEXT NOT NULL,
    displays_digest TEXT,
    stdout TEXT NOT NULL,
    stderr TEXT NOT NULL,
    error TEXT,
    traceback TEXT,
    duration_ms REAL NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL NOT NULL,
    use_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_use_seq ON entries (use_seq);
CREATE TABLE IF NOT EXISTS runs (
    notebook_id TEXT NOT NULL,
    cell_id TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    provenance TEXT NOT NULL,
    finished_at REAL NOT NULL,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (notebook_id, cell_id)
) WITHOUT ROWID
"""

_ENTRY_COLUMNS = (
    "key, cell_id, status, outputs, displays_digest, stdout, stderr, error, traceback, "
    "duration_ms, created_at"
)


class Entry(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """One execution result of one cell key."""

    key: str
    cell_id: str
    status: str  # "ok" | "error"
    outputs: dict[str, StoredValue]
    displays_digest: str | None  # blob with the JSON list of mime bundles; None: no displays
    stdout: str
    stderr: str
    error: str | None
    traceback: str | None
    duration_ms: float
    created_at: float

    def required_blobs(self) -> dict[str, int | None]:
        return required_blobs(self.outputs, self.displays_digest)


class RunRecord(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """The last run of one cell of one notebook (for staleness reasons)."""

    key: str
    status: str  # "ok" | "error"
    provenance: dict[str, object]  # JSON-able, opaque to the store
    finished_at: float
    duration_ms: float


class EntryRefs(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """An entry as garbage collection sees it: its LRU position and the blobs it needs
    (digest -> expected size, None when unknown); `required` is None for an unreadable row."""

    key: str
    use_seq: int
    required: dict[str, int | None] | None


def required_blobs(
    outputs: Mapping[str, StoredValue], displays_digest: str | None
) -> dict[str, int | None]:
    """The blobs an entry needs, with their sizes where the index records them."""
    required: dict[str, int | None] = {value.digest: value.size for value in outputs.values()}
    if displays_digest is not None:
        required.setdefault(displays_digest, None)
    return required


def blobs_intact(required: Mapping[str, int | None], size_of: Callable[[str], int | None]) -> bool:
    """True if every required blob exists with its recorded size. A wrong size means a blob
    truncated by a power loss: as useless as a missing one."""
    for digest, size in required.items():
        actual = size_of(digest)
        if actual is None or (size is not None and actual != size):
            return False
    return True


class IndexVersionError(RuntimeError):
    def __init__(self, path: Path, version: int) -> None:
        super().__init__(
            f"{path} was written by a newer Strata (index schema {version}, this engine knows "
            f"{SCHEMA_VERSION}); upgrade Strata or delete the directory {path.parent} to start "
            f"an empty cache"
        )


class ArtifactIndex:
    """The index at `path` (conventionally `<store root>/index.sqlite`, beside `blobs/`).

    Safe to share between threads (one connection behind a lock) and between processes
    (SQLite locking; writers wait up to 30 s for each other).
    """

    def __init__(
        self, path: Path, blobs: BlobStore | None = None, *, readonly: bool = False
    ) -> None:
        """`readonly`: for commands that only look (status, the editor's states). Nothing is
        created or converted, and an index that does not exist yet reads as empty."""
        self.path = path
        self.blobs = blobs if blobs is not None else BlobStore(path.parent)
        self._lock = threading.RLock()
        self.readonly = readonly
        self.found = True
        """False for a read-only open that found no index (it answers from an empty one)."""
        if readonly:
            self._db, self.found = _connect_readonly(path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> None:
        # synchronous=NORMAL is crash-safe in WAL mode (a power loss may drop the last
        # commits, never corrupt); it is a per-connection setting.
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._user_version()
        if version == SCHEMA_VERSION:
            return  # the common case: no DDL, no write lock
        if version > SCHEMA_VERSION:
            raise IndexVersionError(self.path, version)
        # WAL is a property of the database file, so this runs once, at creation.
        self._enable_wal()
        with self._write():
            if self._user_version() < SCHEMA_VERSION:  # another process may have won
                # Not executescript: it would COMMIT the transaction holding the lock.
                for statement in _SCHEMA.split(";"):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _enable_wal(self) -> None:
        """Switch to WAL, retrying while another process holds the lock: SQLite answers
        SQLITE_BUSY to a journal-mode change at once, without consulting the busy timeout,
        so two processes creating the same index race here."""
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        delay = 0.001
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    def _user_version(self) -> int:
        row = self._db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ArtifactIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- entries --------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries found for `keys` (absent keys are simply missing from the result)."""
        found: dict[str, Entry] = {}
        # Entries often share blobs (displays, small values): stat each one once per call.
        size_of = functools.cache(self.blobs.size_if_present)
        for batch in _batches(keys):
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE key IN ({_marks(batch)})",
                    batch,
                ).fetchall()
            for row in rows:
                entry = _entry_from_row(row)
                if entry is not None and blobs_intact(entry.required_blobs(), size_of):
                    found[entry.key] = entry
        return found

    def put(self, entry: Entry) -> None:
        """Record `entry` (replacing any entry with its key). Call after its blobs exist."""
        missing = sorted(d for d in entry.required_blobs() if self.blobs.size_if_present(d) is None)
        if missing:
            raise ValueError(f"entry {entry.key} references blobs not in the store: {missing}")
        outputs = json.dumps({name: value.to_json() for name, value in entry.outputs.items()})
        with self._write():
            replaced = self._blobs_of(entry.key)
            seq = self._next_seq()
            self._db.execute(
                f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}, last_used, use_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.key,
                    entry.cell_id,
                    entry.status,
                    outputs,
                    entry.displays_digest,
                    entry.stdout,
                    entry.stderr,
                    entry.error,
                    entry.traceback,
                    entry.duration_ms,
                    entry.created_at,
                    time.time(),
                    seq,
                ),
            )
        # A run elsewhere may have served the replaced result as a hit and still read its
        # blobs: made young, they outlive that run (collection spares blobs newer than the
        # oldest live run).
        self.blobs.freshen(replaced.keys() - entry.required_blobs().keys())

    def _blobs_of(self, key: str) -> dict[str, int | None]:
        row = self._db.execute(
            "SELECT outputs, displays_digest FROM entries WHERE key = ?", (key,)
        ).fetchone()
        parsed = None if row is None else _parse_outputs(row[0])
        return {} if parsed is None else required_blobs(parsed, row[1])

    def touch(self, keys: Iterable[str]) -> None:
        """Mark entries as just used (cache hits), all in one transaction."""
        batches = list(_batches(keys))
        if not batches:
            return
        now = time.time()
        with self._write():
            seq = self._next_seq()
            for batch in batches:
                self._db.execute(
                    f"UPDATE entries SET last_used = ?, use_seq = ? WHERE key IN ({_marks(batch)})",
                    (now, seq, *batch),
                )

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT MAX(use_seq) FROM entries").fetchone()
        return int(row[0] or 0) + 1

    # -- runs -----------------------------------------------------------------------------
    def record_run(self, notebook_id: str, cell_id: str, record: RunRecord) -> None:
        provenance = json.dumps(record.provenance, sort_keys=True)
        with self._write():
            self._db.execute(
                "INSERT OR REPLACE INTO runs (notebook_id, cell_id, key, status, provenance, "
                "finished_at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    notebook_id,
                    cell_id,
                    record.key,
                    record.status,
                    provenance,
                    record.finished_at,
                    record.duration_ms,
                ),
            )

    def last_runs(self, notebook_id: str) -> dict[str, RunRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT cell_id, key, status, provenance, finished_at, duration_ms "
                "FROM runs WHERE notebook_id = ?",
                (notebook_id,),
            ).fetchall()
        return {
            cell_id: RunRecord(key, status, json.loads(provenance), finished_at, duration_ms)
            for cell_id, key, status, provenance, finished_at, duration_ms in rows
        }

    # -- maintenance (used by gc) ---------------------------------------------------------
    def iter_refs(self) -> Iterator[EntryRefs]:
        """Every entry with the blobs it references, least recently used first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, use_seq, outputs, displays_digest FROM entries ORDER BY use_seq, key"
            ).fetchall()
        for key, use_seq, outputs, displays_digest in rows:
            parsed = _parse_outputs(outputs)
            required = None if parsed is None else required_blobs(parsed, displays_digest)
            yield EntryRefs(key, use_seq, required)

    def delete(self, keys: Iterable[str]) -> int:
        """Remove entries; returns how many existed."""
        removed = 0
        batches = list(_batches(keys))
        with self._write():
            for batch in batches:
                cursor = self._db.execute(
                    f"DELETE FROM entries WHERE key IN ({_marks(batch)})", batch
                )
                removed += cursor.rowcount
        return removed

    def _write(self) -> _WriteTransaction:
        return _WriteTransaction(self._db, self._lock)


def _connect_readonly(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A read-only connection to the index at `path`, and whether it was there at all."""
    if not path.is_file():
        return _empty_index(), False
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        db = _connect_uri(uri)
    except sqlite3.OperationalError:
        # A WAL index in a directory we cannot write: SQLite cannot create the shared-memory
        # file it reads through. Nobody can be writing there either, so read it as immutable.
        db = _connect_uri(f"{uri}&immutable=1")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
    except BaseException:
        db.close()
        raise
    if version == SCHEMA_VERSION:
        return db, True
    db.close()
    if version > SCHEMA_VERSION:
        raise IndexVersionError(path, version)
    return _empty_index(), False  # created, but its schema not yet written: nothing to read


def _connect_uri(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(
        uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    try:
        db.execute("PRAGMA user_version").fetchone()  # opening is lazy: fail here, not later
    except BaseException:
        db.close()
        raise
    return db


def _empty_index() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for statement in _SCHEMA.split(";"):
        db.execute(statement)
    return db


class _WriteTransaction:
    """`BEGIN IMMEDIATE` takes SQLite's write lock up front (waiting out other writers via
    the busy timeout), so a read-then-write such as `_next_seq` cannot interleave."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()


def _batches(keys: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _marks(batch: Sequence[str]) -> str:
    return ",".join("?" * len(batch))


def _parse_outputs(text: str) -> dict[str, StoredValue] | None:
    """None for a value this engine cannot read (a cache miss, not a crash)."""
    try:
        value = json.loads(text)
        return {name: StoredValue.from_json(v) for name, v in value.items()}
    except (ValueError, AttributeError, TypeError):
        return None


def _entry_from_row(row: tuple[Any, ...]) -> Entry | None:
    key, cell_id, status, outputs, displays_digest, *rest = row
    parsed = _parse_outputs(outputs)
    if parsed is None:
        return None
    stdout, stderr, error, traceback, duration_ms, created_at = rest
    return Entry(
        key=key,
        cell_id=cell_id,
        status=status,
        outputs=parsed,
        displays_digest=displays_digest,
        stdout=stdout,
        stderr=stderr,
        error=error,
        traceback=traceback,
        duration_ms=duration_ms,
        created_at=created_at,
    )


# -- displays ------------------------------------------------------------------------------
def save_displays(blobs: BlobStore, displays: list[dict[str, str]]) -> str | None:
    """Store a cell's mime bundles as one JSON blob; None when there are none."""
    if not displays:
        return None
    data = json.dumps(displays, ensure_ascii=False, separators=(",", ":"))
    return blobs.put_bytes(data.encode("utf-8"))


def load_displays(blobs: BlobStore, digest: str | None) -> list[dict[str, str]]:
    if digest is None:
        return []
    displays: list[dict[str, str]] = json.loads(blobs.get_bytes(digest))
    return displays
