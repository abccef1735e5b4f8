"""Variant cells (SPEC 2 `[[variant_group]]`, 4, 9): switch and sweep groups, `@per_variant`,
observed through real runs (which cells execute, which hit, what consumers receive)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.analysis.dag_payload import dag_payload
from strata_engine.analysis.variants import choice_problem
from strata_engine.editor.fixes import Edit, quick_fixes
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.saving import set_variant_active
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


# -- per_variant ---------------------------------------------------------------------------
SCORE = "# @per_variant\nprint(fit[-1])\nscore = sum(fit)\n"
TABLE = "import json\nprint(json.dumps(score, sort_keys=True))\n"


def per_variant_cells(*members: str) -> dict[str, str]:
    out = {"load": LOAD}
    for source in members:
        out[source.split()[3]] = source
    return {**out, "score": SCORE, "table": TABLE}


def test_per_variant_runs_once_per_member_and_a_plain_consumer_gets_the_dict(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(per_variant_cells(DOUBLE, TRIPLE), header=group("sweep"))
    session = open_session(nb)
    results = run(session)
    assert results["score"].status == "ok"
    assert results["score"].stdout == "[variant double]\n8\n[variant triple]\n12\n"
    assert printed(results["table"]) == {"double": 20, "triple": 30}
    assert session.states()["score"].variant == {"per_variant": "model"}
    assert executed(run(session)) == set()


def test_adding_a_member_runs_the_per_variant_cell_for_that_member_only(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(per_variant_cells(DOUBLE, TRIPLE), header=group("sweep"))
    session = open_session(nb)
    run(session)
    (nb / "cells" / "square.py").write_text(SQUARE)
    manifest = nb / "notebook.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[[cells]]\nid = "square"\nfile = "square.py"\nlanguage = "python"\norder = 3.5\n'
    )
    events: list[object] = []
    session.reload()
    report = session.run("all", on_event=events.append)
    results = {c.id: c for c in report.cells}
    assert executed(results) == {"square", "score", "table"}
    streamed = "".join(
        getattr(e, "text", "") for e in events if getattr(e, "cell_id", "") == "score"
    )
    assert streamed == "[variant square]\n16\n"  # double and triple were member hits
    assert printed(results["table"]) == {"double": 20, "triple": 30, "square": 30}


def test_per_variant_member_failure_fails_the_cell_naming_the_member(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    failing = "# @per_variant\nassert fit[0] != 3, 'no triples'\nscore = 1\n"
    cells = per_variant_cells(DOUBLE, TRIPLE) | {"score": failing}
    nb = make_notebook(cells, header=group("sweep"))
    results = run(open_session(nb))
    assert results["score"].status == "error"
    assert "variant 'triple'" in (results["score"].error or "")
    assert results["table"].status == "skipped"


# -- diagnostics and quick fixes -----------------------------------------------------------
def diagnostics(session: Session, code: str) -> list[Diagnostic]:
    return [d for d in session.snapshot().all_diagnostics() if d.code == code]


def apply(text: str, edit: Edit) -> str:
    lines = [*text.splitlines(keepends=True), ""]
    start = sum(len(line) for line in lines[: edit.span.line - 1]) + edit.span.col
    end = sum(len(line) for line in lines[: edit.span.end_line - 1]) + edit.span.end_col
    return text[:start] + edit.new_text + text[end:]


def fixed(session: Session, diag: Diagnostic, choice: int = 0) -> tuple[str, str]:
    """(file the fix edits, its text after the fix)."""
    fix = quick_fixes(session.snapshot(), diag)[choice]
    [edit] = fix.edits
    path = session.notebook.directory / edit.file
    return edit.file, apply(path.read_text(), edit)


def test_contract_mismatch_is_reported_with_a_fix_imports_excepted(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    lacking = "# @variant model lacking\nimport math as m\nextra = 1\n"
    nb = make_notebook(cells(DOUBLE, lacking), header=group("sweep"))
    session = open_session(nb)
    [diag] = diagnostics(session, "variant_contract_mismatch")
    assert diag.cell_id == "lacking" and diag.severity == "warning"
    assert "fit, scale" in diag.message and "extra" in diag.message and "m," not in diag.message
    file, text = fixed(session, diag)
    assert file == "cells/lacking.py"
    assert text.endswith(
        "extra = 1\nfit = None  # TODO: this member's fit\n"
        "scale = None  # TODO: this member's scale\n"
    )
    (nb / file).write_text(text)
    assert diagnostics(session, "variant_contract_mismatch") != []  # `extra` is still extra
    (nb / file).write_text(text.replace("extra = 1\n", ""))
    session.reload()
    assert diagnostics(session, "variant_contract_mismatch") == []


def test_active_unknown_fix_picks_the_closest_member(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group(active="tripel"))
    session = open_session(nb)
    [diag] = diagnostics(session, "variant_active_unknown")
    titles = [f.title for f in quick_fixes(session.snapshot(), diag)]
    assert titles == ["Make 'triple' the active member", "Make 'double' the active member"]
    file, text = fixed(session, diag)
    assert file == "notebook.toml" and 'active = "triple"' in text
    (nb / file).write_text(text)
    session.reload()
    assert diagnostics(session, "variant_active_unknown") == []
    assert executed(run(session)) == {"load", "triple", "report"}


def test_mode_invalid_offers_both_modes(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=group("swep"))
    session = open_session(nb)
    [diag] = diagnostics(session, "variant_mode_invalid")
    assert [f.title for f in quick_fixes(session.snapshot(), diag)] == [
        "Use mode 'sweep'",
        "Use mode 'switch'",
    ]
    assert 'mode = "sweep"' in fixed(session, diag)[1]
    assert executed(run(session)) == {"load", "double", "report"}  # read as switch meanwhile


def test_repeated_member_name_is_malformed_and_renamed_by_the_fix(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    again = "# @variant model double\nscale = 5\nfit = [x * scale for x in data]\n"
    nb = make_notebook({"load": LOAD, "double": DOUBLE, "again": again, "report": REPORT})
    session = open_session(nb)
    [diag] = diagnostics(session, "variant_malformed")
    assert diag.cell_id == "again"
    assert session.states()["again"].variant == {
        "group": "model",
        "name": "double",
        "mode": "switch",
        "active": False,
    }
    assert fixed(session, diag)[1].startswith("# @variant model double_2\n")


def test_variant_malformed_extra_words_fix(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": "# @variant model big one\nx = 1\n"})
    session = open_session(nb)
    [diag] = diagnostics(session, "variant_malformed")
    assert fixed(session, diag)[1].startswith("# @variant model big\n")


def test_per_variant_without_sweep_source_offers_sweep_mode_or_removal(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(per_variant_cells(DOUBLE, TRIPLE))
    session = open_session(nb)
    [diag] = diagnostics(session, "per_variant_no_sweep_source")
    assert diag.cell_id == "score" and "switch mode" in diag.message
    fixes = quick_fixes(session.snapshot(), diag)
    assert [f.title for f in fixes] == [
        "Run every member of group 'model' (mode = \"sweep\" in notebook.toml)",
        "Remove @per_variant (run the cell once)",
    ]
    file, text = fixed(session, diag)
    assert file == "notebook.toml" and text.endswith(
        '[[variant_group]]\ngroup = "model"\nmode = "sweep"\n'
    )
    assert fixed(session, diag, 1)[1] == "print(fit[-1])\nscore = sum(fit)\n"
    results = run(session)  # meanwhile: a plain cell reading the active member
    assert results["score"].stdout == "8\n" and printed(results["table"]) == 20
    (nb / file).write_text(text)
    session.reload()
    assert diagnostics(session, "per_variant_no_sweep_source") == []


def test_per_variant_naming_a_misspelled_group(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    cells_ = per_variant_cells(DOUBLE, TRIPLE) | {
        "score": SCORE.replace("@per_variant", "@per_variant modle")
    }
    nb = make_notebook(cells_, header=group("sweep"))
    session = open_session(nb)
    [diag] = diagnostics(session, "per_variant_no_sweep_source")
    assert "did you mean 'model'" in diag.message
    assert fixed(session, diag)[1].startswith("# @per_variant model\n")


def test_per_variant_ambiguous_group_fix_names_each_group(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    header = group("sweep") + '[[variant_group]]\ngroup = "prep"\nmode = "sweep"\n'
    prep_a = "# @variant prep a\noffset = 1\n"
    prep_b = "# @variant prep b\noffset = 2\n"
    both = "# @per_variant\nscore = sum(fit) + offset\n"
    nb = make_notebook(
        {
            "load": LOAD,
            "pa": prep_a,
            "pb": prep_b,
            "double": DOUBLE,
            "triple": TRIPLE,
            "both": both,
        },
        header=header,
    )
    session = open_session(nb)
    [diag] = diagnostics(session, "per_variant_ambiguous_group")
    fixes = quick_fixes(session.snapshot(), diag)
    assert [f.title for f in fixes] == [
        "Run once per member of 'model'",
        "Run once per member of 'prep'",
    ]
    (nb / "cells" / "both.py").write_text(fixed(session, diag, 0)[1])
    results = run(session)
    # once per model member; the prep group still arrives as a dict
    assert results["both"].status == "error"
    assert "unsupported operand" in (results["both"].error or "")


def test_per_variant_on_a_member_is_ignored_and_removed_by_the_fix(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    member = "# @variant model double\n# @per_variant\nscale = 2\nfit = [x * scale for x in data]\n"
    nb = make_notebook({"load": LOAD, "double": member, "triple": TRIPLE}, header=group("sweep"))
    session = open_session(nb)
    [diag] = diagnostics(session, "per_variant_on_variant_member")
    assert fixed(session, diag)[1] == DOUBLE
    assert run(session)["double"].status == "ok"


# -- choosing the active member ------------------------------------------------------------
def test_set_active_writes_notebook_toml_minimally_and_makes_downstream_stale(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    header = "# chosen by the team\n" + group(active="double").replace(
        'mode = "switch"\n', 'mode = "switch"  # keep\n'
    )
    nb = make_notebook(cells(DOUBLE, TRIPLE), header=header)
    session = open_session(nb)
    run(session)
    manifest = nb / "notebook.toml"
    before = manifest.read_text()
    assert choice_problem(session.snapshot().graph, "model", "tripel") == (
        "'tripel' is not a member of variant group 'model'; members: double, triple"
    )
    assert set_variant_active(session.notebook, "model", "triple")
    after = manifest.read_text()
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    changed = [line for line in diff if line[:1] in "+-" and "updated_at" not in line]
    assert changed == ['- active = "double"', '+ active = "triple"']
    assert "# chosen by the team" in after and 'mode = "switch"  # keep' in after
    assert not set_variant_active(session.notebook, "model", "triple")  # no change, no write
    states = session.states()
    assert states["triple"].state == "never_run" and states["triple"].variant["active"]  # type: ignore[index]
    assert states["double"].variant["active"] is False  # type: ignore[index]
    assert states["report"].state == "stale"
    assert [r.to_json() for r in states["report"].reasons] == [
        {"reason": "upstream_changed", "cell": "triple", "variable": "fit"}
    ]
    assert executed(run(session)) == {"triple", "report"}


def test_set_active_adds_the_group_entry_when_absent(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(cells(DOUBLE, TRIPLE))
    session = open_session(nb)
    assert set_variant_active(session.notebook, "model", "triple")
    assert (
        (nb / "notebook.toml")
        .read_text()
        .endswith('\n[[variant_group]]\ngroup = "model"\nactive = "triple"\n')
    )
    assert executed(run(session)) == {"load", "triple", "report"}
