"""The cell DAG of SPEC 5: producers, `@after` edges, cycles and the execution order.

Pure and linear in the size of the notebook (plus a log factor for the ordering heap): a
full snapshot builds it; a keystroke that changes a cell's names updates it in place
(`graph_update.update_graph`, using the private indexes kept here). Variant members (SPEC 9)
arrive with their `VariantSlot`: an inactive `switch` member is not in the DAG (its
references are resolved, so its own state can be computed, but nobody reads from it and it
is never ordered); the members of a `sweep` group all are, and a later cell reading a name
they define reads all of them (`Graph.sweep_inputs`), receiving `{variant_name: value}`.
"""

from __future__ import annotations

import builtins
import heapq
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

IMPLICIT_NAMES: frozenset[str] = frozenset(dir(builtins)) | {"display", "Markdown"}
"""Names a cell may read without a producer: builtins plus what every Python cell gets
(SPEC 8). A cell that defines one of them still becomes its producer for later readers."""


@dataclass(frozen=True, slots=True)
class VariantSlot:
    """A cell's place in a variant group (`@variant GROUP NAME`, SPEC 9)."""

    group: str
    name: str
    mode: str
    """"switch" or "sweep"."""
    active: bool
    """switch: the chosen member; sweep: every member (but a repeated name) is active."""

    @property
    def sweep(self) -> bool:
        return self.mode == "sweep" and self.active


@dataclass(frozen=True, slots=True)
class GraphCell:
    id: str
    defines: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    variant: VariantSlot | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    variable: str | None
    """The variable the target reads from the source; None for an `@after` edge."""


@dataclass
class UpdateIndex:
    """What an in-place update of a graph looks up (`graph_update`); private to both."""

    definers: dict[str, list[int]]
    """name -> positions of the cells defining it, ascending."""
    readers: dict[str, set[str]]
    incoming: dict[str, list[Edge]]
    """cell id -> its slice of `edges` (cells with incoming edges only)."""
    backward: int
    """How many `@after` edges point to an earlier cell (0: the order is notebook order)."""


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
    """Cells in the DAG -> notebook position (inactive variant members are not in it)."""
    variants: dict[str, VariantSlot] = field(default_factory=dict)
    """Every variant member (inactive ones included) -> its slot."""
    inactive: list[str] = field(default_factory=list)
    """Inactive `switch` members, in notebook order: outside the DAG."""
    sweep_inputs: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    """cell id -> {name it reads from a sweep group -> [(variant name, member id), ...]}; such
    a name's producer (in `producers`) is the group's last member."""
    per_variant: dict[str, str] = field(default_factory=dict)
    """`@per_variant` cells -> the sweep group they run once per member of (the snapshot
    resolves it: it needs the diagnostics)."""
    _predecessors: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _successors: dict[str, set[str]] = field(default_factory=dict, repr=False)
    # What `graph_update.update_graph` needs to wire a few cells again without the others.
    _cells: dict[str, GraphCell] = field(default_factory=dict, repr=False)
    _ids: list[str] = field(default_factory=list, repr=False)
    """Cells in the DAG in notebook order (`position` inverted)."""
    _index: UpdateIndex | None = field(default=None, repr=False)
    """Made by the first update of this graph (a full build never needs it)."""
    _implicit: Collection[str] = field(default=(), repr=False)

    def upstream(self, cell_id: str) -> set[str]:
        """Every cell `cell_id` depends on, transitively (itself excluded unless on a cycle)."""
        return _reachable((cell_id,), self._predecessors)

    def downstream(self, cell_id: str) -> set[str]:
        """Every cell depending on `cell_id`, transitively (itself excluded unless on a cycle)."""
        return _reachable((cell_id,), self._successors)

    def upstream_of(self, cells: Iterable[str]) -> set[str]:
        """`upstream` of each of `cells`, together: one walk however many cells."""
        return _reachable(cells, self._predecessors)

    def downstream_of(self, cells: Iterable[str]) -> set[str]:
        """`downstream` of each of `cells`, together: one walk however many cells."""
        return _reachable(cells, self._successors)

    def shares_wiring(self, other: Graph, cell_id: str) -> bool:
        """Whether `other` holds the very producers and predecessors of `cell_id` this graph
        holds: an in-place update (graph_update.py) did not wire the cell again."""
        return self.producers.get(cell_id) is other.producers.get(
            cell_id
        ) and self._predecessors.get(cell_id) is other._predecessors.get(cell_id)

    def direct_upstream(self, cell_id: str) -> set[str]:
        return set(self._predecessors.get(cell_id, ()))

    def direct_downstream(self, cell_id: str) -> set[str]:
        return set(self._successors.get(cell_id, ()))


def _reachable(starts: Iterable[str], adjacency: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    queue = deque(chain.from_iterable(adjacency.get(start, ()) for start in starts))
    while queue:
        node = queue.popleft()
        if node not in seen:
            seen.add(node)
            queue.extend(adjacency.get(node, set()) - seen)
    return seen


_last: tuple[tuple[GraphCell, ...], Collection[str], Graph] | None = None
"""The last graph built: most keystrokes leave every cell's definitions and references as
they were, and wiring 2,000 cells costs tens of ms while comparing them costs ~1 ms."""


def build_graph(
    cells: Sequence[GraphCell], *, implicit_names: Collection[str] = IMPLICIT_NAMES
) -> Graph:
    """Wire every reference to the nearest preceding definer (SPEC 5).

    Cell ids are assumed unique (`duplicate_cell_id` is reported elsewhere): a repeated id
    is ignored after its first occurrence. `@after` ids that are unknown or the cell itself
    are ignored here (`checks.check_cell_context` reports them).

    Graphs are shared: the same cells give the same (read-only) graph object, except with
    variants, whose graph `variants.resolve_per_variant` completes afterwards.
    """
    global _last
    key = tuple(cells)
    last = _last
    if (
        last is not None
        and last[1] is implicit_names
        and not last[2].variants
        and not last[2].per_variant
        and last[0] == key
    ):
        return last[2]
    graph = _build(key, implicit_names)
    _last = (key, implicit_names, graph)
    return graph


def _build(cells: Sequence[GraphCell], implicit_names: Collection[str]) -> Graph:
    every = _unique(cells)
    unique = [c for c in every if c.variant is None or c.variant.active]
    position = {cell.id: index for index, cell in enumerate(unique)}
    graph = Graph([], [], {c.id: {} for c in every}, {c.id: {} for c in every}, [], [])
    graph.position = position
    graph.variants = {c.id: c.variant for c in every if c.variant is not None}
    graph.inactive = [c.id for c in every if c.id not in position]
    graph._predecessors = {c.id: set() for c in unique}
    graph._successors = {c.id: set() for c in unique}
    graph._cells = {c.id: c for c in every}
    graph._ids = [c.id for c in unique]
    graph._implicit = implicit_names
    _wire(every, graph, implicit_names)
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


class _Definers:
    """Who defines each name so far, while the cells are visited in order."""

    def __init__(self) -> None:
        self.latest: dict[str, str] = {}
        self.sweeps: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        """name -> (sweep group, its members defining it so far) when the latest definer
        of the name is a sweep member."""
        self.before_group: dict[str, dict[str, str]] = {}
        """sweep group -> `latest` as it was at its first member: members never read each
        other, they read what precedes the group."""

    def producer(self, cell: GraphCell, name: str) -> str | None:
        slot = cell.variant
        found = self.latest.get(name)
        if slot is not None and slot.sweep and name in self.sweeps:
            group, _ = self.sweeps[name]
            if group == slot.group:
                found = self.before_group[group].get(name)
        return found

    def sweep_members(self, cell: GraphCell, name: str) -> list[tuple[str, str]] | None:
        """The members `cell` reads `name` from, when it consumes a sweep group."""
        if name not in self.sweeps:
            return None
        group, members = self.sweeps[name]
        if cell.variant is not None and cell.variant.group == group:
            return None
        return list(members)

    def define(self, cell: GraphCell) -> None:
        slot = cell.variant
        if slot is not None and slot.sweep:
            self.before_group.setdefault(slot.group, dict(self.latest))
        for name in cell.defines:
            self.latest[name] = cell.id
            known = self.sweeps.get(name)
            if slot is None or not slot.sweep:
                self.sweeps.pop(name, None)
            elif known is not None and known[0] == slot.group:
                known[1].append((slot.name, cell.id))
            else:
                self.sweeps[name] = (slot.group, [(slot.name, cell.id)])


def _wire(cells: list[GraphCell], graph: Graph, implicit_names: Collection[str]) -> None:
    """Edges, producers, consumers and forward references in one pass over the cells.

    Edges come out sorted by (target, source, variable) because cells are visited in order
    and each cell's few incoming edges are sorted on the spot (no global sort). An inactive
    variant member gets its producers only: no edge, and nobody reads from it.
    """
    position = graph.position
    seen = _Definers()
    definers: dict[str, list[int]] = {}
    unresolved: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
        in_dag = cell.id in position
        produced = graph.producers[cell.id]
        incoming: set[tuple[int, bool, str, str]] = set()  # (source position, is variable, ...)
        for name in cell.references:
            producer = seen.producer(cell, name)
            if producer is None:
                if name not in implicit_names and in_dag:
                    unresolved.append((index, name))
                continue
            produced[name] = producer
            members = seen.sweep_members(cell, name)
            if members is not None and in_dag:
                graph.sweep_inputs.setdefault(cell.id, {})[name] = members
            for _, source in members or [("", producer)]:
                incoming.add((position[source], True, name, source))
        if not in_dag:
            continue
        for source in cell.after:
            if source in position and source != cell.id:
                incoming.add((position[source], False, "", source))
        for _, is_variable, name, source in sorted(incoming):
            graph.edges.append(Edge(source, cell.id, name if is_variable else None))
            graph._predecessors[cell.id].add(source)
            graph._successors[source].add(cell.id)
            if is_variable:
                graph.consumers[source].setdefault(name, []).append(cell.id)
        seen.define(cell)
        for name in cell.defines:
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
