"""Loop cells (SPEC 9 "Loop", issue [7]): iterations in the cell's process, the carry threaded
between them, each iteration stored, `@loop_until`, hits without iterating, `start_from`,
failures naming the iteration, progress events, diagnostics and their quick fixes, and the
original Strata's `loop_hill_climb` example unchanged."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_cli import by_id, run_json, strata

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.editor.fixes import quick_fixes
from strata_engine.model.notebook import load_notebook
from strata_engine.run.events import CellProgress, CellRun, CellStream, Event
from strata_engine.run.loop_job import iteration_key
from strata_engine.run.session import Session
from strata_engine.store import load_value

Factory = Callable[..., Path]
Opener = Callable[[Path], Session]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run(session: Session, mode: str = "all") -> tuple[dict[str, CellRun], list[Event]]:
    events: list[Event] = []
    report = session.run(mode, on_event=events.append)
    return {c.id: c for c in report.cells}, events


def stored_iterations(session: Session, key: str | None, carry: str) -> list[Any]:
    """The carry of each stored iteration of the run keyed `key`, until the first gap."""
    assert key is not None
    values = []
    while (entry := session.index.get(iteration_key(key, len(values)))) is not None:
        values.append(load_value(session.blobs, entry.outputs[carry]))
    return values


def progress(events: list[Event], cell_id: str) -> list[tuple[int, int, bool]]:
    return [
        (e.iteration, e.max_iter, e.stopped)
        for e in events
        if isinstance(e, CellProgress) and e.cell_id == cell_id
    ]


def test_carry_threads_through_iterations_and_each_is_stored(
    make_notebook: Factory, open_session: Opener
) -> None:
    nb = make_notebook(
        {
            "seed": "state = [0]\nseen = []\n",
            "grow": (
                "# @loop max_iter=4 carry=state\n"
                "seen.append(1)  # an upstream value: every iteration sees it as stored\n"
                "state = state + [len(seen)]\n"
                "print('iteration', len(state) - 1)\n"
            ),
            "use": "total = sum(state)\nprint(state)\n",
        }
    )
    session = open_session(nb)
    cells, events = run(session)
    assert [c.status for c in cells.values()] == ["ok", "ok", "ok"]
    assert cells["grow"].stdout == "".join(f"iteration {k}\n" for k in range(1, 5))
    assert cells["use"].stdout == "[0, 1, 1, 1, 1]\n"
    assert stored_iterations(session, cells["grow"].key, "state") == [
        [0, 1],
        [0, 1, 1],
        [0, 1, 1, 1],
        [0, 1, 1, 1, 1],
    ]
    assert progress(events, "grow") == [(k, 4, False) for k in range(4)]
    streamed = [e for e in events if isinstance(e, CellStream) and e.cell_id == "grow"]
    assert "".join(e.text for e in streamed) == cells["grow"].stdout


def test_loop_until_stops_after_the_iteration_where_it_holds(
    make_notebook: Factory, open_session: Opener
) -> None:
    nb = make_notebook(
        {
            "seed": "n = 0\n",
            "count": "# @loop max_iter=50 carry=n\n# @loop_until n >= 3\nn = n + 1\n",
            "after": "print(n)\n",
        }
    )
    session = open_session(nb)
    cells, events = run(session)
    assert cells["after"].stdout == "3\n"
    assert progress(events, "count") == [(0, 50, False), (1, 50, False), (2, 50, True)]
    assert stored_iterations(session, cells["count"].key, "n") == [1, 2, 3]


def test_rerun_with_an_unchanged_key_is_one_hit_without_iterating(
    make_notebook: Factory, open_session: Opener, tmp_path: Path
) -> None:
    counter = tmp_path / "iterations.txt"
    body = f"with open({str(counter)!r}, 'a') as f:\n    f.write('x')\ns = s + 1\n"
    nb = make_notebook({"seed": "s = 0\n", "loop": f"# @loop max_iter=5 carry=s\n{body}"})
    session = open_session(nb)
    first, _ = run(session)
    assert counter.read_text() == "x" * 5
    second, events = run(session)
    assert second["loop"].cache_hit and not second["loop"].executed
    assert counter.read_text() == "x" * 5
    assert progress(events, "loop") == []
    # A new session (a new `strata run`) too.
    code, report = run_json(nb)
    assert code == 0 and by_id(report)["loop"]["cache_hit"] is True
    assert counter.read_text() == "x" * 5
    assert first["loop"].key == second["loop"].key


def test_start_from_resumes_from_a_stored_iteration_without_rerunning_it(
    make_notebook: Factory, open_session: Opener, tmp_path: Path
) -> None:
    log = tmp_path / "log.txt"
    write = f"with open({str(log)!r}, 'a') as f:\n    f.write(f'{{CELL}} {{s}}\\n')\n"
    nb = make_notebook(
        {
            "seed": "s = 100\n",
            "walk": "# @loop max_iter=5 carry=s\n"
            + write.replace("{CELL}", "walk")
            + "s = s + 1\n",
        }
    )
    session = open_session(nb)
    cells, _ = run(session)
    assert cells["walk"].status == "ok"
    assert log.read_text().splitlines() == [f"walk {n}" for n in range(100, 105)]
    fork = (
        "# @loop max_iter=2 carry=s start_from=walk@iter=2\n"
        + write.replace("{CELL}", "fork")
        + "s = s * 10\n"
    )
    (nb / "cells" / "fork.py").write_text(fork)
    toml = nb / "notebook.toml"
    toml.write_text(
        toml.read_text()
        + '[[cells]]\nid = "fork"\nfile = "fork.py"\nlanguage = "python"\norder = 3\n'
    )
    session = open_session(nb)
    cells, events = run(session)
    assert cells["walk"].cache_hit
    # walk's iteration 2 stored s == 103: the fork starts there; walk never ran again.
    assert log.read_text().splitlines()[5:] == ["fork 103", "fork 1030"]
    assert stored_iterations(session, cells["fork"].key, "s") == [1030, 10300]
    assert progress(events, "walk") == []


def test_start_from_an_iteration_that_is_not_stored_is_a_clear_error(
    make_notebook: Factory,
) -> None:
    nb = make_notebook(
        {
            "seed": "s = 0\n",
            "walk": "# @loop max_iter=3 carry=s\ns = s + 1\n",
            "fork": "# @loop max_iter=2 carry=s start_from=walk@iter=7\ns = s * 2\n",
        }
    )
    code, report = run_json(nb)
    assert code == 1
    error = by_id(report)["fork"]["error"]
    assert "start_from=walk@iter=7" in error and "iteration 7 of cell 'walk' is not stored" in error


def test_a_failure_at_iteration_k_names_it_and_keeps_the_earlier_iterations(
    make_notebook: Factory, open_session: Opener
) -> None:
    nb = make_notebook(
        {
            "seed": "s = 0\n",
            "loop": (
                "# @loop max_iter=10 carry=s\nif s == 3:\n    raise ValueError('boom')\ns += 1\n"
            ),
            "down": "print(s)\n",
        }
    )
    session = open_session(nb)
    cells, _ = run(session)
    loop = cells["loop"]
    assert loop.status == "error" and cells["down"].status == "skipped"
    assert loop.error is not None
    assert loop.error.startswith("@loop iteration 3 (of at most 10) raised ValueError: boom")
    assert "iterations 0..2 are stored" in loop.error
    assert loop.traceback is not None and "cells/loop.py" in loop.traceback
    assert stored_iterations(session, loop.key, "s") == [1, 2, 3]


def test_a_body_that_does_not_bind_the_carry_fails_naming_the_iteration(
    make_notebook: Factory,
) -> None:
    nb = make_notebook({"loop": "# @loop max_iter=3 carry=s\nif 's' not in dir():\n    s = 1\n"})
    nb2 = make_notebook({"loop": "# @loop max_iter=3 carry=s\nx = 1\n"}, name="nb2")
    assert by_id(run_json(nb)[1])["loop"]["status"] == "ok"
    error = by_id(run_json(nb2)[1])["loop"]["error"]
    assert error.startswith("@loop iteration 0 (of at most 3) did not bind the carry 's'")


def test_loop_on_a_remote_worker_is_refused(make_notebook: Factory, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    header = '[[workers]]\nname = "gpu"\nbackend = "executor"\nurl = "http://127.0.0.1:9"\n'
    source = f"# @worker gpu\n# @loop max_iter=2 carry=s\nopen({str(marker)!r}, 'w')\ns = 1\n"
    nb = make_notebook({"loop": source}, header=header)
    code, report = run_json(nb)
    assert code == 1
    error = by_id(report)["loop"]["error"]
    assert "@loop on worker 'gpu' (backend executor) is not available yet" in error
    assert not marker.exists()


# -- diagnostics and quick fixes ------------------------------------------------------------------
def fixed_text(nb: Path, cell_id: str, code: str) -> tuple[str, list[str]]:
    """The cell's text after its preferred fix for `code`, and every fix's title."""
    snapshot = take_snapshot(load_notebook(nb))
    view = snapshot.cells[cell_id]
    (diag,) = [d for d in view.diagnostics if d.code == code]
    fixes = quick_fixes(snapshot, diag)
    lines = (view.source or "").split("\n")
    (edit,) = fixes[0].edits
    start = sum(len(x) + 1 for x in lines[: edit.span.line - 1]) + edit.span.col
    end = sum(len(x) + 1 for x in lines[: edit.span.end_line - 1]) + edit.span.end_col
    text = view.source or ""
    return text[:start] + edit.new_text + text[end:], [f.title for f in fixes]


def codes_of(nb: Path, cell_id: str, text: str) -> list[str]:
    snapshot = take_snapshot(load_notebook(nb), {cell_id: text})
    return [d.code for d in snapshot.cells[cell_id].diagnostics]


def test_loop_diagnostics_come_with_fixes(make_notebook: Factory) -> None:
    cases = {
        "zero": ("# @loop max_iter=0 carry=s\ns = s + 1\n", "loop_missing_max_iter"),
        "neg": ("# @loop max_iter=-3 carry=s\ns = s + 1\n", "loop_missing_max_iter"),
        "nocarry": ("# @loop max_iter=3\ns = s + 1\n", "loop_missing_carry"),
        "unknown": ("# @loop max_iter=3 carry=q\ns = s + 1\n", "loop_carry_unknown"),
        "until": ("# @loop max_iter=3 carry=s\n# @loop_until s = 3\ns = s + 1\n", None),
        "alone": ("# @loop_until s > 3\ns = s + 1\n", "loop_missing_max_iter"),
        "self": ("# @loop max_iter=3 carry=s start_from=self@iter=0\ns = s + 1\n", None),
    }
    nb = make_notebook({"seed": "s = 0\n", **{k: v[0] for k, v in cases.items()}})
    expected = {
        "zero": "# @loop max_iter=10 carry=s\ns = s + 1\n",
        "neg": "# @loop max_iter=10 carry=s\ns = s + 1\n",
        "nocarry": "# @loop carry=s max_iter=3\ns = s + 1\n",
        "unknown": "# @loop max_iter=3 carry=s\ns = s + 1\n",
        "alone": "# @loop max_iter=10 carry=s\n# @loop_until s > 3\ns = s + 1\n",
    }
    for cell_id, want in expected.items():
        code = cases[cell_id][1]
        assert code is not None
        text, _titles = fixed_text(nb, cell_id, code)
        assert text == want, cell_id
        assert code not in codes_of(nb, cell_id, text), cell_id
    text, titles = fixed_text(nb, "until", "loop_until_syntax_error")
    assert text == "# @loop max_iter=3 carry=s\n# @loop_until s == 3\ns = s + 1\n"
    assert titles == ["Use '@loop_until s == 3'", "Remove the @loop_until line"]
    snapshot = take_snapshot(load_notebook(nb))
    (diag,) = [d for d in snapshot.cells["self"].diagnostics if d.code == "loop_start_from_unknown"]
    assert "names this cell itself" in diag.message


def test_validate_reports_loop_codes_and_runs_nothing(make_notebook: Factory) -> None:
    nb = make_notebook({"a": "# @loop max_iter=2 carry=s start_from=nowhere@iter=1\ns = 1\n"})
    proc = strata("validate", nb)
    assert proc.returncode == 1
    assert "loop_start_from_unknown" in proc.stdout


# -- the original Strata's example ----------------------------------------------------------------
def _simulate_hill_climb(directory: Path) -> dict[str, Any]:
    """The example's cells as plain Python: seed once, then the loop body in a for-loop with
    a fresh namespace per iteration (the original runs each in a fresh process)."""
    cells = directory / "cells"
    upstream: dict[str, Any] = {}
    exec((cells / "helpers.py").read_text(), upstream)
    exec((cells / "seed.py").read_text(), upstream)
    state = upstream["state"]
    body = compile((cells / "evolve.py").read_text(), "evolve.py", "exec")
    for _ in range(40):
        namespace = {"random": upstream["random"], "himmelblau": upstream["himmelblau"]}
        namespace["state"] = state
        exec(body, namespace)
        state = namespace["state"]
        if state["best_score"] < 1e-3:
            break
    return dict(state)


def test_original_loop_hill_climb_runs_unchanged_with_40_iterations(
    tmp_path: Path, open_session: Opener
) -> None:
    nb = tmp_path / "loop_hill_climb"
    shutil.copytree(FIXTURES / "loop_hill_climb", nb)
    assert strata("validate", nb).returncode == 0
    session = open_session(nb)
    cells, events = run(session)
    assert all(c.status == "ok" for c in cells.values()), cells
    summary = cells["summary"]
    assert "Iterations   = 40\n" in summary.stdout
    assert len(progress(events, "evolve")) == 40
    expected = _simulate_hill_climb(nb)
    assert expected["iter"] == 40
    assert f"Final score  = {expected['best_score']:.6f}\n" in summary.stdout
    assert f"Accepted     = {sum(h['accepted'] for h in expected['history'])}\n" in summary.stdout
    assert len(stored_iterations(session, cells["evolve"].key, "state")) == 40
    again, events = run(session)
    assert again["evolve"].cache_hit and progress(events, "evolve") == []
