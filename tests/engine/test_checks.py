"""Diagnostics that need notebook context (SPEC 11)."""

from __future__ import annotations

import pytest

from strata_engine.analysis.annotations import parse_annotations
from strata_engine.analysis.checks import (
    check_cell_context,
    check_graph,
    check_loop_context,
    check_name_for_language,
    check_prompt_references,
    check_sql_context,
)
from strata_engine.analysis.graph import GraphCell, build_graph
from strata_engine.kinds import analyze_cell
from strata_engine.model.diagnostics import CODES, Diagnostic, Span

CELLS = ["load", "clean", "train"]


def context(text: str, cell_id: str = "train", **kwargs: object) -> list[Diagnostic]:
    options: dict[str, object] = {
        "cell_ids": CELLS,
        "worker_names": ["gpu", "cpu-pool"],
        "notebook_mount_names": ["data"],
    }
    options.update(kwargs)
    ann = parse_annotations(text + "\nx = 1\n")
    return check_cell_context(cell_id, "cells/train.py", ann, **options)  # type: ignore[arg-type]


def test_clean_cell_has_no_context_diagnostics() -> None:
    assert context("# @worker gpu\n# @after load clean\n# @mount out s3://b") == []


def test_unknown_worker_with_suggestion() -> None:
    (diag,) = context("# @worker gpuu")
    assert (diag.code, diag.severity) == ("worker_unknown", "warning")
    assert diag.data == {"worker": "gpuu", "suggestion": "gpu"}
    assert "'gpu'" in diag.message and "[[workers]]" in diag.message
    assert diag.span == Span(1, 10, 1, 14)
    assert (diag.cell_id, diag.file) == ("train", "cells/train.py")


def test_unknown_worker_without_suggestion() -> None:
    (diag,) = context("# @worker zzz")
    assert diag.data == {"worker": "zzz"}


def test_local_worker_needs_no_declaration() -> None:
    assert context("# @worker local", worker_names=[]) == []


def test_empty_worker() -> None:
    assert [d.code for d in context("# @worker")] == ["worker_unknown"]


def test_after_unknown_and_self() -> None:
    diags = context("# @after load trian\n# @after train", cell_id="train")
    assert [d.code for d in diags] == ["after_unknown", "after_self"]
    unknown, itself = diags
    assert unknown.data == {"suggestion": "train"}
    assert unknown.span == Span(1, 14, 1, 19)
    assert itself.span == Span(2, 9, 2, 14)
    assert itself.severity == "warning"


def test_mount_shadowing_a_notebook_mount_is_info() -> None:
    (diag,) = context("# @mount data s3://other")
    assert (diag.code, diag.severity) == ("mount_shadows_notebook", "info")
    assert diag.span == Span(1, 9, 1, 13)


@pytest.mark.parametrize(
    ("language", "name", "suggestion"),
    [("sql", "my table", "my_table"), ("prompt", "class", "result"), ("sql", "1st", "result_1st")],
)
def test_name_must_be_an_identifier_for_sql_and_prompt(
    language: str, name: str, suggestion: str
) -> None:
    ann = parse_annotations(f"# @name {name}\nSELECT 1")
    (diag,) = check_name_for_language("q", None, ann, language)
    assert diag.data == {"suggestion": suggestion}
    assert diag.span is not None and diag.span.line == 1
    assert check_name_for_language("q", None, ann, "python") == []


def test_valid_output_names() -> None:
    for text in ("# @name recent\nSELECT 1", "SELECT 1"):
        assert check_name_for_language("q", None, parse_annotations(text), "sql") == []


def graph_for(*texts: str) -> tuple[list[str], dict[str, object], object]:
    ids = [f"c{i}" for i in range(len(texts))]
    analyses = {i: analyze_cell("python", t) for i, t in zip(ids, texts, strict=True)}
    anns = {i: parse_annotations(t) for i, t in zip(ids, texts, strict=True)}
    cells = [GraphCell(i, analyses[i].defines, analyses[i].references, anns[i].after) for i in ids]
    return ids, {"analyses": analyses, "annotations": anns}, build_graph(cells)


def test_forward_reference_points_at_the_first_read() -> None:
    _, extra, graph = graph_for("# @name first\n\ny = 2 * x\n", "x = 1\n")
    files = {"c0": "cells/c0.py", "c1": "cells/c1.py"}
    (diag,) = check_graph(graph, files=files, **extra)  # type: ignore[arg-type]
    assert (diag.code, diag.severity) == ("reference_forward", "warning")
    assert diag.span == Span(3, 8, 3, 9)
    assert diag.data == {"variable": "x", "defined_by": "c1"}
    assert (diag.cell_id, diag.file) == ("c0", "cells/c0.py")
    assert "'c1'" in diag.message


def test_cycle_reports_every_cell_on_it_at_its_after() -> None:
    _, extra, graph = graph_for("# @after c1\na = 1\n", "b = a\n", "c = 1\n")
    diags = check_graph(graph, files={}, **extra)  # type: ignore[arg-type]
    assert [(d.code, d.cell_id) for d in diags] == [("dag_cycle", "c0"), ("dag_cycle", "c1")]
    assert all(CODES[d.code] == "error" and "c0, c1" in d.message for d in diags)
    assert diags[0].span == Span(1, 9, 1, 11)
    assert diags[1].span is None  # c1 closes the cycle through a variable, not an @after


def test_check_graph_without_spans() -> None:
    _, _, graph = graph_for("y = x\n", "x = 1\n")
    (diag,) = check_graph(graph, files={})  # type: ignore[arg-type]
    assert diag.span is None


def test_loop_context() -> None:
    text = "# @loop max_iter=3 carry=state start_from=warmup@iter=2\nstate = step(state)\n"
    ann = parse_annotations(text)
    analysis = analyze_cell("python", text)
    ok = check_loop_context(
        "l", None, ann, analysis, cell_ids=["warmup", "l"], loop_cell_ids=["warmup"]
    )
    assert ok == []
    bad = check_loop_context("l", None, ann, analysis, cell_ids=["warmup", "l"], loop_cell_ids=[])
    assert [d.code for d in bad] == ["loop_start_from_unknown"]
    missing = check_loop_context("l", None, ann, analysis, cell_ids=["l"], loop_cell_ids=["warmp"])
    assert missing[0].data == {"suggestion": "warmp"}
    other = parse_annotations("# @loop max_iter=3 carry=nothing\nx = 1\n")
    diags = check_loop_context(
        "l", None, other, analyze_cell("python", "x = 1"), cell_ids=[], loop_cell_ids=[]
    )
    assert [d.code for d in diags] == ["loop_carry_unknown"]


def test_sql_context() -> None:
    names = ["warehouse"]
    ok = parse_annotations("# @sql connection=warehouse\nSELECT 1")
    assert check_sql_context("q", None, ok, language="sql", connection_names=names) == []
    typo = parse_annotations("# @sql connection=warehose\nSELECT 1")
    (diag,) = check_sql_context("q", None, typo, language="sql", connection_names=names)
    assert diag.code == "sql_connection_unknown"
    assert diag.data == {"connection": "warehose", "suggestion": "warehouse"}
    none = parse_annotations("SELECT 1")
    (diag,) = check_sql_context("q", None, none, language="sql", connection_names=names)
    assert (diag.code, diag.severity, diag.data) == (
        "sql_connection_missing",
        "error",
        {"suggestion": "warehouse"},
    )
    assert check_sql_context("q", None, none, language="python", connection_names=names) == []


def test_prompt_references() -> None:
    texts = ["df = 1", "Summarize {{ df }} {{ missing }} {{ later }}", "later = 2"]
    languages = ["python", "prompt", "python"]
    analyses = [analyze_cell(lang, t) for lang, t in zip(languages, texts, strict=True)]
    graph = build_graph(
        [GraphCell(f"c{i}", a.defines, a.references) for i, a in enumerate(analyses)]
    )
    diags = check_prompt_references("c1", "cells/p.md", analyses[1], graph)
    assert [(d.code, d.span) for d in diags] == [("prompt_reference_unknown", Span(1, 22, 1, 29))]
