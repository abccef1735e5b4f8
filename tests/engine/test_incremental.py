"""Incremental snapshots and states (run/incremental.py) equal a full recomputation.

A seeded walk of random edits over a small notebook whose cells were run once (so states
are `ready`, `stale`, `never_run` and `error`): edits add and remove definitions, create
and break edges (references, `@after`), introduce syntax errors, cycles and duplicate
definitions, and revert. After each edit, the incremental answer is compared with a fresh
snapshot and states of the same overrides over the same store.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import NotebookFactory

from strata_engine.analysis import graph as graph_module
from strata_engine.analysis.snapshot import Snapshot
from strata_engine.cache.state import CellStatus
from strata_engine.run.incremental import Incremental
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]
IDS = [f"c{i}" for i in range(8)]
NAMES = ["a", "b", "c", "d"]


def _variants(cell: int) -> list[str]:
    """Texts one cell may take: definitions, reads, comments, errors, @after."""
    mine = NAMES[cell % len(NAMES)]
    other = NAMES[(cell + 1) % len(NAMES)]
    return [
        f"{mine} = {cell}\n",
        f"{mine} = {cell}  # a comment\n",
        f"{mine} = {other} + 1\n",
        f"{other} = {mine} * 2\n",
        f"print({other})\n",
        f"# @after {IDS[(cell + 3) % len(IDS)]}\n{mine} = {cell}\n",
        f"{mine} = (\n",
        f"{mine} = {cell + 10}\n",
        "",
    ]


def _fingerprint(snapshot: Snapshot, states: dict[str, CellStatus]) -> dict[str, Any]:
    return {
        "diagnostics": snapshot.all_diagnostics(),
        "states": {c: s.to_json() for c, s in states.items()},
        "entries": {c: (s.entry.key if s.entry else None) for c, s in states.items()},
        "reasons": {c: s.reasons for c, s in states.items()},
        "order": snapshot.graph.order,
    }


def test_random_edits_match_full_recomputation(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    initial = {cell_id: _variants(i)[0 if i % 2 == 0 else 2] for i, cell_id in enumerate(IDS)}
    session = open_session(make_notebook(initial))
    session.run("all")
    incremental = Incremental(session)
    overrides = dict(initial)
    incremental.full(overrides)
    rng = random.Random(11)
    for step in range(120):
        for _ in range(rng.choice([1, 1, 1, 2])):
            cell = rng.randrange(len(IDS))
            overrides[IDS[cell]] = rng.choice(_variants(cell))
        snapshot, states = incremental.update(overrides)
        graph_module._last = None  # the full recomputation builds its own graph
        full = session.snapshot(overrides)
        expected = _fingerprint(full, session.states(full))
        assert _fingerprint(snapshot, states) == expected, f"step {step}: {overrides}"


def test_unchanged_cells_keep_their_analysis_and_status(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    cells = {"c0": "a = 1\n", "c1": "b = a + 1\n", "c2": "z = 3\n"}
    session = open_session(make_notebook(cells))
    session.run("all")
    incremental = Incremental(session)
    first, before = incremental.full(cells)
    second, after = incremental.update({**cells, "c0": "a = 2\n"})
    assert second.cells["c2"].analysis is first.cells["c2"].analysis
    assert after["c2"] is before["c2"]  # outside the edit's downstream cone
    assert after["c1"] is not before["c1"]
    assert [after[c].state for c in cells] == ["stale", "stale", "ready"]


def test_a_run_drops_the_reused_states(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    cells = {"c0": "a = 1\n", "c1": "z = 3\n"}
    session = open_session(make_notebook(cells))
    incremental = Incremental(session)
    _, before = incremental.full(cells)
    assert before["c1"].state == "never_run"
    session.run("all")
    _, after = incremental.update(cells)
    assert after["c1"].state == "ready"
