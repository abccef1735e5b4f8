"""Shared fixtures: build notebook directories from a dict of cells."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_server import s3_server

from strata_engine.backends.jobs import CellJob
from strata_engine.run.session import Session
from strata_engine.store import ArtifactIndex, BlobStore, StoredValue, load_value, store_value

NotebookFactory = Callable[..., Path]
__all__ = ["s3_server"]  # a shared fixture: a real S3 endpoint on loopback


def write_notebook(root: Path, cells: dict[str, str], *, header: str = "") -> Path:
    """cells: id -> source; ids ending in `.md` become markdown cells named without it."""
    (root / "cells").mkdir(parents=True, exist_ok=True)
    lines = ['notebook_id = "test-notebook"', 'name = "test"', header, ""]
    for order, (cell_id, source) in enumerate(cells.items(), start=1):
        language = "markdown" if cell_id.endswith(".md") else "python"
        ident = cell_id.removesuffix(".md")
        file = f"{ident}.md" if language == "markdown" else f"{ident}.py"
        (root / "cells" / file).write_text(source)
        lines += [
            "[[cells]]",
            f'id = "{ident}"',
            f'file = "{file}"',
            f'language = "{language}"',
            f"order = {order}",
            "",
        ]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


@pytest.fixture
def make_notebook(tmp_path: Path) -> NotebookFactory:
    def factory(cells: dict[str, str], *, header: str = "", name: str = "nb") -> Path:
        return write_notebook(tmp_path / name, cells, header=header)

    return factory


@pytest.fixture
def open_session() -> Iterator[Callable[[Path], Session]]:
    """Sessions opened through this fixture are closed (warm workers stopped) after the test."""
    sessions: list[Session] = []

    def opener(directory: Path) -> Session:
        session = Session(directory)
        sessions.append(session)
        return session

    yield opener
    for session in sessions:
        session.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "artifacts")


@pytest.fixture
def index(blobs: BlobStore) -> Iterator[ArtifactIndex]:
    with ArtifactIndex(blobs.root / "index.sqlite") as opened:
        yield opened


def make_job(cwd: Path, source: str, **fields: Any) -> CellJob:
    defaults: dict[str, Any] = {
        "cell_id": "c1",
        "language": "python",
        "source": textwrap.dedent(source),
        "filename": "cells/c1.py",
        "inputs": {},
        "publish": (),
        "required": frozenset(),
        "env": {},
        "timeout": 60.0,
        "cwd": cwd,
    }
    defaults.update(fields)
    return CellJob(**defaults)


def roundtrip(blobs: BlobStore, value: object) -> tuple[StoredValue, Any]:
    """Store `value` and load it back (checking the recorded size against the blob)."""
    stored = store_value(blobs, "v", value)
    assert stored.size == blobs.size(stored.digest)
    return stored, load_value(blobs, stored)
