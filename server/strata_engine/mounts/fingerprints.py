"""Mount fingerprints (SPEC 6 item 6), cached per process with a short time-to-live.

Staleness is recomputed on every keystroke in the editor, and a remote listing needs the
network: the editor may reuse a listing up to `EDITOR_MAX_AGE` seconds old, while a run
re-lists (`max_age=0`) before it keys a cell. Hover only ever reads what is cached.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import NamedTuple

import xxhash

from strata_engine.mounts.spec import CellMount

EDITOR_MAX_AGE = 30.0
READ_WRITE = "rw"
"""The fingerprint of a read-write mount: the cell is never cached, and hashing the target's
listing would show it stale right after its own write."""


class Known(NamedTuple):
    fingerprint: str
    listed_at: float
    """time.time() of the listing."""
    objects: int
    """How many objects the listing had (-1: not listed, e.g. pinned or unavailable)."""


def _digest(value: object) -> str:
    return xxhash.xxh3_128_hexdigest(json.dumps(value, sort_keys=True).encode("utf-8"))


class MountFingerprints:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, Known]] = {}
        """identity -> (monotonic time of the listing, what it gave)."""

    def fingerprint(self, mount: CellMount, base: str | os.PathLike[str], max_age: float) -> str:
        """`pin:<pin>` when pinned, `rw` for a read-write mount, else the digest of a listing
        no older than `max_age` seconds; `unavailable:<why>` when it cannot be listed (the
        cell then fails when it runs, with that reason)."""
        if mount.pin is not None:
            return f"pin:{mount.pin}"
        if mount.mode == "rw":
            return READ_WRITE
        identity = _identity(mount, base)
        with self._lock:
            cached = self._known.get(identity)
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1].fingerprint
        known = _list(mount, base)
        with self._lock:
            self._known[identity] = (time.monotonic(), known)
        return known.fingerprint

    def last_known(self, mount: CellMount, base: str | os.PathLike[str]) -> Known | None:
        """The last listing of this mount, without listing (for hover)."""
        if mount.pin is not None:
            return Known(f"pin:{mount.pin}", 0.0, -1)
        with self._lock:
            cached = self._known.get(_identity(mount, base))
        return cached[1] if cached is not None else None


def _identity(mount: CellMount, base: str | os.PathLike[str]) -> str:
    where = os.fspath(base) if mount.is_local else ""
    return json.dumps([mount.identity(), where])


def _list(mount: CellMount, base: str | os.PathLike[str]) -> Known:
    from strata_engine.mounts.filesystems import MountError
    from strata_engine.mounts.sources import open_source

    now = time.time()
    try:
        listing = open_source(mount.uri, mount.options, base).listing()
    except MountError as exc:
        return Known(f"unavailable:{exc}", now, -1)
    return Known(_digest(sorted(listing.items())), now, len(listing))


FINGERPRINTS = MountFingerprints()
"""One per process: the language server's sessions share listings of the same data."""
