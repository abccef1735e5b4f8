"""Leases: a live run's claim on a store, which garbage collection honours.

A run reads entries it served as hits and blobs it has just written for minutes or hours;
eviction in the meantime would pull them from under it. So a run holds a lease for its whole
lifetime: a file `leases/<pid>-<start ns>-<random>.lease` under the store root, locked with
`flock(LOCK_SH)`. The kernel drops the lock when the process dies, even by `kill -9`, so a
dead run's lease is recognisable (it can be locked exclusively) and never blocks collection.

Two races are closed by the gate file `gc.lock`:
- a run starting while the collector has already looked for leases: the run creates its
  lease under a shared lock on the gate, and the collector holds the gate exclusively from
  its look at the leases to its last deletion. A starting run waits for a collection;
- a collector mistaking a lease being created for a stale one: a lease is written and locked
  under a temporary name and renamed into place, so every `*.lease` file is already locked.

`flock` needs POSIX (the local backend forks, so the engine already does); on a network
filesystem without working `flock`, leases degrade to what that filesystem offers.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

LEASE_DIR = "leases"
GATE = "gc.lock"
_SUFFIX = ".lease"
_PENDING = ".pending"
# Blob mtimes come from the filesystem's clock, which may be coarse (FAT: 2 s) or another
# machine's (NFS); a blob written just after a lease started must still count as younger.
CLOCK_SLACK_S = 2.0


class Lease(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """A live run's lease: which process holds it, and since when (the lease file's mtime,
    read from the same clock as blob mtimes)."""

    path: Path
    pid: int | None
    started: float


@contextmanager
def hold_lease(root: Path) -> Iterator[Lease]:
    """Hold a lease on the store at `root` until the block ends (or the process dies)."""
    directory = root / LEASE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    with _gate(root, fcntl.LOCK_SH):  # waits while a collection is deciding what to remove
        handle, lease = _create(directory)
    try:
        yield lease
    finally:
        # Unlinked before the lock goes: a collector never finds our file unlocked.
        lease.path.unlink(missing_ok=True)
        handle.close()


def _create(directory: Path) -> tuple[IO[str], Lease]:
    started_ns = time.time_ns()
    stem = f"{os.getpid()}-{started_ns}-{os.urandom(4).hex()}"
    pending = directory / f"{stem}{_PENDING}"
    handle = open(pending, "w", encoding="utf-8")  # noqa: SIM115 (held for the run's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH)
        # For people looking at a store: who holds it. The collector only needs the name.
        json.dump({"pid": os.getpid(), "started": started_ns / 1e9}, handle)
        handle.flush()
        final = directory / f"{stem}{_SUFFIX}"
        os.replace(pending, final)
        started = final.stat().st_mtime
    except BaseException:
        pending.unlink(missing_ok=True)
        handle.close()
        raise
    return handle, Lease(final, os.getpid(), started)


@contextmanager
def collecting(root: Path) -> Iterator[list[Lease]]:
    """For the collector: the live leases, with no new run starting until the block ends.
    Stale leases (their run died) are removed on the way."""
    if not root.is_dir():
        yield []  # nothing stored, nothing to collect; and nothing created
        return
    with _gate(root, fcntl.LOCK_EX):
        _remove_abandoned_pending(root / LEASE_DIR)
        yield live_leases(root)


def live_leases(root: Path) -> list[Lease]:
    """The leases whose run is alive, oldest first; removes the files of dead runs."""
    live: list[Lease] = []
    try:
        names = os.listdir(root / LEASE_DIR)
    except FileNotFoundError:
        return live
    for name in names:
        if name.endswith(_SUFFIX):
            lease = _probe(root / LEASE_DIR / name)
            if lease is not None:
                live.append(lease)
    return sorted(live, key=lambda lease: lease.started)


def _probe(path: Path) -> Lease | None:
    """The lease at `path` if its run is alive; a dead run's file is removed."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return None  # its run just ended
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            return Lease(path, _pid_of(path.name), os.fstat(handle.fileno()).st_mtime)
        path.unlink(missing_ok=True)  # nobody holds it: its run died without cleaning up
        return None


def _remove_abandoned_pending(directory: Path) -> None:
    """Leases whose writer died before renaming them into place. Call with the gate held
    exclusively: pending files live only inside the gate's shared lock, so all are abandoned."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        if name.endswith(_PENDING):
            (directory / name).unlink(missing_ok=True)


def _pid_of(name: str) -> int | None:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


@contextmanager
def _gate(root: Path, operation: int) -> Iterator[None]:
    with open(root / GATE, "a+b") as handle:
        fcntl.flock(handle, operation)
        yield  # the lock goes with the file descriptor
