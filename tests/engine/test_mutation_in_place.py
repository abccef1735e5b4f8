"""In-place mutation as a define (SPEC 5): `df.drop(..., inplace=True)` republishes `df`,
exactly as `df["c"] = v` does, so a later reader sees the mutated value."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NotebookFactory

from strata_engine.analysis import CellAnalysis
from strata_engine.kinds import analyze_cell
from strata_engine.run.events import CellRun
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]


def py(source: str) -> CellAnalysis:
    result = analyze_cell("python", textwrap.dedent(source))
    assert result.diagnostics == (), result.diagnostics
    return result


@pytest.mark.parametrize(
    "source",
    [
        "df.drop(index=0, inplace=True)",
        "df.rename(columns={'a': 'b'}, inplace=True)",
        "df['a'].fillna(0, inplace=True)",
        "df.update(other)",
        "df.insert(0, 'c', values)",
        "xs.append(v)",
        "xs.extend(v)",
        "xs.insert(0, v)",
        "xs.remove(v)",
        "xs.clear()",
        "xs.sort()",
        "xs.sort(key=len, reverse=True)",
        "xs.reverse()",
        "xs.pop()",
        "last = xs.pop()",
        "q.appendleft(v)",
        "first = q.popleft()",
        "d.update(v)",
        "d.update(k=1)",
        "d.setdefault('k', v)",
        "d.setdefault('k', []).append(v)",
        "item = d.popitem()",
        "d['k'].append(v)",
        "s.add(v)",
        "s.discard(v)",
        "s.difference_update(v)",
        "s.intersection_update(v, v)",
        "s.symmetric_difference_update(v)",
        "arr.fill(v)",
        "arr.resize((2, 3))",
        "arr.put([0], v)",
        "arr.sort(0)",
        "arr.byteswap(inplace=True)",
        "for v in values:\n    xs.append(v)",
        "if v:\n    xs.append(v)",
        "print(xs)\nxs.append(v)",
        "class C:\n    xs.append(v)",
    ],
)
def test_in_place_mutator_on_an_upstream_name_republishes_it(source: str) -> None:
    result = py(source)
    root = next(n for n in ("df", "xs", "q", "d", "s", "arr") if n in result.references)
    assert root in result.defines
    assert result.mutated == (root,)


@pytest.mark.parametrize(
    ("source", "defines", "references"),
    [
        # a name the cell made itself: a local change, nothing republished
        ("xs = []\nxs.append(1)", ("xs",), ()),
        ("df = load()\ndf.drop(index=0, inplace=True)", ("df",), ("load",)),
        # function bodies run later, on their own objects
        ("def add(self, v):\n    self.items.append(v)", ("add",), ()),
        ("def f():\n    xs.append(1)", ("f",), ("xs",)),
        ("f = lambda: xs.append(1)", ("f",), ("xs",)),
        # through an attribute: another object than the name changes
        ("sys.path.append(p)", (), ("sys", "p")),
        ("self.items.append(v)", (), ("self", "v")),
        ("os.environ.update(e)", (), ("os", "e")),
        # module functions that share a mutator's name
        ("os.remove(p)", (), ("os", "p")),
        ("np.put(a, i, v)", (), ("np", "a", "i", "v")),
        ("np.sort(a)", (), ("np", "a")),
        # the arity or the use says it is another API
        ("arr2 = np_like.append(a, v)", ("arr2",), ("np_like", "a", "v")),
        ("small = img.resize((64, 64))", ("small",), ("img",)),
        ("total = s.add(1, 2)", ("total",), ("s",)),
        ("xs.append(1, 2)", (), ("xs",)),
        ("df.drop(index=0, inplace=False)", (), ("df",)),
        ("df.drop(index=0)", (), ("df",)),
        ("key = parts.sort", ("key",), ("parts",)),
        ("f().append(1)", (), ("f",)),
        ("_tmp.append(1)", (), ()),
        # a comprehension's calls run in its own scope: the runtime check covers them
        ("[xs.append(i) for i in r]", (), ("r", "xs")),
    ],
)
def test_not_a_cell_level_mutation(
    source: str, defines: tuple[str, ...], references: tuple[str, ...]
) -> None:
    result = py(source)
    assert (result.defines, result.references, result.mutated) == (defines, references, ())


def test_operands_are_read_before_the_receiver_is_republished() -> None:
    result = py("xs.append(ys.pop())")
    assert result.references == ("xs", "ys")
    assert result.defines == ("ys", "xs")
    assert result.mutated == ("ys", "xs")


# --- end to end --------------------------------------------------------------------------------


def _run(session: Session) -> dict[str, CellRun]:
    session.reload()
    return {cell.id: cell for cell in session.run("all").cells}


def test_consumer_sees_the_mutated_frame_and_an_edit_makes_it_stale(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(
        {
            "a": "import pandas as pd\ndf = pd.DataFrame({'v': [1, 2, 3]})\n",
            "b": "df.drop(index=0, inplace=True)\n",
            "c": "n = len(df)\nprint(n)\n",
        }
    )
    session = open_session(nb)
    session.reload()
    graph = session.snapshot().graph
    assert graph.producers["b"]["df"] == "a"
    assert graph.producers["c"]["df"] == "b"  # the last mutator before the reader
    first = _run(session)
    assert {r.status for r in first.values()} == {"ok"}
    assert first["c"].stdout == "2\n"

    (nb / "cells" / "b.py").write_text("df.drop(index=[0, 1], inplace=True)\n")
    session.reload()
    states = session.states()
    assert states["a"].state == "ready"
    assert states["b"].state == "stale"
    assert states["c"].state == "stale"
    assert [r.kind for r in states["c"].reasons] == ["upstream_changed"]
    second = _run(session)
    assert {c for c, r in second.items() if r.executed} == {"b", "c"}
    assert second["c"].stdout == "1\n"


def test_list_mutation_chain_is_ordered_and_upstream_is_untouched(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(
        {
            "a": "xs = [3, 1, 2]\n",
            "b": "xs.append(0)\n",
            "c": "xs.sort()\n",
            "d": "print(xs)\n",
            "e": "# @after a\nprint(len(xs))\n",
        }
    )
    session = open_session(nb)
    results = _run(session)
    assert results["d"].stdout == "[0, 1, 2, 3]\n"
    assert results["e"].stdout == "4\n"  # e reads c's version, the nearest preceding define
    # the upstream artifact is never modified: a re-run of b alone starts from a's [3, 1, 2]
    (nb / "cells" / "b.py").write_text("xs.append(9)\n")
    again = _run(session)
    assert {c for c, r in again.items() if r.executed} == {"b", "c", "d", "e"}
    assert again["d"].stdout == "[1, 2, 3, 9]\n"
