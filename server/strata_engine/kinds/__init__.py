"""The cell-kind registry: one module per language, one registration line each.

    kind = kind_for(cell.language)
    analysis = analyze_cell(cell.language, text)

Adding a language: write `kinds/<language>.py` with a `CellKind` subclass, then add one
`register(...)` line below. Until a kind can execute, register it with `available = False`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from strata_engine.analysis.annotation_types import KNOWN_KEYS
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.unbuilt import UNBUILT_ANNOTATIONS
from strata_engine.kinds.base import SHARED_DOCS, CellFacts, CellKind
from strata_engine.kinds.markdown import MarkdownKind
from strata_engine.kinds.prompt import PromptKind
from strata_engine.kinds.python import PythonKind
from strata_engine.kinds.r import RKind
from strata_engine.kinds.sql import SqlKind

__all__ = [
    "ANNOTATION_DOCS",
    "CellFacts",
    "CellKind",
    "analyze_cell",
    "kind_for",
    "languages",
    "register",
]

_REGISTRY: dict[str, CellKind] = {}


def register(kind: CellKind) -> None:
    _REGISTRY[kind.language] = kind


def kind_for(language: str) -> CellKind:
    """The kind of a manifest `language` (the loader only lets registered languages through;
    anything else is analyzed as Python, which is what the loader reported it falls back to)."""
    return _REGISTRY.get(language.lower()) or _REGISTRY["python"]


def languages() -> tuple[str, ...]:
    return tuple(_REGISTRY)


@lru_cache(maxsize=8192)
def analyze_cell(
    language: str, text: str, *, cell_id: str | None = None, file: str | None = None
) -> CellAnalysis:
    """Analyze one cell with its kind. Memoized: the language server re-analyzes on every
    keystroke and unchanged cells must cost nothing. Results are immutable."""
    return kind_for(language).analyze(text, cell_id=cell_id, file=file)


register(PythonKind())
register(MarkdownKind())
register(SqlKind())
register(PromptKind())
register(RKind())


def _documented(docs: Mapping[str, str]) -> dict[str, str]:
    """The docs, with what this version refuses saying so (completion and hover must not
    promise a loop that would never iterate)."""
    out = {}
    for key, doc in docs.items():
        why = UNBUILT_ANNOTATIONS.get(key)
        out[key] = f"{doc} **Not available in this version** ({why})." if why else doc
    return out


ANNOTATION_DOCS: Mapping[str, str] = _documented(
    {
        **SHARED_DOCS,
        **{key: doc for kind in _REGISTRY.values() for key, doc in kind.annotation_docs.items()},
    }
)
"""Every annotation key's doc, for completion and hover: the shared keys' and each kind's."""
if set(ANNOTATION_DOCS) != set(KNOWN_KEYS):  # a key of the grammar nobody documents
    raise RuntimeError(f"undocumented annotation keys: {set(KNOWN_KEYS) ^ set(ANNOTATION_DOCS)}")
