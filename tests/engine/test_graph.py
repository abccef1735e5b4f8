"""The cell DAG (SPEC 5): producers, forward references, @after, cycles, order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strata_engine.analysis.graph import Edge, GraphCell, build_graph


def cell(cell_id: str, defines: str = "", references: str = "", after: str = "") -> GraphCell:
    return GraphCell(
        cell_id, tuple(defines.split()), tuple(references.split()), tuple(after.split())
    )


def test_reference_wires_to_nearest_preceding_definer() -> None:
    graph = build_graph([cell("a", "x"), cell("b", "x"), cell("c", "", "x"), cell("d", "x")])
    assert graph.producers["c"] == {"x": "b"}
    assert graph.edges == [Edge("b", "c", "x")]
    assert graph.consumers == {"a": {}, "b": {"x": ["c"]}, "c": {}, "d": {}}


def test_cell_reading_and_redefining_a_name_reads_the_previous_definer() -> None:
    graph = build_graph([cell("a", "x"), cell("b", "x", "x"), cell("c", "", "x")])
    assert graph.producers == {"a": {}, "b": {"x": "a"}, "c": {"x": "b"}}
    assert graph.order == ["a", "b", "c"]


def test_self_reference_without_earlier_definer_is_not_an_edge() -> None:
    graph = build_graph([cell("a", "x", "x")])
    assert graph.edges == []
    assert graph.forward_references == []


def test_builtins_without_producer_are_dropped() -> None:
    graph = build_graph([cell("a", "", "print len display Markdown"), cell("b", "print")])
    assert graph.edges == []
    assert graph.forward_references == []


def test_redefined_builtin_gets_an_edge() -> None:
    graph = build_graph([cell("a", "len"), cell("b", "", "len")])
    assert graph.edges == [Edge("a", "b", "len")]


def test_implicit_names_can_be_replaced() -> None:
    graph = build_graph([cell("a", "", "print"), cell("b", "print")], implicit_names=())
    assert graph.forward_references == [("a", "print", "b")]


def test_forward_reference_names_the_first_later_definer() -> None:
    graph = build_graph([cell("a", "", "x y"), cell("b", "x"), cell("c", "x"), cell("d", "", "x")])
    assert graph.forward_references == [("a", "x", "b")]
    assert graph.producers["a"] == {}
    assert graph.producers["d"] == {"x": "c"}


def test_forward_reference_of_a_self_redefining_cell() -> None:
    graph = build_graph([cell("a", "x", "x"), cell("b", "x")])
    assert graph.forward_references == [("a", "x", "b")]


def test_unknown_name_is_neither_edge_nor_forward_reference() -> None:
    graph = build_graph([cell("a", "", "nowhere")])
    assert (graph.edges, graph.forward_references) == ([], [])


def test_after_edges_ignore_unknown_self_and_duplicates() -> None:
    graph = build_graph([cell("a"), cell("b", after="a a b ghost")])
    assert graph.edges == [Edge("a", "b", None)]


def test_after_can_reorder_execution() -> None:
    graph = build_graph([cell("a", after="c"), cell("b"), cell("c")])
    assert graph.order == ["b", "c", "a"]
    assert graph.cycles == []


def test_order_keeps_notebook_order_where_edges_allow() -> None:
    cells = [cell("a", after="d"), cell("b"), cell("c", "x"), cell("d", "", "x"), cell("e")]
    assert build_graph(cells).order == ["b", "c", "d", "a", "e"]


def test_edges_are_sorted_by_target_then_source_then_variable() -> None:
    cells = [cell("a", "x y"), cell("b", "z"), cell("c", "", "z y x", after="b a")]
    assert build_graph(cells).edges == [
        Edge("a", "c", None),
        Edge("a", "c", "x"),
        Edge("a", "c", "y"),
        Edge("b", "c", None),
        Edge("b", "c", "z"),
    ]


def test_cycle_through_after_is_reported_and_still_ordered() -> None:
    cells = [
        cell("a", "x"),
        cell("b", "y", "x", after="d"),
        cell("c", "z", "y"),
        cell("d", "", "z"),
        cell("e", "", "y"),
        cell("f"),
    ]
    graph = build_graph(cells)
    assert graph.cycles == [["b", "c", "d"]]
    assert graph.order == ["a", "f", "b", "c", "d", "e"]
    assert set(graph.order) == {c.id for c in cells}


def test_two_separate_cycles() -> None:
    cells = [cell("a", after="b"), cell("b", after="a"), cell("c", after="d"), cell("d", after="c")]
    assert build_graph(cells).cycles == [["a", "b"], ["c", "d"]]


def test_upstream_and_downstream_are_transitive() -> None:
    cells = [
        cell("a", "x"),
        cell("b", "y", "x"),
        cell("c", "", "y"),
        cell("d", "w"),
        cell("e", after="c"),
    ]
    graph = build_graph(cells)
    assert graph.upstream("c") == {"a", "b"}
    assert graph.upstream("e") == {"a", "b", "c"}
    assert graph.downstream("a") == {"b", "c", "e"}
    assert graph.downstream("d") == set()
    assert graph.upstream("missing") == set()
    assert graph.direct_upstream("c") == {"b"}
    assert graph.direct_downstream("a") == {"b"}


def test_duplicate_ids_keep_the_first() -> None:
    graph = build_graph([cell("a", "x"), cell("a", "y"), cell("b", "", "x y")])
    assert graph.order == ["a", "b"]
    assert graph.producers["b"] == {"x": "a"}


def test_repeated_reference_gives_one_edge() -> None:
    assert len(build_graph([cell("a", "x"), cell("b", "", "x x")]).edges) == 1


def test_large_notebook_chain_and_cycle() -> None:
    n = 1000
    cells = [
        cell(f"c{i}", f"v{i}", f"v{i - 1} shared" if i else "", after=f"c{n - 1}" if i == 0 else "")
        for i in range(n)
    ]
    graph = build_graph(cells)
    # c0 runs after the last cell, which depends on c0 through the chain: one big cycle.
    assert graph.cycles == [[f"c{i}" for i in range(n)]]
    assert len(graph.order) == n
    acyclic = build_graph([cell(f"c{i}", f"v{i}", f"v{i - 1}" if i else "") for i in range(n)])
    assert acyclic.order == [f"c{i}" for i in range(n)]
    assert len(acyclic.upstream(f"c{n - 1}")) == n - 1


@given(
    st.lists(
        st.tuples(
            st.sets(st.sampled_from("abcdef")),
            st.sets(st.sampled_from("abcdef")),
            st.sets(st.integers(0, 7)),
        ),
        max_size=8,
    )
)
def test_order_is_topological_and_complete(
    specs: list[tuple[set[str], set[str], set[int]]],
) -> None:
    cells = [
        GraphCell(f"c{i}", tuple(sorted(d)), tuple(sorted(r)), tuple(f"c{j}" for j in sorted(a)))
        for i, (d, r, a) in enumerate(specs)
    ]
    graph = build_graph(cells)
    assert sorted(graph.order) == sorted(c.id for c in cells)
    on_cycle = {c for cycle in graph.cycles for c in cycle}
    position = {c: i for i, c in enumerate(graph.order)}
    for edge in graph.edges:
        if edge.variable is not None:
            assert int(edge.source[1:]) < int(edge.target[1:])
        if (
            edge.source not in on_cycle
            and edge.target not in on_cycle
            and not (graph.upstream(edge.source) & on_cycle)
        ):
            assert position[edge.source] < position[edge.target]
    for cycle in graph.cycles:
        for member in cycle:
            assert member in graph.upstream(member)
    if not graph.cycles:
        for c in graph.order:
            assert c not in graph.upstream(c)


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_notebooks(n: int) -> None:
    graph = build_graph([cell("a")][:n])
    assert graph.order == ["a"][:n]
    assert graph.edges == [] and graph.cycles == []
