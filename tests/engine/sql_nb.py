"""Helpers for SQL cell tests: write a notebook of (language, source) cells with connections,
run it in a fresh Session, read a cell's stored output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from strata_engine.run.events import RunReport
from strata_engine.run.session import Session
from strata_engine.store import load_value


def write_sql_notebook(
    root: Path, cells: dict[str, tuple[str, str]], *, header: str = "", suffix: str = ".sql"
) -> Path:
    """cells: id -> (language, source); SQL cells get `suffix` (the original used .py)."""
    (root / "cells").mkdir(parents=True, exist_ok=True)
    lines = ['notebook_id = "sql-test"', 'name = "sql test"', header, ""]
    for order, (cell_id, (language, source)) in enumerate(cells.items(), start=1):
        file = f"{cell_id}{suffix if language == 'sql' else '.py'}"
        (root / "cells" / file).write_text(source)
        lines += [
            "[[cells]]",
            f'id = "{cell_id}"',
            f'file = "{file}"',
            f'language = "{language}"',
            f"order = {order}",
            "",
        ]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


Runner = Callable[..., RunReport]


@pytest.fixture
def run_nb() -> Iterator[Runner]:
    """Run a notebook directory in a fresh Session (as `strata run` does), closed after."""
    sessions: list[Session] = []

    def runner(directory: Path, **kwargs: object) -> RunReport:
        session = Session(directory)
        sessions.append(session)
        return session.run(**kwargs)  # type: ignore[arg-type]

    yield runner
    for session in sessions:
        session.close()


def cell(report: RunReport, cell_id: str) -> dict[str, object]:
    return next(c.to_json() for c in report.cells if c.id == cell_id)


def executed(report: RunReport) -> set[str]:
    return {c.id for c in report.cells if c.executed}


def output(directory: Path, cell_id: str, name: str | None = None) -> Any:
    """The cell's stored `name` (default: its only output)."""
    with Session(directory) as session:
        status = session.states()[cell_id]
        assert status.entry is not None, status.state
        outputs = status.entry.outputs
        if name is None:
            (name,) = outputs
        return load_value(session.blobs, outputs[name])


def states(directory: Path) -> dict[str, str]:
    """Every cell's state with fresh probes (as a run keys cells), not the editor's memo."""
    with Session(directory) as session:
        snapshot = session.snapshot()
        snapshot.mount_max_age = 0.0
        return {cell_id: s.state for cell_id, s in session.states(snapshot).items()}
