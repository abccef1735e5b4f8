"""A settled notebook's keys kept between processes (issue [11]: speed at 10,000 cells).

Once every cell of a notebook is ready, nothing about its keys changes until an input does:
its files, the engine, the interpreter's packages, or the store's entries. `strata status`
and a fully cached `strata run` spent almost all their time (2.5 s at 10,000 cells, most of
a cached 7-cell run) re-deriving those keys. `.strata/settled.json` keeps them, signed for
this user (model/signed_record.py) and bound to everything they were derived from:

- notebook.toml's bytes, the interpreter's package set (the environment fingerprint), the
  engine's own code, the `--worker` override and the process variables that decide which
  packages and tools are met (the record's header digest);
- every cell file's bytes (read and hashed again each time, never trusted by mtime);
- that no imported name has become a module file of the project (project modules key the
  cells that import them; the record is only made when no cell imports one);
- each cell's entry in the store, with the digests of its outputs: the keys downstream
  were computed from them, so an entry replaced or collected sends everything back.

It is only made when nothing about a key depends on live state outside those inputs: every
cell ready, runs locally in the engine's own interpreter, with no mount, no kind probing a
database or a machine-dependent tool, no loop, variant or `@nocache`, and a local store. Any
difference and the full path runs (and records again), so the record can make a command
faster, never different.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import xxhash

import strata_engine
from strata_engine.cache.environment import environment_fingerprint
from strata_engine.cache.project_modules import top_level_module
from strata_engine.model import signed_record
from strata_engine.model.safe_read import MAX_CELL_BYTES, PLAIN_READS, read_plain_file
from strata_engine.model.store_place import store_place

if TYPE_CHECKING:
    from strata_engine.analysis.snapshot import CellView, Snapshot
    from strata_engine.cache.state import CellStatus
    from strata_engine.run.report import RunReport
    from strata_engine.store import ArtifactIndex, Entry, RunRecord

FILE = "settled.json"
FORMAT = "strata-settled-v1"
_MAX_BYTES = 64 << 20
_BOM = "\ufeff".encode()
_ENV_VARS = ("PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
"""Process variables that decide which packages and tools the engine and its cells meet:
part of the record's inputs. No `STRATA_*` variable decides a settled notebook's keys or
states, and some hold tokens, which must not reach even a digest in `.strata/`."""


class SettledCell(NamedTuple):  # not dataclasses: each costs a cached `strata run` ~1 ms
    id: str
    file: str
    """Relative to `cells/`."""
    key: str
    label: str
    """What `strata run` calls the cell (`@name`, else its id)."""
    outputs: dict[str, str] | None
    """Each output's digest as its consumers' keys saw it; None: the cell never executes."""


class Settled(NamedTuple):
    notebook_id: str
    store: str
    """The local store's directory, found by `[cache] store` as written (store_place)."""
    cells: list[SettledCell]
    """In notebook order."""
    order: list[str]
    """The cell ids in the order a run settles them (the graph's)."""
    quiet: bool
    """No diagnostic a run would print."""

    def executed(self) -> list[SettledCell]:
        return [c for c in self.cells if c.outputs is not None]

    def entries_hold(self, entries: Mapping[str, Entry]) -> bool:
        """Every executing cell's entry is still there, ok, with the outputs it had."""
        for cell in self.executed():
            entry = entries.get(cell.key)
            if entry is None or entry.status != "ok" or entry.error is not None:
                return False
            outputs = {name: value.provenance for name, value in entry.outputs.items()}
            if outputs != cell.outputs:
                return False
        return True


def recall(directory: Path, worker: str | None) -> Settled | None:
    """The settled record of `directory`, if it still holds for every input, else None."""
    if not PLAIN_READS or (directory / "pyproject.toml").exists():
        return None  # a notebook environment of its own is checked by the full path
    if not (directory / ".strata" / FILE).is_file():
        return None  # spare hashing the inputs: a first run starts its worker sooner
    inputs = _inputs(directory, worker)
    if inputs is None:
        return None
    body = signed_record.load(directory / ".strata" / FILE, FORMAT, inputs, _MAX_BYTES)
    if body is None:
        return None
    try:
        record = json.loads(body)
        # The store as found now: the record holds `[cache] store` as written, never a path
        # (a notebook copied with its .strata/ must not answer from the original's store).
        settled = Settled(
            record["notebook"],
            store_place(directory, record["store_as_written"]),
            [SettledCell(*cell) for cell in record["cells"]],
            list(record["order"]),
            record["quiet"],
        )
        tops, files_digest = list(record["tops"]), record["files"]
    except (ValueError, KeyError, TypeError, OSError, RuntimeError):
        return None
    if any(top_level_module(directory, top) for top in tops):
        return None
    if _files_digest(directory, [c.file for c in settled.cells]) != files_digest:
        return None
    return settled


def remember(snapshot: Snapshot, statuses: Mapping[str, CellStatus], store: str) -> None:
    """Record `snapshot`'s keys if every condition of this module's docstring holds."""
    directory = snapshot.notebook.directory
    if "://" in store or (directory / "pyproject.toml").exists() or not PLAIN_READS:
        return
    graph = snapshot.graph
    if graph.variants or graph.per_variant or graph.sweep_inputs:
        return  # a variant's selection is more than its text (SPEC 9)
    cells: list[SettledCell] = []
    tops: set[str] = set()
    order = [*snapshot.graph.order, *snapshot.graph.inactive]
    for cell_id, view in snapshot.cells.items():
        status = statuses.get(cell_id)
        if status is None or not _settled(snapshot, view, status) or status.key is None:
            return
        outputs = None
        if view.kind.executes:
            assert status.entry is not None  # _settled checked it
            outputs = {name: v.provenance for name, v in status.entry.outputs.items()}
            tops.update(name.partition(".")[0] for name in view.analysis.imports)
        label = view.annotations.name or view.id
        cells.append(SettledCell(view.id, view.cell.file, status.key, label, outputs))
    if sorted(order) != sorted(snapshot.cells):
        return
    manifest_text = snapshot.notebook.manifest_text
    if manifest_text is None:
        return  # a notebook built in memory
    environment = environment_fingerprint()
    if not _keyed_under(snapshot, statuses, environment):
        return  # a package installed while the run went: keys of the environment before
    inputs = _inputs(directory, snapshot.worker_override, manifest_text, environment)
    sources = [snapshot.cells[c.id].source for c in cells]
    files = _files_digest(directory, [c.file for c in cells], sources)
    if inputs is None or files is None:
        return
    quiet = all(d.severity == "info" for d in snapshot.all_diagnostics())
    body = {
        "notebook": snapshot.notebook.notebook_id,
        "store_as_written": snapshot.notebook.manifest.store.location,
        "quiet": quiet,
        "tops": sorted(tops),
        "files": files,
        "cells": [[c.id, c.file, c.key, c.label, c.outputs] for c in cells],
        "order": order,
    }
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    signed_record.save(directory / ".strata" / FILE, FORMAT, inputs, data)


def _keyed_under(snapshot: Snapshot, statuses: Mapping[str, CellStatus], environment: str) -> bool:
    """Whether every key was made with the interpreter fingerprinted `environment`."""
    for view in snapshot.cells.values():
        provenance = statuses[view.id].provenance
        if provenance is not None and (
            provenance.environment != snapshot.placement(view).environment_with(environment)
        ):
            return False
    return True


def _settled(snapshot: Snapshot, view: CellView, status: CellStatus) -> bool:
    """Whether this cell's key depends on nothing but the record's inputs."""
    if status.state != "ready" or status.variant is not None or status.message is not None:
        return False
    if "/" in view.cell.file or os.sep in view.cell.file:
        return False  # read relative to `cells/` alone
    if not view.kind.executes:
        return True
    provenance = status.provenance
    return (
        status.entry is not None
        and provenance is not None
        and not provenance.external  # no mount, no live probe, no project module
        and not view.annotations.nocache
        and view.annotations.loop is None
        and snapshot.placement(view).spec is None  # local, in the engine's interpreter
        and _machine_independent(view)
    )


def _machine_independent(view: CellView) -> bool:
    """A kind that neither probes live state nor depends on a tool of the machine (R, a
    database) answers from the text alone: the base class's behaviour, not overridden."""
    from strata_engine.kinds.base import CellKind

    kind = type(view.kind)
    return kind.live_state is CellKind.live_state and kind.availability is CellKind.availability


def _inputs(
    directory: Path,
    worker: str | None,
    manifest_text: str | None = None,
    environment: str | None = None,
) -> str | None:
    """The digest of everything but the cell files a settled notebook's keys came from;
    None also when notebook.toml no longer holds `manifest_text` (edited during a run)."""
    try:
        manifest = (directory / "notebook.toml").read_bytes()
    except OSError:
        return None
    if manifest_text is not None and _text(manifest.removeprefix(_BOM)) != manifest_text:
        return None
    digest = xxhash.xxh3_128()
    for part in _parts(worker, environment or environment_fingerprint()):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(manifest)
    return digest.hexdigest()


def _parts(worker: str | None, environment: str) -> Iterator[str]:
    yield _engine_print()  # the key's definition (KEY_VERSION) is engine code too
    yield environment
    yield repr(worker)
    for name in _ENV_VARS:
        yield f"{name}={os.environ.get(name)!r}"


_engine: str | None = None


def _engine_print() -> str:
    """The engine's version and the size and mtime of every one of its modules: an edit of
    the engine must not meet keys of the code before it."""
    global _engine
    if _engine is None:
        root = Path(strata_engine.__file__).parent
        items = [strata_engine.__version__]
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(n for n in names if n.endswith(".py")):
                info = os.stat(os.path.join(folder, name))
                items.append(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}")
        _engine = xxhash.xxh3_128_hexdigest("\n".join(items).encode("utf-8", "surrogateescape"))
    return _engine


def _files_digest(
    directory: Path, files: list[str], sources: list[str | None] | None = None
) -> str | None:
    """One digest of every cell file's name and bytes, read relative to `cells/` without
    following a symlink; None when one is not such a file (the full path says why), or
    when a file does not hold its text in `sources` (what the keys were computed from)."""
    try:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        cells_fd = os.open(directory / "cells", flags)
    except OSError:
        return None
    try:
        digest = xxhash.xxh3_128()
        for number, name in enumerate(files):
            data = read_plain_file(cells_fd, name, MAX_CELL_BYTES)
            if data is None or (sources is not None and _text(data) != sources[number]):
                return None
            digest.update(f"{name}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
            digest.update(data)
        return digest.hexdigest()
    finally:
        os.close(cells_fd)


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# -- the commands' fast paths ----------------------------------------------------------------
def settled_states(directory: Path, worker: str | None) -> tuple[str, list[CellStatus]] | None:
    """`strata status` of a settled notebook: (its id, each cell's status in notebook
    order), or None when the full path must answer."""
    from strata_engine.cache.state import CellStatus
    from strata_engine.store import StoreError, open_store

    settled = recall(directory, worker)
    if settled is None:
        return None
    try:
        store = open_store(settled.store, writable=False)
    except StoreError:
        return None
    try:
        found = _entries_and_last_runs(settled, store.index)
    finally:
        store.close()
    if found is None:
        return None
    entries, last_runs = found
    statuses = [
        CellStatus(
            cell.id,
            "ready",
            key=cell.key,
            entry=entries.get(cell.key) if cell.outputs is not None else None,
            last_run=last_runs.get(cell.id) if cell.outputs is not None else None,
        )
        for cell in settled.cells
    ]
    return settled.notebook_id, statuses


def settled_run(directory: Path, worker: str | None) -> tuple[RunReport, dict[str, str]] | None:
    """A `strata run` of a settled notebook that would serve every cell from the cache and
    print nothing else: the same report (and what the run calls each cell), its hits marked
    used in the store. None when the full path must run (also when a run would record
    anything new)."""
    from strata_engine.run.report import CellRun, RunReport
    from strata_engine.store import StoreError, load_displays, open_store

    started = time.perf_counter()
    settled = recall(directory, worker)
    if settled is None or not settled.quiet:
        return None
    try:
        store = open_store(settled.store, writable=True)
    except StoreError:
        return None
    try:
        with store.lease():
            executed = settled.executed()
            found = _entries_and_last_runs(settled, store.index)
            if found is None:
                return None
            entries, last_runs = found
            if any(c.id not in last_runs or last_runs[c.id].key != c.key for c in executed):
                return None  # the full run records the cells whose last run was another key
            by_id = {c.id: c for c in settled.cells}
            report = RunReport(settled.notebook_id)
            for cell_id in settled.order:
                cell = by_id[cell_id]
                if cell.outputs is None:
                    report.cells.append(CellRun(cell.id, "ok"))  # rendered, never executed
                    continue
                entry = entries[cell.key]
                displays = load_displays(store.blobs, entry.displays_digest)
                run = CellRun(cell.id, "ok", cache_hit=True, key=cell.key, displays=displays)
                run.stdout, run.stderr = entry.stdout, entry.stderr
                report.cells.append(run)
            store.index.touch(c.key for c in executed)
    except (StoreError, OSError):
        return None
    finally:
        store.close()
    report.duration_ms = (time.perf_counter() - started) * 1000
    return report, {c.id: c.label for c in settled.cells}


def _entries_and_last_runs(
    settled: Settled, index: ArtifactIndex
) -> tuple[dict[str, Entry], dict[str, RunRecord]] | None:
    """The index entries of the settled keys and the notebook's last runs; None when an
    entry is gone or no longer the one recorded."""
    entries = index.get_many(c.key for c in settled.executed())
    if not settled.entries_hold(entries):
        return None
    return entries, index.last_runs(settled.notebook_id)
