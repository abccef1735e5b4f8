"""IPython syntax in a Jupyter code cell -> plain Python with marker comments (SPEC 12).

A cell that parses as Python is kept byte for byte. Otherwise each line that starts a
statement with IPython syntax (`%line`, `%%cell` on the first line, `!shell`, `x = !cmd`,
`x = %magic`, `name?`, `?name`) becomes `# strata: magic_unsupported <the line>`, which the
Python kind reports as a warning (analysis/magic_markers.py). Lines inside brackets, strings
or after a backslash continue a statement, so `(a\\n % b)` is never mistaken for a magic.

Decisions: `%time`/`%timeit` (and their cell forms) keep the code they wrap, which runs once
(dropping it would lose the names it defines); every other cell magic comments out the
whole cell, since its body is not Python (`%%bash`, `%%html`, ...). An indented magic
becomes `pass  # strata: ...` so the block around it stays valid.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from strata_engine.analysis.magic_markers import magic_key, marker

_KEEPS_CODE = frozenset({"%time", "%timeit", "%%time", "%%timeit"})
"""Magics whose argument (line) or body (cell) is plain Python that we keep."""
_ASSIGNED = re.compile(r"^[\w.,\s()\[\]]+=\s*[!%]")
_HELP = re.compile(r"^(\?\??[\w.]+|[\w.]+\?\??)$")
_TIMED_LINE = re.compile(r"^%time(?:it)?\s+(?:-\S+\s+)*(?P<code>.*)$")


@dataclass(frozen=True, slots=True)
class Converted:
    text: str
    magics: list[tuple[int, str]]
    """(1-based line in the converted text, the magic as written) per marker."""


def convert_code(source: str) -> Converted:
    if _parses(source):
        return Converted(source, [])
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        return _cell_magic(lines, first)
    return _line_magics(lines, trailing_newline=source.endswith("\n"))


def _parses(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes: the cell's own business
            ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def _cell_magic(lines: list[str], first: int) -> Converted:
    head = lines[first].strip()
    out = [*lines[:first], marker(head)]
    body = lines[first + 1 :]
    if magic_key(head) in _KEEPS_CODE:
        out += body
    else:
        out += [f"# {line}" if line else "#" for line in body]
    return Converted("\n".join(out) + "\n", [(first + 1, head)])


def _line_magics(lines: list[str], *, trailing_newline: bool) -> Converted:
    out: list[str] = []
    magics: list[tuple[int, str]] = []
    for line, starts_statement in zip(lines, _statement_starts(lines), strict=True):
        stripped = line.strip()
        if not (starts_statement and _is_magic(stripped)):
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        magics.append((len(out) + 1, stripped))
        kept = _TIMED_LINE.match(stripped)
        if kept is not None and kept.group("code").strip():
            out += [indent + marker(stripped), indent + kept.group("code")]
        elif indent:
            out.append(f"{indent}pass  {marker(stripped)}")
        else:
            out.append(marker(stripped))
    text = "\n".join(out)
    return Converted(text + "\n" if trailing_newline or out else text, magics)


def _is_magic(stripped: str) -> bool:
    if stripped.startswith(("%", "!")):
        return True
    return bool(_ASSIGNED.match(stripped) or _HELP.match(stripped))


def _statement_starts(lines: list[str]) -> list[bool]:
    """For each line: does it begin a new statement (not inside brackets, a string, or
    after a backslash)? A small scanner: the cell does not tokenize as Python."""
    starts = []
    depth = 0
    quote: str | None = None  # the open string's delimiter
    continued = False
    for line in lines:
        starts.append(depth == 0 and quote is None and not continued)
        depth, quote = _scan(line, depth, quote)
        continued = quote is None and line.rstrip().endswith("\\")
    return starts


def _scan(line: str, depth: int, quote: str | None) -> tuple[int, str | None]:
    i = 0
    while i < len(line):
        if quote is not None:
            if line[i] == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        char = line[i]
        if char == "#":
            break
        if char in "\"'":
            triple = line[i : i + 3]
            quote = triple if triple in ('"""', "'''") else char
            i += len(quote)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        i += 1
    if quote is not None and len(quote) == 1:
        quote = None  # an unterminated one-line string ends with its line
    return depth, quote
