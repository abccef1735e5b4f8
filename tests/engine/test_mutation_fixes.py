"""The quick fix of the runtime `mutation_in_place` warning: the statement as an assignment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.editor.fixes import Edit, Fix, quick_fixes
from strata_engine.kinds import analyze_cell
from strata_engine.model.diagnostics import Span, make
from strata_engine.model.notebook import load_notebook
from strata_engine.run.session import Session

Factory = Callable[..., Path]


def fixes_for(
    make_notebook: Factory, source: str, variable: str, line: int | None, *, as_text: bool = False
) -> list[Fix]:
    snapshot = take_snapshot(load_notebook(make_notebook({"a": "xs = [1]\n", "b": source})))
    diagnostic = make(
        "mutation_in_place",
        f"cell b changed '{variable}' in place",
        cell_id="b",
        file="cells/b.py",
        span=None if line is None else Span(line, 0, line, 1),
        data={"variable": variable, "line": str(line) if as_text else line},
    )
    return quick_fixes(snapshot, diagnostic)


def test_the_run_warning_itself_gets_the_fix(
    make_notebook: Factory, open_session: Callable[[Path], Session]
) -> None:
    """The runtime check's diagnostic (run/mutations.py), as the editor receives it."""
    nb = make_notebook({"a": "xs = [3, 1]\n", "b": "ys = xs\nys.sort()\n"})
    session = open_session(nb)
    session.reload()
    report = session.run("all")
    (cell,) = [c for c in report.cells if c.id == "b"]
    (warning,) = [w for w in cell.warnings if w.code == "mutation_in_place"]
    variable = (warning.data or {})["variable"]
    first, *_ = quick_fixes(session.snapshot(), warning)
    (edit,) = first.edits
    assert edit.cell_id == "b" and variable in first.title


@pytest.mark.parametrize(("line", "as_text"), [(1, True), (None, False), (7, False)])
def test_line_as_text_missing_or_imprecise(
    make_notebook: Factory, line: int | None, as_text: bool
) -> None:
    rewrite, _ = fixes_for(make_notebook, "xs.sort()\n", "xs", line, as_text=as_text)
    assert rewrite.edits[0].new_text == "xs = sorted(xs)"


def apply(text: str, edit: Edit) -> str:
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: edit.span.line - 1]) + edit.span.col
    end = sum(len(line) + 1 for line in lines[: edit.span.end_line - 1]) + edit.span.end_col
    return text[:start] + edit.new_text + text[end:]


@pytest.mark.parametrize(
    ("source", "variable", "line", "fixed"),
    [
        (
            "df.drop(index=0, inplace=True)\n",
            "df",
            1,
            "df = df.drop(index=0)\n",
        ),
        (
            "# @name b\ndf.rename(columns={'a': 'b'}, inplace=True, errors='raise')\n",
            "df",
            2,
            "# @name b\ndf = df.rename(columns={'a': 'b'}, errors='raise')\n",
        ),
        ("df['v'].fillna(0, inplace=True)\n", "df", 1, "df['v'] = df['v'].fillna(0)\n"),
        ("xs.sort()\n", "xs", 1, "xs = sorted(xs)\n"),
        ("xs.sort(key=len, reverse=True)\n", "xs", 1, "xs = sorted(xs, key=len, reverse=True)\n"),
        ("xs.reverse()\n", "xs", 1, "xs = xs[::-1]\n"),
        ("xs.append(n + 1)\n", "xs", 1, "xs = [*xs, n + 1]\n"),
        ("xs.extend(more)\n", "xs", 1, "xs = [*xs, *more]\n"),
        ("s.add(v)\n", "s", 1, "s = s | {v}\n"),
        ("s.discard(v)\n", "s", 1, "s = s - {v}\n"),
        ("for v in vals:\n    xs.append(v)\n", "xs", 2, "for v in vals:\n    xs = [*xs, v]\n"),
        ("t = 'é'; xs.append(t)\n", "xs", 1, "t = 'é'; xs = [*xs, t]\n"),
        # the reported line is imprecise, but the cell has one in-place call on the name
        ("n = 1\nxs.append(n)\nprint(n)\n", "xs", 1, "n = 1\nxs = [*xs, n]\nprint(n)\n"),
    ],
)
def test_rewrite_as_assignment(
    make_notebook: Factory, source: str, variable: str, line: int, fixed: str
) -> None:
    rewrite, copy = fixes_for(make_notebook, source, variable, line)
    assert rewrite.preferred and rewrite.code == "mutation_in_place"
    (edit,) = rewrite.edits
    assert (edit.file, edit.cell_id) == ("cells/b.py", "b")
    assert apply(source, edit) == fixed
    # the rewritten cell now assigns the name: a define, and no in-place call is left
    analysis = analyze_cell("python", fixed)
    assert variable in analysis.defines and analysis.diagnostics == ()
    assert not copy.preferred


@pytest.mark.parametrize(
    ("source", "variable", "line", "fixed"),
    [
        ("xs.remove(3)\n", "xs", 1, "xs = xs.copy()\nxs.remove(3)\n"),
        ("random.shuffle(xs)\n", "xs", 1, "xs = xs.copy()\nrandom.shuffle(xs)\n"),
        (
            "if ok:\n    d.update(k=1)\n",
            "d",
            2,
            "if ok:\n    d = d.copy()\n    d.update(k=1)\n",
        ),
        ("n = 1; xs.remove(n)\n", "xs", 1, "n = 1; xs = xs.copy(); xs.remove(n)\n"),
    ],
)
def test_copy_first_when_there_is_no_functional_form(
    make_notebook: Factory, source: str, variable: str, line: int, fixed: str
) -> None:
    (copy,) = fixes_for(make_notebook, source, variable, line)
    assert copy.title == f"Copy '{variable}' first: {variable} = {variable}.copy()"
    (edit,) = copy.edits
    assert apply(source, edit) == fixed


@pytest.mark.parametrize(
    ("source", "variable", "line"),
    [
        # in a function body an assignment would make the name local: no rewrite
        ("def f():\n    xs.append(1)\nf()\n", "xs", 2),
        ("class C:\n    def m(self):\n        xs.sort()\n", "xs", 3),
        ("print(1)\n", "xs", 1),  # nothing on the line mentions the variable
        ("xs.append(1\n", "xs", 1),  # does not parse
        ("xs.append(1)\n", "not an identifier", 1),
    ],
)
def test_no_fix(make_notebook: Factory, source: str, variable: str, line: int) -> None:
    assert fixes_for(make_notebook, source, variable, line) == []
