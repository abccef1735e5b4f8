"""SPEC 6 consequences, each observed through real runs: which cells execute, which hit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NotebookFactory

from strata_engine.run.events import CellRun
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]


def run(session: Session, mode: str = "all") -> dict[str, CellRun]:
    session.reload()
    report = session.run(mode)
    return {cell.id: cell for cell in report.cells}


def executed(results: dict[str, CellRun]) -> set[str]:
    return {cell_id for cell_id, r in results.items() if r.executed}


def edit(nb: Path, cell_id: str, source: str) -> None:
    (nb / "cells" / f"{cell_id}.py").write_text(source)


def test_second_run_is_all_hits(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x + 1\nprint(y)\n"})
    session = open_session(nb)
    first = run(session)
    assert executed(first) == {"a", "b"}
    assert first["b"].stdout == "2\n"
    second = run(session)
    assert executed(second) == set()
    assert all(r.cache_hit and r.status == "ok" for r in second.values())
    assert second["b"].stdout == "2\n"  # a leaf's console is replayed on a hit


def test_comment_and_whitespace_edits_stay_cached(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x + 1\n"})
    session = open_session(nb)
    run(session)
    edit(nb, "a", "# a comment\nx   =   1  # trailing\n\n\n")
    edit(nb, "b", "y = (x + 1)\n")
    assert executed(run(session)) == set()
    assert {s.state for s in session.states().values()} == {"ready"}


def test_early_cutoff(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x * 10\n", "c": "z = y + 1\n"})
    session = open_session(nb)
    run(session)
    edit(nb, "a", "x = 2 - 1\n")
    session.reload()
    states = session.states()
    assert states["a"].state == "stale"
    assert states["b"].state == "stale"
    assert [r.kind for r in states["b"].reasons] == ["upstream_changed"]
    assert executed(run(session)) == {"a"}  # a's output is byte-identical: b and c stay hits
    assert {s.state for s in session.states().values()} == {"ready"}


def test_only_variables_read_enter_the_key(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": "x = 1\ny = 2\n", "reads_x": "u = x + 1\n", "reads_y": "v = y + 1\n"})
    session = open_session(nb)
    run(session)
    edit(nb, "a", "x = 1\ny = 3\n")
    assert executed(run(session)) == {"a", "reads_y"}


def test_adding_a_consumer_does_not_rerun_siblings(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": "x = 1\ny = 2\n", "b": "u = x + 1\n"})
    session = open_session(nb)
    run(session)
    manifest = (nb / "notebook.toml").read_text()
    (nb / "notebook.toml").write_text(
        manifest + '[[cells]]\nid = "c"\nfile = "c.py"\nlanguage = "python"\norder = 3\n'
    )
    edit(nb, "c", "w = y * 2\n")
    assert executed(run(session)) == {"c"}


def test_swapped_values_rerun(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook({"a": "p = 1\nq = 2\n", "b": "r = p - q\nprint(r)\n"})
    session = open_session(nb)
    assert run(session)["b"].stdout == "-1\n"
    edit(nb, "a", "p = 2\nq = 1\n")
    results = run(session)
    assert executed(results) == {"a", "b"}
    assert results["b"].stdout == "1\n"


def test_after_upstream_change_reruns(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook(
        {
            "setup": "from pathlib import Path\nPath('flag.txt').write_text('one')\n",
            "use": "# @after setup\nimport pathlib\nprint(pathlib.Path('flag.txt').read_text())\n",
        }
    )
    session = open_session(nb)
    assert run(session)["use"].stdout == "one\n"
    edit(nb, "setup", "from pathlib import Path\nPath('flag.txt').write_text('two')\n")
    session.reload()
    states = session.states()
    assert states["use"].state == "stale"
    assert [r.kind for r in states["use"].reasons] == ["after_changed"]
    results = run(session)
    assert executed(results) == {"setup", "use"}
    assert results["use"].stdout == "two\n"


def test_revert_is_an_instant_hit(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x + 1\n"})
    session = open_session(nb)
    run(session)
    edit(nb, "a", "x = 5\n")
    assert executed(run(session)) == {"a", "b"}
    edit(nb, "a", "x = 1\n")
    assert executed(run(session)) == set()


def test_nocache_always_runs(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook({"a": "# @nocache\nimport random\nx = 1\n", "b": "y = x\n"})
    session = open_session(nb)
    run(session)
    assert executed(run(session)) == {"a"}  # b: a's output is identical, so b stays a hit


def test_env_annotation_is_part_of_the_key(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": "# @env MODE=fast\nimport os\nmode = os.environ['MODE']\n"})
    session = open_session(nb)
    run(session)
    edit(nb, "a", "# @env MODE=slow\nimport os\nmode = os.environ['MODE']\n")
    session.reload()
    status = session.states()["a"]
    assert status.state == "stale"
    assert [r.kind for r in status.reasons] == ["env_changed"]


def test_states_without_running(make_notebook: NotebookFactory, open_session: Opener) -> None:
    nb = make_notebook({"doc.md": "# Title\n", "a": "x = 1\n", "b": "y = x\n"})
    session = open_session(nb)
    states = session.states()
    assert {c: s.state for c, s in states.items()} == {
        "doc": "ready",
        "a": "never_run",
        "b": "never_run",
    }
    run(session)
    edit(nb, "b", "y = x + 2\n")
    session.reload()
    states = session.states()
    assert states["b"].state == "stale"
    assert [r.kind for r in states["b"].reasons] == ["source_changed"]
    assert states["a"].state == "ready"


def test_evicted_entry_is_stale_with_reason(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    from strata_engine.store import collect_garbage

    nb = make_notebook({"a": "x = 1\n"})
    session = open_session(nb)
    run(session)
    collect_garbage(session.blobs, session.index, 0)
    status = session.states()["a"]
    assert status.state == "stale"
    assert [r.kind for r in status.reasons] == ["evicted"]


def test_installing_a_package_makes_cells_stale_and_restarts_the_worker(
    make_notebook: NotebookFactory,
    open_session: Opener,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from strata_engine.cache import environment

    nb = make_notebook({"a": "x = 1\n"})
    session = open_session(nb)
    run(session)
    [warm] = session.executors.warm("local")
    first_worker = warm.worker_pid
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    (site / "newpkg-1.0.dist-info").mkdir()  # what `pip install newpkg` leaves behind
    monkeypatch.setattr(environment, "_RECHECK_S", 0.0)
    # Teardown puts back the memo of the real environment: a memo naming newpkg would
    # outlive this test by up to a second and flip the next test's keys when it expires.
    monkeypatch.setattr(environment, "_fingerprint", environment._fingerprint)
    status = session.states()["a"]
    assert status.state == "stale"
    assert [r.kind for r in status.reasons] == ["env_changed"]
    assert executed(run(session)) == {"a"}
    [warm] = session.executors.warm("local")  # the stale one was closed, not lent
    assert warm.worker_pid not in (None, first_worker)
