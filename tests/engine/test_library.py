"""The notebook as a library (`open_notebook`), exercised from plain Python processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from strata_engine.library import (
    NotebookValueError,
    NotReadyError,
    UnknownVariableError,
    open_notebook,
)
from strata_engine.run.session import Session

CELLS = {
    "base": "import pyarrow as pa\ntable = pa.table({'x': list(range(1000))})\nlimit = 3\n",
    "top": "top = table.slice(0, limit).column('x').to_pylist()\n",
    "report": "report = {'top': top}\n",
}


def _python(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter; it prints one JSON line, which is returned."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _ran(directory: Path) -> None:
    with Session(directory) as session:
        assert session.run("all").success


def test_a_plain_process_reads_cached_values_memory_mapped(
    make_notebook: Callable[..., Path],
) -> None:
    directory = make_notebook(CELLS)
    _ran(directory)
    out = _python(
        f"""
        import json, sys
        import strata_engine
        cheap = "strata_engine.library" not in sys.modules
        from strata_engine import open_notebook
        nb = open_notebook({str(directory)!r})
        top = nb["top"]
        light = "pyarrow" not in sys.modules and "pandas" not in sys.modules
        table = nb["table"]
        import pyarrow as pa
        print(json.dumps({{
            "cheap_import": cheap, "json_value_loads_no_arrow": light, "top": top,
            "rows": table.num_rows, "allocated": pa.total_allocated_bytes(),
            "states": {{c: s.state for c, s in nb.states().items()}},
        }}))
        """
    )
    assert out["cheap_import"] is True
    assert out["json_value_loads_no_arrow"] is True
    assert out["top"] == [0, 1, 2]
    assert out["rows"] == 1000
    assert out["allocated"] == 0  # the table's buffers are the mapped blob, not copies
    assert out["states"] == {"base": "ready", "top": "ready", "report": "ready"}


def test_never_run_producer_raises_naming_variable_cell_state_and_fix(
    make_notebook: Callable[..., Path],
) -> None:
    directory = make_notebook(CELLS)
    with open_notebook(directory) as nb, pytest.raises(NotReadyError) as caught:
        nb["top"]
    message = str(caught.value)
    assert "'top'" in message and "cell 'top'" in message and "never run" in message
    assert "nb.value('top', run=True)" in message and f"strata run {directory}" in message
    assert caught.value.state == "never_run" and caught.value.cell == "top"


def test_stale_producer_raises_with_its_reasons(make_notebook: Callable[..., Path]) -> None:
    directory = make_notebook(CELLS)
    _ran(directory)
    (directory / "cells" / "base.py").write_text(CELLS["base"].replace("3", "4"))
    with open_notebook(directory) as nb:
        with pytest.raises(NotReadyError) as caught:
            nb["top"]
        assert caught.value.state == "stale"
        assert "upstream base changed (limit)" in str(caught.value)
        with pytest.raises(NotReadyError, match="source changed"):
            nb["limit"]


def test_unknown_name_suggests_the_close_one(make_notebook: Callable[..., Path]) -> None:
    directory = make_notebook(CELLS)
    with open_notebook(directory) as nb:
        with pytest.raises(UnknownVariableError, match="did you mean 'report'") as caught:
            nb["reprot"]
        assert "notebook.toml" in str(caught.value)
        assert isinstance(caught.value, NotebookValueError)
        assert isinstance(caught.value, LookupError)  # `except KeyError`-style code still works


def test_run_true_runs_only_the_producer_and_its_stale_upstream(
    make_notebook: Callable[..., Path],
) -> None:
    directory = make_notebook(CELLS)
    with open_notebook(directory) as nb:
        assert nb.value("top", run=True) == [0, 1, 2]
        states = {c: s.state for c, s in nb.states().items()}
        assert states == {"base": "ready", "top": "ready", "report": "never_run"}
        before = nb.session.index.last_runs("test-notebook")
        # Ready upstream is served from the cache: nothing re-executes.
        assert nb.value("report", run=True) == {"top": [0, 1, 2]}
        after = nb.session.index.last_runs("test-notebook")
        assert after["base"].finished_at == before["base"].finished_at
        assert after["top"].finished_at == before["top"].finished_at


def test_a_failing_producer_with_run_true_raises_naming_it(
    make_notebook: Callable[..., Path],
) -> None:
    directory = make_notebook({"bad": "value = 1 / 0\n"})
    with open_notebook(directory) as nb:
        with pytest.raises(NotebookValueError, match=r"'bad'.*ZeroDivisionError"):
            nb.value("value", run=True)
        with pytest.raises(NotReadyError, match="failed"):
            nb["value"]
