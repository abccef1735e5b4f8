"""A snapshot after an edit of a few cells' text, sharing what the edit cannot reach.

On a 2,000-cell notebook, `take_snapshot` walks every cell several times (views, graph
inputs, graph checks, loop and kind checks) although a keystroke changes one cell. When the
edited cells define, read and `@after` the same names as before (most keystrokes), the graph
is the same, so every other cell's view and graph diagnostics are too: only the edited
cells are analyzed and checked again, and the rest of the snapshot is shared. When those
names changed (typing a new name), the graph is updated in place (`graph_update`: only the
cells the change reaches are wired again), and besides the edited cells only the cells whose
graph diagnostics may differ (on a cycle or a forward reference, before or after, or reading
from other producers) are checked again.

Variants, or an edit that adds or removes `@loop`, return None: the caller takes a full
snapshot. The result otherwise equals `take_snapshot`'s.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from strata_engine.analysis.checks import check_graph, check_loop_context
from strata_engine.analysis.graph import Graph, GraphCell, build_graph
from strata_engine.analysis.graph_update import remember, update_graph
from strata_engine.analysis.snapshot import CellView, Snapshot, _mount_names, _view
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.manifest_checks import place_load_diagnostics

MAX_EDITED = 8
"""More cells edited at once than this: a full snapshot (e.g. a find-and-replace)."""


def edit_snapshot(
    previous: Snapshot, sources: Mapping[str, str | None], *, check_imports: bool = True
) -> Snapshot | None:
    """`previous` with the cells of `sources` (cell id -> new text) analyzed again, or None
    when the edit may change the graph (the caller takes a full snapshot).

    `previous` must be a snapshot of the notebook as it is now, taken with `check_imports`."""
    old_graph = previous.graph
    if len(sources) > MAX_EDITED or old_graph.variants or old_graph.per_variant:
        return None
    if old_graph.inactive:
        return None
    notebook = previous.notebook
    views = dict(previous.cells)
    bases = dict(previous.bases)
    edited: dict[str, CellView] = {}
    load_diags: dict[str | None, list[Diagnostic]] | None = None
    cell_ids = frozenset(views)
    for cell_id, source in sources.items():
        before = bases.get(cell_id)
        if before is None:
            return None
        if load_diags is None:
            load_diags = _load_diagnostics(previous)
        placement = (previous.worker_override, check_imports)
        diags = load_diags.get(cell_id, [])
        base = _view(notebook, before.cell, source, cell_ids, diags, placement)
        if not _same_checks_inputs(before, base):
            return None
        bases[cell_id] = edited[cell_id] = base
    if not edited:
        return previous
    graph = old_graph
    checked = set(edited)
    touched: Collection[str] = ()
    if not all(_same_graph_inputs(previous.bases[c], base) for c, base in edited.items()):
        graph, touched = _rewire(old_graph, bases, edited)
        checked |= _graph_changes(old_graph, graph, touched)
    # No `flush`: writing the stored analyses (every few new texts) would cost a keystroke
    # tens of ms; the next full pass writes what these added.
    for cell_id in checked:
        base = bases[cell_id]
        graph_diags = _graph_diagnostics(previous, base, graph, cell_ids)
        diagnostics = [*base.diagnostics, *graph_diags]
        views[cell_id] = CellView(
            base.cell, base.source, base.annotations, base.analysis, diagnostics
        )
    snapshot = Snapshot(
        notebook,
        views,
        graph,
        list(previous.diagnostics),
        worker_override=previous.worker_override,
        mount_max_age=previous.mount_max_age,
        bases=bases,
    )
    # Placements and mounts of the other cells depend on their own text and the graph only
    # (copied whole, then the edited cells dropped: C speed over 2,000 cells).
    snapshot._placements.update(previous._placements)
    snapshot._mounts.update(previous._mounts)
    produced, old_produced = graph.producers, old_graph.producers
    for cell_id in edited:
        snapshot._placements.pop(cell_id, None)
        snapshot._mounts.pop(cell_id, None)
    for cell_id in touched:  # a cell's mounts depend on its producers
        if produced.get(cell_id) is not old_produced.get(cell_id):
            snapshot._mounts.pop(cell_id, None)
    return snapshot


def _rewire(
    old: Graph, bases: dict[str, CellView], edited: Mapping[str, CellView]
) -> tuple[Graph, Collection[str]]:
    """The graph of these views (no variants: `take_snapshot`'s graph without slots), and
    the cells whose producers or forward references may differ from `old`'s."""
    updated = update_graph(old, {c: _graph_cell(v) for c, v in edited.items()})
    if updated is not None:
        remember(updated[0])  # the pause-time full snapshot finds it
        return updated
    return build_graph([_graph_cell(v) for v in bases.values()]), bases.keys()


def _graph_cell(view: CellView) -> GraphCell:
    return GraphCell(
        view.id, view.analysis.defines, view.analysis.references, view.annotations.after
    )


def _graph_changes(old: Graph, new: Graph, touched: Collection[str]) -> set[str]:
    """Cells whose graph diagnostics may differ between `old` and `new`: every member of a
    cycle that is not in both, every cell with a forward reference in only one, and every
    cell of `touched` whose producers differ (a prompt's placeholders)."""
    out: set[str] = set()
    old_cycles = {tuple(c) for c in old.cycles}
    new_cycles = {tuple(c) for c in new.cycles}
    for cycle in old_cycles ^ new_cycles:
        out.update(cycle)
    old_forward, new_forward = set(old.forward_references), set(new.forward_references)
    out.update(cell_id for cell_id, _, _ in old_forward ^ new_forward)
    old_produced, new_produced = old.producers, new.producers
    out.update(c for c in touched if old_produced.get(c) != new_produced.get(c))
    return out


def _load_diagnostics(snapshot: Snapshot) -> dict[str | None, list[Diagnostic]]:
    notebook = snapshot.notebook
    out: dict[str | None, list[Diagnostic]] = {}
    for diag in place_load_diagnostics(notebook, notebook.diagnostics):
        out.setdefault(diag.cell_id, []).append(diag)
    return out


def _same_checks_inputs(before: CellView, after: CellView) -> bool:
    """Whether the other cells' own checks see this cell as they did (and no variant)."""
    old, new = before.annotations, after.annotations
    return (
        old.variant is None
        and new.variant is None
        and old.per_variant is None
        and new.per_variant is None
        and (old.loop is None) == (new.loop is None)
    )


def _same_graph_inputs(before: CellView, after: CellView) -> bool:
    """Whether the graph sees this cell as it did."""
    return (
        before.analysis.defines == after.analysis.defines
        and before.analysis.references == after.analysis.references
        and before.annotations.after == after.annotations.after
    )


def _graph_diagnostics(
    previous: Snapshot, view: CellView, graph: Graph, cell_ids: frozenset[str]
) -> list[Diagnostic]:
    """What `take_snapshot` adds to this one cell's view from the graph, in its order."""
    cell_id, file = view.id, view.file
    out = check_graph(
        graph,
        files={cell_id: file},
        analyses={cell_id: view.analysis},
        annotations={cell_id: view.annotations},
        mounted={cell_id: _mount_names(previous.notebook, view)},
        only=cell_id,
    )
    loop_cells: list[str] = []
    if view.annotations.loop is not None:  # only a `start_from` reads the other loop cells
        loop_cells = [v.id for v in previous.bases.values() if v.annotations.loop is not None]
    out += check_loop_context(
        cell_id,
        file,
        view.annotations,
        view.analysis,
        cell_ids=cell_ids,
        loop_cell_ids=loop_cells,
    )
    out += view.kind.check_in_graph(cell_id, file, view.analysis, graph)
    return out
