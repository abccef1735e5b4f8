"""Garbage collection and LRU eviction (SPEC 6), and cache size parsing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from strata_engine.store import (
    ArtifactIndex,
    BlobStore,
    Entry,
    GcReport,
    StoredValue,
    collect_garbage,
    parse_size,
    store_value,
)


def put_entry(index: ArtifactIndex, key: str, **outputs: StoredValue) -> None:
    index.put(Entry(key, "cell", "ok", outputs, None, "", "", None, None, 0.0, 0.0))


def payload(blobs: BlobStore, tag: str, size: int = 1000) -> StoredValue:
    """A stored string value of about `size` bytes."""
    return store_value(blobs, tag, tag * (size // len(tag)))


def age(blobs: BlobStore, *values: StoredValue, seconds: float = 7200.0) -> None:
    past = time.time() - seconds
    for value in values:
        os.utime(blobs.path(value.digest), (past, past))


def on_disk(blobs: BlobStore) -> set[str]:
    return {info.digest for info in blobs.iter_blobs()}


# -- temp files ----------------------------------------------------------------------------
ABANDON_TEMP = """
import sys
from pathlib import Path
from strata_engine.store import BlobStore
BlobStore(Path(sys.argv[1])).new_temp_path().write_bytes(b"half a blob")
"""


def test_temp_files_of_dead_writers_are_removed(blobs: BlobStore, index: ArtifactIndex) -> None:
    subprocess.run([sys.executable, "-c", ABANDON_TEMP, str(blobs.root)], check=True)
    assert len(list((blobs.root / "tmp").iterdir())) == 1
    report = collect_garbage(blobs, index, None)
    assert report.temp_files_removed == 1
    assert list((blobs.root / "tmp").iterdir()) == []


def test_temp_files_of_live_writers_are_kept_until_stale(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    mine = blobs.new_temp_path()  # this process is alive: a write in progress
    mine.write_bytes(b"in progress")
    foreign = blobs.root / "tmp" / "not-ours.tmp"  # no pid we can check
    foreign.write_bytes(b"?")
    assert collect_garbage(blobs, index, None).temp_files_removed == 0
    assert mine.exists() and foreign.exists()
    past = time.time() - 7200
    for path in (mine, foreign):
        os.utime(path, (past, past))
    assert collect_garbage(blobs, index, None).temp_files_removed == 2
    assert not mine.exists() and not foreign.exists()


# -- orphans -------------------------------------------------------------------------------
def test_orphan_blobs_are_removed_and_referenced_ones_kept(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    kept, orphan = payload(blobs, "kept"), payload(blobs, "orphan")
    put_entry(index, "k", x=kept)
    age(blobs, kept, orphan)
    report = collect_garbage(blobs, index, None)
    assert on_disk(blobs) == {kept.digest}
    assert (report.blobs_removed, report.bytes_removed) == (1, orphan.size)
    assert (report.entries_removed, report.bytes_kept) == (0, kept.size)
    assert index.get("k") is not None


def test_young_orphans_are_spared(blobs: BlobStore, index: ArtifactIndex) -> None:
    """A writer stores blobs first and indexes them last: a fresh orphan may be in flight."""
    young = payload(blobs, "young")
    assert collect_garbage(blobs, index, None).blobs_removed == 0
    assert blobs.has(young.digest)
    assert collect_garbage(blobs, index, None, grace_seconds=0).blobs_removed == 1
    assert not blobs.has(young.digest)


def test_reusing_a_blob_makes_it_young_again(blobs: BlobStore, index: ArtifactIndex) -> None:
    old = payload(blobs, "reused")
    age(blobs, old)
    assert payload(blobs, "reused") == old  # a writer about to reference it again
    assert collect_garbage(blobs, index, None).blobs_removed == 0
    assert blobs.has(old.digest)


def test_entries_missing_a_blob_are_dropped_with_their_other_blobs(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    lost, survivor = payload(blobs, "lost"), payload(blobs, "survivor")
    put_entry(index, "broken", a=lost, b=survivor)
    blobs.path(lost.digest).unlink()
    age(blobs, survivor)
    report = collect_garbage(blobs, index, None)
    assert report.entries_removed == 1
    assert report.blobs_removed == 1
    assert on_disk(blobs) == set()
    assert list(index.iter_refs()) == []


def test_a_store_without_anything_collects_nothing(blobs: BlobStore, index: ArtifactIndex) -> None:
    assert collect_garbage(blobs, index, 0) == GcReport()


# -- LRU eviction --------------------------------------------------------------------------
def test_eviction_removes_least_recently_used_entries_first(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    a, b, c = payload(blobs, "a"), payload(blobs, "b"), payload(blobs, "c")
    put_entry(index, "a", v=a)
    put_entry(index, "b", v=b)
    put_entry(index, "c", v=c)
    index.touch(["a"])  # a cache hit: now b is the least recently used
    report = collect_garbage(blobs, index, a.size + c.size)
    assert [refs.key for refs in index.iter_refs()] == ["c", "a"]
    assert on_disk(blobs) == {a.digest, c.digest}
    assert report == GcReport(
        blobs_removed=1,
        bytes_removed=b.size,
        entries_removed=1,
        bytes_kept=a.size + c.size,
        temp_files_removed=0,
    )


def test_eviction_stops_as_soon_as_the_store_fits(blobs: BlobStore, index: ArtifactIndex) -> None:
    values = [payload(blobs, f"v{i}") for i in range(5)]
    for i, value in enumerate(values):
        put_entry(index, f"k{i}", v=value)
    total = sum(v.size for v in values)
    report = collect_garbage(blobs, index, total - 1)
    assert report.entries_removed == 1
    assert [refs.key for refs in index.iter_refs()] == ["k1", "k2", "k3", "k4"]


def test_a_blob_shared_with_a_live_entry_is_never_evicted(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    shared, old_only, new_only = payload(blobs, "s"), payload(blobs, "o"), payload(blobs, "n")
    put_entry(index, "old", s=shared, o=old_only)
    put_entry(index, "new", s=shared, n=new_only)
    report = collect_garbage(blobs, index, shared.size + new_only.size)
    assert report.entries_removed == 1
    assert on_disk(blobs) == {shared.digest, new_only.digest}
    assert index.get("new") is not None


def test_entries_whose_blobs_are_all_shared_free_nothing_until_the_last_goes(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    shared, other = payload(blobs, "s"), payload(blobs, "x")
    put_entry(index, "first", s=shared)
    put_entry(index, "second", s=shared)
    put_entry(index, "third", x=other)
    report = collect_garbage(blobs, index, other.size)
    assert [refs.key for refs in index.iter_refs()] == ["third"]
    assert (report.entries_removed, report.blobs_removed) == (2, 1)
    assert on_disk(blobs) == {other.digest}


def test_a_zero_limit_empties_the_store(blobs: BlobStore, index: ArtifactIndex) -> None:
    for i in range(3):
        put_entry(index, f"k{i}", v=payload(blobs, f"v{i}"))
    report = collect_garbage(blobs, index, 0)
    assert (report.entries_removed, report.blobs_removed, report.bytes_kept) == (3, 3, 0)
    assert on_disk(blobs) == set()


def test_no_limit_means_no_eviction(blobs: BlobStore, index: ArtifactIndex) -> None:
    for i in range(3):
        put_entry(index, f"k{i}", v=payload(blobs, f"v{i}"))
    assert collect_garbage(blobs, index, None).entries_removed == 0
    assert len(list(index.iter_refs())) == 3


def test_remove_spares_a_blob_modified_after_the_given_time(blobs: BlobStore) -> None:
    """Eviction's guard against a writer reusing a blob while GC runs."""
    value = payload(blobs, "raced")
    assert blobs.remove(value.digest, unless_modified_after=time.time() - 60) is None
    assert blobs.has(value.digest)
    assert blobs.remove(value.digest) == value.size
    assert blobs.remove(value.digest) is None


# -- sizes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("0", 0),
        ("20GB", 20 * 10**9),
        ("500MB", 500 * 10**6),
        ("500 mb", 500 * 10**6),
        ("1.5GiB", 3 * 2**29),
        ("2KiB", 2048),
        ("1TB", 10**12),
        ("10B", 10),
        ("3k", 3000),
        (" 7 MiB ", 7 * 2**20),
        (".5KB", 500),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "-1GB", "1.5.2GB", "12 parsecs", "1e9", "1,000"])
def test_parse_size_rejects_nonsense_clearly(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid size .*such as 500MB"):
        parse_size(text)
