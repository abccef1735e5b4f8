"""Snapshots and states of a notebook whose cell texts change one keystroke at a time.

The editor re-analyzes the whole notebook after every edit. On a 2,000-cell notebook, redoing
each cell's analysis and key costs seconds although one cell changed. `Incremental` keeps the
previous snapshot and states of one `Session` and redoes only what the edit can reach:

- only the edited cells are analyzed again (`analysis.edits`): when they define, read and
  `@after` what they did, the graph is shared and only they are checked again; else the
  graph is updated in place (sharing every cell's producers and edges it did not wire
  again) and the cells whose graph diagnostics may differ are re-checked too.
  `changed` then says which cells' views and statuses were redone, so the editor
  republishes just those;
- variants, `@loop` coming or going, many cells at once: a cell whose text is unchanged
  keeps its analyzed view (`take_snapshot(reuse=)`) while the graph and every check are
  redone;
- a cell keeps its status unless its view, producers or `@after` changed, or it lies
  downstream of such a cell (its key depends on their keys and outputs); after an edit only
  that cone is keyed again, over the statuses of its upstream.

The result equals a full recomputation over the same store, environment and external state.
What lies outside the notebook's text (an installed package, a project module, a mount's
listing) is probed again by `full()`: callers take one when anything but cell text may have
changed, and when the user pauses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from strata_engine.analysis.edits import edit_snapshot
from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.cache.state import CellStatus
from strata_engine.run.session import Session


@dataclass(frozen=True)
class Changed:
    """What one `update` changed: everything else is as the call before left it."""

    views: frozenset[str]
    """Cells whose view (text, analysis, diagnostics) was replaced."""
    states: frozenset[str]
    """Cells whose status was computed again (it may still be equal)."""


class Incremental:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.snapshot: Snapshot | None = None
        self.states: dict[str, CellStatus] = {}
        self.changed: Changed | None = None
        """What the last call changed, when it knows (None: anything may have)."""
        self._overridden: frozenset[str] = frozenset()

    def invalidate(self) -> None:
        """Forget everything: the next `update` recomputes every cell."""
        self.snapshot = None
        self.states = {}
        self.changed = None

    def full(self, overrides: Mapping[str, str]) -> tuple[Snapshot, dict[str, CellStatus]]:
        """Every cell analyzed and keyed again, probing everything outside the notebook."""
        self.invalidate()
        return self.update(overrides)

    def update(self, overrides: Mapping[str, str]) -> tuple[Snapshot, dict[str, CellStatus]]:
        """The snapshot and states for `overrides`, reusing what the last call computed."""
        previous = self._previous()
        if previous is not None and self.states:
            edited = self._edited(previous, overrides)
            snapshot = edit_snapshot(previous, edited) if edited is not None else None
            if snapshot is not None:
                return self._edit(previous, snapshot, set(edited or ()))
        self.changed = None
        self._overridden = frozenset(overrides)
        reuse_views = previous.bases if previous is not None else None
        snapshot = self.session.snapshot(overrides, reuse=reuse_views)
        reuse = reusable_states(previous, snapshot, self.states) if previous else None
        self.states = self.session.states(snapshot, reuse=reuse)
        self.snapshot = snapshot
        return snapshot, self.states

    def adopt(
        self, overrides: Mapping[str, str], snapshot: Snapshot, states: dict[str, CellStatus]
    ) -> None:
        """Take a snapshot and states of `overrides` computed elsewhere (a full refresh off
        the editor's thread) as the base of the next `update`."""
        self.snapshot, self.states, self.changed = snapshot, states, None
        self._overridden = frozenset(overrides)

    def _edited(self, previous: Snapshot, overrides: Mapping[str, str]) -> dict[str, str] | None:
        """Cell id -> new text of the cells whose text differs from `previous` (None: the
        set of overridden cells changed, so texts on disk may have come back)."""
        if len(overrides) != len(self._overridden) or not self._overridden.issuperset(overrides):
            return None
        cells = previous.cells
        edited: dict[str, str] = {}
        for cell_id, text in overrides.items():
            view = cells.get(cell_id)
            if view is None:
                return None
            if view.source is not text and view.source != text:
                edited[cell_id] = text
        return edited

    def _edit(
        self, previous: Snapshot, snapshot: Snapshot, edited: set[str]
    ) -> tuple[Snapshot, dict[str, CellStatus]]:
        """The states after an edit: the changed cells (the edited ones, or when the graph
        changed those `_cell_changed` finds) and their downstream are keyed again (over the
        statuses of their upstream), the rest keep their status."""
        graph = snapshot.graph
        if graph is previous.graph:
            changed, views = edited, frozenset(edited)
        else:
            views, changed = _changed_cells(previous, snapshot)
        cone = set(changed) | graph.downstream_of(changed)
        closure = cone | graph.upstream_of(cone)
        reuse = {c: self.states[c] for c in closure - cone if c in self.states}
        # The session drops its memo of the index (and `reuse`) when the store changed.
        lookups = self.session.lookups
        redone = self.session.states(snapshot, only=closure, reuse=reuse)
        if lookups is None or self.session.lookups is not lookups:
            states = self.session.states(snapshot)
            cone = set(states)  # every status was computed again
        else:
            states = dict(self.states)
            states.update((c, redone[c]) for c in cone if c in redone)
        self.snapshot, self.states = snapshot, states
        self.changed = Changed(views, frozenset(cone))
        return snapshot, self.states

    def _previous(self) -> Snapshot | None:
        """The last snapshot, if it describes the notebook the session holds now."""
        previous = self.snapshot
        if previous is None or previous.notebook is not self.session.notebook:
            return None  # notebook.toml changed: every cell's settings may have
        if previous.worker_override != self.session.worker:
            return None
        return previous


def _changed_cells(previous: Snapshot, current: Snapshot) -> tuple[frozenset[str], set[str]]:
    """The cells whose view was replaced, and those `reusable_states` counts as changed.

    A graph updated in place (analysis/graph_update.py) shares the producers and
    predecessors of the cells it did not wire again, so only the cells with a new view or
    new ones of those are compared (a graph built again shares nothing: every cell is)."""
    old, new = previous.graph, current.graph
    if old.variants or new.variants or old.per_variant or new.per_variant:
        views = frozenset(c for c, v in current.cells.items() if previous.cells.get(c) is not v)
        return views, set(current.cells)  # as `reusable_states`: nothing kept
    before = previous.cells
    views_list: list[str] = []
    changed: set[str] = set()
    for cell_id, view in current.cells.items():
        if before.get(cell_id) is not view:
            views_list.append(cell_id)
        elif new.shares_wiring(old, cell_id):
            continue
        if _cell_changed(cell_id, view, previous, current):
            changed.add(cell_id)
    return frozenset(views_list), changed


def reusable_states(
    previous: Snapshot, current: Snapshot, states: Mapping[str, CellStatus]
) -> dict[str, CellStatus]:
    """The statuses of `previous` that still hold in `current` (same store assumed)."""
    old, new = previous.graph, current.graph
    if old.variants or new.variants or old.per_variant or new.per_variant:
        return {}  # variant slots reach across cells in ways not tracked here
    changed = {
        cell_id
        for cell_id, view in current.cells.items()
        if _cell_changed(cell_id, view, previous, current)
    }
    if not changed:
        return {c: s for c, s in states.items() if c in current.cells}
    cone = changed | new.downstream_of(changed)
    return {c: s for c, s in states.items() if c in current.cells and c not in cone}


def _cell_changed(cell_id: str, view: CellView, previous: Snapshot, current: Snapshot) -> bool:
    before = previous.cells.get(cell_id)
    if before is None or before.cell is not view.cell or before.source != view.source:
        return True
    if before.analysis is not view.analysis or before.diagnostics != view.diagnostics:
        return True  # re-analyzed, or a graph diagnostic (cycle, ...) came or went
    old, new = previous.graph, current.graph
    if old is new:
        return False  # the same cells' edges (analysis.graph shares an unchanged graph)
    if old.producers.get(cell_id) != new.producers.get(cell_id):
        return True
    if old.direct_upstream(cell_id) != new.direct_upstream(cell_id):
        return True  # an `@after` edge (keys of those cells enter this one's)
    return (cell_id in old.inactive) != (cell_id in new.inactive)
