"""Fixtures: notebook directories on disk and a language server session per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from .harness import SERVER, Session, start, stop

NotebookFactory = Callable[..., Path]


def write_notebook(
    root: Path, cells: dict[str, str], *, header: str = "", languages: dict[str, str] | None = None
) -> Path:
    """cells: id -> source, in order; `languages` overrides "python" per cell id."""
    (root / "cells").mkdir(parents=True, exist_ok=True)
    lines = ['notebook_id = "lsp-test"', 'name = "lsp test"', header, ""]
    extensions = {"markdown": "md", "sql": "sql", "prompt": "txt"}
    for order, (cell_id, source) in enumerate(cells.items(), start=1):
        language = (languages or {}).get(cell_id, "python")
        file = f"{cell_id}.{extensions.get(language, 'py')}"
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
    return root.resolve()


@pytest.fixture
def make_notebook(tmp_path: Path) -> NotebookFactory:
    def factory(cells: dict[str, str], *, name: str = "nb", **kwargs: object) -> Path:
        return write_notebook(tmp_path / name, cells, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest_asyncio.fixture
async def lsp() -> AsyncIterator[Session]:
    session = await start(SERVER)
    try:
        yield session
    finally:
        await stop(session)
