"""Variant cells (SPEC 2 `[[variant_group]]`, 4, 9): switch and sweep groups, `@per_variant`,
observed through real runs (which cells execute, which hit, what consumers receive)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.analysis.dag_payload import dag_payload
from strata_engine.run.events import CellRun
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]

LOAD = "data = [1, 2, 3, 4]\n"
DOUBLE = "# @variant model double\nscale = 2\nfit = [x * scale for x in data]\n"
TRIPLE = "# @variant model triple\nscale = 3\nfit = [x * scale for x in data]\n"
SQUARE = "# @variant model square\nscale = 0\nfit = [x * x for x in data]\n"
REPORT = "print(json.dumps(fit, sort_keys=True))\n"


def group(mode: str = "switch", active: str | None = None) -> str:
    lines = ["[[variant_group]]", 'group = "model"', f'mode = "{mode}"']
    if active is not None:
        lines.append(f'active = "{active}"')
    return "\n".join(lines) + "\n"


def run(session: Session, mode: str = "all") -> dict[str, CellRun]:
    session.reload()
    report = session.run(mode)
    return {cell.id: cell for cell in report.cells}


def executed(results: dict[str, CellRun]) -> set[str]:
    return {cell_id for cell_id, r in results.items() if r.executed}


def printed(result: CellRun) -> object:
    return json.loads(result.stdout)


def cells(*members: str, report: str = REPORT) -> dict[str, str]:
    out = {"load": LOAD}
    for source in members:
        out[source.split()[3]] = source
    out["report"] = "import json\n" + report
    return out


# -- switch --------------------------------------------------------------------------------
def test_switch_runs_only_the_first_member_when_active_is_unset(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE))
    session = open_session(nb)
    results = run(session)
    assert executed(results) == {"load", "double", "report"}
    assert "triple" not in results  # not in the DAG: neither run nor reported
    assert printed(results["report"]) == [2, 4, 6, 8]
    states = session.states()
    assert states["double"].variant == {
        "group": "model",
        "name": "double",
        "mode": "switch",
        "active": True,
    }
    assert states["triple"].variant is not None and states["triple"].variant["active"] is False
    assert states["triple"].state == "never_run"


def test_switch_runs_the_active_member_and_switching_back_is_a_hit(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group(active="triple"))
    session = open_session(nb)
    first = run(session)
    assert executed(first) == {"load", "triple", "report"}
    assert printed(first["report"]) == [3, 6, 9, 12]
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace('active = "triple"', 'active = "double"'))
    second = run(session)
    assert executed(second) == {"double", "report"}
    assert printed(second["report"]) == [2, 4, 6, 8]
    manifest.write_text(manifest.read_text().replace('active = "double"', 'active = "triple"'))
    session.reload()
    assert {s.state for s in session.states().values()} == {"ready"}
    third = run(session)
    assert executed(third) == set()
    assert third["report"].cache_hit and printed(third["report"]) == [3, 6, 9, 12]


def test_unknown_active_runs_the_first_member_with_a_warning(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group(active="tripel"))
    session = open_session(nb)
    snapshot = session.snapshot()
    [diag] = [d for d in snapshot.diagnostics if d.code == "variant_active_unknown"]
    assert diag.file == "notebook.toml" and diag.data == {"group": "model", "suggestion": "triple"}
    assert "tripel" in diag.message and "double" in diag.message
    assert executed(run(session)) == {"load", "double", "report"}


# -- sweep ---------------------------------------------------------------------------------
def test_sweep_runs_every_member_and_the_consumer_gets_a_dict(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group("sweep"))
    session = open_session(nb)
    results = run(session)
    assert executed(results) == {"load", "double", "triple", "report"}
    assert printed(results["report"]) == {"double": [2, 4, 6, 8], "triple": [3, 6, 9, 12]}
    assert session.states()["report"].provenance is not None
    names = {i.name for i in session.states()["report"].provenance.inputs}  # type: ignore[union-attr]
    assert names == {"fit[double]", "fit[triple]"}
    assert executed(run(session)) == set()


def test_sweep_consumer_keeps_the_member_order_of_the_notebook(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    report = "print(json.dumps(list(fit)))\n"
    nb = make_notebook(cells(TRIPLE, DOUBLE, report=report), header=group("sweep"))
    assert printed(run(open_session(nb))["report"]) == ["triple", "double"]


def test_adding_a_sweep_member_runs_only_it_and_the_consumer(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group("sweep"))
    session = open_session(nb)
    run(session)
    (nb / "cells" / "square.py").write_text(SQUARE)
    manifest = nb / "notebook.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[[cells]]\nid = "square"\nfile = "square.py"\nlanguage = "python"\norder = 3.5\n'
    )
    results = run(session)
    assert executed(results) == {"square", "report"}
    assert results["double"].cache_hit and results["triple"].cache_hit
    assert printed(results["report"])["square"] == [1, 4, 9, 16]  # type: ignore[index]


def test_a_changed_member_makes_the_consumer_stale_naming_it(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group("sweep"))
    session = open_session(nb)
    run(session)
    (nb / "cells" / "triple.py").write_text(TRIPLE.replace("scale = 3", "scale = 30"))
    session.reload()
    states = session.states()
    assert states["double"].state == "ready" and states["triple"].state == "stale"
    reasons = [r.to_json() for r in states["report"].reasons]
    assert {"reason": "upstream_changed", "cell": "triple", "variable": "fit[triple]"} in reasons
    results = run(session)
    assert executed(results) == {"triple", "report"}
    assert printed(results["report"])["triple"] == [30, 60, 90, 120]  # type: ignore[index]


def test_a_failing_member_skips_the_sweep_consumer(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    broken = TRIPLE.replace("scale = 3", "scale = 1 / 0")
    nb = make_notebook(cells(DOUBLE, broken), header=group("sweep"))
    results = run(open_session(nb))
    assert results["triple"].status == "error" and results["double"].status == "ok"
    assert results["report"].status == "skipped"


def test_dag_payload_groups_members(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group(active="triple"))
    payload = dag_payload("nb", open_session(nb).snapshot().graph)
    nodes = {n["id"]: n for n in payload["nodes"]}
    assert nodes["triple"] == {
        "id": "triple",
        "group": "model",
        "variant": "triple",
        "mode": "switch",
        "active": True,
    }
    assert nodes["double"]["active"] is False
    assert "group" not in nodes["load"]
    assert "double" not in payload["order"]
    assert {"from": "triple", "to": "report", "variable": "fit"} in payload["edges"]
