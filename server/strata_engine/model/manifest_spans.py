"""Where a table or key of notebook.toml sits in its text, so manifest diagnostics and fixes
can point at a line.

`tomllib` gives values, not positions, and a full round-tripping TOML parser is a heavy
dependency for this one job. Manifests are written by `tomli_w` or by hand in the plain
`[table]` / `[[array]]` / `key = value` style, so a line scanner finds nearly everything;
whatever it cannot find (dotted keys, multi-line values) falls back to the nearest enclosing
table and, at worst, to line 1. A position is a hint for the reader, never a decision.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from strata_engine.analysis.annotations import split_lines
from strata_engine.model.diagnostics import Span

_HEADER = re.compile(r"\s*(\[\[?)\s*(?P<name>[^\[\]]+?)\s*\]\]?\s*(?:#.*)?")
_PART = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s"\']+)')
_KEY = re.compile(r'\s*(?P<key>[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')\s*=\s*(?P<value>.*)')

_ID_VALUE = re.compile(r"""\bid\s*=\s*(?:"(?P<basic>(?:[^"\\]|\\.)*)"|'(?P<literal>[^']*)')""")

TablePath = tuple[str, ...]


def _id_values(match: re.Match[str]) -> list[str]:
    """The id a quoted value spells: the text as written and, for a basic string with
    escapes, the decoded value too (an escaped `\\u00e9` in the text is the id's é)."""
    literal = match.group("literal")
    if literal is not None:
        return [literal]
    raw = match.group("basic")
    if "\\" not in raw:
        return [raw]
    try:
        decoded = tomllib.loads(f'v = "{raw}"')["v"]
    except tomllib.TOMLDecodeError:
        return [raw]
    return [raw, decoded] if isinstance(decoded, str) else [raw]


@dataclass
class _Section:
    path: TablePath
    index: int | None
    """Position among `[[path]]` entries; None for a plain `[path]` table (or the top)."""
    header_line: int
    """1-based; 0 for the implicit top-level section (before any header)."""
    keys: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    """key -> (line, key col, key end col, value col)."""


def _split_header(name: str) -> TablePath:
    parts: list[str] = []
    for match in _PART.finditer(name):
        parts.append(next(group for group in match.groups() if group is not None))
    return tuple(parts)


def _unquote(key: str) -> str:
    return key[1:-1] if key[:1] in "\"'" else key


def _value_end(line: str, start: int) -> int:
    """End column of the value starting at `start` (before a trailing comment)."""
    value = line[start:]
    if value[:1] in "\"'":
        closing = value.find(value[0], 1)
        return start + closing + 1 if closing > 0 else len(line.rstrip())
    comment = value.find("#")
    text = value if comment < 0 else value[:comment]
    return start + len(text.rstrip())


class ManifestLocator:
    """Positions of tables and keys in one notebook.toml text."""

    def __init__(self, text: str) -> None:
        self.lines = split_lines(text)
        top = _Section((), None, 0)
        self._sections: list[_Section] = [top]
        # Lookups go through dicts built in one pass: a manifest of 150,000 cells is asked
        # for one span per cell, so a scan per lookup would be quadratic.
        self._first: dict[TablePath, _Section] = {(): top}
        self._entries: dict[tuple[TablePath, int], _Section] = {}
        self._cell_ids: dict[str, Span] | None = None
        counts: dict[TablePath, int] = {}
        for number, line in enumerate(self.lines, start=1):
            self._scan_line(line, number, counts)

    def _scan_line(self, line: str, number: int, counts: dict[TablePath, int]) -> None:
        header = _HEADER.fullmatch(line)
        if header is not None:
            path = _split_header(header.group("name"))
            index = None
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
            section = _Section(path, index, number)
            self._sections.append(section)
            self._first.setdefault(path, section)
            if index is not None:
                self._entries.setdefault((path, index), section)
            return
        key = _KEY.match(line)
        if key is not None:
            name = _unquote(key.group("key"))
            section = self._sections[-1]
            section.keys.setdefault(
                name, (number, key.start("key"), key.end("key"), key.start("value"))
            )

    def _section(self, path: TablePath, index: int | None) -> _Section | None:
        return self._first.get(path) if index is None else self._entries.get((path, index))

    def table(self, path: TablePath, index: int | None = None) -> Span:
        """The header line of `[path]` (or entry `index` of `[[path]]`), else its nearest
        enclosing table, else line 1."""
        for depth in range(len(path), 0, -1):
            section = self._section(path[:depth], index if depth == len(path) else None)
            if section is not None and section.header_line:
                return self._whole_line(section.header_line)
            found = self._key_in(path[: depth - 1], None, path[depth - 1])
            if found is not None:
                return self._whole_line(found[0])  # an inline table: `name = { ... }`
        return Span(1, 0, 1, 0)

    def key(self, path: TablePath, index: int | None, key: str) -> Span:
        """The key itself (`driver` in `driver = "x"`), else the table's header."""
        found = self._key_in(path, index, key)
        if found is None:
            return self.table(path, index)
        line, start, end, _ = found
        return Span.on_line(line, start, end)

    def value(self, path: TablePath, index: int | None, key: str) -> Span:
        """The value of `key = value` (quotes included), else the table's header."""
        found = self._key_in(path, index, key)
        if found is None:
            return self.table(path, index)
        line, _, _, value_col = found
        return Span.on_line(line, value_col, _value_end(self.lines[line - 1], value_col))

    def cell_entry(self, cell_id: str, position: int | None = None) -> Span:
        """The `id = "cell_id"` line of a cell entry (inline arrays included)."""
        if self._cell_ids is None:
            self._cell_ids = self._index_cell_ids()
        found = self._cell_ids.get(cell_id)
        return found if found is not None else self.table(("cells",), position)

    def _index_cell_ids(self) -> dict[str, Span]:
        """Every `id = "..."` in the text, first occurrence of each value: one pass over the
        text, however many cells are asked for."""
        found: dict[str, Span] = {}
        for number, line in enumerate(self.lines, start=1):
            if "id" not in line:
                continue
            for match in _ID_VALUE.finditer(line):
                span = Span.on_line(number, match.start(), match.end())
                for value in _id_values(match):
                    found.setdefault(value, span)
        return found

    def end(self) -> Span:
        """An empty span at the very end of the text (where an appended table goes)."""
        last = len(self.lines)
        return Span.on_line(last, len(self.lines[-1]), len(self.lines[-1]))

    def _key_in(
        self, path: TablePath, index: int | None, key: str
    ) -> tuple[int, int, int, int] | None:
        section = self._section(path, index)
        return section.keys.get(key) if section is not None else None

    def _whole_line(self, number: int) -> Span:
        line = self.lines[number - 1]
        start = len(line) - len(line.lstrip())
        return Span.on_line(number, start, len(line.rstrip()))
