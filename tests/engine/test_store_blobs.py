"""The content-addressed blob store (SPEC 6) and the store package's import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xxhash

from strata_engine.store import BlobStore
from strata_engine.store.blobs import digest_file


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "artifacts")


def test_put_bytes_is_content_addressed(blobs: BlobStore) -> None:
    digest = blobs.put_bytes(b"hello")
    assert digest == xxhash.xxh3_128_hexdigest(b"hello")
    assert blobs.path(digest) == blobs.root / "blobs" / digest[:2] / digest
    assert blobs.has(digest)
    assert blobs.get_bytes(digest) == b"hello"
    assert blobs.size(digest) == 5


def test_put_bytes_is_idempotent_and_leaves_no_temp_files(blobs: BlobStore) -> None:
    first = blobs.put_bytes(b"same")
    second = blobs.put_bytes(b"same")
    assert first == second
    assert list((blobs.root / "blobs").rglob("*")) == [
        blobs.path(first).parent,
        blobs.path(first),
    ]
    assert list((blobs.root / "tmp").iterdir()) == []


def test_empty_blob(blobs: BlobStore) -> None:
    digest = blobs.put_bytes(b"")
    assert blobs.get_bytes(digest) == b""
    assert blobs.size(digest) == 0


def test_opening_a_store_writes_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "artifacts")
    assert not (tmp_path / "artifacts").exists()
    assert not store.has("0" * 32)


def test_new_temp_path_is_fresh_and_in_tmp(blobs: BlobStore) -> None:
    paths = {blobs.new_temp_path() for _ in range(100)}
    assert len(paths) == 100
    for path in paths:
        assert path.parent == blobs.root / "tmp"
        assert not path.exists()


def test_put_file_moves_a_streamed_file_into_place(blobs: BlobStore) -> None:
    temp = blobs.new_temp_path()
    payload = bytes(range(256)) * 50_000  # more than one hashing chunk
    temp.write_bytes(payload)
    digest = blobs.put_file(temp)
    assert digest == xxhash.xxh3_128_hexdigest(payload)
    assert not temp.exists()
    assert blobs.get_bytes(digest) == payload


def test_put_file_drops_a_duplicate(blobs: BlobStore) -> None:
    digest = blobs.put_bytes(b"payload")
    before = blobs.path(digest).stat().st_ino
    temp = blobs.new_temp_path()
    temp.write_bytes(b"payload")
    assert blobs.put_file(temp) == digest
    assert not temp.exists()
    assert blobs.path(digest).stat().st_ino == before


def test_put_file_of_a_missing_file_raises(blobs: BlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        blobs.put_file(blobs.new_temp_path())


def test_a_truncated_blob_is_repaired_by_the_next_write(blobs: BlobStore) -> None:
    """A power loss can leave an unsynced blob empty; writing the value again must fix it,
    not trust the damaged file because its name matches."""
    digest = blobs.put_bytes(b"important bytes")
    blobs.path(digest).write_bytes(b"")
    assert blobs.put_bytes(b"important bytes") == digest
    assert blobs.get_bytes(digest) == b"important bytes"


def test_durable_mode_stores_the_same_blobs(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "artifacts", durable=True)
    digest = store.put_bytes(b"synced")
    temp = store.new_temp_path()
    temp.write_bytes(b"streamed")
    assert store.get_bytes(digest) == b"synced"
    assert store.get_bytes(store.put_file(temp)) == b"streamed"


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 32, "0" * 31, "g" * 32])
def test_path_rejects_non_digests(blobs: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError, match="not a blob digest"):
        blobs.path(bad)


def test_missing_blob_reads_raise(blobs: BlobStore) -> None:
    assert not blobs.has("0" * 32)
    with pytest.raises(FileNotFoundError):
        blobs.get_bytes("0" * 32)


def test_iter_blobs_lists_digests_and_skips_strays(blobs: BlobStore) -> None:
    digests = {blobs.put_bytes(bytes([i])) for i in range(5)}
    stray = blobs.root / "blobs" / "ab" / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("not a blob")
    listed = {info.digest: info.size for info in blobs.iter_blobs()}
    assert listed == dict.fromkeys(digests, 1)


def test_digest_file_matches_digest_of_bytes(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 10_000_001)
    assert digest_file(path) == xxhash.xxh3_128_hexdigest(b"x" * 10_000_001)


def test_importing_the_store_imports_nothing_heavy() -> None:
    """A fully cached `strata run` opens the store: it must not pay for pyarrow & co."""
    code = (
        "import sys, strata_engine.store, strata_engine.store.index, "
        "strata_engine.store.blobs, strata_engine.store.codecs, strata_engine.store.gc; "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'numpy', 'cloudpickle') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_storing_plain_values_imports_nothing_heavy(tmp_path: Path) -> None:
    """JSON and module values never load pyarrow or cloudpickle; loading pickles needs no
    explicit cloudpickle import either."""
    code = f"""
import os, sys
from pathlib import Path
from strata_engine.store import BlobStore, load_value, store_value
blobs = BlobStore(Path({str(tmp_path)!r}))
for value in ({{"a": [1, 2.5, None]}}, "text", os):
    assert load_value(blobs, store_value(blobs, "v", value)) == value
print(sorted(m for m in ('pyarrow', 'pandas', 'numpy', 'cloudpickle') if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
