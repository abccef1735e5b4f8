"""Text analysis shared by the non-Python kinds: markdown, sql (`:name` binds), prompt
(`{{ name }}`), r. Each kind in `strata_engine.kinds` picks the function that fits it.

SQL and prompt cells define one variable, their output: `@name` when it is a usable
identifier, `result` when there is no `@name`, nothing when `@name` is invalid (a
diagnostic from `checks.check_name_for_language` explains why).
"""

from __future__ import annotations

import bisect
import keyword
import re

from strata_engine.analysis.annotations import leading_block_end, parse_annotations, split_lines
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.model.diagnostics import Span

DEFAULT_OUTPUT_NAME = "result"

# Strings, quoted identifiers, comments, dollar-quoted bodies and `::` casts are skipped so
# that only real `:name` placeholders count.
SQL_BINDS = re.compile(
    r"""
    '(?:[^']|'')*'?
    | "(?:[^"]|"")*"?
    | --[^\n]*
    | /\*.*?(?:\*/|\Z)
    | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$).*?(?:(?P=dollar)|\Z)
    | ::+
    | (?<![A-Za-z0-9_:]):(?P<bind>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.DOTALL | re.VERBOSE,
)
PROMPT_PLACEHOLDERS = re.compile(r"\{\{\s*(?P<bind>[A-Za-z_][A-Za-z0-9_]*)")


def trim_trailing(text: str) -> str:
    """Trailing whitespace removed from every line, blank lines removed at both ends."""
    return "\n".join(line.rstrip() for line in split_lines(text)).strip("\n")


def output_name(name: str | None) -> str | None:
    """The variable a sql/prompt cell publishes, or None when `@name` cannot be one."""
    if name is None:
        return DEFAULT_OUTPUT_NAME
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        return None
    return name


def analyze_markdown(text: str) -> CellAnalysis:
    """Markdown is rendered, never executed: the whole text (no annotation block) is the body."""
    return CellAnalysis(normalized=trim_trailing(text))


def analyze_body(text: str) -> CellAnalysis:
    """A cell whose body is opaque to us (R, for now): only the normalized body."""
    lines = split_lines(text)
    return CellAnalysis(normalized=trim_trailing("\n".join(lines[leading_block_end(lines) :])))


def analyze_placeholders(
    text: str, pattern: re.Pattern[str], *, cell_id: str | None, file: str | None
) -> CellAnalysis:
    """SQL and prompt cells: `pattern`'s `bind` groups are the references, the output name
    (`@name`, default `result`) the one define."""
    lines = split_lines(text)
    start = leading_block_end(lines)
    body = "\n".join(lines[start:])
    references = _placeholders(body, pattern, first_line=start + 1)
    ann = parse_annotations(text, cell_id=cell_id, file=file)
    defined = output_name(ann.name)
    return CellAnalysis(
        defines=(defined,) if defined else (),
        references=tuple(references),
        normalized=trim_trailing(body),
        reference_spans=tuple(references.values()),
    )


def _placeholders(body: str, pattern: re.Pattern[str], first_line: int) -> dict[str, Span]:
    """Public names bound by `pattern`'s `bind` group, with the span of their first use."""
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", body)]
    found: dict[str, Span] = {}
    for match in pattern.finditer(body):
        name = match.group("bind")
        if name is None or name.startswith("_") or name in found:
            continue
        offset = match.start("bind") - 1 if pattern is SQL_BINDS else match.start("bind")
        index = bisect.bisect_right(line_starts, offset) - 1
        col = offset - line_starts[index]
        found[name] = Span.on_line(first_line + index, col, col + match.end("bind") - offset)
    return found
