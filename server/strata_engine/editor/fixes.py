"""Quick fixes for diagnostics (SPEC 11): what to change, as text edits.

Editors only apply what this module proposes, so every decision lives here: which worker to
suggest, what a valid timeout is, how a malformed `@env` is repaired. A fix edits only the
document its diagnostic is in, except adding a `[[workers]]` stub, which must edit
notebook.toml. Spans follow `Span` (1-based lines, 0-based columns).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from strata_engine.analysis.annotations import MAX_TIMEOUT, Directive, directive_tokens, split_lines
from strata_engine.analysis.checks import BUILTIN_WORKERS
from strata_engine.analysis.snapshot import DEFAULT_TIMEOUT, CellView, Snapshot
from strata_engine.model.diagnostics import Diagnostic, Span
from strata_engine.model.manifest_spans import ManifestLocator
from strata_engine.model.notebook import MANIFEST

_MAX_CHOICES = 5
"""Enough alternatives to pick from without drowning the suggestion."""
_DEFAULT_TTL = "ttl=3600"
_DEFAULT_MAX_ITER = 10


@dataclass(frozen=True, slots=True)
class Edit:
    file: str
    """Relative to the notebook directory: `cells/a.py` or `notebook.toml`."""
    span: Span
    new_text: str
    cell_id: str | None = None
    """The cell whose text this edits; None for notebook.toml."""


@dataclass(frozen=True, slots=True)
class Command:
    """An editor command a fix runs instead of (or after) its edits, e.g. adding a package."""

    title: str
    name: str
    arguments: dict[str, str]


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    code: str
    """The diagnostic code this fixes."""
    preferred: bool = False
    command: Command | None = None


@dataclass
class _Context:
    snapshot: Snapshot
    diag: Diagnostic
    view: CellView | None
    text: str
    """The text of the file the diagnostic is in (editor text for an open cell)."""
    manifest_text: str

    @property
    def span(self) -> Span:
        return self.diag.span or Span(1, 0, 1, 0)

    @property
    def suggestion(self) -> str | None:
        return (self.diag.data or {}).get("suggestion")

    def directive(self) -> Directive | None:
        """The annotation on the diagnostic's line."""
        if self.view is None or self.diag.span is None:
            return None
        line = self.diag.span.line
        return next((d for d in self.view.annotations.directives if d.line == line), None)

    def edit(self, span: Span, new_text: str) -> Edit:
        if self.view is not None and self.diag.file == self.view.file:
            return Edit(self.view.file, span, new_text, self.view.id)
        return Edit(self.diag.file or MANIFEST, span, new_text)

    def fix(self, title: str, span: Span, new_text: str, preferred: bool = False) -> Fix:
        return Fix(title, (self.edit(span, new_text),), self.diag.code, preferred)

    @property
    def in_manifest(self) -> bool:
        return self.diag.file == MANIFEST


def quick_fixes(
    snapshot: Snapshot, diagnostic: Diagnostic, *, manifest_text: str | None = None
) -> list[Fix]:
    """The fixes for one diagnostic of `snapshot` (most likely first; maybe none).

    `manifest_text` is the editor's unsaved notebook.toml, when it differs from disk.
    """
    fixer = _FIXERS.get(diagnostic.code)
    if fixer is None:
        return []
    view = snapshot.cells.get(diagnostic.cell_id) if diagnostic.cell_id else None
    manifest = manifest_text if manifest_text is not None else snapshot.notebook.manifest_text
    if view is not None and diagnostic.file == view.file:
        text = view.source or ""
    else:
        text = (manifest or "") if diagnostic.file == MANIFEST else ""
    return fixer(_Context(snapshot, diagnostic, view, text, manifest or ""))


# -- helpers ------------------------------------------------------------------------------
def text_at(text: str, span: Span) -> str:
    """The text a single-line span covers."""
    lines = split_lines(text)
    if not 0 < span.line <= len(lines):
        return ""
    return lines[span.line - 1][span.col : span.end_col]


def _value_edit(directive: Directive, value: str) -> tuple[Span, str]:
    """Replace a directive's value, or add one (with its separating space) when empty."""
    if directive.value:
        return directive.value_span, value
    return directive.value_span, f" {value}"


def _prepend_option(directive: Directive, option: str) -> tuple[Span, str]:
    """Insert `option` as the first token of a directive's value."""
    span = directive.value_span
    if not directive.value:
        return span, f" {option}"
    return Span.on_line(span.line, span.col, span.col), f"{option} "


def _ordered(suggestion: str | None, candidates: Iterable[str]) -> list[str]:
    names = [suggestion] if suggestion else []
    names += [c for c in candidates if c != suggestion]
    return names[:_MAX_CHOICES]


def _toml(value: str) -> str:
    """A TOML basic string (JSON string syntax is a subset of it for these values)."""
    return json.dumps(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- placement and environment ------------------------------------------------------------
def _fix_worker(ctx: _Context) -> list[Fix]:
    notebook = ctx.snapshot.notebook
    known = [
        *notebook.worker_names,
        *(w for w in BUILTIN_WORKERS if w not in notebook.worker_names),
    ]
    fixes = []
    directive = ctx.directive()
    for index, name in enumerate(_ordered(ctx.suggestion, known)):
        title = f"Use worker '{name}'"
        if ctx.in_manifest:
            fixes.append(ctx.fix(title, ctx.span, _toml(name), index == 0 and bool(ctx.suggestion)))
        elif directive is not None:
            fixes.append(
                ctx.fix(title, *_value_edit(directive, name), index == 0 and bool(ctx.suggestion))
            )
    missing = (ctx.diag.data or {}).get("worker")
    if missing:
        fixes.append(_worker_stub(ctx, missing))
    return fixes


def _worker_stub(ctx: _Context, name: str) -> Fix:
    at = ManifestLocator(ctx.manifest_text).end()
    lead = "" if not ctx.manifest_text or ctx.manifest_text.endswith("\n") else "\n"
    stub = f'{lead}\n[[workers]]\nname = {_toml(name)}\nbackend = "local"\n'
    edit = Edit(MANIFEST, at, stub)
    return Fix(f"Add worker '{name}' to notebook.toml ([[workers]] stub)", (edit,), ctx.diag.code)


def _default_timeout(ctx: _Context) -> float:
    cell = ctx.view.cell.timeout if ctx.view is not None else None
    notebook = ctx.snapshot.notebook.default_timeout
    for candidate in (cell, notebook):
        if candidate is not None and 0 < candidate <= MAX_TIMEOUT:
            return candidate
    return DEFAULT_TIMEOUT


def _fix_timeout(ctx: _Context) -> list[Fix]:
    given = text_at(ctx.text, ctx.span).strip().strip("\"'")
    try:
        number = float(given)
    except ValueError:
        number = None
    value = MAX_TIMEOUT if number is not None and number > MAX_TIMEOUT else _default_timeout(ctx)
    title = f"Set the timeout to {_number(value)} seconds"
    if ctx.in_manifest:
        return [ctx.fix(title, ctx.span, _number(value), preferred=True)]
    directive = ctx.directive()
    if directive is None:
        return []
    return [ctx.fix(title, *_value_edit(directive, _number(value)), preferred=True)]


def _fix_env(ctx: _Context) -> list[Fix]:
    directive = ctx.directive()
    if directive is None or not directive.value:
        return []
    name, sep, value = directive.value.partition("=")
    if not sep:
        split = re.match(r"([^\s:]+)\s*[:\s]\s*(.*)", directive.value)
        name, value = (split.group(1), split.group(2)) if split else (directive.value, "")
    name = re.sub(r"\W", "_", name.strip()) or "NAME"
    if name[0].isdigit():
        name = f"_{name}"
    fixed = f"{name}={value.strip()}"
    return [ctx.fix(f"Write '@env {fixed}'", directive.value_span, fixed, preferred=True)]


def _fix_mount_mode(ctx: _Context) -> list[Fix]:
    render = _toml if ctx.in_manifest else str
    return [
        ctx.fix("Use mount mode 'ro' (read-only)", ctx.span, render("ro"), preferred=True),
        ctx.fix(
            "Use mount mode 'rw' (read-write; the cell is never cached)", ctx.span, render("rw")
        ),
    ]


_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "abfs": "az", "abfss": "az"}
"""Schemes other tools write for the storage SPEC 2 mounts under another name."""


def _fix_mount_uri(ctx: _Context) -> list[Fix]:
    given = text_at(ctx.text, ctx.span).strip().strip("\"'")
    scheme, sep, rest = given.partition("://")
    if sep and scheme.lower() in _SCHEME_ALIASES:
        uri = f"{_SCHEME_ALIASES[scheme.lower()]}://{rest}"
    elif given.startswith("/"):
        uri = f"file://{given}"
    elif given and not sep and ":" not in given and " " not in given:
        uri = f"file://{given}"  # a path relative to the notebook directory
    else:
        return []  # nothing obvious to offer
    new_text = _toml(uri) if ctx.in_manifest else uri
    return [ctx.fix(f"Use '{uri}'", ctx.span, new_text, preferred=True)]


def _fix_mount_shadow(ctx: _Context) -> list[Fix]:
    """Rename the cell's mount so it stops replacing the notebook's `[[mounts]]` entry."""
    name = text_at(ctx.text, ctx.span).strip()
    if not name:
        return []
    taken = set(ctx.snapshot.notebook.mount_names)
    if ctx.view is not None:
        taken |= {m.name for m in ctx.view.annotations.mounts} | set(ctx.view.analysis.defines)
    suffix = 2
    while f"{name}_{suffix}" in taken:
        suffix += 1
    renamed = f"{name}_{suffix}"
    return [ctx.fix(f"Rename this mount to '{renamed}'", ctx.span, renamed, preferred=True)]


# -- names and ids ------------------------------------------------------------------------
def _fix_suggestion(ctx: _Context) -> list[Fix]:
    """Replace the flagged word by the diagnostic's did-you-mean (`data["suggestion"]`)."""
    suggestion = ctx.suggestion
    if not suggestion:
        return []
    span = ctx.span
    current = text_at(ctx.text, span)
    before = text_at(ctx.text, Span.on_line(span.line, max(span.col - 1, 0), span.col))
    new_text = suggestion
    if before == "@":
        # An annotation key; a malformed one (`@timeout:30`) keeps its value.
        rest = re.sub(r"^[A-Za-z0-9_-]+", "", current).lstrip(":= ")
        new_text = f"{suggestion} {rest}" if rest else suggestion
    elif ctx.in_manifest and current.startswith(("'", '"')):
        new_text = _toml(suggestion)
    return [ctx.fix(f"Change to '{suggestion}'", span, new_text, preferred=True)]


def _fix_after_self(ctx: _Context) -> list[Fix]:
    directive = ctx.directive()
    if directive is None:
        return []
    tokens = directive_tokens(directive, ",")
    if len(tokens) == 1:
        line = ctx.span.line
        return [ctx.fix("Remove this @after line", Span(line, 0, line + 1, 0), "", preferred=True)]
    kept = " ".join(t for t, s in tokens if s != ctx.span)
    return [ctx.fix("Remove this cell's own id", directive.value_span, kept, preferred=True)]


def _fix_annotation_unavailable(ctx: _Context) -> list[Fix]:
    """Remove an annotation this cell's kind cannot honour (the cell runs without it)."""
    line = ctx.span.line
    key = (ctx.diag.data or {}).get("key", "annotation")
    return [ctx.fix(f"Remove this @{key} line", Span(line, 0, line + 1, 0), "", preferred=True)]


# -- sql ----------------------------------------------------------------------------------
def _fix_sql_missing(ctx: _Context) -> list[Fix]:
    if ctx.view is None:
        return []
    names = _ordered(ctx.suggestion, ctx.snapshot.notebook.connection_names)
    directive = ctx.view.annotations.find("sql")
    fixes = []
    for index, name in enumerate(names):
        title = f"Use connection '{name}'"
        if directive is None:
            span, new_text = Span(1, 0, 1, 0), f"# @sql connection={name}\n"
        elif ctx.view.annotations.sql_connection is None:
            span, new_text = _prepend_option(directive, f"connection={name}")
        else:
            return []  # a bad write= value shares this code; nothing to pick
        fixes.append(ctx.fix(title, span, new_text, preferred=index == 0))
    return fixes


def _fix_sql_unknown(ctx: _Context) -> list[Fix]:
    directive = ctx.directive()
    current = (ctx.diag.data or {}).get("connection")
    if directive is None or current is None:
        return []
    target = None
    for token, span in directive_tokens(directive):
        key, sep, value = token.partition("=")
        if (sep and key.lower() == "connection" and value == current) or token == current:
            start = span.col + (len(key) + 1 if sep else 0)
            target = Span.on_line(span.line, start, span.end_col)
    if target is None:
        return []
    names = _ordered(ctx.suggestion, ctx.snapshot.notebook.connection_names)
    return [
        ctx.fix(f"Use connection '{name}'", target, name, preferred=i == 0 and bool(ctx.suggestion))
        for i, name in enumerate(names)
    ]


def _fix_cache_policy(ctx: _Context) -> list[Fix]:
    suggestion = ctx.suggestion or "fingerprint"
    value = _DEFAULT_TTL if suggestion == "ttl" else suggestion
    return [ctx.fix(f"Use '@cache {value}'", ctx.span, value, preferred=True)]


def _fix_cache_ttl(ctx: _Context) -> list[Fix]:
    return [ctx.fix(f"Use '@cache {_DEFAULT_TTL}'", ctx.span, _DEFAULT_TTL, preferred=True)]


def _fix_output(ctx: _Context) -> list[Fix]:
    directive = ctx.directive()
    if directive is None or directive.key != "output":
        return []
    return [
        ctx.fix(f"Use '@output {fmt}'", *_value_edit(directive, fmt), preferred=fmt == "text")
        for fmt in ("text", "json")
    ]


# -- loops --------------------------------------------------------------------------------
def _loop_option(ctx: _Context, option: str, value: str) -> list[Fix]:
    """Set `option=value` in the `@loop` line: replace a bad token or add the option."""
    directive = ctx.directive()
    if directive is None:
        return []
    setting = f"{option}={value}"
    for token, span in directive_tokens(directive):
        if token.lower().partition("=")[0] == option:
            return [ctx.fix(f"Use '{setting}'", span, setting, preferred=True)]
    return [ctx.fix(f"Add '{setting}'", *_prepend_option(directive, setting), preferred=True)]


def _carry_candidates(view: CellView | None) -> list[str]:
    if view is None:
        return []
    defines, references = view.analysis.defines, view.analysis.references
    threaded = [d for d in defines if d in references]  # read and rebound: what a carry is
    return _ordered(None, [*threaded, *(d for d in defines if d not in threaded)])


def _fix_loop_max_iter(ctx: _Context) -> list[Fix]:
    return _loop_option(ctx, "max_iter", str(_DEFAULT_MAX_ITER))


def _fix_loop_carry(ctx: _Context) -> list[Fix]:
    fixes: list[Fix] = []
    for name in _carry_candidates(ctx.view) or ["state"]:
        fixes += _loop_option(ctx, "carry", name)
    return [Fix(f.title, f.edits, f.code, i == 0) for i, f in enumerate(fixes)]


def _fix_start_from(ctx: _Context) -> list[Fix]:
    directive, suggestion = ctx.directive(), ctx.suggestion
    if directive is None or not suggestion:
        return []
    for token, span in directive_tokens(directive):
        key, _, value = token.partition("=")
        if key.lower() == "start_from":
            _, sep, iteration = value.rpartition("@iter=")
            fixed = f"start_from={suggestion}@iter={iteration if sep else 0}"
            return [ctx.fix(f"Use '{fixed}'", span, fixed, preferred=True)]
    return []


# -- notebook.toml ------------------------------------------------------------------------
def _fix_connection_malformed(ctx: _Context) -> list[Fix]:
    missing = (ctx.diag.data or {}).get("missing")
    if not ctx.in_manifest or ctx.diag.span is None or missing != "driver":
        return []
    below = Span(ctx.span.line + 1, 0, ctx.span.line + 1, 0)
    return [
        ctx.fix(f"Add driver = {_toml(d)}", below, f"driver = {_toml(d)}\n", preferred=i == 0)
        for i, d in enumerate(("duckdb", "sqlite", "postgresql"))
    ]


_Fixer = Callable[[_Context], list[Fix]]
_FIXERS: dict[str, _Fixer] = {
    "worker_unknown": _fix_worker,
    "timeout_not_numeric": _fix_timeout,
    "env_malformed": _fix_env,
    "mount_mode_invalid": _fix_mount_mode,
    "mount_uri_unsupported": _fix_mount_uri,
    "mount_shadows_notebook": _fix_mount_shadow,
    "annotation_unknown": _fix_suggestion,
    "after_unknown": _fix_suggestion,
    "after_self": _fix_after_self,
    "annotation_unavailable": _fix_annotation_unavailable,
    "sql_connection_missing": _fix_sql_missing,
    "sql_connection_unknown": _fix_sql_unknown,
    "cache_policy_unknown": _fix_cache_policy,
    "cache_ttl_invalid": _fix_cache_ttl,
    "prompt_output_schema_invalid": _fix_output,
    "loop_missing_max_iter": _fix_loop_max_iter,
    "loop_missing_carry": _fix_loop_carry,
    "loop_carry_unknown": _fix_loop_carry,
    "loop_start_from_unknown": _fix_start_from,
    "manifest_key_unknown": _fix_suggestion,
    "worker_malformed": _fix_suggestion,
    "connection_driver_unknown": _fix_suggestion,
    "connection_auth_literal_secret": _fix_suggestion,
    "connection_malformed": _fix_connection_malformed,
    "variant_mode_invalid": _fix_suggestion,
}

from strata_engine.editor.loop_fixes import FIXERS as _LOOP_FIXERS  # noqa: E402 (uses this module)

_FIXERS.update(_LOOP_FIXERS)

from strata_engine.editor.variant_fixes import VARIANT_FIXERS  # noqa: E402 (it imports this module)

_FIXERS.update(VARIANT_FIXERS)

from strata_engine.editor.env_fixes import ENV_FIXERS  # noqa: E402 (it imports this module)

_FIXERS.update(ENV_FIXERS)

from strata_engine.editor.mutation_fixes import MUTATION_FIXERS  # noqa: E402 (it imports this module)

_FIXERS.update(MUTATION_FIXERS)
