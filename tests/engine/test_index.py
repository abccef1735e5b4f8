"""The SQLite artifact index (SPEC 6): entries, LRU bookkeeping, run records, displays."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from strata_engine.store import (
    ArtifactIndex,
    BlobStore,
    Entry,
    RunRecord,
    StoredValue,
    load_displays,
    save_displays,
    store_value,
)
from strata_engine.store.index import SCHEMA_VERSION


def make_entry(blobs: BlobStore, key: str, **values: object) -> Entry:
    outputs = {name: store_value(blobs, name, value) for name, value in values.items()}
    return Entry(
        key=key,
        cell_id=f"cell-{key}",
        status="ok",
        outputs=outputs,
        displays_digest=save_displays(blobs, [{"text/plain": f"shown {key}"}]),
        stdout="out\n",
        stderr="",
        error=None,
        traceback=None,
        duration_ms=12.5,
        created_at=1700000000.0,
    )


def test_put_then_get_returns_the_entry(blobs: BlobStore, index: ArtifactIndex) -> None:
    entry = make_entry(blobs, "k1", x=1, y=[1, 2], z="three")
    index.put(entry)
    assert index.get("k1") == entry
    assert list(index.get("k1").outputs) == ["x", "y", "z"]  # type: ignore[union-attr]


def test_error_entries_round_trip(blobs: BlobStore, index: ArtifactIndex) -> None:
    entry = Entry("k", "c", "error", {}, None, "", "boom\n", "ValueError: x", "Traceback", 1.0, 2.0)
    index.put(entry)
    assert index.get("k") == entry


def test_get_of_an_unknown_key_is_none(index: ArtifactIndex) -> None:
    assert index.get("nope") is None
    assert index.get_many([]) == {}


def test_put_replaces_an_entry_with_the_same_key(blobs: BlobStore, index: ArtifactIndex) -> None:
    index.put(make_entry(blobs, "k", x=1))
    newer = make_entry(blobs, "k", x=2)
    index.put(newer)
    assert index.get("k") == newer


def test_get_many_spans_several_batches(blobs: BlobStore, index: ArtifactIndex) -> None:
    shared = store_value(blobs, "x", 42)
    for i in range(1200):
        index.put(Entry(f"k{i}", "c", "ok", {"x": shared}, None, "", "", None, None, 0.0, 0.0))
    found = index.get_many([f"k{i}" for i in range(0, 1300, 1)])
    assert set(found) == {f"k{i}" for i in range(1200)}
    assert found["k1199"].outputs == {"x": shared}


def test_an_entry_whose_blob_was_deleted_reads_as_absent(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    """Someone deleted files under blobs/: a cache miss, not a crash in a consumer."""
    entry = make_entry(blobs, "k", x=[1, 2, 3])
    index.put(entry)
    blobs.path(entry.outputs["x"].digest).unlink()
    assert index.get("k") is None
    assert index.get_many(["k"]) == {}


def test_an_entry_whose_displays_blob_was_deleted_reads_as_absent(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    entry = make_entry(blobs, "k", x=1)
    index.put(entry)
    assert entry.displays_digest is not None
    blobs.path(entry.displays_digest).unlink()
    assert index.get("k") is None


def test_an_entry_whose_blob_was_truncated_reads_as_absent(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    entry = make_entry(blobs, "k", x="some text")
    index.put(entry)
    blobs.path(entry.outputs["x"].digest).write_bytes(b"")
    assert index.get("k") is None


def test_put_refuses_an_entry_whose_blobs_are_not_stored(index: ArtifactIndex) -> None:
    ghost = StoredValue("0" * 32, "json/object", 1)
    entry = Entry("k", "c", "ok", {"x": ghost}, None, "", "", None, None, 0.0, 0.0)
    with pytest.raises(ValueError, match="references blobs not in the store"):
        index.put(entry)
    assert index.get("k") is None


def test_entries_survive_reopening(blobs: BlobStore, index: ArtifactIndex) -> None:
    entry = make_entry(blobs, "k", x=1)
    index.put(entry)
    index.close()
    with ArtifactIndex(blobs.root / "index.sqlite") as reopened:
        assert reopened.get("k") == entry


def test_index_uses_wal_and_records_its_schema_version(index: ArtifactIndex) -> None:
    db = sqlite3.connect(index.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


def test_reopening_an_existing_index_does_no_schema_work(index: ArtifactIndex) -> None:
    """Opening is on the hot path (every keystroke's staleness check): no DDL, no write."""
    statements: list[str] = []
    original_connect = sqlite3.connect

    def tracing_connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = original_connect(*args, **kwargs)  # type: ignore[call-overload]
        db.set_trace_callback(statements.append)
        return db  # type: ignore[no-any-return]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite3, "connect", tracing_connect)
        ArtifactIndex(index.path).close()
    assert any("user_version" in s for s in statements)  # the trace did see the open
    assert not any("CREATE" in s or "BEGIN" in s or "journal_mode" in s for s in statements)


def test_an_index_from_a_newer_engine_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer Strata"):
        ArtifactIndex(path)


def test_unreadable_rows_read_as_absent(blobs: BlobStore, index: ArtifactIndex) -> None:
    index.put(make_entry(blobs, "k", x=1))
    db = sqlite3.connect(index.path)
    db.execute("UPDATE entries SET outputs = 'not json' WHERE key = 'k'")
    db.commit()
    db.close()
    assert index.get("k") is None


def test_touch_moves_entries_to_most_recently_used(blobs: BlobStore, index: ArtifactIndex) -> None:
    for key in ("a", "b", "c"):
        index.put(make_entry(blobs, key, v=key))
    assert [refs.key for refs in index.iter_refs()] == ["a", "b", "c"]
    index.touch(["a"])
    assert [refs.key for refs in index.iter_refs()] == ["b", "c", "a"]
    index.touch(["b", "missing"])
    index.touch([])
    assert [refs.key for refs in index.iter_refs()] == ["c", "a", "b"]


def test_iter_refs_lists_each_entrys_blobs(blobs: BlobStore, index: ArtifactIndex) -> None:
    entry = make_entry(blobs, "k", x=1, y="two")
    index.put(entry)
    (refs,) = index.iter_refs()
    assert refs.required == {
        entry.outputs["x"].digest: entry.outputs["x"].size,
        entry.outputs["y"].digest: entry.outputs["y"].size,
        entry.displays_digest: None,
    }


def test_run_records_per_notebook_and_cell(index: ArtifactIndex) -> None:
    first = RunRecord("k1", "ok", {"inputs": {"x": "d1"}, "env": "e"}, 100.0, 5.0)
    index.record_run("nb1", "c1", first)
    index.record_run("nb1", "c2", RunRecord("k2", "error", {}, 101.0, 6.0))
    index.record_run("nb2", "c1", RunRecord("k3", "ok", {}, 102.0, 7.0))
    assert index.last_runs("nb1") == {"c1": first, "c2": RunRecord("k2", "error", {}, 101.0, 6.0)}
    newer = RunRecord("k4", "ok", {"n": [1, 2]}, 200.0, 1.0)
    index.record_run("nb1", "c1", newer)
    assert index.last_runs("nb1")["c1"] == newer
    assert index.last_runs("unknown") == {}


def test_displays_round_trip(blobs: BlobStore) -> None:
    displays = [{"text/plain": "x", "text/html": "<b>x</b>"}, {"image/png": "iVBOR..."}]
    digest = save_displays(blobs, displays)
    assert load_displays(blobs, digest) == displays
    assert save_displays(blobs, []) is None
    assert load_displays(blobs, None) == []


def test_threads_share_one_index(blobs: BlobStore, index: ArtifactIndex) -> None:
    shared = store_value(blobs, "x", 1)

    def writer(prefix: str) -> None:
        for i in range(50):
            index.put(
                Entry(f"{prefix}{i}", "c", "ok", {"x": shared}, None, "", "", None, None, 0, 0)
            )
            index.touch([f"{prefix}{i}"])
            index.get(f"{prefix}{i}")

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(index.get_many(f"{p}{i}" for p in "abcd" for i in range(50))) == 200


WRITER = """
import sys
from pathlib import Path
from strata_engine.store import ArtifactIndex, BlobStore, Entry, RunRecord, store_value
root, prefix = Path(sys.argv[1]), sys.argv[2]
blobs = BlobStore(root)
index = ArtifactIndex(root / "index.sqlite")
for i in range(40):
    value = store_value(blobs, "x", {"shared": True} if i % 2 else {"writer": prefix, "i": i})
    index.put(Entry(f"{prefix}{i}", "c", "ok", {"x": value}, None, "", "", None, None, 0.0, 0.0))
    index.touch([f"{prefix}{i}"])
    index.record_run("nb", f"{prefix}-cell", RunRecord(f"{prefix}{i}", "ok", {}, float(i), 0.0))
index.close()
"""


def test_concurrent_processes_write_blobs_and_index_safely(blobs: BlobStore) -> None:
    """Several workers write blobs, and (though the engine serializes it) the index, at once."""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(blobs.root), prefix],
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in "pqrs"
    ]
    for writer in writers:
        _, stderr = writer.communicate()
        assert writer.returncode == 0, stderr
    with ArtifactIndex(blobs.root / "index.sqlite") as index:
        found = index.get_many(f"{p}{i}" for p in "pqrs" for i in range(40))
        assert len(found) == 160
        assert {record.key for record in index.last_runs("nb").values()} == {
            f"{p}39" for p in "pqrs"
        }
    assert not any((blobs.root / "tmp").iterdir())
