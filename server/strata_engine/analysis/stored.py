"""Cell analyses kept on disk between processes (issue [11]: a 10,000-cell notebook).

Analyzing a Python cell (parse, scopes, `ast.unparse`) costs ~0.5 ms, which every `strata`
command paid again for every cell. `.strata/analysis.json` keeps each clean analysis keyed by
a digest of the cell's language and text and of the analysis code itself (`engine_print`),
so an edit to the engine, a cell or its language never reuses a stale result.

Only JSON, never pickle: reading the file runs nothing, and a damaged or foreign file is
simply ignored. Only kinds that say their analysis is a function of the text alone
(`stores_analysis`) and only analyses without diagnostics (whose messages name the cell and
file) are kept. The file is written atomically, only into an existing `.strata/` (looking
at a notebook creates nothing), and only when enough is new: the language server analyzes
one changed cell per keystroke, which must not rewrite the file each time.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import strata_engine
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.kinds import analyze_cell, kind_for
from strata_engine.model.diagnostics import Span
from strata_engine.model.fsutil import atomic_write

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    """Imported when something is logged: `logging` costs a cached `strata run` ~3 ms."""
    import logging

    return logging.getLogger(__name__)


FILE = "analysis.json"
WRITE_AFTER = 8
"""New analyses needed before the file is rewritten (a few cells re-analyze for ~1 ms), or
fewer in a notebook with fewer storable cells: every warm run of a 7-cell notebook
re-analyzed all of them (~20 ms, an eighth of a cached `strata run`)."""
_CODE_DIRS = ("analysis", "kinds")
"""The packages whose code decides an analysis: any change to them retires the file."""


@lru_cache(maxsize=1)
def engine_print() -> str:
    """The engine's version and the size and mtime of every analysis module: a developer's
    edit of the analysis code must not meet results of the code before it."""
    root = Path(strata_engine.__file__).parent
    items: list[str] = [strata_engine.__version__]
    for name in _CODE_DIRS:
        with os.scandir(root / name) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.endswith(".py"):
                    stat = entry.stat()
                    items.append(f"{name}/{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.blake2b("\n".join(items).encode(), digest_size=16).hexdigest()


class StoredAnalyses:
    """The analyses of one notebook directory, as loaded from and written to its file."""

    def __init__(self, strata_dir: Path) -> None:
        self.path = strata_dir / FILE
        self._entries: dict[str, dict[str, Any]] = _read(self.path)
        self._decoded: dict[str, CellAnalysis] = {}
        """Entries already decoded: the editor snapshots the notebook again and again."""
        self._used: dict[str, dict[str, Any]] = {}
        self._calls = 0
        self._storable = 0
        self._new = 0
        self._threshold = WRITE_AFTER

    def analyze(self, language: str, text: str, cell_id: str, file: str | None) -> CellAnalysis:
        self._calls += 1
        if not kind_for(language).stores_analysis:
            return analyze_cell(language, text, cell_id=cell_id, file=file)
        self._storable += 1
        digest = hashlib.blake2b(f"{language}\0{text}".encode(), digest_size=16).hexdigest()
        stored = self._entries.get(digest)
        if stored is not None:
            found = self._decoded.get(digest) or _decode(stored)
            if found is not None:
                self._used[digest], self._decoded[digest] = stored, found
                return found
        analysis = analyze_cell(language, text, cell_id=cell_id, file=file)
        if not analysis.diagnostics:
            self._used[digest] = self._entries[digest] = _encode(analysis)
            self._decoded[digest] = analysis
            self._new += 1
        return analysis

    def flush(self, cells: int) -> None:
        """End of one pass over a notebook of `cells` cells. A pass that analyzed them all
        keeps just what it used (entries of deleted or retyped cells go); a partial one (the
        editor reuses unchanged cells) keeps the older entries too."""
        used, self._used = self._used, {}
        complete, self._calls = self._calls >= cells, 0
        storable, self._storable = self._storable, 0
        if complete:  # a partial pass (one edited cell) must not lower the threshold
            self._threshold = max(1, min(WRITE_AFTER, storable))
            self._entries = used
            self._decoded = {d: a for d, a in self._decoded.items() if d in used}
        self.persist()

    def persist(self) -> None:
        """Write the entries if enough are new and `.strata/` exists (a first run creates it
        after its snapshot: it persists again then). What is new stays counted until then."""
        if self._new < self._threshold or not self.path.parent.is_dir():
            return
        self._new = 0
        entries = self._entries  # a partial pass's entries are in it too
        payload = json.dumps({"engine": engine_print(), "entries": entries}, separators=(",", ":"))
        try:
            atomic_write(self.path, payload, durable=False)  # a lost file is only recomputed
        except OSError as exc:  # read-only notebook: analyses are recomputed next time
            _log().debug("cannot write %s: %s", self.path, exc)


_lock = threading.Lock()
_open: dict[Path, StoredAnalyses] = {}
_last: tuple[Path, StoredAnalyses] | None = None


def analyses_for(directory: Path) -> StoredAnalyses:
    """The notebook's stored analyses, read once per process (writers are this process)."""
    global _last
    last = _last
    if last is not None and last[0] is directory:  # every cell of a snapshot asks
        return last[1]
    key = Path(os.path.abspath(directory))
    with _lock:
        stored = _open.get(key)
        if stored is None:
            stored = _open[key] = StoredAnalyses(key / ".strata")
    _last = (directory, stored)
    return stored


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("engine") != engine_print():
        return {}
    entries = document.get("entries")
    return entries if isinstance(entries, dict) else {}


def _encode(analysis: CellAnalysis) -> dict[str, Any]:
    return {
        # Lists, as JSON reads them back: entries added in this process decode alike.
        "defines": list(analysis.defines),
        "references": list(analysis.references),
        "normalized": analysis.normalized,
        "imports": list(analysis.imports),
        "env_reads": list(analysis.env_reads),
        "mutated": list(analysis.mutated),
        "trailing": analysis.has_trailing_expression,
        "spans": [[s.line, s.col, s.end_line, s.end_col] for s in analysis.reference_spans],
    }


def _strings(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise ValueError("not a list of strings")
    "".join(value)  # TypeError unless every item is a string: checked in C, 10,000 cells
    return tuple(value)


def _decode(stored: Any) -> CellAnalysis | None:
    """The analysis an entry holds, or None when it is not one (then it is recomputed)."""
    try:
        spans = tuple(Span(int(a), int(b), int(c), int(d)) for a, b, c, d in stored["spans"])
        normalized, trailing = stored["normalized"], stored["trailing"]
        if not isinstance(normalized, str) or not isinstance(trailing, bool):
            return None
        return CellAnalysis(
            defines=_strings(stored["defines"]),
            references=_strings(stored["references"]),
            normalized=normalized,
            imports=_strings(stored["imports"]),
            env_reads=_strings(stored["env_reads"]),
            mutated=_strings(stored["mutated"]),
            has_trailing_expression=trailing,
            reference_spans=spans,
        )
    except (KeyError, TypeError, ValueError):
        return None
