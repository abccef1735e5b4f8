"""One `Host` per notebook directory: its engine `Session`, the latest analysis of the text the
editor shows, and what was last published (diagnostics per document, the state of every cell).

Edits are debounced: the first change schedules an analysis `DEBOUNCE_S` later and changes
arriving meanwhile ride along, so a burst of keystrokes costs one analysis. Requests that need
fresh facts (code actions, completion, hover, runs) analyze pending edits first.

A refresh caused only by cell edits is incremental (strata_engine.run.incremental): cells
the edit cannot reach keep their analysis and state. Anything else (notebook.toml, files on
disk, a run, the environment) and a pause in typing (`RECONCILE_S`) recompute everything,
which also probes again what lies outside the notebook's text; the pause's recomputation
runs in a thread and is dropped if an edit came meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace import Workspace

from strata_engine.analysis.annotations import split_lines
from strata_engine.analysis.snapshot import Snapshot
from strata_engine.cache.state import CellStatus
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.manifest_checks import check_manifest_text
from strata_engine.model.notebook import MANIFEST, Notebook, NotebookError, load_notebook
from strata_engine.run.incremental import Changed, Incremental
from strata_engine.run.session import Session

from .convert import placements, replaced_placements, to_diagnostic
from .documents import CellIndex, DocRef, Documents
from .health import HealthMonitor
from .routing import OverrideMemo, RoutePlan, delta_route, plan_route
from .states import SentStates

DEBOUNCE_S = 0.03
RECONCILE_S = 1.0
"""After incremental refreshes, a full one once edits pause this long."""
log = logging.getLogger(__name__)


class Outbox(Protocol):
    """What the hosts need from the language server."""

    @property
    def workspace(self) -> Workspace: ...

    def publish(
        self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]
    ) -> None: ...

    def notify(self, method: str, payload: dict[str, Any]) -> None: ...

    def notify_json(self, method: str, params: str) -> None:
        """`notify` with the params already encoded as JSON."""

    def log(self, message: str, level: types.MessageType) -> None: ...


@dataclass(eq=False)
class Host:
    directory: Path
    session: Session | None = None
    manifest_problems: list[Diagnostic] = field(default_factory=list)
    """Set while notebook.toml (on disk or in the editor) does not parse."""
    snapshot: Snapshot | None = None
    states: dict[str, CellStatus] = field(default_factory=dict)
    published: dict[str, list[Diagnostic]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    """Documents edited since the last publish: they get diagnostics even if unchanged, so
    the client sees an answer for every version it sent."""
    sent_states: SentStates | None = None
    running: set[str] = field(default_factory=set)
    placements: dict[str, dict[str, str]] = field(default_factory=dict)
    """Cells on a declared worker: {"worker", "backend"} (see convert.placements)."""
    pending: asyncio.TimerHandle | None = None
    incremental: Incremental | None = None
    full_due: bool = True
    """The next refresh recomputes every cell (something besides cell text may have changed)."""
    reconcile: asyncio.TimerHandle | None = None
    cell_index: tuple[Notebook, CellIndex] | None = None
    """The CellIndex of the notebook it was built for (asked twice per keystroke)."""
    run_warnings: dict[str, tuple[str | None, list[Diagnostic]]] = field(default_factory=dict)
    """Cell id -> (the source it ran, what its last execution warned about, e.g.
    mutation_in_place): shown on the cell while its text is that source."""
    edited: set[str] = field(default_factory=set)
    """Documents whose text changed since `overrides` last looked (see `OverrideMemo`)."""
    override_memo: OverrideMemo | None = None
    route_plan: RoutePlan | None = None
    generation: int = 0
    """Bumped by every change: a full refresh computed off the loop for an older generation
    is dropped (see `Notebooks._reconcile`)."""
    reconciling: bool = False
    """A full refresh is being computed off the loop."""

    @property
    def name(self) -> str:
        return str(self.directory)

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST


class Notebooks:
    def __init__(self, outbox: Outbox, documents: Documents, *, timings: bool = False) -> None:
        self.outbox = outbox
        self.documents = documents
        self.timings = timings
        self.hosts: dict[Path, Host] = {}
        self.health: HealthMonitor | None = None
        """Watches the workers of analyzed notebooks (the server sets it)."""

    # -- lifecycle ---------------------------------------------------------------------------
    def host(self, directory: Path) -> Host:
        """The host of `directory`, opening its notebook on first use (never runs code)."""
        host = self.hosts.get(directory)
        if host is None:
            host = self.hosts[directory] = Host(directory)
            self.load(host)
        return host

    def load(self, host: Host) -> None:
        """(Re)load the notebook: notebook.toml from the editor when it is open, else disk."""
        manifest = self._manifest_ref(host)
        text = self._text(manifest.uri) if manifest is not None else None
        try:
            notebook = load_notebook(host.directory, manifest_text=text)
        except NotebookError as exc:
            # Keep the last good notebook: a half-typed manifest must not blank the cells.
            host.manifest_problems = self._manifest_problems(host, text, exc)
            return
        host.manifest_problems = []
        if host.session is None:
            host.session = Session(host.directory, notebook=notebook)
            host.incremental = Incremental(host.session)
        host.session.notebook = notebook
        host.full_due = True
        host.generation += 1

    def _manifest_problems(
        self, host: Host, text: str | None, exc: NotebookError
    ) -> list[Diagnostic]:
        if text is None and host.manifest_path.is_file():
            text = host.manifest_path.read_text(encoding="utf-8", errors="replace")
        problems = list(check_manifest_text(text)) if text is not None else []
        if not problems:
            self.outbox.log(f"cannot open notebook {host.name}: {exc}", types.MessageType.Error)
        return problems

    def release(self, directory: Path) -> None:
        """Forget a notebook nobody looks at any more (its warm worker stops)."""
        host = self.hosts.get(directory)
        if host is None or self.documents.in_directory(directory) or host.running:
            return
        for uri in host.published:
            self.outbox.publish(uri, None, [])
        if host.pending is not None:
            host.pending.cancel()
        if host.reconcile is not None:
            host.reconcile.cancel()
        if host.session is not None:
            host.session.close()
        if self.health is not None:
            self.health.unwatch(directory)
        del self.hosts[directory]

    def close_all(self) -> None:
        for host in self.hosts.values():
            if host.session is not None:
                host.session.close()
        self.hosts.clear()

    # -- analysis ----------------------------------------------------------------------------
    def changed(self, directory: Path, uri: str | None = None) -> None:
        host = self.host(directory)
        ref = self.documents.get(uri) if uri is not None else None
        host.generation += 1
        if uri is not None:
            host.dirty.add(uri)
            host.edited.add(uri)
        if ref is not None and ref.kind == "cell":
            self._schedule(host)  # only a cell's text changed: incremental
        else:
            self.schedule(host)

    def schedule(self, host: Host) -> None:
        """Refresh soon, recomputing every cell (not only a cell's text changed)."""
        host.full_due = True
        host.generation += 1
        self._schedule(host)

    def _schedule(self, host: Host) -> None:
        if host.reconcile is not None:
            host.reconcile.cancel()
            host.reconcile = None
        if host.pending is None:
            loop = asyncio.get_running_loop()
            host.pending = loop.call_later(DEBOUNCE_S, self.refresh, host)

    def fresh(self, directory: Path) -> Host:
        """The host with pending edits analyzed (for requests that answer from it)."""
        host = self.host(directory)
        if host.pending is not None or host.snapshot is None:
            self.refresh(host)
        return host

    def refresh(self, host: Host) -> None:
        if host.pending is not None:
            host.pending.cancel()
            host.pending = None
        started = time.perf_counter()
        first = host.snapshot is None
        try:
            self._analyze(host)
            if first and host.snapshot is not None:
                # The notebook's long-lived objects (sources, memoized analyses) would
                # otherwise be rescanned by the cyclic collector, pausing keystrokes on
                # large notebooks for 20-30 ms; refcounting still frees them.
                gc.freeze()
        except Exception as exc:
            # Never let one notebook's failure stop the server from serving the others.
            log.exception("analysis of %s failed", host.name)
            self.outbox.log(
                f"Strata: analysis of {host.name} failed: {exc!r}", types.MessageType.Error
            )
        if self.timings:
            elapsed = (time.perf_counter() - started) * 1000
            self.outbox.notify("strata/analysisTiming", {"notebook": host.name, "ms": elapsed})

    def _analyze(self, host: Host) -> None:
        if host.session is None:
            self._publish(host, self._route(host, None))
            return
        assert host.incremental is not None  # created with the session
        previous = host.snapshot
        overrides = self.overrides(host)
        if host.full_due:
            host.full_due = False
            host.snapshot, host.states = host.incremental.full(overrides)
        else:
            host.snapshot, host.states = host.incremental.update(overrides)
            self._reconcile_later(host)
        self._published(host, previous, host.incremental.changed)

    def _published(self, host: Host, previous: Snapshot | None, changed: Changed | None) -> None:
        """Publish a new analysis: with `changed` (what an edit redid), only those cells'
        documents and states are looked at again."""
        snapshot = host.snapshot
        assert snapshot is not None
        delta = None
        if changed is not None and previous is not None and not host.manifest_problems:
            refs = self.documents.in_directory(host.directory)
            delta = delta_route(
                host.route_plan,
                refs,
                previous,
                snapshot,
                host.published,
                changed.views,
                lambda cell_id: self._cell_warnings(host, snapshot, cell_id),
            )
        if delta is not None and changed is not None:
            self._publish(host, *delta)
            host.placements = replaced_placements(snapshot, host.placements, changed.views)
            self.publish_state(host, changed.states | changed.views)
        else:
            self._publish(host, self._route(host, snapshot))
            host.placements = placements(snapshot, previous, host.placements)
            self.publish_state(host)
        if self.health is not None:  # cheap unless the workers changed (then: a probe, later)
            self.health.watch(host.directory, snapshot.notebook.manifest.workers)

    def _reconcile_later(self, host: Host) -> None:
        """A full refresh once edits pause: picks up what no edit announces (a package
        installed, a project module saved, a mount's data)."""
        if host.reconcile is not None:
            host.reconcile.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # driven without a loop: nothing can wait, be exact now
            host.full_due = True
            return
        host.reconcile = loop.call_later(RECONCILE_S, self._reconcile, host)

    def _reconcile(self, host: Host) -> None:
        """The full refresh of a pause, computed in a thread: on 2,000 cells it takes about
        a second, and a keystroke meanwhile must not wait for it. Its result is published
        only if nothing changed since it started (else the next pause tries again)."""
        host.reconcile = None
        session = host.session
        if self.hosts.get(host.directory) is not host or session is None:
            return
        if host.pending is not None or host.full_due:
            return  # a refresh is due anyway, and it reschedules this
        if host.reconciling:
            return  # the one in flight, if stale, schedules the next
        overrides, generation = self.overrides(host), host.generation
        loop = asyncio.get_running_loop()

        def current() -> bool:  # asked from the thread
            return host.generation == generation

        work = loop.run_in_executor(None, _full_analysis, session, overrides, current)
        work.add_done_callback(lambda done: self._reconciled(host, generation, overrides, done))
        host.reconciling = True

    def _reconciled(
        self,
        host: Host,
        generation: int,
        overrides: dict[str, str],
        done: asyncio.Future[tuple[Snapshot, dict[str, CellStatus]] | None],
    ) -> None:
        host.reconciling = False
        if done.cancelled() or self.hosts.get(host.directory) is not host:
            return
        stale = host.generation != generation or host.pending is not None or host.full_due
        if done.exception() is not None:
            # An edit meanwhile may trip it (shared memos); else the next refresh shows why.
            level = logging.DEBUG if stale else logging.ERROR
            log.log(level, "full analysis of %s failed", host.name, exc_info=done.exception())
            return
        session, incremental, result = host.session, host.incremental, done.result()
        if stale or result is None:
            if host.reconcile is None and host.pending is None and not host.full_due:
                self._reconcile_later(host)  # a pause that came while this was computed
            return
        if session is None or incremental is None:
            return
        snapshot, states = result
        if snapshot.notebook is not session.notebook:
            return  # an edit came meanwhile: its refresh (and the next pause) supersede this
        started = time.perf_counter()
        previous = host.snapshot
        incremental.adopt(overrides, snapshot, states)
        host.snapshot, host.states = snapshot, states
        self._published(host, previous, None)
        if self.timings:
            elapsed = (time.perf_counter() - started) * 1000
            self.outbox.notify("strata/analysisTiming", {"notebook": host.name, "ms": elapsed})

    def overrides(self, host: Host) -> dict[str, str]:
        """Cell id -> the text the editor shows, for every open document of a cell."""
        if host.session is None:
            return {}
        notebook = host.session.notebook
        cells = _cell_index(host, notebook)
        refs = self.documents.in_directory(host.directory)
        memo = host.override_memo
        if memo is None or memo.refs is not refs or memo.notebook is not notebook:
            memo = host.override_memo = OverrideMemo(refs, notebook, {}, {})
            edited: Sequence[DocRef] = refs
        else:
            edited = [ref for uri in host.edited if (ref := self.documents.get(uri))]
        host.edited.clear()
        for ref in edited:
            cell_id = ref.cell_in(cells)
            if cell_id is None or ref.directory != host.directory:
                continue
            current = memo.chosen.get(cell_id)
            if current is None or current is ref or ref.seq > current.seq:
                memo.chosen[cell_id] = ref
                memo.texts[cell_id] = self._text(ref.uri) or ""
        return dict(memo.texts)

    def publish_state(self, host: Host, cells: Collection[str] | None = None) -> None:
        """Send every cell's state if any changed; `cells`: only these may have (their
        status, placement or view), the others are as last sent."""
        sent = host.sent_states
        if sent is None:
            sent = host.sent_states = SentStates(host.name)
        if cells is not None:
            text = sent.replaced(cells, host.states, host.running, host.placements)
            if text is None:
                return
            if isinstance(text, str):
                self.outbox.notify_json("strata/notebookState", text)
                return
        payload = sent.full(host.states, host.running, host.placements)
        if payload is not None:
            self.outbox.notify("strata/notebookState", payload)

    # -- diagnostics -------------------------------------------------------------------------
    def run_warnings(self, host: Host, cell_id: str, warnings: list[Diagnostic]) -> None:
        """A cell executed: its warnings replace the previous execution's (none: cleared)."""
        view = host.snapshot.cells.get(cell_id) if host.snapshot is not None else None
        if warnings:
            host.run_warnings[cell_id] = (view.source if view is not None else None, warnings)
        elif host.run_warnings.pop(cell_id, None) is None:
            return
        self._publish(host, self._route(host, host.snapshot))

    def _cell_warnings(
        self, host: Host, snapshot: Snapshot, cell_id: str
    ) -> tuple[list[Diagnostic], list[Diagnostic]]:
        """(The run warnings shown on one cell now, all its run warnings)."""
        source, warnings = host.run_warnings.get(cell_id, (None, []))
        view = snapshot.cells.get(cell_id)
        return (warnings if view is not None and view.source == source else []), warnings

    def _current_warnings(self, host: Host, snapshot: Snapshot) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for cell_id, (source, warnings) in host.run_warnings.items():
            view = snapshot.cells.get(cell_id)
            if view is not None and view.source == source:  # else the lines moved
                out.extend(warnings)
        return out

    def _route(self, host: Host, snapshot: Snapshot | None) -> dict[str, list[Diagnostic]]:
        """Each diagnostic to the documents showing its file (notebook-level ones and those
        about notebook.toml go to notebook.toml)."""
        refs = self.documents.in_directory(host.directory)
        manifest = self._manifest_ref(host)
        manifest_uri = manifest.uri if manifest else from_fs_path(str(host.manifest_path))
        grouped: dict[str, list[Diagnostic]] = {manifest_uri or "": list(host.manifest_problems)}
        by_file: dict[str, list[str]] = {}
        cells = _cell_index(host, snapshot.notebook) if snapshot is not None else None
        for ref in refs:
            if ref.kind == "cell":
                grouped[ref.uri] = []
                cell_id = ref.cell_in(cells) if cells is not None else None
                view = snapshot.cells.get(cell_id) if snapshot and cell_id else None
                if view is not None:
                    by_file.setdefault(view.file, []).append(ref.uri)
        found = snapshot.all_diagnostics() if snapshot else []
        for diag in [*found, *(self._current_warnings(host, snapshot) if snapshot else [])]:
            file = diag.file or MANIFEST
            if file == MANIFEST and host.manifest_problems:
                continue  # positions refer to a manifest text the editor no longer shows
            targets = [manifest_uri or ""] if file == MANIFEST else by_file.get(file, [])
            for uri in targets:
                grouped[uri].append(diag)
        grouped.pop("", None)
        host.route_plan = None
        if snapshot is not None:
            warnings = {c: w for c, (_, w) in host.run_warnings.items()}
            host.route_plan = plan_route(refs, snapshot, by_file, warnings)
        return grouped

    def _publish(
        self,
        host: Host,
        grouped: dict[str, list[Diagnostic]],
        touched: Collection[str] | None = None,
    ) -> None:
        """Send what changed; `touched`: the only documents whose lists may differ from
        what was published (the others are the same list objects)."""
        if touched is None:
            for uri, diagnostics in grouped.items():
                if uri in host.dirty or host.published.get(uri) != diagnostics:
                    self._send(uri, diagnostics)
            for uri in set(host.published) - set(grouped):
                self.outbox.publish(uri, None, [])
        else:
            for uri in {*touched, *host.dirty}:
                found = grouped.get(uri)
                if found is not None and (uri in host.dirty or host.published.get(uri) != found):
                    self._send(uri, found)
        host.published = grouped
        host.dirty.clear()

    def _send(self, uri: str, diagnostics: list[Diagnostic]) -> None:
        lines, version = self.lines(uri)
        codec = self.outbox.workspace.position_codec
        converted = [to_diagnostic(d, lines, codec) for d in diagnostics]
        self.outbox.publish(uri, version, converted)

    # -- documents ---------------------------------------------------------------------------
    def _manifest_ref(self, host: Host) -> DocRef | None:
        refs = self.documents.in_directory(host.directory)
        return next((r for r in refs if r.kind == "manifest"), None)

    def _text(self, uri: str) -> str | None:
        document = self.outbox.workspace.text_documents.get(_key(uri))
        return document.source if document is not None else None

    def lines(self, uri: str) -> tuple[Sequence[str], int | None]:
        """The lines of a document (open, else read from disk) and its version."""
        document = self.outbox.workspace.text_documents.get(_key(uri))
        if document is not None:
            return split_lines(document.source), document.version
        try:
            text = self.outbox.workspace.get_text_document(uri).source
        except OSError:
            text = ""
        return split_lines(text), None

    def manifest_text(self, host: Host) -> str | None:
        ref = self._manifest_ref(host)
        return self._text(ref.uri) if ref is not None else None


def _full_analysis(
    session: Session, overrides: dict[str, str], current: Callable[[], bool]
) -> tuple[Snapshot, dict[str, CellStatus]] | None:
    """Every cell analyzed and keyed afresh (what `Incremental.full` does, without touching
    the editor's incremental state: this runs off the event loop). None when an edit came
    before the keys (`current()` false): the result would be dropped."""
    snapshot = session.snapshot(overrides)
    return (snapshot, session.states(snapshot)) if current() else None


def _cell_index(host: Host, notebook: Notebook) -> CellIndex:
    if host.cell_index is None or host.cell_index[0] is not notebook:
        host.cell_index = (notebook, CellIndex(notebook))
    return host.cell_index[1]


@lru_cache(maxsize=1 << 16)
def _key(uri: str) -> str:
    """pygls keys its documents by the unquoted URI (memoized: every cell's, per keystroke)."""
    return unquote(uri)
