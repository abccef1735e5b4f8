"""Snapshots and states of a notebook whose cell texts change one keystroke at a time.

The editor re-analyzes the whole notebook after every edit. On a 2,000-cell notebook, redoing
each cell's analysis and key costs seconds although one cell changed. `Incremental` keeps the
previous snapshot and states of one `Session` and redoes only what the edit can reach:

- a cell whose text is unchanged keeps its analyzed view (`take_snapshot(reuse=)`); the graph
  and its checks are rebuilt (cheap, and an edit anywhere may change any cell's edges);
- a cell keeps its status unless its view, producers or `@after` changed, or it lies
  downstream of such a cell (its key depends on their keys and outputs).

The result equals a full recomputation over the same store, environment and external state.
What lies outside the notebook's text (an installed package, a project module, a mount's
listing) is probed again by `full()`: callers take one when anything but cell text may have
changed, and when the user pauses.
"""

from __future__ import annotations

from collections.abc import Mapping

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.cache.state import CellStatus
from strata_engine.run.session import Session


class Incremental:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.snapshot: Snapshot | None = None
        self.states: dict[str, CellStatus] = {}

    def invalidate(self) -> None:
        """Forget everything: the next `update` recomputes every cell."""
        self.snapshot = None
        self.states = {}

    def full(self, overrides: Mapping[str, str]) -> tuple[Snapshot, dict[str, CellStatus]]:
        """Every cell analyzed and keyed again, probing everything outside the notebook."""
        self.invalidate()
        return self.update(overrides)

    def update(self, overrides: Mapping[str, str]) -> tuple[Snapshot, dict[str, CellStatus]]:
        """The snapshot and states for `overrides`, reusing what the last call computed."""
        previous = self._previous()
        reuse_views = previous.bases if previous is not None else None
        snapshot = self.session.snapshot(overrides, reuse=reuse_views)
        reuse = reusable_states(previous, snapshot, self.states) if previous else None
        self.states = self.session.states(snapshot, reuse=reuse)
        self.snapshot = snapshot
        return snapshot, self.states

    def _previous(self) -> Snapshot | None:
        """The last snapshot, if it describes the notebook the session holds now."""
        previous = self.snapshot
        if previous is None or previous.notebook is not self.session.notebook:
            return None  # notebook.toml changed: every cell's settings may have
        if previous.worker_override != self.session.worker:
            return None
        return previous


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
    cone = set(changed)
    for cell_id in changed:
        cone |= new.downstream(cell_id)
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
