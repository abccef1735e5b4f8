"""`strata import NOTEBOOK.ipynb [-o DIR]`: a Jupyter notebook -> a Strata notebook (SPEC 12).

One Strata cell per Jupyter cell, in order: code -> python (IPython magics become marker
comments, jupyter/magics.py), markdown -> markdown, raw -> markdown holding the raw text in a
fenced block (raw cells are for nbconvert and are never executed or rendered). Outputs are
dropped (a run recomputes them) and so are markdown attachments (a note at the end of the
cell names each one); the report says what was dropped.

The notebook is built in a temporary directory beside the target with the engine's own
writers (atomic cell files, `save_notebook`), then renamed into place, so a failed import
leaves nothing behind and an existing non-empty directory is never touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.jupyter.magics import convert_code
from strata_engine.kinds import kind_for
from strata_engine.model.notebook import Cell, Notebook, NotebookError
from strata_engine.model.saving import save_notebook, write_cell_source

_MAX_IPYNB_BYTES = 256 * 1024 * 1024


class ImportRefused(NotebookError):
    """The notebook cannot be imported (unreadable, not a notebook, the target is in use):
    the CLI exits 2 with this message."""


@dataclass(frozen=True, slots=True)
class MagicNote:
    cell_id: str
    line: int
    magic: str


@dataclass
class ImportReport:
    source: Path
    directory: Path
    cells: int = 0
    magics: list[MagicNote] = field(default_factory=list)
    outputs_dropped: list[str] = field(default_factory=list)
    """Ids of the cells whose Jupyter outputs were dropped."""
    attachments_dropped: list[tuple[str, str]] = field(default_factory=list)
    """(cell id, attachment name)."""
    raw_cells: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What the import could not carry over, one human line each."""
        notes = [
            f"{m.cell_id}:{m.line}: magic_unsupported: {m.magic} (now a comment)"
            for m in self.magics
        ]
        if self.outputs_dropped:
            notes.append(
                f"outputs of {len(self.outputs_dropped)} cell(s) dropped; "
                f"`strata run {self.directory}` computes them again"
            )
        notes += [
            f"{cell}: attachment {name!r} dropped (Strata stores no attachments; put the "
            "file beside the notebook and link it)"
            for cell, name in self.attachments_dropped
        ]
        notes += [f"{cell}: raw cell kept as a fenced block in markdown" for cell in self.raw_cells]
        return notes

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "directory": str(self.directory),
            "cells": self.cells,
            "magics": [{"cell": m.cell_id, "line": m.line, "magic": m.magic} for m in self.magics],
            "outputsDropped": self.outputs_dropped,
            "attachmentsDropped": [{"cell": c, "name": n} for c, n in self.attachments_dropped],
            "rawCells": self.raw_cells,
            "notes": self.notes(),
        }


def default_target(ipynb: Path) -> Path:
    """A directory named after the notebook, beside it (`analysis.ipynb` -> `analysis/`)."""
    return ipynb.parent / ipynb.stem


def import_notebook(ipynb: Path, target: Path | None = None) -> ImportReport:
    cells = _read(ipynb)
    directory = target if target is not None else default_target(ipynb)
    _check_target(directory)
    report = ImportReport(source=ipynb, directory=directory)
    name = ipynb.stem or "notebook"
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.import-", dir=_parent(directory)))
    try:
        _write(staging, name, cells, report)
        _move_into_place(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _read(ipynb: Path) -> list[Any]:
    import nbformat  # only `strata import` needs it

    try:
        if ipynb.stat().st_size > _MAX_IPYNB_BYTES:
            raise ImportRefused(f"{ipynb}: larger than 256 MiB; is it really a notebook?")
        with ipynb.open(encoding="utf-8") as handle:
            notebook = nbformat.read(handle, as_version=4)  # type: ignore[no-untyped-call]
    except (UnicodeDecodeError, ValueError) as exc:  # NotJSONError is a ValueError
        raise ImportRefused(
            f"{ipynb}: not a Jupyter notebook ({exc}); give an .ipynb file saved by Jupyter"
        ) from exc
    except OSError as exc:
        raise ImportRefused(f"{ipynb}: cannot be read ({exc.strerror or exc})") from exc
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise ImportRefused(f"{ipynb}: no `cells` list; give an .ipynb file saved by Jupyter")
    return cells


def _check_target(directory: Path) -> None:
    if directory.is_dir() and any(directory.iterdir()):
        raise ImportRefused(
            f"{directory} already exists and is not empty; choose another directory with "
            "-o DIR, or remove it"
        )
    if directory.exists() and not directory.is_dir():
        raise ImportRefused(f"{directory} exists and is not a directory; choose another with -o")


def _parent(directory: Path) -> Path:
    parent = directory.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _move_into_place(staging: Path, directory: Path) -> None:
    # rename() replaces an empty directory atomically; anything else was refused above, and
    # a directory filled meanwhile makes rename fail instead of being overwritten.
    try:
        os.rename(staging, directory)
    except OSError as exc:
        raise ImportRefused(f"{directory}: cannot be created ({exc.strerror or exc})") from exc


def _write(directory: Path, name: str, jupyter_cells: list[Any], report: ImportReport) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    notebook_id = str(uuid.uuid4())
    notebook = Notebook(
        directory=directory,
        notebook_id=notebook_id,
        name=name,
        cells=[],
        document={"notebook_id": notebook_id, "name": name, "created_at": now},
    )
    width = max(2, len(str(len(jupyter_cells))))
    for index, raw in enumerate(jupyter_cells, start=1):
        cell_id = f"cell-{index:0{width}d}"
        language, text = _convert(cell_id, raw, report)
        if text and not text.endswith("\n"):  # Jupyter stores none at the end; files have one
            text += "\n"
        cell = Cell(cell_id, f"{cell_id}{kind_for(language).suffix}", language, float(index))
        notebook.cells.append(cell)
        write_cell_source(notebook, cell, text)
    report.cells = len(notebook.cells)
    save_notebook(notebook, now=now)
    with contextlib.suppress(OSError):  # only cosmetic: the directory's mode from mkdtemp
        os.chmod(directory, 0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _convert(cell_id: str, raw: Any, report: ImportReport) -> tuple[str, str]:
    """The Strata language and text of one Jupyter cell; what was dropped goes to `report`."""
    kind = raw.get("cell_type")
    source = _text(raw.get("source", ""))
    if kind == "code":
        if raw.get("outputs"):
            report.outputs_dropped.append(cell_id)
        converted = convert_code(source)
        report.magics += [MagicNote(cell_id, line, magic) for line, magic in converted.magics]
        return "python", converted.text
    if kind == "markdown":
        attachments = raw.get("attachments") or {}
        names = sorted(attachments) if isinstance(attachments, dict) else []
        report.attachments_dropped += [(cell_id, n) for n in names]
        return "markdown", _with_attachment_note(source, names)
    report.raw_cells.append(cell_id)
    return "markdown", _raw_block(source, raw)


def _text(source: object) -> str:
    if isinstance(source, list):  # nbformat joins these; a hand-written file may not
        return "".join(str(part) for part in source)
    return source if isinstance(source, str) else ""


def _with_attachment_note(source: str, names: list[str]) -> str:
    if not names:
        return source
    listed = ", ".join(f"`{n}`" for n in names)
    note = (
        f"> **Note (strata import):** the attachment(s) {listed} of this Jupyter cell were "
        "not imported: Strata stores no attachments. Put the file beside the notebook and "
        "link it instead of `attachment:`."
    )
    return f"{source.rstrip()}\n\n{note}\n"


def _raw_block(source: str, raw: Any) -> str:
    metadata = raw.get("metadata")
    fmt = None
    if isinstance(metadata, dict):
        fmt = metadata.get("format") or metadata.get("raw_mimetype")
    fence = "```"
    while fence in source:
        fence += "`"
    label = f" ({fmt})" if isinstance(fmt, str) and re.fullmatch(r"[\w./+-]+", fmt) else ""
    return f"*Raw Jupyter cell{label}, not rendered:*\n\n{fence}\n{source.rstrip()}\n{fence}\n"
