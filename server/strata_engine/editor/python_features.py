"""Python language features inside cells: completion, hover, signature help and go to
definition, by jedi's static inference (never `jedi.Interpreter`: no cell code runs).

A cell reads the names upstream cells publish, so jedi sees each cell as the last part of a
virtual module (`upstream.py`): a prelude (what every cell gets: `display`, `Markdown`, the
cell's mounts), then the cells this cell can read from in topological order (only cells
before it in the DAG; inactive variant members never), then the cell itself. A name that
several cells define resolves to the last one, as the nearest-preceding-producer rule says.
Positions jedi reports in the virtual module are mapped back to (cell, line) through the
segments; positions in library files stay paths. Cells of other kinds contribute one typed
stub line per published name (`_OUTPUT_TYPES`).

The upstream part is cached per cell, keyed by the texts it is made of, and the virtual
module keeps one path per cell so parso's diff parser reuses the tree between keystrokes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.editor.completion import Completion
from strata_engine.editor.explain import Explanation
from strata_engine.envs import environment_info
from strata_engine.model.diagnostics import Span

if TYPE_CHECKING:
    import jedi

log = logging.getLogger(__name__)
_T = TypeVar("_T")

PRELUDE = '''\
import pathlib as _strata_pathlib
def display(*objs: object) -> None:
    """Show each object below the cell, in call order (available in every cell)."""
class Markdown:
    """Markdown text shown rendered (available in every cell)."""
    def __init__(self, data: str) -> None: ...
'''
"""What every Python cell finds without a producer (SPEC 8), as stubs jedi can read."""

_OUTPUT_TYPES: dict[str, tuple[str, str]] = {
    "sql": ("import pandas as _strata_pandas", "_strata_pandas.DataFrame"),
    "prompt": ("", "str"),
}
"""Language -> (import line, annotation) of the names a non-Python cell publishes; a
language not listed publishes `object`."""
_SOURCE_LANGUAGES = frozenset({"python"})
"""Kinds whose cell text is Python that jedi reads as is."""
_CACHE_CELLS = 64
_CACHE_MODULES = 32
_ATTRIBUTE = re.compile(r"[A-Za-z_][\w.]*\.(\w*)$")
"""A dotted name, a dot and the member typed so far (group 1), left of the cursor."""
_TYPED_ALWAYS = 8
"""The first items always get their type (what a typed prefix leaves is usually short)."""
_TYPES_BUDGET_S = 0.04
"""How long completion spends inferring the items' types (in jedi's order): inferring every
name of a 500-cell notebook would take seconds, so later items show only their kind."""
_MAX_DOC = 4000
_HEADER_LINES = 1
"""The `from <upstream> import *` line before the cell's text."""
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a definition is: a cell of this notebook, or a file (library code)."""

    line: int
    """1-based, in the cell's text or the file."""
    col: int
    end_col: int
    cell_id: str | None = None
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    label: str
    documentation: str | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    label: str
    parameters: tuple[Parameter, ...]
    active_parameter: int | None
    documentation: str | None = None


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    """First line of the segment in the virtual module (1-based)."""
    lines: int
    cell_id: str
    stub: bool
    """Stub lines stand for a cell of another kind: they map to its first line."""


@dataclass(frozen=True, slots=True)
class _Context:
    text: str
    """Prelude and upstream cells; ends with a newline."""
    segments: tuple[_Segment, ...]
    module: str
    """The upstream module's name: the cell's text follows `from MODULE import *`."""
    path: Path
    """Where the upstream module is written (in the process's scratch directory)."""

    def locate(self, line: int) -> tuple[str, int] | None:
        """(cell id, line in that cell) of a line of the upstream part."""
        for seg in self.segments:
            if seg.start <= line < seg.start + seg.lines:
                return seg.cell_id, 1 if seg.stub else line - seg.start + 1
        return None


@dataclass
class _Prepared:
    script: jedi.Script
    context: _Context
    path: Path
    cell_id: str
    source: str

    def cursor(self, line: int, col: int) -> tuple[int, int]:
        return line + _HEADER_LINES, col

    def place(self, module_path: Path | None, line: int | None, col: int | None) -> Location | None:
        if line is None or col is None or module_path is None:
            return None
        if module_path == self.path:
            if line <= _HEADER_LINES:
                return None
            return Location(line - _HEADER_LINES, col, col, cell_id=self.cell_id)
        if module_path != self.context.path:
            return Location(line, col, col, path=module_path)
        found = self.context.locate(line)
        if found is None:
            return None  # the prelude: no document shows it
        return Location(found[1], col, col, cell_id=found[0])


@dataclass
class PythonFeatures:
    """jedi over a notebook's cells. One per process is enough: the caches are keyed by
    notebook directory and cell, and jedi's own caches are process-wide anyway."""

    _contexts: OrderedDict[tuple[Path, str], tuple[tuple[object, ...], _Context]] = field(
        default_factory=OrderedDict
    )
    _projects: dict[Path, tuple[str, jedi.Project, Any]] = field(default_factory=dict)
    _directory: Path | None = None
    _members: OrderedDict[tuple[tuple[str, int, int], ...], list[Completion]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)
    """jedi is not thread-safe: `warm` may run in a thread of its own."""

    def warm(self) -> None:
        """Load what every first request needs (typeshed's builtins, parso's grammar), about
        two seconds once per process, so that the first completion does not pay for it."""
        import jedi

        with self._lock:
            try:
                script = jedi.Script("import os\nos.path.jo\n", environment=_in_process())
                script.complete(2, 10)
            except Exception:  # a cold first request is the only cost of failing here
                log.warning("warming jedi up failed", exc_info=True)

    # -- the services ----------------------------------------------------------------------
    def complete(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None = None
    ) -> list[Completion]:
        """Completions at (1-based `line`, 0-based `col`) of a Python cell."""
        return self._guarded([], self._complete, snapshot, cell_id, line, col, source)

    def signatures(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None = None
    ) -> list[Signature]:
        """The signatures of the call around the cursor, with the active parameter."""
        return self._guarded([], self._signatures, snapshot, cell_id, line, col, source)

    def definitions(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None = None
    ) -> list[Location]:
        """Where the name under the cursor is defined (imports followed)."""
        return self._guarded([], self._definitions, snapshot, cell_id, line, col, source)

    def hover(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None = None
    ) -> Explanation | None:
        """jedi's signature and docstring of the name under the cursor (Markdown)."""
        return self._guarded(None, self._hover, snapshot, cell_id, line, col, source)

    def _guarded(self, default: _T, service: Callable[..., _T], *args: Any) -> _T:
        """jedi gives up on some code by raising: the editor then gets nothing, not an error."""
        with self._lock:
            try:
                return service(*args)
            except Exception:
                log.warning("jedi failed in %s", service.__name__, exc_info=True)
                return default

    def _complete(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None
    ) -> list[Completion]:
        prepared = self._prepare(snapshot, cell_id, source, line, col)
        if prepared is None:
            return []
        members = self._module_members(prepared, line, col)
        if members is not None:
            return members
        return _completions(prepared, line, col)

    def _module_members(self, prepared: _Prepared, line: int, col: int) -> list[Completion] | None:
        """After `module.`: the module's members, listed once per module file and version
        (jedi takes ~0.5 s for `os.`, every time), filtered by the typed part like jedi."""
        text = prepared.source.split("\n")[line - 1][:col]
        match = _ATTRIBUTE.search(text)
        if match is None:
            return None
        partial = match.group(1)
        dot = col - len(partial)
        modules = prepared.script.infer(*prepared.cursor(line, dot - 1))
        paths = [m.module_path for m in modules if m.type == "module" and m.module_path]
        if not paths or len(paths) != len(modules) or prepared.context.path in paths:
            return None
        key = tuple((str(p), *_version(p)) for p in paths)
        members = self._members.get(key)
        if members is None:
            members = self._members[key] = _completions(prepared, line, dot)
            if len(self._members) > _CACHE_MODULES:
                self._members.popitem(last=False)
        self._members.move_to_end(key)
        span = Span.on_line(line, dot, col)
        wanted = partial.lower()
        return [replace(m, replace=span) for m in members if m.label.lower().startswith(wanted)]

    def _signatures(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None
    ) -> list[Signature]:
        prepared = self._prepare(snapshot, cell_id, source, line, col)
        if prepared is None:
            return []
        return [_signature(s) for s in prepared.script.get_signatures(*prepared.cursor(line, col))]

    def _definitions(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None
    ) -> list[Location]:
        prepared = self._prepare(snapshot, cell_id, source, line, col)
        if prepared is None:
            return []
        names = prepared.script.goto(*prepared.cursor(line, col), follow_imports=True)
        places = [_located(prepared, name) for name in names]
        return [p for p in places if p is not None]

    def _hover(
        self, snapshot: Snapshot, cell_id: str, line: int, col: int, source: str | None
    ) -> Explanation | None:
        prepared = self._prepare(snapshot, cell_id, source, line, col)
        if prepared is None:
            return None
        names = prepared.script.help(*prepared.cursor(line, col))
        parts = [text for text in (_describe(n) for n in names[:2]) if text]
        if not parts:
            return None
        return Explanation("\n\n---\n\n".join(parts), _word_span(prepared.source, line, col))

    # -- the virtual module ----------------------------------------------------------------
    def _prepare(
        self, snapshot: Snapshot, cell_id: str, source: str | None, line: int, col: int
    ) -> _Prepared | None:
        import jedi

        view = snapshot.cells.get(cell_id)
        if view is None or view.language not in _SOURCE_LANGUAGES:
            return None
        own = _normalized(source if source is not None else view.source or "")
        lines = own[:-1].split("\n")
        if not (0 < line <= len(lines) and 0 <= col <= len(lines[line - 1])):
            return None  # the editor's text moved on: answer nothing rather than guess
        context = self._context(snapshot, view)
        directory = snapshot.notebook.directory
        path = directory / ".strata" / "python" / f"{cell_id}.py"  # never written
        project, environment = self._project(directory)
        code = f"from {context.module} import *\n{own}"
        script = jedi.Script(code, path=path, project=project, environment=environment)
        return _Prepared(script, context, path, cell_id, own)

    def _context(self, snapshot: Snapshot, view: CellView) -> _Context:
        visible = _visible(snapshot, view)
        mounts = tuple(m.name for m in snapshot.mounts(view))
        key = (mounts, *((v.id, v.language, v.source, v.analysis.defines) for v in visible))
        slot = (snapshot.notebook.directory, view.id)
        cached = self._contexts.get(slot)
        if cached is not None and cached[0] == key:
            self._contexts.move_to_end(slot)
            return cached[1]
        context = _build(visible, mounts, self._scratch())
        self._contexts[slot] = (key, context)
        if len(self._contexts) > _CACHE_CELLS:
            _, (_, dropped) = self._contexts.popitem(last=False)
            if all(kept.path != dropped.path for _, kept in self._contexts.values()):
                dropped.path.unlink(missing_ok=True)
        return context

    def _scratch(self) -> Path:
        """This process's directory of upstream modules (removed when the process ends)."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="strata-python-"))
            weakref.finalize(self, shutil.rmtree, self._directory, True)
        return self._directory

    def _project(self, directory: Path) -> tuple[jedi.Project, Any]:
        import jedi

        executable = environment_executable(directory)
        known = self._projects.get(directory)
        if known is not None and known[0] == executable:
            return known[1], known[2]
        environment: Any = (
            _in_process()
            if executable == sys.executable
            else jedi.create_environment(executable, safe=False)
        )
        project = jedi.Project(directory, added_sys_path=[str(self._scratch())])
        self._projects[directory] = (executable, project, environment)
        return project, environment


def _version(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return 0, 0
    return stat.st_mtime_ns, stat.st_size


def _in_process() -> Any:
    """The engine's own interpreter, in this process: no subprocess round trips."""
    import jedi

    return jedi.InterpreterEnvironment()


def environment_executable(directory: Path) -> str:
    """The Python whose packages jedi reads: the notebook's own environment (`.venv`, SPEC
    7) once it exists, else the engine's interpreter."""
    try:
        executable = environment_info(directory).executable
    except Exception:  # an unreadable pyproject.toml: complete from the engine's packages
        log.warning("cannot read the environment of %s", directory, exc_info=True)
        return sys.executable
    return executable if executable and Path(executable).is_file() else sys.executable


def _visible(snapshot: Snapshot, view: CellView) -> list[CellView]:
    """The cells `view` can read from, in topological order: those before it in the DAG
    that publish something (a cell after it, or an inactive variant member, never)."""
    position = snapshot.graph.position
    before = set()
    for other in snapshot.cells.values():
        if other.id == view.id:
            break
        if other.id in position or not position:
            before.add(other.id)
    order = [c for c in snapshot.graph.order if c in before] or [
        c for c in snapshot.cells if c in before
    ]
    cells = (snapshot.cells[c] for c in order)
    return [c for c in cells if c.source is not None and c.analysis.defines and _parses(c)]


def _parses(view: CellView) -> bool:
    """A cell with a syntax error is left out: an unclosed string would swallow the rest."""
    return not any(d.code == "syntax_error" for d in view.diagnostics)


def _build(visible: Iterable[CellView], mounts: tuple[str, ...], scratch: Path) -> _Context:
    """The upstream module, written once per distinct text: parso keeps its tree (and the
    names in it) by path and mtime, so a keystroke in the cell parses the cell only."""
    chunks = [PRELUDE, *(f"{name}: _strata_pathlib.Path\n" for name in mounts)]
    line = 1 + sum(chunk.count("\n") for chunk in chunks)
    segments = []
    for view in visible:
        if view.language in _SOURCE_LANGUAGES:
            text, stub = _normalized(view.source or ""), False
        else:
            text, stub = _stubs(view), True
        count = text.count("\n")
        segments.append(_Segment(line, count, view.id, stub))
        chunks.append(text)
        line += count
    text = "".join(chunks)
    module = "strata_upstream_" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    path = scratch / f"{module}.py"
    if not path.exists():
        partial = path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # jedi never reads half a module
    return _Context(text, tuple(segments), module, path)


def _stubs(view: CellView) -> str:
    imports, annotation = _OUTPUT_TYPES.get(view.language, ("", "object"))
    lines = [imports] if imports else []
    lines += [f"{name}: {annotation}" for name in view.analysis.defines]
    return "\n".join(lines) + "\n"


def _normalized(text: str) -> str:
    """One newline convention (parso's lines must be ours) and a final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


# -- jedi answers -> engine values -----------------------------------------------------------
def _completions(prepared: _Prepared, line: int, col: int) -> list[Completion]:
    found = [
        item
        for item in prepared.script.complete(*prepared.cursor(line, col))
        if not (item.name.startswith("_") and item.module_path == prepared.context.path)
    ]  # a private name is never published, so no cell reads it from upstream
    deadline = time.perf_counter() + _TYPES_BUDGET_S
    return [
        _completion(prepared, item, line, col, i < _TYPED_ALWAYS or time.perf_counter() < deadline)
        for i, item in enumerate(found)
    ]


def _completion(
    prepared: _Prepared, item: jedi.api.classes.Completion, line: int, col: int, typed: bool
) -> Completion:
    typed_len = len(item.name) - len(item.complete or "")
    span = Span.on_line(line, max(col - typed_len, 0), col)
    detail = _type_of(item) if typed else None
    where = prepared.place(item.module_path, item.line, item.column)
    if where is not None and where.cell_id is not None and where.cell_id != prepared.cell_id:
        detail = f"{detail or item.type} · cell {where.cell_id}"
    sort = f"{'0' if where is not None and where.cell_id else '1'}{item.name.lower()}"
    return Completion(item.name, item.type, span, detail=detail or item.type, sort_text=sort)


def _type_of(item: jedi.api.classes.BaseName) -> str | None:
    """The inferred type (`int`, `DataFrame`, a function's signature), when jedi finds one."""
    try:
        if item.type in ("function", "class"):
            signatures = item.get_signatures()
            return signatures[0].to_string() if signatures else None
        hint = item.get_type_hint()
        if hint:
            return str(hint)
        inferred = dict.fromkeys(n.name for n in item.infer() if n.type in ("instance", "class"))
        return " | ".join(inferred) or None
    except Exception:  # jedi gives up on some code; a missing detail is not an error
        log.debug("no type for %s", item.name, exc_info=True)
        return None


def _signature(sig: jedi.api.classes.Signature) -> Signature:
    params = tuple(Parameter(p.to_string()) for p in sig.params)
    doc = sig.docstring(raw=True) or None
    return Signature(sig.to_string(), params, sig.index, doc[:_MAX_DOC] if doc else None)


def _located(prepared: _Prepared, name: jedi.api.classes.Name) -> Location | None:
    place = prepared.place(name.module_path, name.line, name.column)
    if place is None:
        return None
    end = place.col + len(name.name)
    return Location(place.line, place.col, end, place.cell_id, place.path)


def _describe(name: jedi.api.classes.Name) -> str:
    """A function, class or module: its signatures and docstring; a value: its type."""
    if name.type == "keyword":
        return ""  # pydoc's keyword pages: noise next to the cell's own hover
    try:
        if name.type not in ("function", "class", "module"):
            hint = _type_of(name)
            return f"```python\n{name.name}: {hint}\n```" if hint else ""
        signatures = [s.to_string() for s in name.get_signatures()]
        doc = name.docstring(raw=True)
    except Exception:  # jedi gives up on some code; no hover is not an error
        log.debug("no help for %s", name.name, exc_info=True)
        return ""
    head = "\n".join(signatures) or f"{name.type} {name.full_name or name.name}"
    parts = [f"```python\n{head}\n```"]
    if doc:
        parts.append(doc[:_MAX_DOC])
    return "\n\n".join(parts)


def _word_span(source: str, line: int, col: int) -> Span | None:
    lines = source.split("\n")
    if not 0 < line <= len(lines):
        return None
    for match in _WORD.finditer(lines[line - 1]):
        if match.start() <= col <= match.end():
            return Span.on_line(line, match.start(), match.end())
    return None
