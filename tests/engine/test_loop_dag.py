"""What the DAG payload says about loop cells (the editor's graph view and "Fork from
iteration..."): max_iter, carry, start_from as written, and how many iterations the current
result stored, counted with a handful of index lookups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from strata_engine.analysis.dag_payload import dag_payload, loop_fields
from strata_engine.run.loop_job import iteration_key, stored_iterations
from strata_engine.run.session import Session
from strata_engine.store import Entry

Factory = Callable[..., Path]
Opener = Callable[[Path], Session]

CELLS = {
    "seed": "n = 0\n",
    "count": "# @loop max_iter=10 carry=n\n# @loop_until n >= 6\nn = n + 1\n",
    "fork": "# @loop max_iter=3 carry=n start_from=count@iter=2\nn = n + 10\n",
}


def test_loop_nodes_carry_max_iter_and_the_stored_iteration_count(
    make_notebook: Factory, open_session: Opener
) -> None:
    session = open_session(make_notebook(CELLS))
    snapshot = session.snapshot()
    before = {n["id"]: n for n in dag_payload("nb", snapshot.graph, loop_fields(snapshot))["nodes"]}
    assert before["count"]["loop"] == {"maxIter": 10, "carry": "n"}
    assert before["fork"]["loop"] == {"maxIter": 3, "carry": "n", "startFrom": "count@iter=2"}
    assert "loop" not in before["seed"]

    report = session.run("all")
    assert [c.status for c in report.cells] == ["ok", "ok", "ok"]
    states = session.states()

    def stored(cell_id: str, max_iter: int) -> int | None:
        key = states[cell_id].key
        return None if key is None else session.stored_iterations(key, max_iter)

    loops = loop_fields(session.snapshot(), stored)
    # `@loop_until n >= 6` held after iteration 5: six iterations stored (0..5).
    assert loops["count"]["iterations"] == 6
    assert loops["fork"]["iterations"] == 3


def test_stored_iterations_asks_logarithmically_many_keys() -> None:
    stored = {iteration_key("k", i) for i in range(37)}
    asked: list[str] = []

    def get(key: str) -> Entry | None:
        asked.append(key)
        return None if key not in stored else _entry(key)

    assert stored_iterations(get, "k", 1000) == 37
    assert len(asked) <= 12
    assert stored_iterations(get, "k", 37) == 37  # every iteration ran
    assert stored_iterations(get, "other", 1000) == 0
    assert stored_iterations(get, "k", 0) == 0


def _entry(key: str) -> Entry:
    return Entry(key, "c@iter=0", "ok", {}, None, "", "", None, None, 0.0, 0.0)
