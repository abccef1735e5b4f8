"""The graph after a few cells changed what they define, read or `@after`, without wiring
every cell again.

Typing an identifier changes the edited cell's definitions or references on every
character; wiring a 2,000-cell notebook again costs tens of ms. Only these can differ:

- the edited cells' producers, incoming edges and forward references;
- those of every cell reading a name whose definers changed (its producer, or the later
  definer its forward reference names, may be another cell now);
- the consumers of every source that gained or lost one of those edges.

The order is notebook order whenever every edge points forward (variable edges always do:
a producer precedes its reader; only an `@after` a later cell points back), and then there
is no cycle. Otherwise the old order is kept when edges were only added along it (the
smallest order by position of a graph stays the smallest once edges it already satisfies
are added), else Kahn and Tarjan run again over the new edges. The result equals
`build_graph` of the same cells (tests/engine/test_graph_update.py checks it field by field).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping

from strata_engine.analysis import graph as graph_module
from strata_engine.analysis.graph import (
    IMPLICIT_NAMES,
    Edge,
    Graph,
    GraphCell,
    UpdateIndex,
    _cycles,
    _topological_order,
)


def update_graph(
    old: Graph,
    replaced: Mapping[str, GraphCell],
    *,
    implicit_names: Collection[str] = IMPLICIT_NAMES,
) -> tuple[Graph, set[str]] | None:
    """The graph of `old`'s cells with `replaced` (cell id -> its new graph inputs), and
    the cells whose producers, incoming edges or forward references may differ; None when
    this cannot be done in place (variants, an unknown cell, another `implicit_names`):
    build the graph instead."""
    if old.variants or old.per_variant or old.inactive or old._implicit is not implicit_names:
        return None
    if any(c.variant is not None or c.id not in old.position for c in replaced.values()):
        return None
    changed = {c: cell for c, cell in replaced.items() if old._cells[c] != cell}
    new = _copy(old)
    if not changed:
        return new, set()
    names = _update_indexes(new, old, changed)
    readers = _index(new).readers
    targets = set(changed)
    for name in names:
        targets |= readers.get(name, set())
    sources, added_only = _rewire_targets(new, old, targets, implicit_names)
    for source in sources:
        new.consumers[source] = _consumers_of(new, source)
    new.edges = _splice(old.edges, new, targets)
    _order(new, old, added_only)
    return new, targets | sources


def _copy(old: Graph) -> Graph:
    """A new graph sharing every per-cell value of `old` (replaced, never mutated)."""
    new = Graph(
        old.order,
        old.edges,
        dict(old.producers),
        dict(old.consumers),
        old.cycles,
        list(old.forward_references),
    )
    new.position = old.position
    new._predecessors = dict(old._predecessors)
    new._successors = dict(old._successors)
    new._cells = dict(old._cells)
    new._ids = old._ids
    index = _index(old)
    new._index = UpdateIndex(
        dict(index.definers), dict(index.readers), dict(index.incoming), index.backward
    )
    new._implicit = old._implicit
    return new


def _index(graph: Graph) -> UpdateIndex:
    """`graph`'s update index, made once from its cells and edges (a private cache: the
    same for every caller)."""
    if graph._index is not None:
        return graph._index
    position = graph.position
    definers: dict[str, list[int]] = {}
    readers: dict[str, set[str]] = {}
    for cell in graph._cells.values():
        where = position[cell.id]
        for name in cell.defines:
            positions = definers.setdefault(name, [])
            if not positions or positions[-1] != where:
                positions.append(where)
        for name in cell.references:
            readers.setdefault(name, set()).add(cell.id)
    incoming: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        incoming.setdefault(edge.target, []).append(edge)
    graph._index = UpdateIndex(definers, readers, incoming, _backward(graph, graph.edges))
    return graph._index


def _update_indexes(new: Graph, old: Graph, changed: Mapping[str, GraphCell]) -> set[str]:
    """Definers and readers of the changed cells' names; returns the names whose definers
    changed."""
    names: set[str] = set()
    index = _index(new)
    definers, readers = index.definers, index.readers
    for cell_id, cell in changed.items():
        before = old._cells[cell_id]
        new._cells[cell_id] = cell
        where = new.position[cell_id]
        gone, came = (
            set(before.defines) - set(cell.defines),
            set(cell.defines) - set(before.defines),
        )
        for name in gone:
            definers[name] = [i for i in definers.get(name, ()) if i != where]
        for name in came:
            positions = list(definers.get(name, ()))
            if where not in positions:
                bisect.insort(positions, where)
            definers[name] = positions
        names |= gone | came
        read_before, read_now = set(before.references), set(cell.references)
        for name in read_before - read_now:
            readers[name] = readers.get(name, set()) - {cell_id}
        for name in read_now - read_before:
            readers[name] = readers.get(name, set()) | {cell_id}
    return names


def _rewire_targets(
    new: Graph, old: Graph, targets: set[str], implicit_names: Collection[str]
) -> tuple[set[str], bool]:
    """Producers, incoming edges and forward references of `targets`; returns the sources
    whose outgoing edges changed and whether edges were only added."""
    sources: set[str] = set()
    added_only = True
    index = _index(new)
    forward = [f for f in new.forward_references if f[0] not in targets]
    for target in targets:
        produced, incoming, found = _wire_one(new, new._cells[target], implicit_names)
        new.producers[target] = produced
        forward += found
        before = _index(old).incoming.get(target, [])
        if incoming == before:
            continue
        index.incoming[target] = incoming
        index.backward += _backward(new, incoming) - _backward(new, before)
        old_sources = {e.source for e in before}
        new_sources = {e.source for e in incoming}
        added_only = added_only and set(before) <= set(incoming)
        sources |= old_sources | new_sources
        new._predecessors[target] = new_sources
        for source in old_sources - new_sources:
            new._successors[source] = new._successors[source] - {target}
        for source in new_sources - old_sources:
            new._successors[source] = new._successors[source] | {target}
    position = new.position
    forward.sort(key=lambda f: position[f[0]])  # stable: a cell's own keep reference order
    new.forward_references = forward
    return sources, added_only


def _wire_one(
    graph: Graph, cell: GraphCell, implicit_names: Collection[str]
) -> tuple[dict[str, str], list[Edge], list[tuple[str, str, str]]]:
    """One cell's producers, sorted incoming edges and forward references, as `_wire`."""
    position, ids, definers = graph.position, graph._ids, _index(graph).definers
    where = position[cell.id]
    produced: dict[str, str] = {}
    incoming: set[tuple[int, bool, str, str]] = set()
    forward: dict[str, str] = {}
    for name in cell.references:
        positions = definers.get(name, ())
        before = bisect.bisect_left(positions, where)
        if before == 0:
            if name not in implicit_names and name not in forward:
                later = bisect.bisect_right(positions, where)
                if later < len(positions):
                    forward[name] = ids[positions[later]]
            continue
        source = ids[positions[before - 1]]
        produced[name] = source
        incoming.add((positions[before - 1], True, name, source))
    for source in cell.after:
        if source in position and source != cell.id:
            incoming.add((position[source], False, "", source))
    edges = [
        Edge(source, cell.id, name if is_variable else None)
        for _, is_variable, name, source in sorted(incoming)
    ]
    return produced, edges, [(cell.id, name, later) for name, later in forward.items()]


def _splice(edges: list[Edge], graph: Graph, targets: set[str]) -> list[Edge]:
    """`edges` (sorted by target position) with the slices of `targets` replaced by their
    new incoming edges: a few binary searches and slice copies, not a walk of every cell."""
    position, incoming = graph.position, _index(graph).incoming

    def where(edge: Edge) -> int:
        return position[edge.target]

    out: list[Edge] = []
    start = 0
    for target in sorted(targets, key=position.__getitem__):
        at = position[target]
        low = bisect.bisect_left(edges, at, lo=start, key=where)
        out += edges[start:low]
        out += incoming.get(target, ())
        start = bisect.bisect_right(edges, at, lo=low, key=where)
    out += edges[start:]
    return out


def _backward(graph: Graph, edges: list[Edge]) -> int:
    position = graph.position
    return sum(position[e.source] > position[e.target] for e in edges)


def _consumers_of(graph: Graph, source: str) -> dict[str, list[str]]:
    """`_wire`'s consumers of `source`: targets in notebook order, each one's names sorted."""
    out: dict[str, list[str]] = {}
    for target in sorted(graph._successors[source], key=graph.position.__getitem__):
        for edge in _index(graph).incoming[target]:
            if edge.source == source and edge.variable is not None:
                out.setdefault(edge.variable, []).append(target)
    return out


def _order(new: Graph, old: Graph, added_only: bool) -> None:
    if _index(new).backward == 0:
        new.order = old.order if _index(old).backward == 0 else list(new._ids)
        new.cycles = []
        return
    if added_only and not old.cycles and _along(new, old.order):
        new.order, new.cycles = old.order, []
        return
    cells = list(new._cells.values())
    order, placed = _topological_order(cells, new.position, new._predecessors, new._successors)
    new.order = order
    new.cycles = _cycles(order[placed:], new.position, new._successors)


def _along(graph: Graph, order: list[str]) -> bool:
    """Whether every edge of `graph` goes forward in `order`."""
    rank = {cell_id: index for index, cell_id in enumerate(order)}
    return all(rank[e.source] < rank[e.target] for e in graph.edges)


def remember(graph: Graph) -> None:
    """Make `build_graph` of the same cells return `graph` (a full snapshot after edits)."""
    graph_module._last = (tuple(graph._cells.values()), graph._implicit or (), graph)
