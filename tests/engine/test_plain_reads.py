"""Cell files read relative to the opened cells/ directory (safe_read.read_plain_file):
anything unusual falls back to the careful read, which says what is wrong."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from strata_engine.model.notebook import load_notebook
from strata_engine.model.safe_read import MAX_CELL_BYTES, PLAIN_READS, read_plain_file

pytestmark = pytest.mark.skipif(not PLAIN_READS, reason="POSIX only")


@pytest.fixture
def cells(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    directory = tmp_path / "cells"
    directory.mkdir()
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    yield directory, fd
    os.close(fd)


def test_a_regular_file_is_read_whole(cells: tuple[Path, int]) -> None:
    directory, fd = cells
    (directory / "a.py").write_bytes(b"x = 1\n" * 5000)
    (directory / "empty.py").write_bytes(b"")
    assert read_plain_file(fd, "a.py", MAX_CELL_BYTES) == b"x = 1\n" * 5000
    assert read_plain_file(fd, "empty.py", MAX_CELL_BYTES) == b""


def test_what_is_not_a_plain_regular_file_is_left_to_the_careful_read(
    cells: tuple[Path, int],
) -> None:
    directory, fd = cells
    (directory / "target.py").write_text("x = 1\n")
    (directory / "link.py").symlink_to("target.py")  # replaced by a symlink after listing
    os.mkfifo(directory / "pipe.py")  # must not block
    (directory / "sub").mkdir()
    (directory / "big.py").write_bytes(b"#" * 101)
    assert read_plain_file(fd, "link.py", MAX_CELL_BYTES) is None
    assert read_plain_file(fd, "pipe.py", MAX_CELL_BYTES) is None
    assert read_plain_file(fd, "sub", MAX_CELL_BYTES) is None
    assert read_plain_file(fd, "missing.py", MAX_CELL_BYTES) is None
    assert read_plain_file(fd, "big.py", 100) is None


def _notebook(root: Path, files: dict[str, bytes]) -> Path:
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "nb"']
    for name, data in files.items():
        (root / "cells" / name).write_bytes(data)
        lines += ["[[cells]]", f'id = "{name.removesuffix(".py")}"', f'file = "{name}"']
    (root / "notebook.toml").write_text("\n".join(lines) + "\n")
    return root


def test_the_loader_reports_what_it_reported_before(tmp_path: Path) -> None:
    root = _notebook(
        tmp_path / "nb",
        {
            "ok.py": "y = 'é'\n".encode(),
            "latin.py": b"s = '\xe9'\n",
            "huge.py": b"#" * (MAX_CELL_BYTES + 1),
        },
    )
    nb = load_notebook(root)
    sources = {c.id: c.source for c in nb.cells}
    assert sources == {"ok": "y = 'é'\n", "latin": None, "huge": None}
    messages = {d.cell_id: d.message for d in nb.diagnostics}
    assert "is not valid UTF-8 (byte 0xe9 at offset 5)" in messages["latin"]
    assert "over the" in messages["huge"] and "limit" in messages["huge"]
