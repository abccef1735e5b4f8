"""Soak (issue [11]): `kill -9` at random moments during `strata run`, during structural
edits and saves of notebook.toml and cells (the engine's atomic writes), and during
`strata cache gc`; 200 kills in all, bounded to about a minute.

The killed processes are the real CLI and engine code, forked from one driver process that
imported the engine once (a fresh interpreter per kill would spend the minute importing).
Each child leads its own process group, so the kill takes its zygote and cell processes too
(unless one moved to a session of its own: those end when their pipes close).
Kill moments come from a seeded RNG: a delay drawn from a range calibrated on a measured,
unkilled run of the same operation (fault injection, not synchronization: the test waits for
the child's exit status through the driver, and counts only kills that landed).

After every kill: notebook.toml and the cells parse and hold the old or the new content, the
store's index opens and passes SQLite's check, and no blob a live entry names is missing.
Every 40 kills, and at the end, `strata status` answers and a re-run computes the right values.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fuzz_support import run_cli

from strata_engine.library import open_notebook
from strata_engine.model.notebook import load_notebook
from strata_engine.store import ArtifactIndex, BlobStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

SEED = 20261121
KILLS = {"run": 40, "edit": 100, "gc": 60}
FULL_CHECK_EVERY = 40
BUDGET_S = 150.0
"""A guard against a hung or starved soak (about 45 s on an idle 2-core machine): the test
fails if 200 kills did not land within it."""

CELLS = {
    "a": "n = 4000\nrows = [i * i for i in range(n)]\n",
    "b": "import json\ntotal = sum(rows)\nprint(json.dumps({'total': total}))\n",
    "c": "digest = total % 1_000_003\nlabel = f'{n}:{digest}'\n",
}
EXPECTED = {"n": 4000, "total": sum(i * i for i in range(4000))}
EXPECTED["label"] = f"4000:{EXPECTED['total'] % 1_000_003}"
D_TEXTS = ("# @name notes\nnote = 'old'\n", "# @name notes\nnote = 'new' + '!' * 3\n")
E_TEXT = "extra = n + 1\n"

DRIVER = r"""
import json, os, sys
from pathlib import Path
from strata_engine.cli import main
from strata_engine.model.notebook import Cell, load_notebook
from strata_engine.model.saving import save_notebook, write_cell_source
import strata_engine.run.session, strata_engine.store  # imported once, before any fork

D_TEXTS, E_TEXT = json.loads(sys.argv[1])

def edit(directory, rounds):
    # Alternate the two versions: d's text, then the structural add or removal of cell e
    # (its file is written before the manifest names it).
    for i in range(rounds):
        notebook = load_notebook(directory)
        d = notebook.cell("d")
        write_cell_source(notebook, d, D_TEXTS[i % 2])
        if notebook.cell("e") is None:
            e = Cell(id="e", file="e.py", language="python", order=5.0)
            write_cell_source(notebook, e, E_TEXT)
            notebook.cells.append(e)
        else:
            notebook.cells = [c for c in notebook.cells if c.id != "e"]
        save_notebook(notebook)
    return 0

def op(command):
    directory = Path(command["directory"])
    if command["op"] == "run":
        return main(["run", str(directory), "--force", "--quiet", "--no-sync"])
    if command["op"] == "rerun":
        return main(["run", str(directory), "--quiet", "--no-sync"])
    if command["op"] == "gc":
        return main(["cache", "gc", str(directory), "--max-size", command["max_size"]])
    return edit(directory, command["rounds"])

for line in sys.stdin:
    command = json.loads(line)
    if command["op"] == "wait":
        _, status = os.waitpid(command["pid"], 0)
        print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                          "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}),
              flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            code = op(command)
        except BaseException:
            code = 99
        os._exit(code)
    try:
        os.setpgid(pid, pid)  # both sides: the group exists before the test can kill it
    except OSError:
        pass  # the child got there first (EACCES once it has exec'd or EPERM)
    print(json.dumps({"pid": pid}), flush=True)
"""


class Driver:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, json.dumps([D_TEXTS, E_TEXT])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "STRATA_TRACEBACK": ""},
        )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def start(self, **command: Any) -> int:
        return int(self._ask(command)["pid"])

    def wait(self, pid: int) -> dict[str, Any]:
        return self._ask({"op": "wait", "pid": pid})

    def complete(self, **command: Any) -> int:
        """Run `command` to its end; its exit code."""
        status = self.wait(self.start(**command))
        assert status["signal"] is None, status
        return int(status["code"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def write_notebook(directory: Path) -> None:
    (directory / "cells").mkdir(parents=True)
    lines = ['notebook_id = "soak"', 'name = "soak"', ""]
    for order, (cell_id, text) in enumerate([*CELLS.items(), ("d", D_TEXTS[0])], start=1):
        (directory / "cells" / f"{cell_id}.py").write_text(text)
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{cell_id}.py"']
        lines += ['language = "python"', f"order = {order}", ""]
    (directory / "notebook.toml").write_text("\n".join(lines))


def check_files(directory: Path) -> None:
    """notebook.toml and the cells parse and hold the old or the new content."""
    notebook = load_notebook(directory)
    ids = [cell.id for cell in notebook.cells]
    assert ids in (["a", "b", "c", "d"], ["a", "b", "c", "d", "e"]), ids
    assert not [d for d in notebook.diagnostics if d.severity == "error"], notebook.diagnostics
    sources = {cell.id: cell.source for cell in notebook.cells}
    assert sources["d"] in D_TEXTS, sources["d"]
    assert sources.get("e", E_TEXT) == E_TEXT
    for cell_id, text in CELLS.items():
        assert sources[cell_id] == text


def check_store(root: Path) -> int:
    """The index opens and is intact, and every blob a live entry names exists; returns the
    number of live entries."""
    if not (root / "index.sqlite").exists():
        return 0
    db = sqlite3.connect(root / "index.sqlite")
    try:
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        db.close()
    blobs = BlobStore(root)
    live = 0
    with ArtifactIndex(root / "index.sqlite") as index:
        for refs in index.iter_refs():
            assert refs.required is not None, f"entry {refs.key} has unreadable outputs"
            missing = [digest for digest in refs.required if not blobs.has(digest)]
            assert not missing, f"entry {refs.key} names missing blobs {missing}"
            live += 1
    return live


def check_answers(driver: Driver, directory: Path) -> None:
    """`strata status` answers, and a re-run (hits or executions) yields the right values."""
    code, out, err = run_cli("status", directory)
    assert code == 0 and "Traceback" not in err, err
    assert {c["id"] for c in json.loads(out)["cells"]} >= {"a", "b", "c", "d"}
    assert driver.complete(op="rerun", directory=str(directory)) == 0
    with open_notebook(directory) as notebook:
        for name, value in EXPECTED.items():
            assert notebook[name] == value, name


def calibrate(driver: Driver, directory: Path) -> dict[str, float]:
    """Seconds an unkilled operation takes here, now (the kill delays are drawn below it)."""
    spans = {}
    for op, command in {
        "run": {"op": "run"},
        "gc": {"op": "gc", "max_size": "1"},
        "edit": {"op": "edit", "rounds": 40},
    }.items():
        started = time.perf_counter()
        assert driver.complete(directory=str(directory), **command) == 0, op
        spans[op] = time.perf_counter() - started
        check_files(directory)
        driver.complete(op="run", directory=str(directory))  # gc emptied it: refill
    return spans


def test_kill_9_at_random_moments_leaves_notebook_and_store_correct(tmp_path: Path) -> None:
    directory = tmp_path / "soak"
    write_notebook(directory)
    store = directory / ".strata" / "artifacts"
    rng = random.Random(SEED)
    driver = Driver()
    try:
        spans = calibrate(driver, directory)
        # Edits: anywhere in their first ten rounds (calibrated on 40), wherever in a round.
        ranges = {**spans, "edit": spans["edit"] / 4}
        plan = [op for op, count in KILLS.items() for _ in range(count)]
        rng.shuffle(plan)
        landed = {op: 0 for op in KILLS}
        missed = 0
        deadline = time.monotonic() + BUDGET_S
        while plan:
            assert time.monotonic() < deadline, f"kills landed so far: {landed}"
            op = plan[-1]
            command: dict[str, Any] = {"op": op, "directory": str(directory)}
            if op == "gc":
                command["max_size"] = rng.choice(["1", "2KB", "20KB", "1GB"])
            if op == "edit":
                command["rounds"] = 2_000  # still editing whenever the kill comes
            pid = driver.start(**command)
            time.sleep(rng.uniform(0.0, ranges[op]))  # the fault
            with contextlib.suppress(ProcessLookupError):  # it finished first
                os.killpg(pid, signal.SIGKILL)
            status = driver.wait(pid)
            if status["signal"] == signal.SIGKILL:
                landed[op] += 1
                plan.pop()
            else:
                assert status["code"] == 0, (op, status)
                missed += 1  # finished first: the same kind of kill is drawn again
            check_files(directory)
            check_store(store)
            if sum(landed.values()) % FULL_CHECK_EVERY == 0 and status["signal"]:
                check_answers(driver, directory)
        check_answers(driver, directory)
        assert check_store(store) >= 3
        print(f"\nkill -9 survived: {landed} = {sum(landed.values())}; finished first: {missed}")
        print(f"calibration (s): { {k: round(v, 3) for k, v in spans.items()} }")
    finally:
        driver.close()
