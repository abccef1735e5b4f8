"""Garbage collection and LRU eviction of the artifact store (SPEC 6).

Rules, applied in order:
1. Temp files are removed when abandoned: their writer (same host) is dead, or they have not
   been written for `grace_seconds`.
2. Entries that reference a missing or truncated blob are dropped: `get` already treats them
   as absent, and dropping them stops them pinning the rest of their blobs.
3. Orphan blobs (referenced by no entry) are removed, unless modified within `grace_seconds`:
   a writer stores blobs first and indexes them last, and reusing an existing blob bumps its
   mtime, so a young orphan may be about to be referenced.
4. If the blobs still exceed `max_size_bytes`, entries are evicted least recently used first
   (by `touch`/`put` order), each taking along the blobs no remaining entry references, until
   the total fits. A blob referenced by a live entry is never removed.

Index rows go before blobs, so a crash mid-collection leaves orphans (collected next time),
never entries without their blobs. Blobs whose mtime changed since GC listed them (a writer
reused them) are spared. One race remains: a writer that reuses a blob between GC reading
the index and listing the blobs, while GC evicts the blob's last other entry, gets `put`'s
missing-blob error (or, if it wins, an entry that reads as absent): a failed or repeated run,
never wrong data.

While a run is live (it holds a lease, see `leases`), rules 2 and 4 wait and rule 3 spares
every blob modified since the oldest live run started: the run may be about to reference a
blob it wrote or reused, or to read the outputs of an entry it served as a hit. Entries
replaced by a newer result freshen their old blobs (`ArtifactIndex.put`), so a run holding
those is covered too. A run that dies releases its lease with its process.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

from strata_engine.model.fsutil import process_alive
from strata_engine.store.blobs import BlobInfo, BlobStore, TempInfo
from strata_engine.store.index import ArtifactIndex, EntryRefs, blobs_intact
from strata_engine.store.leases import CLOCK_SLACK_S, Lease, collecting

DEFAULT_GRACE_SECONDS = 3600.0


@dataclass
class GcReport:
    blobs_removed: int = 0
    bytes_removed: int = 0
    entries_removed: int = 0
    bytes_kept: int = 0
    temp_files_removed: int = 0
    live_runs: int = 0
    """Runs holding a lease on the store: while any is live, eviction waits (see above)."""


def collect_garbage(
    blobs: BlobStore,
    index: ArtifactIndex,
    max_size_bytes: int | None,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> GcReport:
    # No run starts while this holds the gate, so the leases seen here stay the only ones.
    with collecting(blobs.root) as leases:
        return _collect(blobs, index, max_size_bytes, grace_seconds, leases)


def _collect(
    blobs: BlobStore,
    index: ArtifactIndex,
    max_size_bytes: int | None,
    grace_seconds: float,
    leases: list[Lease],
) -> GcReport:
    report = GcReport(live_runs=len(leases))
    started = time.time()
    cutoff = started - grace_seconds
    if leases:
        cutoff = min(cutoff, leases[0].started - CLOCK_SLACK_S)
    report.temp_files_removed = sum(
        _remove_quietly(temp) for temp in blobs.iter_temp_files() if _abandoned(temp, cutoff)
    )
    # The index before the listing: blobs are written before the entry naming them, so every
    # blob of an entry read here is already on disk when listed, unless it is really gone.
    entries = list(index.iter_refs())
    on_disk = {info.digest: info for info in blobs.iter_blobs()}
    live = _drop_broken_entries(index, entries, on_disk, report, delete=not leases)
    refs = Counter(digest for entry in live for digest in entry.required or ())
    for info in list(on_disk.values()):
        if info.digest not in refs and info.mtime <= cutoff:
            _remove_blob(blobs, info, on_disk, report)
    if max_size_bytes is not None and not leases:
        _evict(blobs, index, live, refs, on_disk, max_size_bytes, report)
    report.bytes_kept = sum(info.size for info in on_disk.values())
    return report


def _abandoned(temp: TempInfo, cutoff: float) -> bool:
    if temp.mtime <= cutoff:
        return True
    # Only a same-host pid says anything about the writer; elsewhere, wait out the grace.
    return temp.same_host and temp.pid is not None and not process_alive(temp.pid)


def _remove_quietly(temp: TempInfo) -> bool:
    try:
        temp.path.unlink()
    except FileNotFoundError:
        return False  # finished (renamed) or removed by a concurrent collector
    return True


def _drop_broken_entries(
    index: ArtifactIndex,
    entries: list[EntryRefs],
    on_disk: dict[str, BlobInfo],
    report: GcReport,
    *,
    delete: bool,
) -> list[EntryRefs]:
    """Remove unreadable entries and entries missing a blob; return the rest, LRU first.
    With `delete` false (a run is live, and may be storing that key afresh) they only stop
    counting as references."""

    def size_of(digest: str) -> int | None:
        info = on_disk.get(digest)
        return None if info is None else info.size

    live: list[EntryRefs] = []
    broken: list[str] = []
    for entry in entries:
        if entry.required is not None and blobs_intact(entry.required, size_of):
            live.append(entry)
        else:
            broken.append(entry.key)
    if broken and delete:
        report.entries_removed += index.delete(broken)
    return live


def _evict(
    blobs: BlobStore,
    index: ArtifactIndex,
    live: list[EntryRefs],
    refs: Counter[str],
    on_disk: dict[str, BlobInfo],
    limit: int,
    report: GcReport,
) -> None:
    total = sum(info.size for info in on_disk.values())
    victims: list[str] = []
    freed: list[BlobInfo] = []
    for entry in live:  # least recently used first
        if total <= limit:
            break
        victims.append(entry.key)
        for digest in entry.required or ():
            refs[digest] -= 1
            if refs[digest] == 0 and digest in on_disk:
                freed.append(on_disk[digest])
                total -= on_disk[digest].size
    if not victims:
        return
    report.entries_removed += index.delete(victims)
    for info in freed:
        _remove_blob(blobs, info, on_disk, report)


def _remove_blob(
    blobs: BlobStore, info: BlobInfo, on_disk: dict[str, BlobInfo], report: GcReport
) -> None:
    # A changed mtime means a writer reused the blob since it was listed (see the module doc).
    size = blobs.remove(info.digest, unless_modified_after=info.mtime)
    if size is None:
        return  # gone already, or reused by a writer since we looked
    del on_disk[info.digest]
    report.blobs_removed += 1
    report.bytes_removed += size


# -- sizes ---------------------------------------------------------------------------------
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Bytes in a size such as "20GB", "500MB", "1.5GiB" or "1024". KB/MB/GB/TB are powers
    of 1000 and KiB/MiB/GiB/TiB powers of 1024 (as in SI and IEC); case does not matter."""
    match = _SIZE.fullmatch(text)
    multiplier = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or multiplier is None:
        raise ValueError(
            f"invalid size {text!r}: expected a number and an optional unit, such as 500MB, "
            f"20GB or 1.5GiB (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        )
    from decimal import Decimal  # exact for "1.5GiB"; imported here, off the hot path

    return int(Decimal(match.group(1)) * multiplier)
