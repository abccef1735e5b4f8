"""Garbage collection never removes what a live run holds (its lease on the store).

The run and the collector are real processes. They are ordered with the run's own output (a
line per finished cell) and a lock the test holds: a cell blocks on it, so the collection
happens while the run is live and before the next cell reads its inputs. Nothing sleeps.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from conftest import NotebookFactory

from strata_engine.run.session import Session
from strata_engine.store import ArtifactIndex, BlobStore, Entry, collect_garbage, store_value
from strata_engine.store.leases import LEASE_DIR, hold_lease, live_leases

BIG = 1_500_000  # one value alone is over the 1MB limit the collector is given


def strata(*args: str | Path, **kwargs: object) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "strata_engine.cli", *map(str, args)]
    return subprocess.Popen(command, text=True, **kwargs)  # type: ignore[call-overload]


def strata_done(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "strata_engine.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


@contextmanager
def held(gate: Path) -> Iterator[None]:
    """Hold an exclusive lock on `gate`: a cell taking a shared lock on it waits for us."""
    with open(gate, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def wait_on(gate: Path) -> str:
    """Cell code that blocks until the test releases `gate`."""
    return f"import fcntl\nwith open({str(gate)!r}) as _g:\n    fcntl.flock(_g, fcntl.LOCK_SH)\n"


def read_until(stream: IO[str], word: str) -> list[str]:
    """The run's output up to the line naming the cell `word` (it finished and was stored)."""
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if word in line.split():
            return lines
    raise AssertionError(f"the run ended before cell {word!r} finished: {lines}")


def overlapping_notebook(make_notebook: NotebookFactory, gate: Path) -> Path:
    return make_notebook(
        {
            "produce": f"data = b'x' * {BIG}\n",
            "block": wait_on(gate) + "seen = len(data)\n",
            "consume": "total = len(data) + seen\nprint(total)\n",
        }
    )


def run_with_gc_in_the_middle(nb: Path, gate: Path, first_cell: str) -> tuple[int, str, str]:
    """Run `nb`; once `first_cell` is stored, collect down to 1MB while a cell blocks."""
    with held(gate):
        run = strata("run", nb, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert run.stdout is not None
        before = read_until(run.stdout, first_cell)
        gc = strata_done("cache", "gc", nb, "--max-size", "1MB")
        assert gc.returncode == 0, gc.stderr
    out, err = run.communicate(timeout=120)
    return run.returncode, "".join(before) + out, err


def assert_outputs_load(nb: Path) -> None:
    with Session(nb) as session:
        states = session.states()
        assert {c: s.state for c, s in states.items()} == dict.fromkeys(states, "ready")
        for status in states.values():
            assert status.entry is not None
            for value in status.entry.outputs.values():
                assert session.blobs.has(value.digest)


def test_gc_during_a_run_spares_what_the_run_wrote(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    nb = overlapping_notebook(make_notebook, gate)
    code, out, err = run_with_gc_in_the_middle(nb, gate, "produce")
    assert code == 0, out + err
    assert f"{BIG * 2}" not in err
    assert_outputs_load(nb)


def test_gc_during_a_run_spares_the_cache_hits_it_serves(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    nb = overlapping_notebook(make_notebook, gate)
    gate.touch()
    assert strata_done("run", nb).returncode == 0
    # `produce` is a hit; `block` and `consume` re-run and read its 1.5MB output after gc.
    (nb / "cells" / "block.py").write_text(wait_on(gate) + "seen = len(data) + 1\n")
    code, out, err = run_with_gc_in_the_middle(nb, gate, "produce")
    assert code == 0, out + err
    assert "cached   produce" in out
    assert_outputs_load(nb)


def test_gc_after_the_run_evicts_again(make_notebook: NotebookFactory, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    nb = overlapping_notebook(make_notebook, gate)
    gate.touch()
    assert strata_done("run", nb).returncode == 0
    gc = strata_done("cache", "gc", nb, "--max-size", "1MB")
    assert gc.returncode == 0 and "removed 0 blobs" not in gc.stdout
    assert not list((nb / ".strata" / "artifacts" / LEASE_DIR).glob("*.lease"))


def test_a_killed_strata_run_does_not_block_gc(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    nb = overlapping_notebook(make_notebook, gate)
    store = nb / ".strata" / "artifacts"
    with held(gate):
        run = strata("run", nb, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert run.stdout is not None
        read_until(run.stdout, "produce")
        assert len(live_leases(store)) == 1
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        run.stdout.close()
        gc = strata_done("cache", "gc", nb, "--max-size", "1MB")
    assert gc.returncode == 0, gc.stderr
    assert "1 cache entries" in gc.stdout  # produce's entry, evicted: nobody holds it now
    assert live_leases(store) == []
    assert not list((store / LEASE_DIR).iterdir())


# -- leases as the collector sees them ----------------------------------------------------
HOLD_LEASE = """
import sys
from pathlib import Path
from strata_engine.store.leases import hold_lease
with hold_lease(Path(sys.argv[1])):
    print("leased", flush=True)
    sys.stdin.read()
"""


def old_entry(blobs: BlobStore, index: ArtifactIndex, key: str) -> str:
    value = store_value(blobs, key, key * 1000)
    index.put(Entry(key, "cell", "ok", {key: value}, None, "", "", None, None, 0.0, 0.0))
    past = time.time() - 7200
    os.utime(blobs.path(value.digest), (past, past))
    return value.digest


def test_a_killed_runs_lease_does_not_block_gc(blobs: BlobStore, index: ArtifactIndex) -> None:
    digest = old_entry(blobs, index, "old")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, str(blobs.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "leased\n"
    assert len(live_leases(blobs.root)) == 1
    deferred = collect_garbage(blobs, index, 0)
    assert (deferred.entries_removed, deferred.live_runs) == (0, 1)
    assert blobs.has(digest)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert live_leases(blobs.root) == []
    report = collect_garbage(blobs, index, 0)
    assert (report.entries_removed, report.live_runs) == (1, 0)
    assert not blobs.has(digest)
    assert not list((blobs.root / LEASE_DIR).glob("*.lease"))  # the stale lease is gone


def test_a_lease_spares_blobs_written_after_it_started(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    old = old_entry(blobs, index, "old")
    with hold_lease(blobs.root):
        young_orphan = store_value(blobs, "new", "y" * 1000).digest
        report = collect_garbage(blobs, index, 0, grace_seconds=0)
        assert report.live_runs == 1 and report.entries_removed == 0
        assert blobs.has(old) and blobs.has(young_orphan)
    report = collect_garbage(blobs, index, 0, grace_seconds=0)
    assert report.entries_removed == 1
    assert not blobs.has(old) and not blobs.has(young_orphan)


def test_replacing_an_entry_keeps_its_old_blobs_for_runs_that_hold_them(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    """A run served `k` as a hit; a forced run elsewhere replaced `k` with new outputs."""
    old = old_entry(blobs, index, "k")
    with hold_lease(blobs.root):
        new = store_value(blobs, "k", "other" * 300)
        index.put(Entry("k", "cell", "ok", {"k": new}, None, "", "", None, None, 0.0, 0.0))
        collect_garbage(blobs, index, None, grace_seconds=0)
        assert blobs.has(old)


def test_lease_files_name_their_run(blobs: BlobStore) -> None:
    with hold_lease(blobs.root):
        (lease,) = live_leases(blobs.root)
        assert lease.pid == os.getpid()
        assert json.loads(lease.path.read_text())["pid"] == os.getpid()
    assert live_leases(blobs.root) == []
