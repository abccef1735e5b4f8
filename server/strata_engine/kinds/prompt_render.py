"""Rendering a prompt template: `{{ name }}` and `{{ name.attr }}` become bounded text.

Runs inside the cell's process with the upstream values loaded. Every value becomes text of
a bounded size, so a 10-million-row DataFrame costs a few kilobytes of prompt, not the
model's whole context: tables show their first rows and their shape, long strings are cut
with a note saying how long they were. The same values always render to the same text (the
cell's key covers the inputs, not the rendering).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

TABLE_ROWS = 20
"""Rows of a DataFrame / Arrow table shown in a prompt."""
TEXT_CHARS = 8000
"""Characters of one rendered value (a string, a table's text, a JSON dump)."""

PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}"
)

_OPENING = re.compile(r"\{\{\s*[A-Za-z_]")


class RenderError(Exception):
    """A placeholder that cannot be filled: the message names it and says what to do."""


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """The template with each placeholder replaced by its value's bounded text."""

    def fill(match: re.Match[str]) -> str:
        return render_value(_resolve(match.group("path"), values))

    for opening in _OPENING.finditer(template):
        if not PLACEHOLDER.match(template, opening.start()):
            # The analysis took its first name as a reference; sending the braces as they
            # are would quietly ask the model something else than the author wrote.
            shown = template[opening.start() :].split("\n", 1)[0][:60]
            raise RenderError(
                f"{shown!r}: only {{{{ name }}}} and {{{{ name.attr }}}} placeholders are "
                "supported (no filters or expressions); compute the value in a Python cell"
            )
    return PLACEHOLDER.sub(fill, template)


def _resolve(path: str, values: Mapping[str, Any]) -> object:
    name, *attrs = path.split(".")
    if name not in values:
        raise RenderError(
            f"{{{{ {path} }}}}: no upstream cell defines {name!r}; define it in a cell above "
            "this one, or fix the placeholder's name"
        )
    value: object = values[name]
    walked = name
    for attr in attrs:
        if isinstance(value, Mapping) and attr in value:
            value = value[attr]
        elif hasattr(value, attr):
            value = getattr(value, attr)
        else:
            raise RenderError(
                f"{{{{ {path} }}}}: {walked} (a {type(value).__name__}) has no attribute or "
                f"key {attr!r}"
            )
        walked = f"{walked}.{attr}"
    return value


def render_value(value: object) -> str:
    """One value as prompt text, bounded."""
    if isinstance(value, str):
        return bound(value)
    table = _table_text(value)
    if table is not None:
        return table
    if isinstance(value, dict | list | tuple | int | float | bool) or value is None:
        try:
            return bound(json.dumps(value, ensure_ascii=False, default=str))
        except (TypeError, ValueError):  # a dict with non-string keys of mixed types
            pass
    return bound(str(value))


def bound(text: str, limit: int = TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... cut: {len(text):,} characters in all]"


def _table_text(value: Any) -> str | None:
    """pandas DataFrame/Series and pyarrow Table/RecordBatch: head rows plus the shape.
    Recognized by module name so that rendering a string never imports pandas."""
    module = type(value).__module__ or ""
    if module.startswith("pyarrow"):
        if not (hasattr(value, "num_columns") and hasattr(value, "slice")):
            return None
        rows, cols = value.num_rows, value.num_columns
        head = value.slice(0, TABLE_ROWS).to_pandas()
        return _frame_text(head, rows, cols)
    if module.startswith("pandas") and hasattr(value, "head") and hasattr(value, "shape"):
        shape = value.shape
        cols = shape[1] if len(shape) > 1 else 1
        return _frame_text(value.head(TABLE_ROWS), shape[0], cols)
    return None


def _frame_text(head: Any, rows: int, cols: int) -> str:
    # A Series' to_string has no max_colwidth: render it as a one-column frame.
    frame = head.to_frame() if hasattr(head, "to_frame") and not hasattr(head, "columns") else head
    text = frame.to_string(max_colwidth=80)
    shown = min(rows, TABLE_ROWS)
    note = f"[{rows:,} rows x {cols:,} columns" + (
        f"; first {shown} shown]" if shown < rows else "]"
    )
    return bound(f"{text}\n{note}")
