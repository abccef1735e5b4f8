"""Inputs changed in place at run time (mutation_in_place), through real runs.

The mutations here go through helper functions, so static analysis cannot see them: only
the digest comparison in the cell's process can.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.run.events import CellRun
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]

PRODUCER = 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})\n'
MUTATOR = 'def bump(d):\n    d["a"] += 1\n\n\nbump(df)\ntotal = 1\n'
CONSUMER = 'print(df["a"].tolist())\n'


def run(session: Session) -> dict[str, CellRun]:
    session.reload()
    return {cell.id: cell for cell in session.run("all").cells}


def test_a_helper_that_mutates_an_input_is_reported_with_variable_and_line(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": PRODUCER, "b": MUTATOR, "c": CONSUMER})
    cells = run(open_session(nb))
    assert cells["b"].status == "ok"
    [warning] = cells["b"].warnings
    assert warning.code == "mutation_in_place"
    assert warning.severity == "warning"
    assert warning.data == {"variable": "df", "line": 5}  # bump(df): df passed to a call
    assert warning.file == "cells/b.py" and warning.line == 5
    assert "cell c will see the unmutated df from a" in warning.message
    assert "df = df.drop(...)" in warning.message and "df.copy()" in warning.message
    # The consumer saw the producer's stored value, as the warning says.
    assert cells["c"].stdout == "[1, 2, 3]\n"
    assert cells["a"].warnings == [] and cells["c"].warnings == []


def test_the_mutating_cell_is_still_cached(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook({"a": PRODUCER, "b": MUTATOR, "c": CONSUMER})
    session = open_session(nb)
    run(session)
    again = run(session)
    assert all(cell.cache_hit for cell in again.values())


def test_the_receiver_of_a_method_call_is_the_line_named(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    # A mutation through an attribute's method is a read to static analysis.
    mutator = 'n = len(df)\nprint(n)\ndf.loc.__setitem__((0, "a"), 99)\n'
    nb = make_notebook({"a": PRODUCER, "b": mutator, "c": CONSUMER})
    cells = run(open_session(nb))
    [warning] = cells["b"].warnings
    assert warning.data == {"variable": "df", "line": 3}
    assert cells["c"].stdout == "[1, 2, 3]\n"


def test_lists_dicts_and_arrays_are_watched_too(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    producer = "import numpy as np\nitems = [1]\nconf = {'k': 1}\narr = np.zeros(3)\nlabel = 'x'\n"
    mutator = (
        "def grow(xs, c):\n    xs.append(2)\n    c['k'] = 2\n\n\n"
        "grow(items, conf)\nnp.add(arr, 1, out=arr)\nn = len(label)\n"
    )
    nb = make_notebook({"a": producer, "b": mutator})
    cells = run(open_session(nb))
    found = {w.data["variable"]: w.data["line"] for w in cells["b"].warnings if w.data}
    assert found == {"items": 6, "conf": 6, "arr": 7}
    # Nobody reads them downstream: the message says what a later reader would see.
    assert all("a later cell reading" in w.message for w in cells["b"].warnings)


def test_reading_or_rebinding_an_input_is_no_mutation(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    readers = (
        "n = len(df)\nfirst = df.drop(index=0)\nsummary = df.describe()\n"
        "values = df['a'].to_numpy().sum()\ncopy = df.copy()\ncopy.loc[0, 'a'] = 5\n"
    )
    nb = make_notebook({"a": PRODUCER, "b": readers, "c": CONSUMER})
    cells = run(open_session(nb))
    assert cells["b"].status == "ok", cells["b"].error
    assert cells["b"].warnings == []


def test_cli_prints_the_warning_and_puts_it_in_the_json(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": PRODUCER, "b": MUTATOR, "c": CONSUMER})
    command = [sys.executable, "-m", "strata_engine.cli", "run", str(nb), "--format", "json"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    cells = {cell["id"]: cell for cell in json.loads(proc.stdout)["cells"]}
    [warning] = cells["b"]["warnings"]
    assert warning["code"] == "mutation_in_place"
    assert warning["data"] == {"variable": "df", "line": 5}
    assert warning["file"] == "cells/b.py" and warning["line"] == 5
    assert "warnings" not in cells["c"]
    human = subprocess.run(
        [*command[:-2], "--force"], capture_output=True, text=True, check=False
    ).stdout
    assert "cells/b.py:5:1: warning [mutation_in_place] cell b changed df in place" in human
