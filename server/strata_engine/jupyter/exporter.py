"""`strata export DIR --to html|md [-o FILE]`: sources and cached outputs, nothing executed.

What a cell shows is what the cache holds for its *current* text (the same entry the editor
restores when the notebook opens): displays, console and error. A cell without one says why
("not run", "stale: ..."). The store is opened read-only, the way `strata status` opens it:
an export creates nothing in `.strata/`, starts no worker and runs no cell code.

Rendering lives in render_html.py and render_markdown.py; both take the `ExportedCell`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strata_engine.model.fsutil import atomic_write
from strata_engine.model.notebook import NotebookError

FORMATS: dict[str, str] = {"html": ".html", "md": ".md"}


@dataclass
class ExportedCell:
    id: str
    language: str
    label: str
    source: str
    state: str
    """ready / stale / never_run / error (SPEC 10), as `strata status` says."""
    why: str = ""
    """For a cell without current outputs: what it is waiting for, in words."""
    displays: list[dict[str, str]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    traceback: str | None = None
    cached: bool = False
    """Whether the cache held an entry for the current text (outputs shown are its)."""


@dataclass
class ExportResult:
    path: Path
    cells: int
    notes: list[str] = field(default_factory=list)
    extra_files: list[Path] = field(default_factory=list)
    """Files written beside a Markdown export (images)."""


def default_output(directory: Path, to: str) -> Path:
    """Beside the notebook directory, named after it (`analysis/` -> `analysis.html`)."""
    resolved = directory.resolve()
    return resolved.parent / f"{resolved.name}{FORMATS[to]}"


def export_notebook(directory: Path, to: str, output: Path | None = None) -> ExportResult:
    if to not in FORMATS:
        raise NotebookError(f"export: unknown format {to!r}; use one of {', '.join(FORMATS)}")
    name, cells, notes = collect(directory)
    path = output if output is not None else default_output(directory, to)
    if path.is_dir():
        raise NotebookError(f"export: {path} is a directory; give a file name with -o")
    result = ExportResult(path=path, cells=len(cells), notes=notes)
    if to == "html":
        from strata_engine.jupyter.render_html import render_html

        atomic_write(path, render_html(name, cells), durable=False)
    else:
        from strata_engine.jupyter.render_markdown import render_markdown

        text, files = render_markdown(name, cells, f"{path.stem}_files")
        for relative, data in files.items():
            target = path.parent / relative
            atomic_write(target, data, durable=False)
            result.extra_files.append(target)
        atomic_write(path, text, durable=False)
    return result


def collect(directory: Path) -> tuple[str, list[ExportedCell], list[str]]:
    """The notebook's name, its cells with their cached outputs, and notes (unreadable
    blobs). Read-only: the store is opened the way `strata status` opens it."""
    from strata_engine.run.session import Session
    from strata_engine.store.index import load_displays

    notes: list[str] = []
    with Session(directory) as session:
        snapshot = session.snapshot()
        states = session.states(snapshot)
        notebook = session.notebook
        cells = []
        for cell in notebook.cells:
            view = snapshot.cells.get(cell.id)
            status = states.get(cell.id)
            label = (view.annotations.name if view is not None else None) or cell.id
            exported = ExportedCell(
                id=cell.id,
                language=cell.language,
                label=label,
                source=cell.source if cell.source is not None else "",
                state=status.state if status is not None else "error",
            )
            if status is not None and status.entry is not None:
                entry = status.entry
                exported.cached = True
                exported.stdout, exported.stderr = entry.stdout, entry.stderr
                exported.error, exported.traceback = entry.error, entry.traceback
                try:
                    exported.displays = load_displays(session.blobs, entry.displays_digest)
                except (OSError, ValueError) as exc:  # a blob removed or damaged under us
                    notes.append(f"{cell.id}: its displays cannot be read ({exc})")
            elif status is not None:
                exported.why = _why(status.state, [r.describe() for r in status.reasons])
                if status.message:
                    exported.why += f": {status.message}"
            cells.append(exported)
        return notebook.name, cells, notes


def _why(state: str, reasons: list[str]) -> str:
    if state == "never_run":
        return "not run"
    if state == "stale":
        because = f" ({'; '.join(reasons)})" if reasons else ""
        return f"stale{because}: not run with this source, no outputs cached for it"
    if state == "error":
        return "cannot run"
    return state.replace("_", " ")
