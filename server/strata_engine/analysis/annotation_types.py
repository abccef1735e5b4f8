"""The typed result of parsing a cell's annotations, and the keys of the grammar.

Kept apart from the parser (`annotations.py`, which re-exports everything here) so that each
file stays readable. The docs of the keys live with the cell kinds they apply to
(`strata_engine.kinds.ANNOTATION_DOCS`).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field

from strata_engine.model.diagnostics import Diagnostic, Span

PER_VARIANT_ANY_GROUP = ""
"""`Annotations.per_variant` for a bare `@per_variant` (no GROUP): the graph picks the group.

Test presence with `ann.per_variant is not None` (the empty string is falsy).
"""


@dataclass(frozen=True, slots=True)
class Directive:
    """One `# @key value` line. `key_span` covers the key without its `@`; `value_span` is
    empty at the end of the key when there is no value."""

    key: str
    value: str
    line: int
    key_span: Span
    value_span: Span


@dataclass(frozen=True, slots=True)
class MountSpec:
    name: str
    uri: str
    mode: str
    """"ro" or "rw" (an invalid mode was reported and falls back to "ro")."""
    span: Span | None


@dataclass(frozen=True, slots=True)
class LoopSpec:
    max_iter: int | None
    carry: str | None
    start_from: tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class PromptSettings:
    """Prompt-cell settings (SPEC 9); None means "not given, use the default"."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    system: str | None = None
    """All `@system` lines joined with "\\n"."""
    output: str | None = None
    """"text" or "json"."""
    output_schema: dict[str, object] | None = field(default=None, hash=False)
    validate_retries: int | None = None

    def computing_items(self) -> list[tuple[str, object]]:
        # validate_retries only changes how hard we try, not what a valid answer is.
        items: list[tuple[str, object]] = []
        for key in ("model", "temperature", "max_tokens", "system", "output"):
            value = getattr(self, key)
            if value is not None:
                items.append((key, value))
        if self.output_schema is not None:
            items.append(("output_schema", json.dumps(self.output_schema, sort_keys=True)))
        return items


@dataclass(frozen=True, slots=True)
class Annotations:
    directives: tuple[Directive, ...]
    """Every recognized directive in source order (unknown keys are only diagnostics)."""
    body_start_line: int
    """1-based line of the first code line (number of lines + 1 when there is none)."""
    name: str | None = None
    worker: str | None = None
    timeout: float | None = None
    env: tuple[tuple[str, str], ...] = ()
    """In source order; a later entry for the same name wins."""
    mounts: tuple[MountSpec, ...] = ()
    """In source order; a later mount with the same name wins (see `effective_mounts`)."""
    nocache: bool = False
    after: tuple[str, ...] = ()
    loop: LoopSpec | None = None
    loop_until: str | None = None
    """Only set when it parses as a Python expression."""
    variant: tuple[str, str] | None = None
    per_variant: str | None = None
    """None: absent; PER_VARIANT_ANY_GROUP (""): present without a group; else the group."""
    sql_connection: str | None = None
    sql_write: bool = False
    cache_policy: str | None = None
    cache_ttl: float | None = None
    prompt: PromptSettings = field(default_factory=PromptSettings)
    diagnostics: tuple[Diagnostic, ...] = ()

    def find(self, key: str) -> Directive | None:
        """The last directive with `key` (the one that wins for single-valued keys)."""
        for directive in reversed(self.directives):
            if directive.key == key:
                return directive
        return None

    def find_all(self, key: str) -> list[Directive]:
        return [d for d in self.directives if d.key == key]

    def effective_mounts(self) -> list[MountSpec]:
        """Mounts merged by name (a later `@mount` with the same name wins), sorted by name."""
        by_name = {m.name: m for m in self.mounts}
        return [by_name[n] for n in sorted(by_name)]

    def computing_items(self) -> list[tuple[str, object]]:
        """The annotations shared by every kind that change what a cell computes (SPEC 6
        item 2), JSON-able; each kind adds its own (`CellKind.key_items`).

        Only present settings appear, in a fixed order, so a display-only annotation
        (`@timeout`, `@worker`, `@name` on a Python cell) never changes a cell key.
        """
        items: list[tuple[str, object]] = []
        if self.loop is not None:
            start = list(self.loop.start_from) if self.loop.start_from else None
            loop = {"max_iter": self.loop.max_iter, "carry": self.loop.carry, "start_from": start}
            items.append(("loop", loop))
        if self.loop_until is not None:
            # Normalized so that `x>1` and `x > 1` hash alike.
            items.append(("loop_until", ast.unparse(ast.parse(self.loop_until, mode="eval"))))
        if self.variant is not None:
            items.append(("variant", list(self.variant)))
        if self.per_variant is not None:
            items.append(("per_variant", self.per_variant))
        if self.mounts:
            mounts = [[m.name, m.uri, m.mode] for m in self.effective_mounts()]
            items.append(("mounts", mounts))
        return items


KNOWN_KEYS: tuple[str, ...] = (
    *("name", "worker", "timeout", "env", "mount", "nocache", "after"),
    *("loop", "loop_until", "variant", "per_variant", "sql", "cache"),
    *("model", "temperature", "max_tokens", "system", "output", "output_schema"),
    "validate_retries",
)
"""Every key of the grammar (SPEC 4), in the order completion lists them. The grammar is the
same for every cell kind; which keys apply to a kind, and their docs, live with the kind."""
