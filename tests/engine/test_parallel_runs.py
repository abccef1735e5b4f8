"""Independent cells run at the same time (`strata run --jobs N`), with the results, JSON and
exit code of a sequential run.

Concurrency is proven without timing: two cells each create a file and wait (bounded) for the
other's, so they can only both succeed if they run at the same time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NotebookFactory, write_notebook
from test_cli import by_id, run_json, strata
from test_executor_e2e import start_worker

from strata_engine.run.events import CellFinished, CellStarted, CellStream, Event
from strata_engine.run.session import InvocationError, Session


def rendezvous(mine: Path, theirs: Path, seconds: float = 60.0) -> str:
    """A cell that announces itself with `mine` and waits for `theirs` (or fails)."""
    return (
        "import pathlib, time\n"
        f"pathlib.Path({str(mine)!r}).touch()\n"
        f"deadline = time.monotonic() + {seconds}\n"
        f"while not pathlib.Path({str(theirs)!r}).exists():\n"
        "    if time.monotonic() > deadline:\n"
        f"        raise TimeoutError('nobody else ran: {theirs.name} never appeared')\n"
        "    time.sleep(0.01)\n"
        f"met = {mine.name!r}\n"
    )


def pair(tmp_path: Path, seconds: float = 60.0) -> dict[str, str]:
    x, y = tmp_path / "x.flag", tmp_path / "y.flag"
    return {"a": rendezvous(x, y, seconds), "b": rendezvous(y, x, seconds)}


def strip_durations(report: dict[str, Any]) -> dict[str, Any]:
    cells = [{k: v for k, v in cell.items() if k != "duration_ms"} for cell in report["cells"]]
    return {**{k: v for k, v in report.items() if k != "duration_ms"}, "cells": cells}


def test_two_cells_that_wait_for_each_other_both_finish_with_two_jobs(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    nb = make_notebook(pair(tmp_path))
    code, report = run_json(nb, "--jobs", "2")
    assert code == 0, report
    assert [c["status"] for c in report["cells"]] == ["ok", "ok"]


def test_with_one_job_they_run_one_after_the_other(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    # The control: the same rendezvous fails when cells do not overlap.
    nb = make_notebook(pair(tmp_path, seconds=2.0))
    code, report = run_json(nb, "--jobs", "1")
    cells = by_id(report)
    assert code == 1
    assert cells["a"]["status"] == "error" and "never appeared" in cells["a"]["error"]
    assert cells["b"]["status"] == "ok"


DIAMOND = {
    "top": "n = 10\nprint('top')\n",
    "left": "left = n + 1\nprint('left', left)\n",
    "right": "right = n * 2\nprint('right', right)\n",
    "bottom": "total = left + right\nprint('total', total)\n",
    "broken": "bad = 1 / 0\n",
    "after_broken": "print(bad)\n",
    "alone": "import sys\nprint('alone', file=sys.stderr)\n",
    "twin_one": "print('same body')\n",
    "twin_two": "print('same body')\n",
    "notes.md": "# Notes\n",
}


def test_one_job_and_two_jobs_give_the_same_report_and_exit_code(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook(DIAMOND)
    reports = {}
    for jobs in ("1", "2"):
        # --force: both runs execute everything (the second would otherwise be all hits).
        code, report = run_json(nb, "--force", "--jobs", jobs)
        reports[jobs] = (code, strip_durations(report))
    assert reports["1"] == reports["2"]
    code, report = reports["2"]
    cells = by_id(report)
    assert code == 1
    assert cells["bottom"]["stdout"] == "total 31\n"
    assert cells["after_broken"] == {
        "id": "after_broken",
        "status": "skipped",
        "cache_hit": False,
        "reason": "upstream failed",
    }
    assert cells["alone"]["status"] == "ok"


def test_cached_rerun_and_early_cutoff_with_two_jobs(make_notebook: NotebookFactory) -> None:
    nb = make_notebook(DIAMOND)
    code, report = run_json(nb, "--jobs", "2")
    cells = by_id(report)
    # A cell with the key of one running waits for it and is served its result, as it is
    # when they run one after the other.
    assert not cells["twin_one"]["cache_hit"] and cells["twin_two"]["cache_hit"]
    (nb / "cells" / "top.py").write_text("n = 5 + 5\nprint('top')\n")  # same value
    code, report = run_json(nb, "--jobs", "2")
    cells = by_id(report)
    assert code == 1
    assert not cells["top"]["cache_hit"]  # re-ran...
    assert all(cells[c]["cache_hit"] for c in ("left", "right", "bottom"))  # ...same outputs


def test_jobs_must_be_a_whole_number_of_at_least_one(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    for bad in ("0", "-1", "two", "1.5"):
        proc = strata("run", nb, "--jobs", bad)
        assert proc.returncode == 2 and "--jobs" in proc.stderr, (bad, proc.stderr)
    with Session(nb) as session, pytest.raises(InvocationError, match="jobs 0"):
        session.run(jobs=0)


# -- remote cells take no local slot -----------------------------------------------------------
@pytest.fixture
def worker_url(tmp_path: Path) -> Iterator[str]:
    for _, url in start_worker(tmp_path / "worker-home"):
        yield url


def test_a_strata_worker_cell_does_not_take_the_only_local_slot(
    tmp_path: Path, worker_url: str
) -> None:
    cells = pair(tmp_path)
    cells["a"] = "# @worker remote\n" + cells["a"]
    header = (
        '[[workers]]\nname = "remote"\nbackend = "executor"\n[workers.config]\n'
        f'url = "{worker_url}"\n'
    )
    nb = write_notebook(tmp_path / "nb", cells, header=header)
    code, report = run_json(nb, "--jobs", "1")
    assert code == 0, report


def test_a_dask_cell_does_not_take_the_only_local_slot(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        cells = pair(tmp_path)
        cells["a"] = "# @worker cluster\n" + cells["a"]
        header = (
            '[[workers]]\nname = "cluster"\nbackend = "dask"\n[workers.config]\n'
            f'scheduler = "{cluster.scheduler_address}"\n'
        )
        nb = write_notebook(tmp_path / "nb", cells, header=header)
        code, report = run_json(nb, "--jobs", "1")
    finally:
        cluster.close()
    assert code == 0, report


# -- events and cancel, through the Session the language server drives ---------------------------
def long_cell(name: str) -> str:
    return f"import time\nprint({name!r}, flush=True)\ntime.sleep(600)\n{name} = 1\n"


def test_cancel_stops_every_running_cell_and_events_stay_ordered_per_cell(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook({"a": long_cell("a"), "b": long_cell("b"), "c": "print(a + b)\n"})
    events: list[Event] = []
    both_running = threading.Event()
    report_box: list[Any] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if {_cell_of(e) for e in events if isinstance(e, CellStream)} >= {"a", "b"}:
            both_running.set()  # each printed from inside its running process

    with Session(nb) as session:
        thread = threading.Thread(
            target=lambda: report_box.append(session.run(on_event=on_event, jobs=2))
        )
        thread.start()
        assert both_running.wait(120), events
        session.cancel()
        thread.join(60)
        assert not thread.is_alive()
    cells = {c.id: c for c in report_box[0].cells}
    assert (cells["a"].status, cells["a"].error) == ("error", "cancelled")
    assert (cells["b"].status, cells["b"].error) == ("error", "cancelled")
    assert (cells["c"].status, cells["c"].reason) == ("skipped", "cancelled")
    for cell in ("a", "b"):
        mine = [type(e).__name__ for e in events if _cell_of(e) == cell]
        # A print may reach the engine as one chunk or two ("a", "\n"): ordered, not counted.
        assert mine[0] == "CellStarted" and mine[-1] == "CellFinished", mine
        assert mine[1:-1] and set(mine[1:-1]) == {"CellStream"}, mine


def _cell_of(event: Event) -> str:
    if isinstance(event, CellFinished):
        return event.run.id
    assert isinstance(event, CellStarted | CellStream) or hasattr(event, "cell_id")
    return str(event.cell_id)


def test_quick_independent_cells_share_the_one_warm_worker(make_notebook: NotebookFactory) -> None:
    # A second warm worker would import everything again: quick cells wait for the busy one.
    cells = {name: f"import os\n{name} = os.getppid()\n" for name in ("a", "b", "c", "d")}
    nb = make_notebook({**cells, "all": "print(sorted({a, b, c, d}) == [a])\n"})
    code, report = run_json(nb, "--jobs", "2")
    assert code == 0, report
    assert "True" in by_id(report)["all"]["stdout"], report  # one parent: one zygote


def test_a_busy_worker_is_waited_for_only_when_its_cell_should_end_soon() -> None:
    # The policy behind the test above, on the scheduler's own state: a cell whose last run
    # was long gets a parallel worker at once; a quick or never-run one is waited for.
    import threading

    from strata_engine.analysis.graph import build_graph
    from strata_engine.run.scheduler import LOCAL_SLOTS, Launch, Scheduler, _Flight

    never = None  # what the policy does not look at
    scheduler = Scheduler(build_graph([]), never, never, jobs=2, cancelled=threading.Event())

    def flying(expected: float | None) -> bool:
        launch = Launch("a", "key", never, never, True, expected)
        scheduler._flights = {"a": _Flight(launch, never, LOCAL_SLOTS)}
        return scheduler._busy_worker_frees_soon()

    assert flying(None)  # a first run: waiting saves importing everything again
    assert flying(0.5)
    assert not flying(2.0)  # two-second cells side by side stay parallel (issue [5])
    assert not flying(60.0)  # a long cell: its neighbour runs in parallel now
