"""Keystroke-sized edits through `Incremental.update` equal a from-scratch analysis.

Hypothesis drives sequences of edits over a small notebook whose cells ran once: define a
name, change a value or a comment (the graph stays: the edit path of analysis/edits.py),
remove a definition, read another cell's name, define it twice, close a cycle with `@after`,
break the syntax, misspell an annotation, and fix each again. After every step the
incremental snapshot (each cell's diagnostics, the notebook's, the graph: updated in place by
analysis/graph_update.py when names change) and states must be those of a fresh snapshot of
the same texts over the same store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import NotebookFactory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from strata_engine.analysis import graph as graph_module
from strata_engine.analysis.snapshot import Snapshot
from strata_engine.cache.state import CellStatus
from strata_engine.run.incremental import Incremental
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]
IDS = [f"c{i}" for i in range(6)]
NAMES = ["a", "b", "c", "d", "e", "f"]


def _texts(cell: int) -> list[str]:
    mine, other = NAMES[cell], NAMES[(cell + 1) % len(NAMES)]
    before = NAMES[cell - 1] if cell else "len"
    after = IDS[(cell + 1) % len(IDS)]
    return [
        f"{mine} = {cell}\n",  # the initial text
        f"{mine} = {cell}  # typed a comment\n",
        f"{mine} = {cell + 100}\n",
        f"{mine} = {before}\n",
        f"{mine} = {other}\n",  # a forward reference (or a cycle's edge)
        f"{mine} = {other}  # the same reads\n",
        f"{other} = {cell}\n",  # a duplicate definition
        "pass\n",  # the definition removed
        f"# @after {IDS[(cell + 2) % len(IDS)]}\n{mine} = {cell}\n",
        f"# @after {IDS[(cell + 2) % len(IDS)]}\n{mine} = {cell}  # the same edges\n",
        f"# @timout 3\n{mine} = {cell}\n",
        f"{mine} = (\n",
        f"# @loop max_iter=2 carry={mine}\n{mine} = {cell}\n",
        f"# @loop max_iter=3 carry=zz\n{mine} = {cell}\n",
        f"# @loop max_iter=2 carry={mine} start_from={after}@iter=1\n{mine} = 1\n",
        f"{mine} = {cell}\nw{cell} = {mine} + 1\n",
    ]


def _fingerprint(snapshot: Snapshot, states: dict[str, CellStatus]) -> dict[str, Any]:
    return {
        "cells": {c: (v.source, v.diagnostics) for c, v in snapshot.cells.items()},
        "notebook": snapshot.diagnostics,
        "order": snapshot.graph.order,
        "graph": [
            (name, getattr(snapshot.graph, name))
            for name in ("edges", "producers", "consumers", "cycles", "forward_references")
        ],
        "states": {c: s.to_json() for c, s in states.items()},
        "reasons": {c: s.reasons for c, s in states.items()},
    }


EDITS = st.lists(
    st.tuples(st.integers(0, len(IDS) - 1), st.integers(0, len(_texts(0)) - 1)),
    min_size=1,
    max_size=10,
)


def test_edits_through_the_incremental_path_match_a_fresh_analysis(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    initial = {cell_id: _texts(i)[0] for i, cell_id in enumerate(IDS)}
    session = open_session(make_notebook(initial))
    session.run("all")
    fast_steps = 0

    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(EDITS)
    @example([(0, 14), (1, 12), (1, 0), (1, 13), (0, 1)])  # a start_from's loop comes, goes
    @example([(1, 3), (2, 3), (0, 8), (0, 9), (2, 10), (0, 0)])  # a cycle, edited, broken
    @example([(0, 6), (1, 1), (0, 6), (1, 2), (0, 0)])  # a duplicate define, then fixed
    @example([(0, 4), (0, 5), (1, 1), (0, 4), (0, 0)])  # a forward reference kept, fixed
    @example([(0, 4), (1, 7), (1, 0), (2, 8), (4, 4), (0, 0)])  # its definer goes, comes
    def check(edits: list[tuple[int, int]]) -> None:
        nonlocal fast_steps
        incremental = Incremental(session)
        overrides = dict(initial)
        incremental.full(overrides)
        for step, (cell, text) in enumerate(edits):
            overrides = {**overrides, IDS[cell]: _texts(cell)[text]}
            snapshot, states = incremental.update(overrides)
            fast_steps += incremental.changed is not None
            graph_module._last = None  # the fresh analysis builds its own graph
            fresh = session.snapshot(overrides)
            expected = _fingerprint(fresh, session.states(fresh))
            assert _fingerprint(snapshot, states) == expected, f"step {step}: {overrides}"

    check()
    assert fast_steps > 0  # the edit path (graph unchanged) was taken and checked


def test_an_edit_that_keeps_the_graph_redoes_only_that_cell_and_its_downstream(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    cells = {"a": "x = 1\n", "b": "y = x + 1\n", "c": "z = 3\n"}
    session = open_session(make_notebook(cells))
    session.run("all")
    incremental = Incremental(session)
    before, _ = incremental.full(cells)
    snapshot, states = incremental.update({**cells, "a": "x = 2  # changed\n"})
    assert incremental.changed is not None
    assert incremental.changed.views == {"a"}
    assert incremental.changed.states == {"a", "b"}
    assert snapshot.graph is before.graph
    assert snapshot.cells["c"] is before.cells["c"]
    assert [states[c].state for c in "abc"] == ["stale", "stale", "ready"]
    rewired, _ = incremental.update({**cells, "a": "x = 2\nw = 1\n"})  # the graph changes
    assert incremental.changed is not None
    assert incremental.changed.views == {"a"}
    assert rewired.graph is not before.graph
    assert rewired.cells["c"] is before.cells["c"]
    incremental.update({**cells, "a": "# @loop max_iter=2 carry=x\nx = 2\n"})
    assert incremental.changed is None  # @loop came: every cell's checks, a full snapshot
