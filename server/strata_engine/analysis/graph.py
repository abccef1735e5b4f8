"""The cell DAG of SPEC 5: producers, `@after` edges, cycles and the execution order.

Pure and linear in the size of the notebook (plus a log factor for the ordering heap): the
language server rebuilds it on every keystroke. Variant selection is the caller's job: pass
only the cells that are in the DAG.
"""

from __future__ import annotations

import builtins
import heapq
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

IMPLICIT_NAMES: frozenset[str] = frozenset(dir(builtins)) | {"display", "Markdown"}
"""Names a cell may read without a producer: builtins plus what every Python cell gets
(SPEC 8). A cell that defines one of them still becomes its producer for later readers."""


@dataclass(frozen=True, slots=True)
class GraphCell:
    id: str
    defines: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    variable: str | None
    """The variable the target reads from the source; None for an `@after` edge."""


@dataclass
class Graph:
    order: list[str]
    """Topological order, notebook order wherever edges allow; cells on (or after) a cycle
    are appended in notebook order so callers can still report them."""
    edges: list[Edge]
    producers: dict[str, dict[str, str]]
    """cell id -> {variable it reads -> producer cell id}."""
    consumers: dict[str, dict[str, list[str]]]
    """cell id -> {variable it defines -> ids of the cells that read it from this cell}."""
    cycles: list[list[str]]
    """Each strongly connected group of cells, in notebook order."""
    forward_references: list[tuple[str, str, str]]
    """(cell id, variable, the first later cell that defines it)."""
    position: dict[str, int] = field(default_factory=dict)
    _predecessors: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _successors: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def upstream(self, cell_id: str) -> set[str]:
        """Every cell `cell_id` depends on, transitively (itself excluded unless on a cycle)."""
        return _reachable(cell_id, self._predecessors)

    def downstream(self, cell_id: str) -> set[str]:
        """Every cell depending on `cell_id`, transitively (itself excluded unless on a cycle)."""
        return _reachable(cell_id, self._successors)

    def direct_upstream(self, cell_id: str) -> set[str]:
        return set(self._predecessors.get(cell_id, ()))

    def direct_downstream(self, cell_id: str) -> set[str]:
        return set(self._successors.get(cell_id, ()))


def _reachable(start: str, adjacency: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    queue = deque(adjacency.get(start, ()))
    while queue:
        node = queue.popleft()
        if node not in seen:
            seen.add(node)
            queue.extend(adjacency.get(node, set()) - seen)
    return seen


def build_graph(
    cells: Sequence[GraphCell], *, implicit_names: Collection[str] = IMPLICIT_NAMES
) -> Graph:
    """Wire every reference to the nearest preceding definer (SPEC 5).

    Cell ids are assumed unique (`duplicate_cell_id` is reported elsewhere): a repeated id
    is ignored after its first occurrence. `@after` ids that are unknown or the cell itself
    are ignored here (`checks.check_cell_context` reports them).
    """
    unique = _unique(cells)
    position = {cell.id: index for index, cell in enumerate(unique)}
    graph = Graph([], [], {c.id: {} for c in unique}, {c.id: {} for c in unique}, [], [])
    graph.position = position
    graph._predecessors = {c.id: set() for c in unique}
    graph._successors = {c.id: set() for c in unique}
    _wire(unique, graph, implicit_names)
    order, placed = _topological_order(unique, position, graph._predecessors, graph._successors)
    graph.order = order
    graph.cycles = _cycles(order[placed:], position, graph._successors)
    return graph


def _unique(cells: Sequence[GraphCell]) -> list[GraphCell]:
    seen: set[str] = set()
    unique = []
    for cell in cells:
        if cell.id not in seen:
            seen.add(cell.id)
            unique.append(cell)
    return unique


def _wire(cells: list[GraphCell], graph: Graph, implicit_names: Collection[str]) -> None:
    """Edges, producers, consumers and forward references in one pass over the cells.

    Edges come out sorted by (target, source, variable) because cells are visited in order
    and each cell's few incoming edges are sorted on the spot (no global sort).
    """
    position = graph.position
    latest: dict[str, str] = {}
    definers: dict[str, list[int]] = {}
    unresolved: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
        produced = graph.producers[cell.id]
        incoming: set[tuple[int, bool, str, str]] = set()  # (source position, is variable, ...)
        for name in cell.references:
            producer = latest.get(name)
            if producer is not None:
                produced[name] = producer
                incoming.add((position[producer], True, name, producer))
            elif name not in implicit_names:
                unresolved.append((index, name))
        for source in cell.after:
            if source in position and source != cell.id:
                incoming.add((position[source], False, "", source))
        for _, is_variable, name, source in sorted(incoming):
            graph.edges.append(Edge(source, cell.id, name if is_variable else None))
            graph._predecessors[cell.id].add(source)
            graph._successors[source].add(cell.id)
            if is_variable:
                graph.consumers[source].setdefault(name, []).append(cell.id)
        for name in cell.defines:
            latest[name] = cell.id
            definers.setdefault(name, []).append(index)
    for index, name in dict.fromkeys(unresolved):
        # No cell before `index` defines `name`, so its definers all come at or after it.
        later = next((i for i in definers.get(name, ()) if i > index), None)
        if later is not None:
            graph.forward_references.append((cells[index].id, name, cells[later].id))


def _topological_order(
    cells: list[GraphCell],
    position: dict[str, int],
    predecessors: dict[str, set[str]],
    successors: dict[str, set[str]],
) -> tuple[list[str], int]:
    """Kahn's algorithm always taking the ready cell that comes first in the notebook.

    Returns the order and how many cells it could place; the rest (cells on a cycle or
    behind one) follow in notebook order.
    """
    waiting = {cell.id: len(predecessors[cell.id]) for cell in cells}
    ready = [position[cell_id] for cell_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        cell_id = cells[heapq.heappop(ready)].id
        order.append(cell_id)
        for successor in successors[cell_id]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                heapq.heappush(ready, position[successor])
    placed = len(order)
    if placed < len(cells):
        done = set(order)
        order += [cell.id for cell in cells if cell.id not in done]
    return order, placed


def _cycles(
    unplaced: list[str], position: dict[str, int], successors: dict[str, set[str]]
) -> list[list[str]]:
    """Groups of cells that reach each other (strongly connected, more than one cell).

    Only cells Kahn could not place can be on a cycle, so the search is limited to them.
    """
    inside = set(unplaced)
    groups = _strongly_connected(unplaced, {n: successors[n] & inside for n in unplaced})
    cycles = [sorted(group, key=position.__getitem__) for group in groups if len(group) > 1]
    cycles.sort(key=lambda group: position[group[0]])
    return cycles


def _strongly_connected(nodes: list[str], successors: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so that a long chain cannot exhaust the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c not in index or c in on_stack), None)
            if child is not None and child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(successors[child])))
                continue
            if child is not None:
                low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                groups.append(_pop_group(stack, on_stack, node))
    return groups


def _pop_group(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    group = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        group.append(member)
        if member == root:
            return group
