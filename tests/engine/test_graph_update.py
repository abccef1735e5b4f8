"""A graph updated in place (analysis/graph_update.py) equals a fresh `build_graph`.

Hypothesis drives sequences of edits, each replacing a few cells' definitions, references
and `@after` ids: names come and go, several cells define one name, a cell reads a name
only a later cell defines, `@after` edges point back and close cycles. Each step updates the
graph of the step before (so the private indexes are carried along too) and is compared,
field by field and in every list's and dict's order, with a graph built from scratch.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from strata_engine.analysis import graph as graph_module
from strata_engine.analysis.graph import Graph, GraphCell, build_graph
from strata_engine.analysis.graph_update import _index, update_graph

IDS = [f"c{i}" for i in range(7)]
NAMES = ["a", "b", "c", "len", "print"]  # builtins: read without a producer, or defined


def _fields(graph: Graph) -> dict[str, Any]:
    return {
        "order": graph.order,
        "edges": graph.edges,
        "producers": [(c, list(p.items())) for c, p in graph.producers.items()],
        "consumers": [(c, list(p.items())) for c, p in graph.consumers.items()],
        "cycles": graph.cycles,
        "forward_references": graph.forward_references,
        "position": list(graph.position.items()),
        "predecessors": graph._predecessors,
        "successors": graph._successors,
        "definers": {n: p for n, p in _index(graph).definers.items() if p},
        "readers": {n: r for n, r in _index(graph).readers.items() if r},
        "incoming": {c: e for c, e in _index(graph).incoming.items() if e},
        "backward": _index(graph).backward,
    }


def _cell(cell_id: str, defines: list[str], references: list[str], after: list[str]) -> GraphCell:
    return GraphCell(cell_id, tuple(defines), tuple(references), tuple(after))


CELL = st.tuples(
    st.integers(0, len(IDS) - 1),
    st.lists(st.sampled_from(NAMES), max_size=3),
    st.lists(st.sampled_from(NAMES), max_size=3),
    st.lists(st.sampled_from([*IDS, "nowhere"]), max_size=2),
)
STEPS = st.lists(st.lists(CELL, min_size=1, max_size=3), min_size=1, max_size=8)
Step = list[tuple[int, list[str], list[str], list[str]]]


@settings(max_examples=300, deadline=None)
@given(STEPS)
@example([[(3, ["a"], [], [])], [(1, [], ["a"], [])], [(3, [], [], [])], [(5, ["a"], [], [])]])
@example([[(1, [], [], ["c4"])], [(4, [], [], ["c1"])], [(4, [], [], [])], [(1, [], [], [])]])
@example([[(0, ["a"], [], [])], [(2, ["a"], [], [])], [(4, [], ["a"], [])], [(2, [], [], [])]])
@example([[(2, [], [], ["c5"])], [(5, ["b"], [], [])], [(3, [], ["b"], [])]])
@example([[(1, [], [], ["c4"]), (2, [], [], ["c5"])], [(1, [], [], [])]])  # c1 moves up
def test_updating_in_place_equals_building_again(steps: list[Step]) -> None:
    cells = {cell_id: GraphCell(cell_id, (NAMES[i % 3],)) for i, cell_id in enumerate(IDS)}
    graph = build_graph(list(cells.values()))
    for number, step in enumerate(steps):
        replaced = {IDS[i]: _cell(IDS[i], d, r, a) for i, d, r, a in step}
        cells.update(replaced)
        updated = update_graph(graph, replaced)
        assert updated is not None
        before, (graph, touched) = graph, updated
        graph_module._last = None
        fresh = build_graph(list(cells.values()))
        assert _fields(graph) == _fields(fresh), f"step {number}: {step}"
        for cell_id in set(IDS) - set(touched):  # what the update says it left alone
            assert graph.producers[cell_id] == before.producers[cell_id]
            assert graph.direct_upstream(cell_id) == before.direct_upstream(cell_id)


def test_a_graph_with_variants_is_built_again() -> None:
    from strata_engine.analysis.graph import VariantSlot

    slot = VariantSlot("g", "one", "switch", True)
    graph = build_graph([GraphCell("a", ("x",), variant=slot), GraphCell("b", (), ("x",))])
    assert update_graph(graph, {"b": GraphCell("b", ("y",), ("x",))}) is None
