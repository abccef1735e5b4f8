"""`kill -9` at any moment leaves a store that opens and answers correctly (SPEC 6).

A child process stores entries in a loop (blobs first, the index last) and reports each step
on stdout; the test SIGKILLs it right after chosen steps (synchronized on those lines, never
on time), so kills land while a blob is half written, between blobs and index, and after a
commit. Then the store is reopened and every entry is checked against the values the child
must have stored.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from strata_engine.store import ArtifactIndex, BlobStore, collect_garbage, load_value
from strata_engine.store.blobs import digest_file

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

CHILD = """
import sys, time
from pathlib import Path
import numpy as np
import pyarrow as pa
from strata_engine.store import (
    ArtifactIndex, BlobStore, Entry, StoredValue, save_displays, store_value,
)

root, start = Path(sys.argv[1]), int(sys.argv[2])
blobs = BlobStore(root)
index = ArtifactIndex(root / "index.sqlite")

def say(step, i):
    print(step, i, flush=True)

for i in range(start, start + 1000):
    say("begin", i)
    # A streaming writer (like the Arrow codec): half the bytes, a report, the rest.
    temp = blobs.new_temp_path()
    with open(temp, "wb") as handle:
        handle.write(b'"' + b"r" * 1_000_000)
        handle.flush()
        say("half", i)
        handle.write(b"%d" % i + b'"')
    raw = blobs.put_file(temp)
    outputs = {
        "n": store_value(blobs, "n", i),
        "obj": store_value(blobs, "obj", ("tuple", i)),
        "table": store_value(blobs, "table", pa.table({"x": np.arange(200_000) + i})),
        "raw": StoredValue(raw, "json/object", blobs.size(raw)),
    }
    displays = save_displays(blobs, [{"text/plain": f"row {i}"}])
    say("blobs", i)
    index.put(Entry(f"k{i}", "cell", "ok", outputs, displays, f"out {i}", "", None, None,
                    1.0, time.time()))
    say("entry", i)
"""


def expected_outputs(i: int) -> dict[str, Any]:
    return {
        "n": i,
        "obj": ("tuple", i),
        "table": pa.table({"x": np.arange(200_000) + i}),
        "raw": "r" * 1_000_000 + str(i),
    }


def run_until(root: Path, start: int, step: str, target: int) -> int:
    """Run a child from entry `start`, SIGKILL it right after it reports (`step`, `target`),
    and return the first entry number the next child may use."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.split() == [step, str(target)]:
                os.kill(child.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"child ended before {step} {target}: {child.stderr.read()}")  # type: ignore[union-attr]
    finally:
        child.kill()
        child.communicate()  # reap it: a zombie's pid still looks alive to GC
    assert child.returncode == -signal.SIGKILL
    return target + 1


def check_every_entry(blobs: BlobStore, index: ArtifactIndex, keys: list[str]) -> None:
    entries = index.get_many(keys)
    stored = [refs.key for refs in index.iter_refs()]
    assert sorted(entries) == sorted(stored), "an indexed entry reads as absent"
    for key, entry in entries.items():
        i = int(key.removeprefix("k"))
        assert entry.stdout == f"out {i}"
        for name, value in entry.outputs.items():
            assert digest_file(blobs.path(value.digest)) == value.digest
            loaded = load_value(blobs, value)
            expected = expected_outputs(i)[name]
            if isinstance(loaded, pa.Table):
                assert loaded.equals(expected)
            else:
                assert loaded == expected
        assert entry.displays_digest is not None
        assert digest_file(blobs.path(entry.displays_digest)) == entry.displays_digest


def test_kill_9_at_any_step_leaves_a_consistent_store(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    start = 0
    # After a commit; mid-blob; between blobs and index; while starting an entry.
    for step, offset in (("entry", 2), ("half", 1), ("blobs", 1), ("begin", 2), ("half", 0)):
        start = run_until(root, start, step, start + offset)

    blobs = BlobStore(root)
    with ArtifactIndex(root / "index.sqlite") as index:
        db = sqlite3.connect(index.path)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        keys = [f"k{i}" for i in range(start)]
        assert {"k0", "k1", "k2"} <= set(index.get_many(keys))  # committed before the kill
        check_every_entry(blobs, index, keys)
        assert any((root / "tmp").iterdir())  # the kills mid-blob left temp files behind

        report = collect_garbage(blobs, index, None)  # default grace: only dead writers' temps
        assert report.temp_files_removed >= 2
        assert not any((root / "tmp").iterdir())
        assert report.entries_removed == 0

        collect_garbage(blobs, index, None, grace_seconds=0)  # orphans of unindexed entries
        referenced = {d for refs in index.iter_refs() for d in refs.required or ()}
        assert {info.digest for info in blobs.iter_blobs()} == referenced
        check_every_entry(blobs, index, keys)
